"""The component tables of the energy and area model, and their rules between rows.

Three tables ship as package data (``accel/energy/data``, each with a ``# source:`` line
naming where its figures come from; figures only, no tool code):

* ``sram_28nm.csv``: CACTI 7 at 28 nm for the Prosperity authors' buffer configuration,
  72 (capacity, access width) rows from 512 B to 1 MB: read and write energy per access,
  leakage and area (``height x width``);
* ``logic_40nm.csv``: Aladdin's (ISCA 2014) 40 nm per-action energy, area and leakage of
  an adder, a register bit, a comparator, a multiplier and a counter, as Accelergy's
  ``hwcomponents-library`` publishes them, with each one's width rule;
* ``tech_scaling.csv``: Stillmaker and Baas's (Integration 2017) scaling of area and
  energy between technology nodes, as Accelergy's ``hwcomponents`` tabulates them.

Rules (stated here once; docs/energy-and-area.md shows them with numbers):

* **SRAM between rows** (:func:`sram`): a capacity between two rows of the same access
  width is interpolated as a power law (linear in log-log) on each figure; below the
  smallest row of that width, the smallest row is used; above 1 MB, the buffer is
  ``ceil(C / 1 MB)`` equal banks (area and leakage add up, one bank answers an access).
  An access width the table lacks is rounded up to the next one (at least 4 B); above
  128 B the port is ``ceil(B / 128)`` arrays of 128-B blocks side by side (every figure
  times that count, each array holding its share of the capacity).
* **Logic width** (:func:`logic`): energy, area and leakage scale linearly with the bit
  width (quadratically for the multiplier's operand width), as in the library.
* **Technology node** (:func:`tech_scale`): area scales by the table's relative area and
  energy and leakage by its ``a*Vdd^2 + b*Vdd + c`` at 0.8 V, each interpolated
  log-linearly in the feature size between the tabulated nodes (40 nm between 45 and
  32 nm, 28 nm between 32 and 20 nm): from 40 nm to 28 nm area x0.475, energy x0.558.

Pure functions over immutable tables (read once, cached); no I/O beyond the package data.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

from prosparsity.core.errors import ConfigError

__all__ = [
    "LOGIC_NODE_NM",
    "SRAM_NODE_NM",
    "LogicFigures",
    "SramFigures",
    "TechScale",
    "logic",
    "sram",
    "sram_rows",
    "table_source",
    "tech_scale",
]

#: Technology node of the CACTI rows, nm.
SRAM_NODE_NM = 28.0
#: Technology node of the logic table (Aladdin), nm.
LOGIC_NODE_NM = 40.0
#: Supply voltage at which the energy scaling is evaluated, V (the library's default).
VDD_V = 0.8
#: The widest access of the CACTI rows, bytes; a wider port is built of parallel arrays.
MAX_BLOCK_BYTES = 128


@dataclass(frozen=True)
class SramFigures:
    """One SRAM buffer's figures at 28 nm.

    Attributes:
        size_bytes: capacity, bytes.
        block_bytes: access width, bytes.
        read_pj: dynamic energy of one read access of ``block_bytes``, pJ.
        write_pj: dynamic energy of one write access, pJ.
        leak_mw: leakage power, mW.
        area_mm2: area, mm².
        rule: how the figures were obtained (``table``, ``interpolated``, ``cacti``, ...).
    """

    size_bytes: float
    block_bytes: int
    read_pj: float
    write_pj: float
    leak_mw: float
    area_mm2: float
    rule: str = "table"


@dataclass(frozen=True)
class LogicFigures:
    """One logic component's figures (at :attr:`node_nm`).

    Attributes:
        component: ``adder``, ``register``, ``comparator``, ``multiplier``, ``counter``.
        width_bits: its bit width (a register: bits held).
        energy_pj: energy of one action (an add, a compare, a read of every bit), pJ.
        area_um2: area, µm².
        leak_uw: leakage power, µW.
        node_nm: technology node, nm.
    """

    component: str
    width_bits: int
    energy_pj: float
    area_um2: float
    leak_uw: float
    node_nm: float


@dataclass(frozen=True)
class TechScale:
    """Factors from one node to another: multiply area, energy and leakage by them."""

    area: float
    energy: float
    leak: float


def _lines(name: str) -> tuple[str, list[dict[str, str]]]:
    text = resources.files("prosparsity.accel.energy").joinpath("data", name).read_text()
    source = ""
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            source = line.lstrip("# ").removeprefix("source: ")
        elif line.strip():
            body.append(line)
    return source, list(csv.DictReader(body))


@cache
def table_source(name: str) -> str:
    """The ``# source:`` line of a packaged table (``sram_28nm.csv``, ...)."""
    return _lines(name)[0]


