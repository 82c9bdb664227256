"""Run several registered accelerators on one workload and price their energy.

This is what ``prosparsity simulate`` calls; it holds no model of its own. Which
accelerators apply: those that need spike data only when the workload has data
(reported-figure models run everywhere and answer ``None`` off the paper's workloads).
Shared knobs (``tile_m``, ``tile_k``, ``issue_type``, ``sparsity``, ...) are applied to
every selected accelerator whose config has a field of that name.

Energy (``prosparsity.accel.energy``): a model whose registry entry names an
``energy_key`` and whose breakdown carries no energy of its own gets
``P * latency + e_DRAM * ratio * D``, with ``D`` Prosperity's DRAM traffic: the paper's
table for a paper workload, else Prosperity's shape-only DRAM count on this workload
(for Prosperity itself, the traffic of the run being priced).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prosparsity.accel.base import AcceleratorModel, Breakdown, registry
from prosparsity.accel.energy import PAPER_ENERGY, EnergyConfig, energy_mj, reference_dram_bits
from prosparsity.accel.workload import Workload
from prosparsity.core.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

#: Registry names in the order the CLI lists them (others follow, sorted).
PREFERRED_ORDER = ("prosperity", "ptb", "eyeriss", "eyeriss-linear", "sato", "mint", "loas",
                   "stellar", "a100", "gpu-a100", "gpu-h100")


@dataclass(frozen=True)
class SuiteResult:
    """Results of one ``run_suite`` call.

    Attributes:
        workload: the workload's name.
        results: accelerator name -> breakdown (with energy where the model has one),
            ``None`` where a reported-figure model has no figure for this workload.
        skipped: accelerator name -> why it was not run (e.g. needs spike data).
        unused_overrides: override names that no selected accelerator's config has.
    """

    workload: str
    results: dict[str, Breakdown | None]
    skipped: dict[str, str] = field(default_factory=dict)
    unused_overrides: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``simulate --json`` document: ``{"accelerators": {NAME: {...} | null}}``."""
        return {"accelerators": {name: None if bd is None else breakdown_json(bd)
                                 for name, bd in self.results.items()}}


def _num(value: Any) -> int | float | None:
    """A plain JSON number (numpy scalars converted; integral floats kept as floats)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    return float(value)


def breakdown_json(bd: Breakdown) -> dict[str, Any]:
    """One accelerator's entry of the ``simulate --json`` document."""
    return {
        "total_cycles": _num(bd.total_cycles),
        "latency_s": _num(bd.latency_s),
        "energy_mj": _num(bd.energy_mj),
        "dram_bits": _num(bd.dram_bits),
        "layers": [
            {
                "name": layer.name,
                "total_cycles": _num(layer.total_cycles),
                "compute_cycles": _num(layer.compute_cycles),
                "mem_stall_cycles": _num(layer.mem_stall_cycles),
                "dram_bits": _num(layer.dram_bits),
            }
            for layer in bd.layers
        ],
    }


def ordered_names(names: Sequence[str]) -> list[str]:
    """``names`` in the CLI's canonical order."""
    rank = {n: i for i, n in enumerate(PREFERRED_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def configure(entry: AcceleratorModel, overrides: Mapping[str, Any]) -> tuple[Any, set[str]]:
    """The entry's default config with the overrides its config has; and those used.

    Raises:
        ConfigError: an override value the config rejects (names the field path).
    """
    config = entry.default_config()
    if not dataclasses.is_dataclass(config):
        return config, set()
    names = {f.name for f in dataclasses.fields(config)}
    used = {k: v for k, v in overrides.items() if k in names and v is not None}
    if not used:
        return config, set()
    try:
        return dataclasses.replace(config, **used), set(used)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, HarnessError):
            raise
        raise ConfigError(f"{entry.name}", str(exc)) from None


def run_suite(
    workload: Workload,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    energy: EnergyConfig = PAPER_ENERGY,
) -> SuiteResult:
    """Run accelerators on ``workload`` and attach the paper's energy model.

    Args:
        workload: what to simulate.
        names: registry names; ``None`` runs every one that applies.
        overrides: config field name -> value, applied where a config has that field.
        energy: the energy model's constants.

    Raises:
        ConfigError: unknown accelerator name, or an explicitly named accelerator that
            needs spike data on a shapes-only workload.
    """
    reg = registry()
    overrides = dict(overrides or {})
    explicit = names is not None
    if names is None:
        names = list(reg)
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ConfigError("accel", f"unknown accelerator(s) {', '.join(unknown)} "
                          f"(known: {', '.join(ordered_names(list(reg)))})")
    results: dict[str, Breakdown | None] = {}
    skipped: dict[str, str] = {}
    used_overrides: set[str] = set()
    reference_bits: list[float | None] = []  # computed once, on demand
    for name in ordered_names(list(dict.fromkeys(names))):
        entry = reg[name]
        if entry.needs_spikes and not workload.has_data:
            why = "needs spike data; this workload has layer shapes only"
            if explicit:
                raise ConfigError(f"accel.{name}", why)
            skipped[name] = why
            continue
        config, used = configure(entry, overrides)
        used_overrides |= used
        log.info("simulating %s on %s", name, workload.name)
        bd = entry.simulate(workload, config)
        if bd is not None and bd.energy_mj is None and entry.energy_key is not None:
            if entry.energy_key == "Prosperity":
                bits: float | None = float(bd.dram_bits)
            else:
                if not reference_bits:
                    reference_bits.append(_reference_bits(workload))
                bits = reference_bits[0]
            if bits is not None:
                bd = dataclasses.replace(
                    bd, energy_mj=energy_mj(entry.energy_key, bd.latency_s, bits, energy))
        results[name] = bd
    unused = tuple(sorted(k for k, v in overrides.items()
                          if v is not None and k not in used_overrides))
    return SuiteResult(workload.name, results, skipped, unused)


def _reference_bits(workload: Workload) -> float | None:
    """``D`` for the baselines: the paper's table, else Prosperity's shape-only count."""
    from prosparsity.accel.prosperity import dram_bits

    if workload.paper_workload is not None:
        table = reference_dram_bits(workload.paper_workload, None)
        if table is not None:
            return table
    try:
        return float(dram_bits(workload))
    except HarnessError as exc:
        log.warning("no DRAM reference for energy on %s: %s", workload.name, exc)
        return None
