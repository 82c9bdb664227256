"""Typed row builders: analysis / cost-model results to report rows (reports/rows.py)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from prosparsity.accel.base import Breakdown, LayerBreakdown
from prosparsity.analysis.stats import Counts
from prosparsity.core.ids import AcceleratorId
from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, layer_densities


def test_display_names() -> None:
    assert AcceleratorId.PROSPERITY.display == "Prosperity"
    assert AcceleratorId.EYERISS_LINEAR.display == "Eyeriss_linear"
    assert AcceleratorId.parse("eyeriss_linear") is AcceleratorId.EYERISS_LINEAR
    assert AcceleratorId.A100.display == "A100"
    assert AcceleratorId.GPU_A100.display == "gpu-a100"  # the model, not the measured A100
    assert AcceleratorId.LOAS.display == "LoAS"
    assert AcceleratorId.EYERISS_LINEAR.energy_key == AcceleratorId.EYERISS.energy_key


def test_row_class_shares_among_nonzero_row_slices() -> None:
    counts = Counts(elements=100, nnz=30, residual_nnz=10, row_slices=10, zero_rows=2,
                    em_rows=4, pm_rows=2, other_rows=2)
    assert counts.nonzero_shares() == (0.5, 0.25)
    assert Counts().nonzero_shares() == (None, None)


def _breakdown(**kw) -> Breakdown:
    base = dict(accelerator="ptb", workload="w", total_cycles=1000.0, compute_cycles=990.0,
                mem_stall_cycles=10.0, preprocess_stall_cycles=0.0, dram_bits=4096.0,
                clock_hz=5e8)
    return Breakdown(**{**base, **kw})


def test_accel_row_from_breakdown() -> None:
    row = AccelRow.of_breakdown("w", AcceleratorId.PTB, _breakdown(energy_mj=1.5))
    assert row == AccelRow("w", "PTB", 2e-6, 1.5, 1000.0, 990.0, 10.0, 0.0, 4096.0)
    reported = AccelRow.of_breakdown("w", AcceleratorId.A100,
                                     _breakdown(latency_s_override=0.019))
    assert reported.reported and reported.latency_s == 0.019
    assert reported.total_cycles is None


def test_layer_rows_take_densities_of_the_conv_layer() -> None:
    bd = _breakdown(layers=(
        # the model says which record it priced under the authors' GEMM name
        LayerBreakdown("conv2d_1_kernel5_fc", "gemm", 100, 90, 10, 0, 64, record="conv2d_1"),
        LayerBreakdown("lif_2", "lif", 50, 50, added_cycles=20),
    ))
    rows = LayerRow.of_breakdown("w", AcceleratorId.PROSPERITY, bd,
                                 {"conv2d_1": (0.25, 0.0625)})
    assert (rows[0].bit_density, rows[0].product_density) == (0.25, 0.0625)
    assert rows[1].added_cycles == 20 and rows[1].bit_density is None


def test_sample_density_row_mean_and_spread() -> None:
    rows = [DensityRow("m", 0.2, 0.05, em_share=0.5, pm_share=0.1),
            DensityRow("m", 0.3, 0.07, em_share=0.7, pm_share=0.3)]
    row = DensityRow.mean_of("m", rows)
    assert row.n_samples == 2
    assert row.bit_density == pytest.approx(0.25)
    assert row.bit_density_std == pytest.approx(math.sqrt(0.005))  # sample std, n - 1
    assert row.product_density_std == pytest.approx(math.sqrt(0.0002))
    assert row.em_share == pytest.approx(0.6)
    single = DensityRow.mean_of("m", rows[:1])
    assert single.n_samples == 1 and single.bit_density_std is None


def test_mean_accel_row() -> None:
    rows = [AccelRow("m", "PTB", 1.0, 2.0, 10.0), AccelRow("m", "PTB", 3.0, None, 30.0)]
    mean = AccelRow.mean(rows)
    assert mean.latency_s == 2.0 and mean.total_cycles == 20.0
    assert mean.energy_mj is None  # not averaged over a partial set


def test_density_row_from_the_lenet5_analysis(lenet5_npz: Path, tmp_path: Path) -> None:
    from prosparsity.analysis.density import analyze_trace
    from prosparsity.traces.importer import import_dump

    trace = import_dump(lenet5_npz, "lenet5_mnist", tmp_path / "l.h5")
    stats = analyze_trace(trace)
    row = DensityRow.of_stats("lenet5_mnist", stats)
    assert row.bit_density == pytest.approx(0.2536399466271977, abs=1e-12)
    assert row.product_density == pytest.approx(0.015613787226408325, abs=1e-12)
    c = stats.counts
    assert row.em_share == pytest.approx(c.em_rows / (c.row_slices - c.zero_rows))
    assert set(layer_densities(stats)) == {"conv2d_1", "fc_0", "fc_1"}