@cache
def sram_rows() -> tuple[SramFigures, ...]:
    """Every CACTI row of the packaged table."""
    _, rows = _lines("sram_28nm.csv")
    return tuple(
        SramFigures(size_bytes=float(r["size_bytes"]), block_bytes=int(r["block_bytes"]),
                    read_pj=float(r["read_energy_nJ"]) * 1e3,
                    write_pj=float(r["write_energy_nJ"]) * 1e3,
                    leak_mw=float(r["leak_power_mW"]), area_mm2=float(r["area_mm2"]))
        for r in rows)


@cache
def _by_block() -> dict[int, tuple[SramFigures, ...]]:
    out: dict[int, list[SramFigures]] = {}
    for row in sram_rows():
        out.setdefault(row.block_bytes, []).append(row)
    return {b: tuple(sorted(rows, key=lambda r: r.size_bytes)) for b, rows in out.items()}


def _power_law(x: float, x0: float, f0: float, x1: float, f1: float) -> float:
    if f0 <= 0 or f1 <= 0:
        return f0 + (f1 - f0) * (x - x0) / (x1 - x0)
    return f0 * (x / x0) ** (math.log(f1 / f0) / math.log(x1 / x0))


def _one_array(size: float, block: int) -> SramFigures:
    """One array of ``size`` bytes with a block the table has (the rules above)."""
    rows = _by_block()[block]
    if size <= rows[0].size_bytes:
        r = rows[0]
        return SramFigures(size, block, r.read_pj, r.write_pj, r.leak_mw, r.area_mm2,
                           "table" if size == r.size_bytes else "smallest row")
    if size > rows[-1].size_bytes:
        banks = math.ceil(size / rows[-1].size_bytes)
        bank = _one_array(size / banks, block)
        return SramFigures(size, block, bank.read_pj, bank.write_pj, bank.leak_mw * banks,
                           bank.area_mm2 * banks, f"{banks} banks")
    for lo, hi in zip(rows, rows[1:], strict=False):
        if lo.size_bytes <= size <= hi.size_bytes:
            if size == lo.size_bytes:
                return SramFigures(size, block, lo.read_pj, lo.write_pj, lo.leak_mw,
                                   lo.area_mm2)
            if size == hi.size_bytes:
                return SramFigures(size, block, hi.read_pj, hi.write_pj, hi.leak_mw,
                                   hi.area_mm2)
            vals = [_power_law(size, lo.size_bytes, getattr(lo, f), hi.size_bytes,
                               getattr(hi, f))
                    for f in ("read_pj", "write_pj", "leak_mw", "area_mm2")]
            return SramFigures(size, block, *vals, "interpolated")
    raise AssertionError("unreachable")  # pragma: no cover


