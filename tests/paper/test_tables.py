"""The paper's numbers (``prosparsity.paper``) against the published tables in
``../shared/reference/paper/``, and against the paper's own energy identity, so that a
transcription slip or a wrong derivation fails."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from prosparsity.paper import abstract, energy, fig7, fig8, fig11, tiles, workloads


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
    densities = _csv_table(pdir / "fig11_density.csv")
    assert fig11.FIG11_BIT_DENSITY == densities["bit_density"]
    assert fig11.FIG11_PRODUCT_DENSITY == densities["product_density"]
    assert fig8.FIG8_LATENCY_S == _csv_table(pdir / "fig8_latency_seconds.csv")
    assert fig8.FIG8_ENERGY_MJ == _csv_table(pdir / "fig8_energy_millijoules.csv")


@pytest.mark.parametrize(("name", "table"), [
    ("tile_m_normalized_latency", fig7.FIG7_TILE_M_NORMALIZED_LATENCY),
    ("tile_m_density", fig7.FIG7_TILE_M_PRODUCT_DENSITY),
    ("tile_k_normalized_latency", fig7.FIG7_TILE_K_NORMALIZED_LATENCY),
    ("tile_k_density", fig7.FIG7_TILE_K_PRODUCT_DENSITY),
])
def test_figure_7_equals_the_published_tables(
    reference_dir: Path, name: str, table: fig7._TileTable
) -> None:
    """Includes the default-tile point, derived from Fig. 11 and the tile_k sweep."""
    published = _csv_table(reference_dir / "paper" / f"fig7_dse_{name}.csv")
    published.pop("bit density", None)
    assert {f"M{m}_K{k}": dict(v) for (m, k), v in table.items()} == published


def test_sweep_points_and_default_tile() -> None:
    assert tiles.DEFAULT_TILE == (256, 16)
    assert fig7.SWEEP_TILE_M == (32, 64, 128, 256, 512, 1024, 2048)
    assert fig7.SWEEP_TILE_K == (4, 8, 16, 32, 64, 128)
    assert tiles.DEFAULT_TILE.tile_m in fig7.SWEEP_TILE_M
    assert tiles.DEFAULT_TILE.tile_k in fig7.SWEEP_TILE_K
    assert "256x16" in fig11.FIG11_SOURCE


def test_energy_constants_equal_the_published_ones(
    reference_dir: Path, constants: dict[str, Any]
) -> None:
    assert energy.CLOCK_HZ == constants["clock_hz"]
    assert energy.DRAM_ENERGY_PJ_PER_BIT == constants["dram_energy_pj_per_bit"]
    assert energy.ON_CHIP_POWER_MW == constants["on_chip_power_mw"]
    assert energy.DRAM_TRAFFIC_RATIO_TO_PROSPERITY == constants["dram_traffic_ratio_to_prosperity"]
    assert energy.A100_MEASURED_POWER_W == constants["a100_measured_power_w"]
    dram = _csv_table(reference_dir / "paper" / "prosperity_dram_bits.csv")["mem_access"]
    assert energy.PROSPERITY_DRAM_BITS == {k: int(v) for k, v in dram.items()}
    assert all(type(v) is int for v in energy.PROSPERITY_DRAM_BITS.values())


def test_reported_latencies_are_figure_8_to_the_nanosecond(constants: dict[str, Any]) -> None:
    """The authors' simulator quotes Fig. 8's A100 and Stellar rows to 9 decimals; the
    derived tables must be exactly those floats (the ``a100`` and ``stellar`` models'
    numbers depend on it)."""
    assert dict(fig8.A100_MEASURED_LATENCY_S) == constants["a100_measured_latency_s"]
    assert dict(fig8.STELLAR_REPORTED_LATENCY_S) == constants["stellar_reported_latency_s"]
    assert fig8.A100_MEASURED_LATENCY_S["spikebert_sst5"] == 0.033357901
    assert fig8.FIG8_LATENCY_S["A100"]["spikebert_sst5"] == 0.033357901101108


@pytest.mark.parametrize("accelerator", ["Prosperity", "Eyeriss", "PTB", "SATO", "MINT"])
def test_figure_8_energy_obeys_the_energy_model(accelerator: str) -> None:
    """energy_mJ = P_mW * latency_s + 12.45 pJ/bit * DRAM_bits * ratio * 1e-9."""
    for workload, latency in fig8.FIG8_LATENCY_S[accelerator].items():
        bits = energy.PROSPERITY_DRAM_BITS[workload]
        bits *= energy.DRAM_TRAFFIC_RATIO_TO_PROSPERITY[accelerator]
        expected = (energy.ON_CHIP_POWER_MW[accelerator] * latency
                    + energy.DRAM_ENERGY_PJ_PER_BIT * bits * 1e-9)
        assert fig8.FIG8_ENERGY_MJ[accelerator][workload] == pytest.approx(expected, rel=1e-9)


def test_a100_energy_is_measured_power_times_latency() -> None:
    for workload, latency in fig8.FIG8_LATENCY_S["A100"].items():
        expected = energy.A100_MEASURED_POWER_W[workload] * 1e3 * latency
        assert fig8.FIG8_ENERGY_MJ["A100"][workload] == pytest.approx(expected, rel=1e-12)


def test_every_figure_covers_the_papers_workloads() -> None:
    assert len(workloads.WORKLOADS) == 19 and len(workloads.FIG8_WORKLOADS) == 16
    assert set(fig11.FIG11_BIT_DENSITY) == set(workloads.WORKLOADS)
    assert set(fig11.FIG11_PRODUCT_DENSITY) == set(workloads.WORKLOADS)
    for accelerator in ("Eyeriss", "Eyeriss_linear", "PTB", "SATO", "MINT", "Prosperity"):
        assert tuple(fig8.FIG8_LATENCY_S[accelerator]) == workloads.FIG8_WORKLOADS
        assert tuple(fig8.FIG8_ENERGY_MJ[accelerator]) == workloads.FIG8_WORKLOADS
    assert set(energy.A100_MEASURED_POWER_W) == set(fig8.FIG8_LATENCY_S["A100"])
    assert set(energy.PROSPERITY_DRAM_BITS) == set(workloads.FIG8_WORKLOADS)
    for table in (fig7.FIG7_TILE_M_NORMALIZED_LATENCY, fig7.FIG7_TILE_M_PRODUCT_DENSITY,
                  fig7.FIG7_TILE_K_NORMALIZED_LATENCY, fig7.FIG7_TILE_K_PRODUCT_DENSITY):
        assert all(tuple(row) == workloads.FIG8_WORKLOADS for row in table.values())


def test_headline_claims_name_figure_8_accelerators() -> None:
    assert dict(abstract.HEADLINE_CLAIM) == {
        ("PTB", "speedup"): 7.4, ("PTB", "energy_efficiency"): 8.0,
        ("A100", "speedup"): 1.8, ("A100", "energy_efficiency"): 193.0,
    }
    assert {accelerator for accelerator, _ in abstract.HEADLINE_CLAIM} <= set(fig8.FIG8_LATENCY_S)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        fig8.FIG8_LATENCY_S["PTB"]["vgg16_cifar10"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        fig7.FIG7_TILE_K_PRODUCT_DENSITY[tiles.DEFAULT_TILE] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        energy.ON_CHIP_POWER_MW["PTB"] = 0.0  # type: ignore[index]
