"""Components: what a design is made of, each with its area, leakage and action energies.

A :class:`Component` is a set of identical units (128 adders, a TCAM, one SRAM buffer) with
the total area and leakage of the set and the energy of one *action* of the kind its
name says (``add``, ``search``, ``read``, ...). Builders take the units' size and look the
figures up in :mod:`prosparsity.accel.energy.tables` (CACTI rows for SRAM, Aladdin's
logic scaled to 28 nm), or in a user's CACTI run (:class:`SramSource`). Compound units
(a TCAM cell, a LIF unit) are built from the tabulated primitives, each stated where it
is built. Pure functions; no I/O beyond the tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from prosparsity.accel.energy.tables import SramFigures, logic, sram

__all__ = [
    "Component",
    "SramSource",
    "adders",
    "bits_for",
    "comparators",
    "dram",
    "lif_units",
    "multipliers",
    "registers",
    "sram_buffer",
    "tcam",
]

#: ``(size_bytes, block_bytes) -> SramFigures``: the packaged table, or a CACTI run.
SramSource = Callable[[float, float], SramFigures]

_UM2_PER_MM2 = 1e6
_UW_PER_MW = 1e3


def bits_for(values: int) -> int:
    """Bits of an index over ``values`` values (at least 1)."""
    return max(1, math.ceil(math.log2(max(values, 2))))


@dataclass(frozen=True)
class Component:
    """A set of identical units of one design.

    Attributes:
        name: the component's name in its design (unique there).
        group: the part of the chip (a Figure 10 slice: ``PPU``, ``detector``, ...).
        area_mm2: area of the whole set, mm².
        leak_mw: leakage of the whole set, mW.
        action_pj: action name -> energy of one action, pJ.
        detail: what it is and where its figures come from, one line.
        access_bits: bits of one ``read`` / ``write`` (buffers), else 0.
    """

    name: str
    group: str
    area_mm2: float
    leak_mw: float
    action_pj: Mapping[str, float] = field(default_factory=dict)
    detail: str = ""
    access_bits: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "action_pj", MappingProxyType(dict(self.action_pj)))


def adders(name: str, group: str, count: int, width: int) -> Component:
    """``count`` adders of ``width`` bits; action ``add`` (one addition of one adder)."""
    f = logic("adder", width)
    return Component(name, group, count * f.area_um2 / _UM2_PER_MM2,
                     count * f.leak_uw / _UW_PER_MW, {"add": f.energy_pj},
                     f"{count} x {width}-bit adder (Aladdin, scaled to 28 nm)")


def registers(name: str, group: str, words: int, width: int) -> Component:
    """``words`` registers of ``width`` bits; actions ``read`` / ``write`` (one word)."""
    f = logic("register", 1)
    e = width * f.energy_pj
    return Component(name, group, words * width * f.area_um2 / _UM2_PER_MM2,
                     words * width * f.leak_uw / _UW_PER_MW, {"read": e, "write": e},
                     f"{words} x {width}-bit register (Aladdin register bit, 28 nm)")


def comparators(name: str, group: str, count: int, width: int) -> Component:
    """``count`` comparators of ``width`` bits; action ``compare``."""
    f = logic("comparator", width)
    return Component(name, group, count * f.area_um2 / _UM2_PER_MM2,
                     count * f.leak_uw / _UW_PER_MW, {"compare": f.energy_pj},
                     f"{count} x {width}-bit comparator (Aladdin, 28 nm)")


def multipliers(name: str, group: str, count: int, width: int) -> Component:
    """``count`` ``width`` x ``width``-bit multipliers; action ``multiply``."""
    f = logic("multiplier", width)
    return Component(name, group, count * f.area_um2 / _UM2_PER_MM2,
                     count * f.leak_uw / _UW_PER_MW, {"multiply": f.energy_pj},
                     f"{count} x {width}x{width}-bit multiplier (Aladdin, 28 nm)")


def lif_units(name: str, group: str, count: int, width: int) -> Component:
    """``count`` LIF neuron units, each an adder, a comparator (threshold) and a
    ``width``-bit membrane register; action ``update`` (add, compare, read and write the
    membrane)."""
    a, c, r = logic("adder", width), logic("comparator", width), logic("register", 1)
    area = a.area_um2 + c.area_um2 + width * r.area_um2
    leak = a.leak_uw + c.leak_uw + width * r.leak_uw
    energy = a.energy_pj + c.energy_pj + 2 * width * r.energy_pj
    return Component(name, group, count * area / _UM2_PER_MM2, count * leak / _UW_PER_MW,
                     {"update": energy},
                     f"{count} LIF units: {width}-bit adder + comparator + register (Aladdin)")


def tcam(name: str, group: str, rows: int, cols: int) -> Component:
    """A ternary CAM of ``rows`` x ``cols`` cells, each two register bits (a ternary
    value) and a one-bit compare (1/32 of Aladdin's 32-bit comparator).

    Actions: ``write_row`` (one row of ``cols`` cells), ``search`` (one key against every
    row: ``rows * cols`` one-bit compares).
    """
    r = logic("register", 1)
    c = logic("comparator", 1)
    cells = rows * cols
    return Component(
        name, group, cells * (2 * r.area_um2 + c.area_um2) / _UM2_PER_MM2,
        cells * (2 * r.leak_uw + c.leak_uw) / _UW_PER_MW,
        {"write_row": cols * 2 * r.energy_pj, "search": cells * c.energy_pj},
        f"{rows} x {cols} TCAM ({cells * 2 // 8:,} B of ternary cells: 2 register bits + "
        "a 1-bit compare each, Aladdin)")


def sram_buffer(name: str, group: str, size_bytes: float, block_bytes: float,
                source: SramSource = sram) -> Component:
    """An SRAM buffer; actions ``read`` / ``write`` (one access of ``block_bytes``)."""
    f = source(size_bytes, block_bytes)
    return Component(name, group, f.area_mm2, f.leak_mw,
                     {"read": f.read_pj, "write": f.write_pj},
                     f"{size_bytes:,.0f} B SRAM, {f.block_bytes} B access "
                     f"(CACTI 7, 28 nm: {f.rule})", access_bits=8 * int(f.block_bytes))


def dram(pj_per_bit: float) -> Component:
    """Off-chip DRAM: no area, no leakage on chip; action ``bit`` (one bit moved)."""
    return Component("dram", "DRAM", 0.0, 0.0, {"bit": pj_per_bit},
                     f"DRAM at {pj_per_bit} pJ/bit (DRAMsim3, the paper's Sec. VI)")