def sram(size_bytes: float, block_bytes: float) -> SramFigures:
    """The figures of an SRAM buffer of ``size_bytes`` with ``block_bytes`` accesses, from
    the packaged CACTI rows by the rules of this module.

    Raises:
        ConfigError: a capacity or access width that is not positive.
    """
    if not size_bytes > 0:
        raise ConfigError("energy.sram.size_bytes", f"must be > 0, got {size_bytes!r}")
    if not block_bytes > 0:
        raise ConfigError("energy.sram.block_bytes", f"must be > 0, got {block_bytes!r}")
    if block_bytes > MAX_BLOCK_BYTES:
        arrays = math.ceil(block_bytes / MAX_BLOCK_BYTES)
        one = _one_array(size_bytes / arrays, MAX_BLOCK_BYTES)
        return SramFigures(size_bytes, arrays * MAX_BLOCK_BYTES, one.read_pj * arrays,
                           one.write_pj * arrays, one.leak_mw * arrays,
                           one.area_mm2 * arrays, f"{arrays} arrays of 128 B ({one.rule})")
    blocks = sorted(_by_block())
    block = next(b for b in blocks if b >= block_bytes)
    return _one_array(float(size_bytes), block)


@cache
def _tech_rows() -> tuple[tuple[float, float, float], ...]:
    """``(node_nm, area_rel, energy_rel)`` by decreasing node."""
    _, rows = _lines("tech_scaling.csv")
    out = []
    for r in rows:
        e = (float(r["energy_a"]) * VDD_V ** 2 + float(r["energy_b"]) * VDD_V
             + float(r["energy_c"]))
        out.append((float(r["node_nm"]), float(r["area_rel"]), e))
    return tuple(sorted(out, reverse=True))


def _at_node(node_nm: float) -> tuple[float, float]:
    rows = _tech_rows()
    if not rows[-1][0] <= node_nm <= rows[0][0]:
        raise ConfigError("energy.node_nm", f"must be within {rows[-1][0]:g}..{rows[0][0]:g} "
                          f"nm (the scaling table), got {node_nm!r}")
    for (n0, a0, e0), (n1, a1, e1) in zip(rows, rows[1:], strict=False):
        if n1 <= node_nm <= n0:
            t = math.log(n0 / node_nm) / math.log(n0 / n1)
            return (math.exp(math.log(a0) + t * math.log(a1 / a0)),
                    math.exp(math.log(e0) + t * math.log(e1 / e0)))
    return rows[-1][1], rows[-1][2]  # pragma: no cover - the range check covers it


def tech_scale(from_nm: float, to_nm: float) -> TechScale:
    """Factors scaling area, energy and leakage from ``from_nm`` to ``to_nm``.

    Raises:
        ConfigError: a node outside the table (7..130 nm).
    """
    a0, e0 = _at_node(from_nm)
    a1, e1 = _at_node(to_nm)
    return TechScale(area=a1 / a0, energy=e1 / e0, leak=e1 / e0)


@cache
def _logic_rows() -> dict[str, dict[str, str]]:
    _, rows = _lines("logic_40nm.csv")
    return {r["component"]: r for r in rows}


def logic(component: str, width_bits: int, node_nm: float = SRAM_NODE_NM) -> LogicFigures:
    """A logic component's figures at ``width_bits`` and ``node_nm`` (the rules above).

    Raises:
        ConfigError: an unknown component or a width below 1.
    """
    rows = _logic_rows()
    if component not in rows:
        raise ConfigError("energy.logic", f"no figures for {component!r} "
                          f"(known: {', '.join(rows)})")
    if width_bits < 1:
        raise ConfigError("energy.logic.width_bits", f"must be >= 1, got {width_bits!r}")
    r = rows[component]
    ratio = width_bits / float(r["width_bits"])
    if r["width_scaling"] == "quadratic":
        ratio = ratio ** 2
    s = tech_scale(LOGIC_NODE_NM, node_nm)
    return LogicFigures(component, width_bits, float(r["energy_pj"]) * ratio * s.energy,
                        float(r["area_um2"]) * ratio * s.area,
                        float(r["leak_uw"]) * ratio * s.leak, node_nm)
