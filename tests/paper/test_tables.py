"""The paper's numbers (``prosparsity.paper``) against the published tables in
``../shared/reference/paper/``, and against the paper's own energy identity, so that a
transcription slip or a wrong derivation fails."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from prosparsity import paper


def _csv_table(path: Path) -> dict[str, dict[str, float]]:
    """``{row label: {workload: value}}`` of a published CSV (empty cells left out)."""
    with path.open() as fh:
        rows = list(csv.reader(fh))
    header = rows[0][1:]
    return {r[0]: {w: float(v) for w, v in zip(header, r[1:], strict=True) if v not in ("", "N/A")}
            for r in rows[1:]}


@pytest.fixture(scope="module")
def constants(reference_dir: Path) -> dict[str, Any]:
    return json.loads((reference_dir / "paper" / "energy_constants.json").read_text())


def test_figure_11_and_8_equal_the_published_tables(reference_dir: Path) -> None:
    pdir = reference_dir / "paper"
    fig11 = _csv_table(pdir / "fig11_density.csv")
    assert paper.FIG11_BIT_DENSITY == fig11["bit_density"]
    assert paper.FIG11_PRODUCT_DENSITY == fig11["product_density"]
    assert paper.FIG8_LATENCY_S == _csv_table(pdir / "fig8_latency_seconds.csv")
    assert paper.FIG8_ENERGY_MJ == _csv_table(pdir / "fig8_energy_millijoules.csv")


@pytest.mark.parametrize(("name", "table"), [
    ("tile_m_normalized_latency", paper.FIG7_TILE_M_NORMALIZED_LATENCY),
    ("tile_m_density", paper.FIG7_TILE_M_PRODUCT_DENSITY),
    ("tile_k_normalized_latency", paper.FIG7_TILE_K_NORMALIZED_LATENCY),
    ("tile_k_density", paper.FIG7_TILE_K_PRODUCT_DENSITY),
])
def test_figure_7_equals_the_published_tables(
    reference_dir: Path, name: str, table: paper.fig7._TileTable
) -> None:
    """Includes the default-tile point, derived from Fig. 11 and the tile_k sweep."""
    published = _csv_table(reference_dir / "paper" / f"fig7_dse_{name}.csv")
    published.pop("bit density", None)
    assert {f"M{m}_K{k}": dict(v) for (m, k), v in table.items()} == published


def test_sweep_points_and_default_tile() -> None:
    assert paper.DEFAULT_TILE == (256, 16)
    assert paper.SWEEP_TILE_M == (32, 64, 128, 256, 512, 1024, 2048)
    assert paper.SWEEP_TILE_K == (4, 8, 16, 32, 64, 128)
    assert paper.DEFAULT_TILE.tile_m in paper.SWEEP_TILE_M
    assert paper.DEFAULT_TILE.tile_k in paper.SWEEP_TILE_K
    assert "256x16" in paper.FIG11_SOURCE


def test_energy_constants_equal_the_published_ones(
    reference_dir: Path, constants: dict[str, Any]
) -> None:
    assert paper.CLOCK_HZ == constants["clock_hz"]
    assert paper.DRAM_ENERGY_PJ_PER_BIT == constants["dram_energy_pj_per_bit"]
    assert paper.ON_CHIP_POWER_MW == constants["on_chip_power_mw"]
    assert paper.DRAM_TRAFFIC_RATIO_TO_PROSPERITY == constants["dram_traffic_ratio_to_prosperity"]
    assert paper.A100_MEASURED_POWER_W == constants["a100_measured_power_w"]
    dram = _csv_table(reference_dir / "paper" / "prosperity_dram_bits.csv")["mem_access"]
    assert paper.PROSPERITY_DRAM_BITS == {k: int(v) for k, v in dram.items()}
    assert all(type(v) is int for v in paper.PROSPERITY_DRAM_BITS.values())


def test_reported_latencies_are_figure_8_to_the_nanosecond(constants: dict[str, Any]) -> None:
    """The authors' simulator quotes Fig. 8's A100 and Stellar rows to 9 decimals; the
    derived tables must be exactly those floats (the ``a100`` and ``stellar`` models'
    numbers depend on it)."""
    assert dict(paper.A100_MEASURED_LATENCY_S) == constants["a100_measured_latency_s"]
    assert dict(paper.STELLAR_REPORTED_LATENCY_S) == constants["stellar_reported_latency_s"]
    assert paper.A100_MEASURED_LATENCY_S["spikebert_sst5"] == 0.033357901
    assert paper.FIG8_LATENCY_S["A100"]["spikebert_sst5"] == 0.033357901101108


@pytest.mark.parametrize("accelerator", ["Prosperity", "Eyeriss", "PTB", "SATO", "MINT"])
def test_figure_8_energy_obeys_the_energy_model(accelerator: str) -> None:
    """energy_mJ = P_mW * latency_s + 12.45 pJ/bit * DRAM_bits * ratio * 1e-9."""
    for workload, latency in paper.FIG8_LATENCY_S[accelerator].items():
        bits = paper.PROSPERITY_DRAM_BITS[workload]
        bits *= paper.DRAM_TRAFFIC_RATIO_TO_PROSPERITY[accelerator]
        expected = (paper.ON_CHIP_POWER_MW[accelerator] * latency
                    + paper.DRAM_ENERGY_PJ_PER_BIT * bits * 1e-9)
        assert paper.FIG8_ENERGY_MJ[accelerator][workload] == pytest.approx(expected, rel=1e-9)


def test_a100_energy_is_measured_power_times_latency() -> None:
    for workload, latency in paper.FIG8_LATENCY_S["A100"].items():
        energy = paper.A100_MEASURED_POWER_W[workload] * 1e3 * latency
        assert paper.FIG8_ENERGY_MJ["A100"][workload] == pytest.approx(energy, rel=1e-12)


def test_every_figure_covers_the_papers_workloads() -> None:
    assert len(paper.WORKLOADS) == 19 and len(paper.FIG8_WORKLOADS) == 16
    assert set(paper.FIG11_BIT_DENSITY) == set(paper.FIG11_PRODUCT_DENSITY) == set(paper.WORKLOADS)
    for accelerator in ("Eyeriss", "Eyeriss_linear", "PTB", "SATO", "MINT", "Prosperity"):
        assert tuple(paper.FIG8_LATENCY_S[accelerator]) == paper.FIG8_WORKLOADS
        assert tuple(paper.FIG8_ENERGY_MJ[accelerator]) == paper.FIG8_WORKLOADS
    assert set(paper.A100_MEASURED_POWER_W) == set(paper.FIG8_LATENCY_S["A100"])
    assert set(paper.PROSPERITY_DRAM_BITS) == set(paper.FIG8_WORKLOADS)
    for table in (paper.FIG7_TILE_M_NORMALIZED_LATENCY, paper.FIG7_TILE_M_PRODUCT_DENSITY,
                  paper.FIG7_TILE_K_NORMALIZED_LATENCY, paper.FIG7_TILE_K_PRODUCT_DENSITY):
        assert all(tuple(row) == paper.FIG8_WORKLOADS for row in table.values())


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        paper.FIG8_LATENCY_S["PTB"]["vgg16_cifar10"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        paper.FIG7_TILE_K_PRODUCT_DENSITY[paper.DEFAULT_TILE] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        paper.ON_CHIP_POWER_MW["PTB"] = 0.0  # type: ignore[index]
