"""The component tables and their rules: packaged CACTI rows against the shared
reference, the authors' four buffers at the paper's design, rules between rows, the
node scaling and the logic figures, by hand."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from prosparsity.accel.energy.components import Component
from prosparsity.accel.energy.designs import ComponentConfig, design_of
from prosparsity.accel.energy.tables import logic, sram, sram_rows, table_source, tech_scale
from prosparsity.accel.prosperity import PAPER, ProsperityConfig
from prosparsity.core.errors import ConfigError

BUFFERS = ("spike_buffer", "weight_buffer", "output_buffer_0", "output_buffer_1")


def _shared_rows(reference_dir: Path) -> dict[tuple[int, int], dict[str, float]]:
    with (reference_dir / "cacti" / "sram_28nm.csv").open() as f:
        return {(int(r["size_bytes"]), int(r["block_bytes"])): {k: float(v) for k, v in
                                                                r.items()}
                for r in csv.DictReader(f)}


def test_packaged_rows_are_the_shared_reference(reference_dir: Path) -> None:
    shared = _shared_rows(reference_dir)
    rows = sram_rows()
    assert len(rows) == len(shared) == 72
    for r in rows:
        ref = shared[(int(r.size_bytes), r.block_bytes)]
        assert r.area_mm2 == ref["area_mm2"]
        assert r.leak_mw == ref["leak_power_mW"]
        assert r.read_pj == ref["read_energy_nJ"] * 1e3
        assert r.write_pj == ref["write_energy_nJ"] * 1e3
    for name in ("sram_28nm.csv", "logic_40nm.csv", "tech_scaling.csv"):
        assert table_source(name)  # every packaged table names its source
    assert "CACTI 7" in table_source("sram_28nm.csv")
    assert "Aladdin" in table_source("logic_40nm.csv")
    assert "Stillmaker" in table_source("tech_scaling.csv")


def test_the_papers_buffers_equal_the_cacti_figures(reference_dir: Path) -> None:
    """At the paper's design the four buffers are the authors' CACTI configuration:
    0.302073 mm² and 68.11 mW of leakage in all (shared reference cacti/README.md)."""
    shared = _shared_rows(reference_dir)
    design = design_of("prosperity", PAPER)
    assert design is not None
    sizes = {"spike_buffer": (8192, 4), "weight_buffer": (32384, 128),
             "output_buffer_0": (32384, 128), "output_buffer_1": (65536, 128)}
    for name, key in sizes.items():
        c = design.component(name)
        assert c.area_mm2 == shared[key]["area_mm2"], name
        assert c.leak_mw == shared[key]["leak_power_mW"], name
        assert c.action_pj["read"] == shared[key]["read_energy_nJ"] * 1e3
        assert c.access_bits == 8 * key[1]
    area = sum(design.component(n).area_mm2 for n in BUFFERS)
    leak = sum(design.component(n).leak_mw for n in BUFFERS)
    assert abs(area - 0.302073) < 1e-6 and round(leak, 2) == 68.11
    # the corrected sizes (32 KB, not the script's 32,384 B) are the 32768-byte rows
    fixed = design_of("prosperity", PAPER, ComponentConfig(paper_buffers=False))
    assert fixed is not None
    assert fixed.component("weight_buffer").area_mm2 == shared[(32768, 128)]["area_mm2"]


def test_buffers_follow_the_tile_and_the_adders() -> None:
    """Spike buffer 16*tile_m*tile_k bits, weight buffer 16*tile_k*adders*8 bits (x the
    script's 32384/32768), output buffers tile_m*adders*(8 | 16) bits."""
    big = design_of("prosperity", ProsperityConfig(tile_m=2048))
    assert big is not None
    assert big.component("spike_buffer").area_mm2 == sram(65536, 4).area_mm2
    assert big.component("output_buffer_1").area_mm2 == sram(524288, 128).area_mm2
    assert big.component("output_buffer_0").area_mm2 == sram(262144 * 32384 / 32768,
                                                              128).area_mm2
    wide = design_of("prosperity", ProsperityConfig(adders=256))
    assert wide is not None  # 256-B accesses: two 128-B arrays side by side
    assert wide.component("weight_buffer").access_bits == 2048
    assert wide.component("weight_buffer").area_mm2 == 2 * sram(32384, 128).area_mm2
    assert big.area_mm2 > design_of("prosperity", PAPER).area_mm2  # type: ignore[union-attr]


def test_rules_between_rows_by_hand() -> None:
    rows = {(int(r.size_bytes), r.block_bytes): r for r in sram_rows()}
    # between two rows of one width: a power law through both
    lo, hi = rows[(16384, 128)], rows[(32384, 128)]
    got = sram(24576, 128)
    exponent = math.log(hi.area_mm2 / lo.area_mm2) / math.log(32384 / 16384)
    assert got.area_mm2 == pytest.approx(lo.area_mm2 * (24576 / 16384) ** exponent,
                                         rel=1e-12)
    assert got.rule == "interpolated"
    assert lo.area_mm2 < got.area_mm2 < hi.area_mm2
    # above 1 MB: equal banks, area and leakage add up, one bank answers an access
    top = rows[(1048576, 64)]
    two = sram(2 * 1048576, 64)
    assert (two.area_mm2, two.leak_mw, two.read_pj) == (2 * top.area_mm2, 2 * top.leak_mw,
                                                        top.read_pj)
    # below the smallest row: the smallest row; an odd width rounds up (at least 4 B)
    assert sram(100, 4).area_mm2 == rows[(512, 4)].area_mm2
    assert sram(8192, 3).area_mm2 == rows[(8192, 4)].area_mm2
    assert sram(8192, 5).area_mm2 == rows[(8192, 8)].area_mm2
    # 512 B has no 64-B row: the smallest capacity that has one (2 KB)
    assert sram(512, 64).area_mm2 == rows[(2048, 64)].area_mm2
    with pytest.raises(ConfigError, match="energy.sram.size_bytes"):
        sram(0, 4)
    with pytest.raises(ConfigError, match="energy.sram.block_bytes"):
        sram(512, 0)


def test_node_scaling_and_logic_by_hand() -> None:
    # tabulated nodes: area 0.072/0.16; energy a*V^2 + b*V + c at 0.8 V
    e45 = 1.103 * 0.64 - 0.362 * 0.8 + 0.2767
    e32 = 0.9559 * 0.64 - 0.7823 * 0.8 + 0.471
    s = tech_scale(45, 32)
    assert s.area == pytest.approx(0.072 / 0.16, rel=1e-12)
    assert s.energy == pytest.approx(e32 / e45, rel=1e-12) == s.leak
    assert tech_scale(32, 32).area == 1.0
    # 40 -> 28 nm: log-linear in the feature size between the tabulated nodes
    e20 = 0.373 * 0.64 - 0.1582 * 0.8 + 0.04104

    def at(node: float, n0: float, v0: float, n1: float, v1: float) -> float:
        t = math.log(n0 / node) / math.log(n0 / n1)
        return math.exp(math.log(v0) + t * math.log(v1 / v0))

    s = tech_scale(40, 28)
    assert s.area == pytest.approx(at(28, 32, 0.072, 20, 0.033) / at(40, 45, 0.16, 32, 0.072),
                                   rel=1e-12)
    assert s.energy == pytest.approx(at(28, 32, e32, 20, e20) / at(40, 45, e45, 32, e32),
                                     rel=1e-12)
    assert round(s.area, 3) == 0.475 and round(s.energy, 3) == 0.558
    # Aladdin at 40 nm: a 32-bit adder 0.21 pJ / 278 um2; linear in width
    adder = logic("adder", 24)
    assert adder.energy_pj == pytest.approx(0.21 * 24 / 32 * s.energy, rel=1e-12)
    assert adder.area_um2 == pytest.approx(278 * 24 / 32 * s.area, rel=1e-12)
    # the multiplier scales with the square of its operand width
    mul = logic("multiplier", 8)
    assert mul.energy_pj == pytest.approx(12.68 / 16 * s.energy, rel=1e-12)
    with pytest.raises(ConfigError, match="energy.logic"):
        logic("nand", 2)
    with pytest.raises(ConfigError, match="energy.node_nm"):
        tech_scale(40, 3)


def test_prosperity_logic_is_sized_from_the_config() -> None:
    """The TCAM is tile_m x tile_k ternary cells (1 KB at 256 x 16), the adder array is
    the config's adders at the accumulator width."""
    base = design_of("prosperity", PAPER)
    assert base is not None
    tcam: Component = base.component("tcam")
    cells = 256 * 16
    reg, cmp1 = logic("register", 1), logic("comparator", 1)
    assert tcam.area_mm2 == pytest.approx(cells * (2 * reg.area_um2 + cmp1.area_um2) / 1e6,
                                          rel=1e-12)
    assert "1,024 B" in tcam.detail
    assert tcam.action_pj["search"] == pytest.approx(cells * cmp1.energy_pj, rel=1e-12)
    assert base.component("adders").area_mm2 == pytest.approx(
        128 * logic("adder", 24).area_um2 / 1e6, rel=1e-12)
    small = design_of("prosperity", ProsperityConfig(tile_m=32, tile_k=4, adders=64))
    assert small is not None
    assert small.component("tcam").area_mm2 == pytest.approx(tcam.area_mm2 * 32 * 4 / cells,
                                                             rel=1e-12)
    with pytest.raises(ConfigError, match="energy.accumulator_bits"):
        ComponentConfig(accumulator_bits=8)
