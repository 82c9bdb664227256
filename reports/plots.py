"""PNG plots of reports with matplotlib (Agg canvas, no pyplot state).

Every figure has the same fixed size, :data:`FIGSIZE_IN` at :data:`DPI`, i.e.
:data:`PIXELS` (width, height) pixels: grouped bars for Figure 8 and Table 4, lines for
Figure 7, bars (± the spread over samples) for Figure 11, stacked bars grouped by layer for
the per-layer breakdown; the energy and area reports' plots (Figure 10, the calibration,
the two energy modes) are :mod:`prosparsity.reports.area`'s. Legends sit right of the
panels, over no bar.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, NullFormatter

from prosparsity.reports.build import GEOMEAN, VARIANT_SEPARATOR, sweep_axis
from prosparsity.reports.export import atomic_write
from prosparsity.reports.metrics import EFFICIENCY_PREFIX, SPEEDUP_PREFIX, Metric
from prosparsity.reports.model import Record, Report, ReportKind

FIGSIZE_IN = (12.0, 5.0)
DPI = 100
PIXELS = (int(FIGSIZE_IN[0] * DPI), int(FIGSIZE_IN[1] * DPI))


def new_figure(ncols: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure of the reports' size (:data:`PIXELS`) with ``ncols`` panels side by side
    (no pyplot state)."""
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def save_png(fig: Figure, path: Path) -> Path:
    """``fig`` as a PNG of exactly :data:`PIXELS`, written atomically."""
    buf = io.BytesIO()
    # No bbox_inches="tight": the image keeps exactly PIXELS.
    fig.savefig(buf, format="png", dpi=DPI)
    return atomic_write(path, buf.getvalue())


def _values(records: Sequence[Record], metric: str) -> dict[tuple[str, str], Record]:
    return {(r.workload, r.accelerator): r for r in records if r.metric == metric}


def _grouped_bars(ax: Axes, groups: list[str], series: list[str],
                  value: Callable[[str, str], float | None], ylabel: str,
                  log: bool = False,
                  error: Callable[[str, str], float | None] | None = None,
                  colours: Mapping[str, str] | None = None) -> None:
    """Bars of ``value(group, series)``: one cluster per group, one colour per series
    (``colours``, else ``C{index}``); ``error`` draws ± error bars where it gives one."""
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    positive = False
    for i, name in enumerate(series):
        heights = [value(g, name) for g in groups]
        positive = positive or any(h is not None and h > 0 for h in heights)
        errs = None
        if error is not None:
            e = [error(g, name) for g in groups]
            if any(v is not None for v in e):
                errs = [0.0 if v is None else v for v in e]
        ax.bar(x + (i - (len(series) - 1) / 2) * width,
               [np.nan if h is None else h for h in heights], width, label=name,
               color=(colours or {}).get(name, f"C{i % 10}"), yerr=errs, capsize=3 if errs else 0,
               error_kw={"elinewidth": 1, "ecolor": "black"})
    ax.set_xticks(x, groups, rotation=30 if len(groups) > 4 else 0,
                  ha="right" if len(groups) > 4 else "center", fontsize=9)
    ax.set_ylabel(ylabel)
    if log and positive:  # log scale needs something above zero
        _log_axis(ax)
    ax.grid(axis="y", alpha=0.3)


def _plain(value: float, _pos: int | None = None) -> str:
    return f"{value:g}"


def _two_five(value: float, _pos: int | None = None) -> str:
    """Minor labels at 2 and 5 times a power of ten only (``0.2``, ``5``, ``20``)."""
    if value <= 0:
        return ""
    lead = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
    return f"{value:g}" if lead in (2, 5) else ""


def _log_axis(ax: Axes) -> None:
    """A log y axis labelled with plain numbers (0.02, 1, 40), never ``6e-01``; minor
    ticks labelled at 2 and 5 when the axis spans fewer than three decades."""
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))
    short = low > 0 and math.log10(high / low) < 3
    ax.yaxis.set_minor_formatter(FuncFormatter(_two_five) if short else NullFormatter())


def _suptitle(fig: Figure, title: str) -> None:
    """The report's title; the part after " — " (what its traces are) on a second line."""
    head, _, marks = title.partition(" — ")
    fig.suptitle(head if not marks else f"{head}\n{marks}", fontsize=12 if not marks else 11)


