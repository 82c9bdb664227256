"""PNG plots of reports with matplotlib (Agg canvas, no pyplot state).

Every figure has the same fixed size, :data:`FIGSIZE_IN` at :data:`DPI`, i.e.
:data:`PIXELS` (width, height) pixels: grouped bars for Figure 8, lines for Figure 7, bars
for Figure 11, stacked bars for the per-layer breakdown.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from prosparsity.reports.build import GEOMEAN, VARIANT_SEPARATOR, sweep_axis
from prosparsity.reports.export import atomic_write
from prosparsity.reports.metrics import EFFICIENCY_PREFIX, SPEEDUP_PREFIX, Metric
from prosparsity.reports.model import Record, Report, ReportKind

FIGSIZE_IN = (12.0, 5.0)
DPI = 100
PIXELS = (int(FIGSIZE_IN[0] * DPI), int(FIGSIZE_IN[1] * DPI))


def _figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    # No bbox_inches="tight": the image keeps exactly PIXELS.
    fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write(path, buf.getvalue())


def _values(records: Sequence[Record], metric: str) -> dict[tuple[str, str], Record]:
    return {(r.workload, r.accelerator): r for r in records if r.metric == metric}


def _grouped_bars(ax: Axes, groups: list[str], series: list[str],
                  value: Callable[[str, str], float | None], ylabel: str,
                  log: bool = False) -> None:
    """Bars of ``value(group, series)``: one cluster per group, one colour per series."""
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    positive = False
    for i, name in enumerate(series):
        heights = [value(g, name) for g in groups]
        positive = positive or any(h is not None and h > 0 for h in heights)
        ax.bar(x + (i - (len(series) - 1) / 2) * width,
               [np.nan if h is None else h for h in heights], width, label=name)
    ax.set_xticks(x, groups, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if log and positive:  # log scale needs something above zero
        ax.set_yscale("log")
        # Plain numbers (0.01, 1, 4) instead of 10^x; minor labels only on short ranges.
        ax.yaxis.set_major_formatter(LogFormatter())
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                                  minor_thresholds=(2, 0.4)))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def plot_density(report: Report, path: Path) -> Path:
    """Figure 11 style: bit and product density per workload; the paper's as markers."""
    fig, (ax,) = _figure()
    workloads = list(dict.fromkeys(r.workload for r in report.records))
    series = {"bit density": Metric.BIT_DENSITY, "product density": Metric.PRODUCT_DENSITY}
    tables = {name: {r.workload: r for r in report.records if r.metric == m}
              for name, m in series.items()}
    _grouped_bars(ax, workloads, list(series),
                  lambda w, name: tables[name][w].value if w in tables[name] else None,
                  "density")
    x = np.arange(len(workloads))
    for i, name in enumerate(series):
        refs = [tables[name][w].reference if w in tables[name] else None for w in workloads]
        if any(r is not None for r in refs):
            ax.scatter(x + (i - 0.5) * 0.4, [np.nan if r is None else r for r in refs],
                       marker="_", s=200, color="black", zorder=3,
                       label="paper" if i == 0 else None)
    ax.legend(fontsize=7)
    ax.set_title(report.title)
    return _save(fig, path)


def plot_accelerators(report: Report, path: Path) -> Path:
    """Figure 8 style: grouped bars of speedup and energy efficiency (log scale)."""
    speed = next((c.metric for c in report.columns if c.metric.startswith(SPEEDUP_PREFIX)), None)
    eff = next((c.metric for c in report.columns if c.metric.startswith(EFFICIENCY_PREFIX)),
               None)
    panels = [(m, h) for m, h in ((speed, "speedup"), (eff, "energy efficiency")) if m]
    if not panels:
        panels = [(Metric.LATENCY_S, "latency (s)")]
    fig, axes = _figure(len(panels))
    accelerators = [a for a in dict.fromkeys(r.accelerator for r in report.records)
                    if VARIANT_SEPARATOR not in a]
    for ax, (metric, label) in zip(axes, panels, strict=True):
        table = _values(report.records, metric)
        workloads = list(dict.fromkeys(w for w, _ in table))
        if GEOMEAN in workloads:
            workloads.remove(GEOMEAN)
            workloads.append(GEOMEAN)
        series = [a for a in accelerators if any((w, a) in table for w in workloads)]
        _grouped_bars(ax, workloads, series,
                      lambda w, a, t=table: t[(w, a)].value if (w, a) in t else None,
                      f"{label} ({metric.split('_vs_')[-1]} = 1)" if "_vs_" in metric
                      else label, log=True)
        ax.set_title(label)
    fig.suptitle(report.title)
    return _save(fig, path)


