"""Small hand-made inputs shared by the report tests."""

from __future__ import annotations

import pytest

from prosparsity.reports.build import (
    accelerator_report,
    density_report,
    layer_report,
    sweep_report,
)
from prosparsity.reports.model import Report
from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, SweepRow


@pytest.fixture
def density() -> Report:
    return density_report([
        DensityRow("lenet5_mnist", 0.2536399466271977, 0.015613787226408325,
                   em_share=0.25, pm_share=0.5),
        DensityRow("digits-cnn", 0.2, 0.05, n_samples=4, bit_density_std=0.01,
                   product_density_std=0.002),
    ])


@pytest.fixture
def accelerators() -> Report:
    return accelerator_report([
        AccelRow("vgg16_cifar10", "Eyeriss", 0.452082992, 794.746324437184),
        AccelRow("vgg16_cifar10", "PTB", 0.2, 400.0),
        AccelRow("vgg16_cifar10", "Prosperity", 0.05, 40.0, total_cycles=25_000_000),
        AccelRow("toy", "Eyeriss", 8.0, 80.0),
        AccelRow("toy", "PTB", 4.0, 20.0),
        AccelRow("toy", "Prosperity", 1.0, 10.0),
    ])


@pytest.fixture
def sweep() -> Report:
    return sweep_report([
        SweepRow("sdt_cifar10", 32, 16, 0.570316715, 1.0, 0.0760484353089944, 0.14632822672526),
        SweepRow("sdt_cifar10", 256, 16, 0.5, 1.0, 0.0508084223820613, 0.14632822672526),
        SweepRow("sdt_cifar10", 256, 8, 0.47568947056809502, 1.0, 0.05, 0.14632822672526),
    ])


@pytest.fixture
def layers() -> Report:
    return layer_report([
        LayerRow("toy", "Prosperity", "fc_0", "gemm", 110, 100, 10, 0, 4096,
                 bit_density=0.25, product_density=0.125),
        LayerRow("toy", "Prosperity", "lif_1", "lif", 50, 50, 0, 0, 0, added_cycles=20),
    ])