def _legend_outside(fig: Figure, axes: Sequence[Axes]) -> None:
    """One legend for the figure, right of the panels, so it covers no bar: every
    series (and marker) any panel drew, once."""
    handles: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside right upper",
                   fontsize=8)


def plot_density(report: Report, path: Path) -> Path:
    """Figure 11 style (:func:`density_figure`), saved as PNG."""
    return save_png(density_figure(report), path)


def density_figure(report: Report) -> Figure:
    """Bit and product density per workload (± the standard deviation over samples
    where it was computed); the paper's as markers."""
    fig, (ax,) = new_figure()
    workloads = list(dict.fromkeys(r.workload for r in report.records))
    series = {"bit density": Metric.BIT_DENSITY, "product density": Metric.PRODUCT_DENSITY}
    spreads = {"bit density": Metric.BIT_DENSITY_STD,
               "product density": Metric.PRODUCT_DENSITY_STD}
    tables = {name: {r.workload: r for r in report.records if r.metric == m}
              for name, m in {**series, **{f"{k} std": v for k, v in spreads.items()}}.items()}

    def value(w: str, name: str, suffix: str = "") -> float | None:
        rec = tables[name + suffix].get(w)
        return None if rec is None else rec.value

    _grouped_bars(ax, workloads, list(series), value, "density",
                  error=lambda w, name: value(w, name, " std"))
    x = np.arange(len(workloads))
    for i, name in enumerate(series):
        refs = [tables[name][w].reference if w in tables[name] else None for w in workloads]
        if any(r is not None for r in refs):
            ax.scatter(x + (i - 0.5) * 0.4, [np.nan if r is None else r for r in refs],
                       marker="_", s=200, color="black", zorder=3,
                       label="paper" if i == 0 else None)
    if any(tables[f"{name} std"] for name in series):
        ax.set_title("error bars: ± standard deviation over samples", fontsize=9)
    _legend_outside(fig, [ax])
    _suptitle(fig, report.title)
    return fig


def _panels(report: Report, panels: Sequence[tuple[str, str]]) -> Figure:
    """Grouped bars (log scale), one panel per ``(metric, label)``: workloads along x
    (the geometric mean last), one bar per accelerator that has a value in that panel."""
    fig, axes = new_figure(len(panels))
    accelerators = [a for a in dict.fromkeys(r.accelerator for r in report.records)
                    if VARIANT_SEPARATOR not in a]
    colours = {a: f"C{i % 10}" for i, a in enumerate(accelerators)}  # same in every panel
    for ax, (metric, label) in zip(axes, panels, strict=True):
        table = {k: r for k, r in _values(report.records, metric).items()
                 if r.value is not None}
        workloads = list(dict.fromkeys(w for w, _ in table))
        if GEOMEAN in workloads:
            workloads.remove(GEOMEAN)
            workloads.append(GEOMEAN)
        # only accelerators with a bar here (a GPU without energy is not in that panel)
        series = [a for a in accelerators if any((w, a) in table for w in workloads)]
        _grouped_bars(ax, workloads, series,
                      lambda w, a, t=table: t[(w, a)].value if (w, a) in t else None,
                      f"{label} ({metric.split('_vs_')[-1]} = 1)" if "_vs_" in metric
                      else label, log=True, colours=colours)
        ax.set_title(label)
    _legend_outside(fig, axes)
    _suptitle(fig, report.title)
    return fig


def plot_accelerators(report: Report, path: Path) -> Path:
    """Figure 8 style (:func:`accelerators_figure`), saved as PNG."""
    return save_png(accelerators_figure(report), path)


def accelerators_figure(report: Report) -> Figure:
    """Grouped bars of speedup and energy efficiency (log scale)."""
    speed = next((c.metric for c in report.columns if c.metric.startswith(SPEEDUP_PREFIX)), None)
    eff = next((c.metric for c in report.columns if c.metric.startswith(EFFICIENCY_PREFIX)),
               None)
    panels = [(m, h) for m, h in ((speed, "speedup"), (eff, "energy efficiency")) if m]
    if not panels:
        panels = [(Metric.LATENCY_S, "latency (s)")]
    return _panels(report, panels)


