"""The result model (:mod:`prosparsity.results`): means and spreads over samples, the
figures a model lacks, the reports' rows, the long form, and the views."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from prosparsity.accel.base import Breakdown, LayerBreakdown
from prosparsity.accel.registry import find, registry
from prosparsity.analysis.stats import Counts
from prosparsity.core.errors import ConfigError
from prosparsity.results import AcceleratorResult


def _breakdown(**kw: object) -> Breakdown:
    base = dict(accelerator="ptb", workload="w", total_cycles=1000.0, compute_cycles=990.0,
                mem_stall_cycles=10.0, preprocess_stall_cycles=0.0, dram_bits=4096.0,
                clock_hz=5e8)
    return Breakdown(**{**base, **kw})  # type: ignore[arg-type]


def test_display_names_and_lookup() -> None:
    reg = registry()
    assert reg["prosperity"].display == "Prosperity"
    assert reg["eyeriss-linear"].display == "Eyeriss_linear"
    assert find("eyeriss_linear") is reg["eyeriss-linear"]  # the paper's spelling
    assert find("PTB") is reg["ptb"] and find("tpu") is None
    assert reg["a100"].display == "A100"
    assert reg["gpu-a100"].display == "gpu-a100"  # the model, not the measured A100
    assert reg["eyeriss-linear"].energy_key == reg["eyeriss"].energy_key


def test_row_class_shares_among_nonzero_row_slices() -> None:
    counts = Counts(elements=100, nnz=30, residual_nnz=10, row_slices=10, zero_rows=2,
                    em_rows=4, pm_rows=2, other_rows=2)
    assert counts.nonzero_shares() == (0.5, 0.25)
    assert Counts().nonzero_shares() == (None, None)


def test_accelerator_row_and_the_figures_a_model_lacks() -> None:
    ptb = AcceleratorResult(registry()["ptb"], "w", (_breakdown(energy_mj=1.5),), (2000,))
    row = ptb.row()
    assert (row.accelerator, row.latency_s, row.energy_mj, row.total_cycles,
            row.dram_bits) == ("PTB", 2e-6, 1.5, 1000.0, 4096.0)
    assert row.gop_per_s == pytest.approx(2000 / 2e-6 / 1e9)
    assert row.gop_per_j == pytest.approx(2000 / 1.5e-3 / 1e9)
    a100 = AcceleratorResult(registry()["a100"], "w",
                             (_breakdown(accelerator="a100", latency_s_override=0.019),))
    reported = a100.row()
    assert reported.reported and reported.latency_s == 0.019
    assert reported.total_cycles is None and reported.dram_bits is None  # a latency only
    sato = AcceleratorResult(registry()["sato"], "w", (_breakdown(accelerator="sato"),))
    assert sato.dram_bits is None and sato.row().dram_bits is None  # counts no DRAM
    stellar = AcceleratorResult(registry()["stellar"], "w", (_breakdown(
        accelerator="stellar", latency_s_override=0.04, energy_mj=9.0),), (2000,))
    assert stellar.gop_per_s is None and stellar.gop_per_j is None  # its own op count


def test_samples_add_up_and_spread() -> None:
    model = registry()["ptb"]
    one = AcceleratorResult(model, "w", (_breakdown(total_cycles=1000.0, energy_mj=1.0),))
    two = AcceleratorResult(model, "w", (_breakdown(total_cycles=3000.0, energy_mj=None),))
    both = one + two
    assert both.samples == 2 and both.total_cycles == 2000.0
    assert both.cycles.std == pytest.approx(math.sqrt(2e6))  # sample std, n - 1
    assert both.energy_mj is None and both.energy is None  # a partial set is no mean
    doc = both.to_json()
    assert doc["samples"] == 2 and doc["total_cycles"] == 2000.0
    assert doc["total_cycles_std"] == pytest.approx(math.sqrt(2e6))
    assert doc["energy_mj"] is None and doc["energy_mj_std"] is None
    with pytest.raises(ConfigError, match="cannot add"):
        _ = one + AcceleratorResult(registry()["sato"], "w", (_breakdown(),))


def test_layer_rows_take_densities_of_the_conv_layer() -> None:
    bd = _breakdown(accelerator="prosperity", layers=(
        # the model says which record it priced under the authors' GEMM name
        LayerBreakdown("conv2d_1_kernel5_fc", "gemm", 100, 90, 10, 0, 64, record="conv2d_1"),
        LayerBreakdown("lif_2", "lif", 50, 50, added_cycles=20),
    ))
    result = AcceleratorResult(registry()["prosperity"], "w", (bd,))
    rows = result.layer_rows({"conv2d_1": (0.25, 0.0625)})
    assert (rows[0].layer, rows[0].priced_as) == ("conv2d_1", "conv2d_1_kernel5_fc")
    assert (rows[0].bit_density, rows[0].product_density) == (0.25, 0.0625)
    assert rows[1].added_cycles == 20 and rows[1].bit_density is None


def test_simulation_of_lenet5(lenet5_npz: Path) -> None:
    import prosparsity as ps

    sim = ps.simulate(lenet5_npz, ["prosperity", "ptb", "stellar"])
    assert sim["prosperity"].total_cycles == 41178 and sim["ptb"].total_cycles == 62319
    assert sim.accelerators["stellar"] is None  # asked for, no figure for LeNet-5
    with pytest.raises(ConfigError, match="no figure"):
        sim["stellar"]
    assert sim.speedup("prosperity") == pytest.approx(62319 / 41178)
    assert sim.speedup("prosperity", over="prosperity") == 1.0
    assert sim.efficiency("prosperity") == pytest.approx(
        sim["ptb"].energy_mj / sim["prosperity"].energy_mj)
    assert sim.ops == 3_545_271
    dens = sim.densities
    assert dens.bit_density.mean == pytest.approx(0.2536399466271977, abs=1e-12)
    assert dens.product_density.mean == pytest.approx(0.015613787226408325, abs=1e-12)
    row = dens.row()
    c = dens.stats.counts
    assert row.em_share == pytest.approx(c.em_rows / (c.row_slices - c.zero_rows))
    assert set(dens.layer_densities()) == {"conv2d_1", "fc_0", "fc_1"}


def test_long_form_frame_and_arrow(lenet5_npz: Path) -> None:
    import prosparsity as ps

    sim = ps.simulate(lenet5_npz, ["prosperity", "a100", "gpu-a100"])
    frame = sim.to_frame()
    assert list(frame.columns) == ["workload", "sample", "accelerator", "config", "layer",
                                   "metric", "value", "unit"]
    prosperity = frame[frame.accelerator == "prosperity"].set_index("metric")["value"]
    assert prosperity["total_cycles"] == 41178 and prosperity["latency_s"] == 41178 / 5e8
    gpu = set(frame[frame.accelerator == "gpu-a100"].metric)
    assert "total_cycles" not in gpu and "latency_s" in gpu  # a GPU's figure is a latency
    assert set(frame.unit[frame.metric == "latency_s"]) == {"s"}
    layers = sim.to_arrow(layers=True)
    assert layers.num_rows > frame.shape[0]
    assert set(layers.column("layer").to_pylist()) >= {"", "conv2d_1"}


def test_views_render_through_the_reports(lenet5_npz: Path) -> None:
    from rich.console import Console

    import prosparsity as ps

    sim = ps.simulate(lenet5_npz, ["prosperity", "ptb"])
    html = sim._repr_html_()
    assert html.count("<table") == 2 and "Accelerator comparison" in html
    console = Console(width=200, color_system=None, record=True)
    console.print(sim)
    text = console.export_text()
    assert "Accelerator comparison (paper Fig. 8)" in text and "41,178" in text
    counted = ps.count(lenet5_npz)
    console.print(counted)
    assert "Bit and product density" in console.export_text()
