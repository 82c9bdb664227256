"""PNG plots exist, are PNG images of the fixed size, and are not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from prosparsity.reports.model import Report
from prosparsity.reports.plots import PIXELS, plot_report


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.shape[:2] == (PIXELS[1], PIXELS[0])
    assert float(np.std(img[..., :3])) > 0.01  # something is drawn


@pytest.mark.parametrize(("name", "files"), [
    ("density", ["density.png"]),
    ("accelerators", ["accelerators.png"]),
    ("sweep", ["sweep_tile_m.png", "sweep_tile_k.png"]),
    ("layers", ["layers.png"]),
])
def test_plots(name: str, files: list[str], request, tmp_path: Path) -> None:
    report: Report = request.getfixturevalue(name)
    paths = plot_report(report, tmp_path)
    assert [p.name for p in paths] == files
    for path in paths:
        _check_png(path)


def _bars_by_label(ax) -> dict[str, int]:
    """Series label -> number of drawn (finite-height) bars in one panel."""
    return {c.get_label(): sum(1 for p in c.patches if np.isfinite(p.get_height()))
            for c in ax.containers if hasattr(c, "patches")}


def _overlaps_a_bar(fig, legend) -> bool:
    fig.canvas.draw()
    box = legend.get_window_extent()
    return any(box.overlaps(p.get_window_extent()) for ax in fig.axes
               for c in ax.containers if hasattr(c, "patches") for p in c.patches
               if np.isfinite(p.get_height()))


def test_density_has_error_bars_where_a_spread_was_computed(density: Report) -> None:
    from prosparsity.reports.plots import density_figure

    fig = density_figure(density)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if hasattr(c, "patches")]
    errors = [c for c in ax.containers if not hasattr(c, "patches")]
    assert len(bars) == 2 and len(errors) == 2  # bit and product density, each with bars
    # digits-cnn (4 samples) has bars of its std, lenet5_mnist (1 sample) of 0
    _data, _caps, (bar_lines,) = errors[0].lines  # the bit-density series' error bars
    segments = bar_lines.get_segments()
    heights = sorted(abs(seg[1][1] - seg[0][1]) for seg in segments)
    assert heights == pytest.approx([0.0, 0.02])  # ± 0.01 around digits-cnn's 0.2
    assert not _overlaps_a_bar(fig, fig.legends[0])


def test_accelerators_panels_hold_only_series_with_bars(tmp_path: Path) -> None:
    """A GPU without an energy model has speedup bars but no energy-efficiency bars: it
    is not a series of that panel; the one legend covers no bar."""
    from prosparsity.reports.build import accelerator_report
    from prosparsity.reports.plots import accelerators_figure
    from prosparsity.reports.rows import AccelRow

    report = accelerator_report([
        AccelRow("w1", "Prosperity", 1.0, 1.0), AccelRow("w1", "PTB", 4.0, 6.0),
        AccelRow("w1", "gpu-a100", 50.0, None),
        AccelRow("w2", "Prosperity", 2.0, 3.0), AccelRow("w2", "PTB", 6.0, 9.0),
        AccelRow("w2", "gpu-a100", 70.0, None),
    ], baseline="PTB", also=("gpu-a100",))
    fig = accelerators_figure(report)
    speed, energy = fig.axes
    assert _bars_by_label(speed) == {"Prosperity": 3, "PTB": 3, "gpu-a100": 3}
    assert _bars_by_label(energy) == {"Prosperity": 3, "PTB": 3}  # no gpu-a100 series
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["Prosperity", "PTB", "gpu-a100"]
    assert not _overlaps_a_bar(fig, legend)
    labels = [t.get_text() for t in speed.get_yticklabels(which="both") if t.get_text()]
    assert labels and not any("e" in label for label in labels)  # 0.02, 1, 4: plain


def test_layer_plot_is_grouped_by_layer_with_one_name_per_layer() -> None:
    """Prosperity prices conv2d_1 as the authors' conv2d_1_kernel5_fc, PTB as conv2d_1:
    the plot has one group per layer, named once, with a bar per accelerator."""
    from prosparsity.accel.base import Breakdown, LayerBreakdown
    from prosparsity.accel.registry import registry
    from prosparsity.reports.build import layer_report
    from prosparsity.reports.plots import layers_figure
    from prosparsity.results import AcceleratorResult

    def run(name: str, conv: str) -> Breakdown:
        return Breakdown.of_layers(name, "toy", 5e8, (
            LayerBreakdown(conv, "conv2d", 100, 90, 10, record="conv2d_1"
                           if conv != "conv2d_1" else ""),
            LayerBreakdown("lif_2", "lif", 20, 20)))

    def rows_of(name: str, conv: str) -> list:
        return AcceleratorResult(registry()[name], "toy", (run(name, conv),)).layer_rows()

    rows = rows_of("prosperity", "conv2d_1_kernel5_fc") + rows_of("ptb", "conv2d_1")
    assert [r.layer for r in rows] == ["conv2d_1", "lif_2"] * 2
    assert rows[0].priced_as == "conv2d_1_kernel5_fc" and rows[2].priced_as == ""
    fig = layers_figure(layer_report(rows))
    (ax,) = fig.axes
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["conv2d_1", "lif_2"]
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= 8
    (legend,) = fig.legends
    assert {"Prosperity", "PTB", "compute", "memory stall"} <= {
        t.get_text() for t in legend.get_texts()}
    assert not _overlaps_a_bar(fig, legend)
