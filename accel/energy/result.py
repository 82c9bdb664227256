"""The energy-and-area result types (frozen; reports and the sweep may take them as input).

An :class:`EnergyArea` is one accelerator configuration on one workload, priced by one
energy model, :class:`EnergyMode`:

* ``paper``: the paper's model (``E = P·t + e_DRAM·r·D``, one fixed on-chip power per
  accelerator, its default design only; :mod:`prosparsity.accel.energy.paper`);
* ``component``: the component model (every design point: per-action energies, areas and
  leakage of the design's components from the packaged tables, one calibration factor,
  and the band its leave-one-out errors justify; :mod:`prosparsity.accel.energy.model`).

:class:`EnergyReport` holds both for one run and says which one is *reported*: the paper's
where it applies (the default design of an accelerator the paper gives a power for),
otherwise the component model's. Units in the field names; no imports beyond the stdlib.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

__all__ = ["ComponentCost", "EnergyArea", "EnergyMode", "EnergyReport"]


class EnergyMode(StrEnum):
    """Which energy model priced a result."""

    PAPER = "paper"
    COMPONENT = "component"


@dataclass(frozen=True)
class ComponentCost:
    """One component of a design on one run.

    Attributes:
        name: the component (``adders``, ``tcam``, ``weight_buffer``, ``dram``, ...).
        group: the part of the chip it belongs to (``PPU``, ``detector``, ``buffers``,
            ``SFU``, ``DRAM``, ...), the unit of the Figure 10 breakdowns.
        area_mm2: area, mm² (0 for DRAM, off chip).
        leakage_mw: leakage power, mW.
        dynamic_mj: energy of its actions on this run, mJ.
        leakage_mj: leakage power x latency, mJ.
    """

    name: str
    group: str
    area_mm2: float
    leakage_mw: float
    dynamic_mj: float
    leakage_mj: float

    @property
    def energy_mj(self) -> float:
        """Dynamic plus leakage energy, mJ."""
        return self.dynamic_mj + self.leakage_mj

    def to_json(self) -> dict[str, Any]:
        """Every field but ``name`` (the key it is stored under), and ``energy_mj``."""
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"},
                "energy_mj": self.energy_mj}

    @staticmethod
    def from_json(name: str, doc: Mapping[str, Any]) -> ComponentCost:
        """Inverse of :meth:`to_json` (``energy_mj`` is derived and ignored)."""
        return ComponentCost(name, str(doc["group"]),
                             *(float(doc[k]) for k in ("area_mm2", "leakage_mw",
                                                       "dynamic_mj", "leakage_mj")))


_OPTIONAL = ("energy_low_mj", "energy_high_mj", "power_mw", "power_low_mw", "power_high_mw",
             "area_mm2")


@dataclass(frozen=True)
class EnergyArea:
    """Energy, power and area of one accelerator configuration on one run.

    Attributes:
        mode: the model that priced it.
        energy_mj: total energy (on chip and DRAM), mJ.
        dram_mj: the DRAM part of it, mJ.
        latency_s: the latency it was priced at, s.
        energy_low_mj, energy_high_mj: the band of ``energy_mj`` (component mode: the
            calibration's leave-one-out errors; ``None`` in paper mode, where the figure
            is the paper's own).
        power_mw: average on-chip power, mW (energy on chip / latency).
        power_low_mw, power_high_mw: its band (the same relative band).
        area_mm2: on-chip area, mm² (``None`` in paper mode: the paper gives none).
        calibration: the factor applied to the on-chip energy (1 in paper mode).
        components: the per-component breakdown (component mode; paper mode: the fixed
            on-chip power and the DRAM).
        note: a sentence about the figure (what it assumes), or ``None``.
    """

    mode: EnergyMode
    energy_mj: float
    dram_mj: float
    latency_s: float
    energy_low_mj: float | None = None
    energy_high_mj: float | None = None
    power_mw: float | None = None
    power_low_mw: float | None = None
    power_high_mw: float | None = None
    area_mm2: float | None = None
    calibration: float = 1.0
    components: tuple[ComponentCost, ...] = ()
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", EnergyMode(self.mode))
        object.__setattr__(self, "components", tuple(self.components))

    @property
    def on_chip_mj(self) -> float:
        """Energy spent on chip, mJ."""
        return self.energy_mj - self.dram_mj

    def by_group(self, what: str = "energy_mj") -> dict[str, float]:
        """``what`` (``energy_mj``, ``area_mm2``, ``leakage_mw``, ``dynamic_mj``) summed
        per component group, in first-seen order."""
        out: dict[str, float] = {}
        for c in self.components:
            out[c.group] = out.get(c.group, 0.0) + getattr(c, what)
        return out

    def to_json(self) -> dict[str, Any]:
        """A JSON object; ``components`` maps each component's name to its figures and
        its ``index`` in the design's order (an object, so that documents of several
        samples average field by field, and a store that sorts keys loses no order)."""
        doc: dict[str, Any] = {"mode": str(self.mode)}
        for f in fields(self):
            if f.name in ("mode", "components"):
                continue
            doc[f.name] = getattr(self, f.name)
        doc["components"] = {c.name: {**c.to_json(), "index": i}
                             for i, c in enumerate(self.components)}
        return doc

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> EnergyArea:
        """Inverse of :meth:`to_json`.

        Raises:
            KeyError, TypeError, ValueError: not a document of this shape.
        """
        def num(key: str) -> float | None:
            v = doc[key]
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError(f"{key} must be a number, got {v!r}")
            return float(v)

        note = doc["note"]
        if note is not None and not isinstance(note, str):
            raise TypeError("note must be a string")
        return EnergyArea(
            mode=EnergyMode(doc["mode"]), energy_mj=float(doc["energy_mj"]),
            dram_mj=float(doc["dram_mj"]), latency_s=float(doc["latency_s"]),
            **{k: num(k) for k in _OPTIONAL}, calibration=float(doc["calibration"]),
            components=tuple(ComponentCost.from_json(str(name), c) for name, c in sorted(
                doc["components"].items(), key=lambda item: float(item[1]["index"]))),
            note=note)


@dataclass(frozen=True)
class EnergyReport:
    """Both energy models on one run, and which one is reported.

    Attributes:
        paper: the paper's model, where it applies (the accelerator's default design and
            a power in the paper), else ``None``.
        component: the component model, where the accelerator has a design, else ``None``.
        paper_note: why ``paper`` is ``None`` (the fields that moved the design off the
            paper's, or no constants), else ``None``.
        component_note: why ``component`` is ``None``, else ``None``.
    """

    paper: EnergyArea | None
    component: EnergyArea | None
    paper_note: str | None = None
    component_note: str | None = None

    @property
    def reported(self) -> EnergyArea | None:
        """The paper's figure where it applies, else the component model's."""
        return self.paper if self.paper is not None else self.component

    def to_json(self) -> dict[str, Any]:
        """``{"reported": mode | null, "paper": {...} | null, "component": {...} | null,
        "paper_note": ..., "component_note": ...}``."""
        rep = self.reported
        return {"reported": None if rep is None else str(rep.mode),
                "paper": None if self.paper is None else self.paper.to_json(),
                "component": None if self.component is None else self.component.to_json(),
                "paper_note": self.paper_note, "component_note": self.component_note}
