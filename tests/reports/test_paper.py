"""The paper's cited values: lookups, agreement with the published CSVs, and the energy
model they must satisfy (a transcription error breaks the identity)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prosparsity.reports import paper
from prosparsity.reports.metrics import Metric
from prosparsity.reports.paper import paper_reference


def test_lenet5_fig11_row() -> None:
    bit = paper_reference(Metric.BIT_DENSITY, "lenet5_mnist")
    prod = paper_reference(Metric.PRODUCT_DENSITY, "lenet5_mnist")
    assert bit is not None and prod is not None
    assert bit.value == pytest.approx(0.2536399466271977, abs=1e-14)
    assert prod.value == pytest.approx(0.015613787226408325, abs=1e-14)
    assert "Fig. 11" in bit.source and "Fig. 11" in prod.source


def test_fig8_lookup_is_case_insensitive_and_config_specific() -> None:
    ref = paper_reference(Metric.LATENCY_S, "vgg16_cifar10", "eyeriss")
    assert ref is not None and ref.value == pytest.approx(0.452082992)
    assert "Fig. 8" in ref.source
    # Prosperity's Fig. 8 numbers are at the default tile only.
    assert paper_reference(Metric.LATENCY_S, "vgg16_cifar10", "Prosperity", 128, 16) is None
    assert paper_reference(Metric.LATENCY_S, "lenet5_mnist", "Prosperity") is None
    assert paper_reference(Metric.LATENCY_S, "vgg16_cifar10", "NoSuchAccel") is None
    assert paper_reference(Metric.ENERGY_MJ, "vgg16_cifar10", "A100") is None  # no GPU run
    assert paper_reference(Metric.TOTAL_CYCLES, "vgg16_cifar10", "Prosperity") is None


def test_fig7_lookup_by_tile() -> None:
    ref = paper_reference(Metric.NORMALIZED_LATENCY, "sdt_cifar10", "Prosperity", 32, 16)
    assert ref is not None and ref.value == pytest.approx(0.570316715)
    dens = paper_reference(Metric.PRODUCT_DENSITY, "sdt_cifar10", "Prosperity", 256, 128)
    assert dens is not None and dens.value == pytest.approx(0.134547033065404)
    assert "Fig. 7" in dens.source
    # Fig. 7 has no LeNet-5 and no off-sweep tile.
    assert paper_reference(Metric.PRODUCT_DENSITY, "lenet5_mnist", "Prosperity", 32, 16) is None
    assert paper_reference(Metric.NORMALIZED_LATENCY, "sdt_cifar10", "Prosperity", 32, 8) is None
    assert paper_reference(Metric.PRODUCT_DENSITY, "sdt_cifar10", "PTB") is None
    assert paper_reference(Metric.BIT_DENSITY, "sdt_cifar10", layer="conv2d_1") is None


@pytest.mark.parametrize("accelerator", ["Prosperity", "Eyeriss", "PTB", "SATO", "MINT"])
def test_fig8_energy_obeys_the_papers_energy_model(accelerator: str) -> None:
    """energy_mJ = P_mW * latency_s + 12.45 pJ/bit * DRAM_bits * ratio * 1e-9."""
    for workload, latency in paper.FIG8_LATENCY_S[accelerator].items():
        bits = paper.PROSPERITY_DRAM_BITS[workload]
        bits *= paper.DRAM_TRAFFIC_RATIO_TO_PROSPERITY[accelerator]
        expected = (paper.ON_CHIP_POWER_MW[accelerator] * latency
                    + paper.DRAM_ENERGY_PJ_PER_BIT * bits * 1e-9)
        assert paper.FIG8_ENERGY_MJ[accelerator][workload] == pytest.approx(expected, rel=1e-9)


def test_a100_energy_is_measured_power_times_latency() -> None:
    for workload, latency in paper.A100_MEASURED_LATENCY_S.items():
        assert paper.FIG8_LATENCY_S["A100"][workload] == pytest.approx(latency, rel=1e-6)
        energy = paper.A100_MEASURED_POWER_W[workload] * 1e3 * latency
        assert paper.FIG8_ENERGY_MJ["A100"][workload] == pytest.approx(energy, rel=1e-6)


def _csv_table(path: Path) -> dict[str, dict[str, float]]:
    with open(path) as fh:
        rows = list(csv.reader(fh))
    header = rows[0][1:]
    return {r[0]: {w: float(v) for w, v in zip(header, r[1:], strict=True) if v not in ("", "N/A")}
            for r in rows[1:]}


def test_constants_equal_the_published_tables(reference_dir: Path) -> None:
    pdir = reference_dir / "paper"
    fig11 = _csv_table(pdir / "fig11_density.csv")
    assert paper.FIG11_BIT_DENSITY == fig11["bit_density"]
    assert paper.FIG11_PRODUCT_DENSITY == fig11["product_density"]
    assert paper.FIG8_LATENCY_S == _csv_table(pdir / "fig8_latency_seconds.csv")
    assert paper.FIG8_ENERGY_MJ == _csv_table(pdir / "fig8_energy_millijoules.csv")
    for name, table in (("tile_m_normalized_latency", paper.FIG7_TILE_M_NORMALIZED_LATENCY),
                        ("tile_m_density", paper.FIG7_TILE_M_PRODUCT_DENSITY),
                        ("tile_k_normalized_latency", paper.FIG7_TILE_K_NORMALIZED_LATENCY),
                        ("tile_k_density", paper.FIG7_TILE_K_PRODUCT_DENSITY)):
        published = _csv_table(pdir / f"fig7_dse_{name}.csv")
        published.pop("bit density", None)
        assert {f"M{m}_K{k}": v for (m, k), v in table.items()} == published
