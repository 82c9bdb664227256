"""The component model against the paper's Figure 8 Prosperity energies: the fitted
factor and bands are what the fit gives, the error of every workload is the docs table's
(docs/energy-and-area.md, "Calibration"), and Figure 10's breakdown of the default design."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from prosparsity.accel.energy.calibration import (
    calibrate,
    design_breakdown,
    paper_statistics_energy,
)
from prosparsity.accel.energy.fitted import (
    CALIBRATION_FACTOR,
    ENERGY_ERROR_RANGE,
    POWER_ERROR_RANGE,
)
from prosparsity.paper.energy import PROSPERITY_DRAM_BITS
from prosparsity.paper.fig10 import FIG10_BUFFER_AREA_MM2

#: workload -> (in-sample error, leave-one-out error) of the calibrated energy, as the
#: docs table prints them (rounded to 0.1 %).
ERRORS = {
    "vgg16_cifar10": (4.8, 5.1), "vgg16_cifar100": (0.3, 0.3),
    "resnet18_cifar10": (9.6, 10.3), "resnet18_cifar100": (9.3, 10.0),
    "spikformer_cifar10": (-3.1, -3.3), "spikformer_cifar10dvs": (3.6, 3.9),
    "spikformer_cifar100": (-1.5, -1.6), "sdt_cifar10": (-3.1, -3.3),
    "sdt_cifar10dvs": (6.6, 7.1), "sdt_cifar100": (-4.3, -4.6),
    "spikebert_sst2": (2.0, 2.1), "spikebert_mr": (-10.8, -11.4),
    "spikebert_sst5": (-4.2, -4.5), "spikingbert_sst2": (-3.3, -3.5),
    "spikingbert_qqp": (-5.1, -5.5), "spikingbert_mnli": (-4.6, -4.9),
}


@pytest.fixture(scope="module")
def fit():
    return calibrate()


def test_the_fitted_constants_are_the_fit(fit) -> None:
    assert fit.factor == pytest.approx(CALIBRATION_FACTOR, rel=1e-12)
    assert fit.band_constants() == (ENERGY_ERROR_RANGE, POWER_ERROR_RANGE)
    lo, hi = fit.loo_range
    assert ENERGY_ERROR_RANGE[0] <= lo < hi <= ENERGY_ERROR_RANGE[1]


def test_every_workload_against_figure8(fit, reference_dir: Path) -> None:
    with (reference_dir / "paper" / "fig8_energy_millijoules.csv").open() as f:
        fig8 = {r["accelerator"]: r for r in csv.DictReader(f)}["Prosperity"]
    assert [r.workload for r in fit.rows] == list(ERRORS)
    for r in fit.rows:
        assert r.paper_energy_mj == float(fig8[r.workload])
        assert r.dram_mj == pytest.approx(12.45e-9 * PROSPERITY_DRAM_BITS[r.workload])
        assert r.paper_on_chip_mj == pytest.approx(446.5 * r.latency_s)
        assert r.model_energy_mj == pytest.approx(
            fit.factor * r.model_on_chip_mj + r.dram_mj, rel=1e-12)
        want = ERRORS[r.workload]
        assert (f"{r.error:+.1%}", f"{r.loo_error:+.1%}") == (f"{want[0]:+.1f}%",
                                                             f"{want[1]:+.1f}%")
        assert abs(r.loo_error) >= abs(r.error)  # predicting a point is harder than fitting
        assert r.power_mw == pytest.approx(446.5 * (1 + r.power_error), rel=1e-9)
    assert round(fit.mean_abs_error, 3) == 0.048 and round(fit.mean_abs_loo_error, 3) == 0.051


def test_paper_statistics_follow_the_density() -> None:
    """More product density (more residual additions) costs more energy at one latency."""
    from dataclasses import replace

    from prosparsity.accel.energy.calibration import UNCALIBRATED
    from prosparsity.paper import fig11

    base = paper_statistics_energy("spikformer_cifar10", UNCALIBRATED)
    tables = {**fig11.FIG11_PRODUCT_DENSITY, "spikformer_cifar10": 0.2}
    patched = pytest.MonkeyPatch()
    patched.setattr("prosparsity.accel.energy.calibration.FIG11_PRODUCT_DENSITY", tables)
    try:
        more = paper_statistics_energy("spikformer_cifar10", UNCALIBRATED)
    finally:
        patched.undo()
    assert more.latency_s == base.latency_s and more.energy_mj > base.energy_mj
    assert replace(base, note="x").energy_mj == base.energy_mj


def test_figure10_breakdown_of_the_default_design() -> None:
    b = design_breakdown()
    area = b.by_group("area_mm2")
    assert list(area) == ["adders", "detector", "pruner", "forest", "dispatcher", "buffers",
                          "SFU", "DRAM"]
    buffers = {c.name: c.area_mm2 for c in b.components if c.group == "buffers"}
    assert buffers == pytest.approx(FIG10_BUFFER_AREA_MM2, abs=5e-7)
    assert area["buffers"] / b.area_mm2 == pytest.approx(0.802, abs=1e-3)
    # time-weighted mean power over the 16 workloads, inside its own band
    assert b.power_low_mw < b.power_mw < b.power_high_mw  # type: ignore[operator]
    assert round(b.power_mw, 1) == 412.9  # type: ignore[arg-type]