def plot_sweep(report: Report, path: Path, axis: str) -> Path | None:
    """Figure 7 style: normalised latency and product density against tile_m or tile_k."""
    pick = sweep_axis(report, axis)
    fig, axes = _figure(2)
    drawn = with_reference = False
    workloads = list(dict.fromkeys(r.workload for r in report.records))
    for ax, metric, label in ((axes[0], Metric.NORMALIZED_LATENCY, "latency / bit sparsity"),
                              (axes[1], Metric.PRODUCT_DENSITY, "product density")):
        for i, w in enumerate(workloads):
            pts = sorted((pick(r.config), r) for r in report.records
                         if r.workload == w and r.metric == metric and pick(r.config))
            if len(pts) < 2:
                continue
            drawn = True
            color = f"C{i % 10}"
            xs = [p for p, _ in pts]
            ax.plot(xs, [r.value for _, r in pts], marker="o", color=color, label=w)
            if all(r.reference is not None for _, r in pts):
                with_reference = True
                ax.plot(xs, [r.reference for _, r in pts], ls="--", color=color, alpha=0.6)
        ax.set_xscale("log", base=2)
        ax.set_xlabel(f"tile_{axis}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if not drawn:
        return None
    axes[0].legend(fontsize=7)
    note = " (dashed: reference)" if with_reference else ""
    fig.suptitle(f"{report.title}: tile_{axis}{note}")
    return _save(fig, path)


def plot_layers(report: Report, path: Path) -> Path:
    """Per-layer breakdown: stacked compute / memory-stall / preprocessing-stall cycles."""
    fig, (ax,) = _figure()
    keys = list(dict.fromkeys((r.accelerator, r.layer) for r in report.records))
    table = {(r.accelerator, r.layer, r.metric): r.value for r in report.records}
    x = np.arange(len(keys))
    bottom = np.zeros(len(keys))
    for metric, label in ((Metric.COMPUTE_CYCLES, "compute"),
                          (Metric.MEM_STALL_CYCLES, "memory stall"),
                          (Metric.PREPROCESS_STALL_CYCLES, "preprocessing stall")):
        h = np.array([table.get((a, layer, metric)) or 0.0 for a, layer in keys])
        ax.bar(x, h, 0.7, bottom=bottom, label=label)
        bottom += h
    ax.set_xticks(x, [f"{a}:{layer}" for a, layer in keys], rotation=45, ha="right",
                  fontsize=7)
    ax.set_ylabel("cycles")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(report.title)
    return _save(fig, path)


def plot_report(report: Report, out_dir: Path, stem: str | None = None) -> list[Path]:
    """Draw the report's PNG(s) into ``out_dir``; the sweep draws one per tile axis."""
    out_dir = Path(out_dir)
    stem = stem or str(report.kind)
    if report.kind is ReportKind.DENSITY:
        return [plot_density(report, out_dir / f"{stem}.png")]
    if report.kind is ReportKind.ACCELERATORS:
        return [plot_accelerators(report, out_dir / f"{stem}.png")]
    if report.kind is ReportKind.SWEEP:
        paths = [plot_sweep(report, out_dir / f"{stem}_tile_{a}.png", a) for a in ("m", "k")]
        return [p for p in paths if p is not None]
    return [plot_layers(report, out_dir / f"{stem}.png")]
