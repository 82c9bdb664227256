"""Energy, power and area of the accelerators: the paper's model and the component model.

Two models, one result type (:class:`~prosparsity.accel.energy.result.EnergyArea`, with a
``mode``):

* **paper** (:mod:`~prosparsity.accel.energy.paper`): the paper's Sec. VI model,
  ``E = P·t + e_DRAM·r·D``, one fixed on-chip power per accelerator for its default
  design only (Figure 8's energies, reproduced exactly);
* **component** (:mod:`~prosparsity.accel.energy.model`): every design point priced
  from its components: :mod:`~.tables` (CACTI rows, Aladdin's logic, the node scaling
  and their rules), :mod:`~.components` (units with area, leakage, action energies),
  :mod:`~.designs` (each accelerator's component list from its config),
  :mod:`~.actions` (how often each acts, from the statistics and the breakdown),
  :mod:`~.calibration` (one factor fitted to Figure 8, and the band its leave-one-out
  errors justify), :mod:`~.cacti` (a user's CACTI binary instead of the packaged rows).

The paper model's names are importable from here as before (``PAPER_ENERGY``,
``EnergyConfig``, ``energy_mj``, ``energy_withheld``, ``reference_dram_bits``, ...); the
component model's load on first use (``component_energy``, ``ComponentConfig``,
``design_of``, ``calibrate``, ...), so the paper's constants stay a light import.
docs/energy-and-area.md describes both.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from prosparsity.accel.energy.paper import (
    PAPER_ENERGY,
    EnergyConfig,
    a100_energy_mj,
    energy_mj,
    energy_withheld,
    hardware_changes,
    reference_dram_bits,
    same_hardware_fields,
)
from prosparsity.accel.energy.result import (
    ComponentCost,
    EnergyArea,
    EnergyMode,
    EnergyReport,
)

__all__ = [
    "PAPER_ENERGY",
    "ComponentConfig",
    "ComponentCost",
    "Design",
    "EnergyArea",
    "EnergyConfig",
    "EnergyMode",
    "EnergyReport",
    "a100_energy_mj",
    "calibrate",
    "component_energy",
    "design_of",
    "energy_mj",
    "energy_withheld",
    "hardware_changes",
    "paper_energy_area",
    "reference_dram_bits",
    "same_hardware_fields",
]

_LAZY = {
    "ComponentConfig": "designs",
    "Design": "designs",
    "design_of": "designs",
    "component_energy": "model",
    "paper_energy_area": "model",
    "calibrate": "calibration",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"prosparsity.accel.energy.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
