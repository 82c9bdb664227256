"""Looking up the paper's numbers for a report record (the numbers themselves are checked
against the published tables in ``tests/paper``)."""

from __future__ import annotations

import pytest

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