def plot_throughput(report: Report, path: Path) -> Path:
    """Table 4 style: grouped bars of GOP/s and GOP/J (log scale), saved as PNG."""
    return save_png(_panels(report, [(Metric.GOP_PER_S, "throughput (GOP/s)"),
                                  (Metric.GOP_PER_J, "energy efficiency (GOP/J)")]), path)


def plot_sweep(report: Report, path: Path, axis: str) -> Path | None:
    """Figure 7 style: normalised latency and product density against tile_m or tile_k."""
    pick = sweep_axis(report, axis)
    fig, axes = new_figure(2)
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
    head, _, marks = report.title.partition(" — ")
    _suptitle(fig, f"{head}: tile_{axis}{note}" + (f" — {marks}" if marks else ""))
    return save_png(fig, path)


def plot_layers(report: Report, path: Path) -> Path:
    """The per-layer breakdown (:func:`layers_figure`), saved as PNG."""
    return save_png(layers_figure(report), path)


def layers_figure(report: Report) -> Figure:
    """Per-layer breakdown, grouped by layer (one name per layer, execution order):
    one bar per accelerator in each group (its colour), stacked compute / memory stall /
    preprocessing stall cycles (solid, hatched, dotted)."""
    fig, (ax,) = new_figure()
    layers = list(dict.fromkeys(r.layer for r in report.records))
    accelerators = list(dict.fromkeys(r.accelerator for r in report.records))
    table = {(r.accelerator, r.layer, r.metric): r.value for r in report.records}
    x = np.arange(len(layers))
    width = 0.8 / max(1, len(accelerators))
    parts = ((Metric.COMPUTE_CYCLES, "compute", ""),
             (Metric.MEM_STALL_CYCLES, "memory stall", "///"),
             (Metric.PREPROCESS_STALL_CYCLES, "preprocessing stall", ".."))
    for i, acc in enumerate(accelerators):
        pos = x + (i - (len(accelerators) - 1) / 2) * width
        bottom = np.zeros(len(layers))
        for metric, _label, hatch in parts:
            h = np.array([table.get((acc, layer, metric)) or 0.0 for layer in layers])
            if not h.any():
                continue
            ax.bar(pos, h, width, bottom=bottom, color=f"C{i % 10}", hatch=hatch,
                   edgecolor="white" if not hatch else "black", linewidth=0.3)
            bottom += h
    handles = [Patch(color=f"C{i % 10}", label=acc) for i, acc in enumerate(accelerators)]
    handles += [Patch(facecolor="white", edgecolor="black", hatch=hatch, label=label)
                for metric, label, hatch in parts
                if any(table.get((a, layer, metric)) for a in accelerators for layer in layers)]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    many = len(layers) > 12
    ax.set_xticks(x, layers, rotation=45 if many else 30, ha="right",
                  fontsize=8 if many else 9)
    ax.set_ylabel("cycles")
    ax.grid(axis="y", alpha=0.3)
    _suptitle(fig, report.title)
    return fig


def plot_report(report: Report, out_dir: Path, stem: str | None = None) -> list[Path]:
    """Draw the report's PNG(s) into ``out_dir``; the sweep draws one per tile axis."""
    out_dir = Path(out_dir)
    stem = stem or str(report.kind)
    if report.kind is ReportKind.DENSITY:
        return [plot_density(report, out_dir / f"{stem}.png")]
    if report.kind is ReportKind.ACCELERATORS:
        return [plot_accelerators(report, out_dir / f"{stem}.png")]
    if report.kind is ReportKind.THROUGHPUT:
        return [plot_throughput(report, out_dir / f"{stem}.png")]
    if report.kind is ReportKind.SWEEP:
        paths = [plot_sweep(report, out_dir / f"{stem}_tile_{a}.png", a) for a in ("m", "k")]
        return [p for p in paths if p is not None]
    if report.kind in (ReportKind.AREA, ReportKind.ENERGY, ReportKind.ENERGY_MODES):
        from prosparsity.reports.area import plot_area_report  # imports this module

        return [plot_area_report(report, out_dir / f"{stem}.png")]
    return [plot_layers(report, out_dir / f"{stem}.png")]
