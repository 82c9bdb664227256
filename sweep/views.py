"""Views of a sweep's summary: its reports (the reports' one table renderer) and plots.

Input is :class:`prosparsity.sweep.summary.SweepSummary`. Reports (:mod:`prosparsity.
reports.model`, rendered like every other table, in the terminal, Markdown and HTML):

* **best configuration** per workload and accelerator: tile and swept fields, cycles,
  latency and energy (mean ± std over samples), throughput (GOP/s), energy efficiency
  (GOP/J), speedup over the baseline;
* **Pareto front** of latency against energy per workload;
* **best point per objective** (latency, component-model energy, area) and the
  **three-objective front** over them, per workload (when points have the component
  model's energy and area).

Plots (PNG, Agg canvas, the size of :mod:`prosparsity.reports.plots`' figures):

* ``pareto_<label>.png``: every point of a workload, latency against energy (log-log),
  one colour per accelerator, the front as a line;
* ``pareto3_<label>.png``: the three 2-D projections of the three-objective front
  (latency-energy, latency-area, energy-area, component model), every point, each
  projection's front as a line and the three-objective front ringed;
* ``tiles_<label>_<accelerator>.png``: the best latency over tile_m x tile_k as a
  heatmap (blank where the sweep has no such tile point).

Synthetic traces are marked ``(synthetic)`` in every title.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.reports.metrics import Metric, speedup_metric
from prosparsity.reports.model import Column, Record, Report, ReportKind

if TYPE_CHECKING:
    from prosparsity.sweep.summary import Point, SweepSummary, TileMap, TraceSummary

__all__ = ["front3_report", "objectives_report", "plot_pareto", "plot_pareto3",
           "plot_summary", "plot_tiles", "summary_reports"]


def _config(point: Point) -> str:
    tile = "" if point.tile is None else f"M{point.tile[0]}_K{point.tile[1]}"
    settings = ",".join(f"{k}={v}" for k, v in point.settings.items())
    return " ".join(x for x in (tile, settings) if x)


def _title(trace: TraceSummary) -> str:
    return trace.label + (" (synthetic)" if trace.synthetic else "")


def _records(summary: SweepSummary, points_of: str) -> tuple[list[Record], list[str]]:
    records: list[Record] = []
    notes: list[str] = []
    for trace in summary.traces:
        for p in getattr(trace, points_of):
            def add(metric: str, value: float | None, p: Point = p,
                    label: str = _title(trace)) -> None:
                records.append(Record.of(label, p.accelerator, metric, value,
                                         config=_config(p)))

            add(Metric.TOTAL_CYCLES, p.total_cycles)
            add(Metric.LATENCY_S, p.latency_s)
            if trace.samples > 1:
                add(Metric.LATENCY_S_STD, p.latency_std)
                add(Metric.ENERGY_MJ_STD, p.energy_std)
            add(Metric.ENERGY_MJ, p.energy_mj)
            add(Metric.GOP_PER_S, p.gop_per_s)
            add(Metric.GOP_PER_J, p.gop_per_j)
            if summary.baseline:
                add(speedup_metric(summary.baseline), p.speedup)
            if p.note and p.note not in notes:
                notes.append(p.note)
    return records, notes


def best_report(summary: SweepSummary) -> Report:
    """Best configuration (lowest latency) per workload and accelerator."""
    records, notes = _records(summary, "best")
    columns = [Column(Metric.TOTAL_CYCLES, "Cycles", ",.0f"),
               Column(Metric.LATENCY_S, "Latency (s)", ".4e", spread=Metric.LATENCY_S_STD),
               Column(Metric.ENERGY_MJ, "Energy (mJ)", ".4g", spread=Metric.ENERGY_MJ_STD),
               Column(Metric.GOP_PER_S, "GOP/s", ",.1f"),
               Column(Metric.GOP_PER_J, "GOP/J", ",.1f")]
    if summary.baseline:
        columns.append(Column(speedup_metric(summary.baseline), f"vs {summary.baseline}",
                              ".2f"))
    return Report(kind=ReportKind.SWEEP_BEST,
                  title=f"{summary.name}: best configuration per workload and accelerator",
                  columns=tuple(columns), records=tuple(records),
                  row_keys=("workload", "accelerator", "config"), notes=tuple(notes))


def pareto_report(summary: SweepSummary) -> Report:
    """The Pareto front of latency against energy, per workload."""
    records, _ = _records(summary, "front")
    empty = [_title(t) for t in summary.traces if not t.front]
    notes = ([f"no point has an energy: {', '.join(empty)}"] if empty else [])
    return Report(kind=ReportKind.PARETO,
                  title=f"{summary.name}: Pareto front (latency against energy)",
                  columns=(Column(Metric.LATENCY_S, "Latency (s)", ".4e"),
                           Column(Metric.ENERGY_MJ, "Energy (mJ)", ".4g")),
                  records=tuple(records), row_keys=("workload", "accelerator", "config"),
                  notes=tuple(notes))


def _objective_records(trace: TraceSummary, p: Point, layer: str = "") -> list[Record]:
    label = _title(trace)
    return [Record.of(label, p.accelerator, metric, value, layer=layer, config=_config(p))
            for metric, value in ((Metric.LATENCY_S, p.latency_s),
                                  (Metric.ENERGY_COMPONENT_MJ, p.energy_component_mj),
                                  (Metric.AREA_MM2, p.area_mm2),
                                  (Metric.POWER_MW, p.power_mw))]


_OBJECTIVE_COLUMNS = (Column(Metric.LATENCY_S, "Latency (s)", ".4e"),
                      Column(Metric.ENERGY_COMPONENT_MJ, "Energy (mJ)", ".4g"),
                      Column(Metric.AREA_MM2, "Area (mm²)", ".4g"),
                      Column(Metric.POWER_MW, "Power (mW)", ".4g"))


def objectives_report(summary: SweepSummary) -> Report:
    """The best point per objective (latency, energy, area; component model) per
    workload (``layer``: the objective)."""
    records = [r for trace in summary.traces for name, p in trace.best_by.items()
               for r in _objective_records(trace, p, name)]
    return Report(kind=ReportKind.SWEEP_OBJECTIVES,
                  title=f"{summary.name}: best point per objective (energy and area: "
                        "component model)",
                  columns=_OBJECTIVE_COLUMNS, records=tuple(records),
                  row_keys=("workload", "layer", "accelerator", "config"),
                  key_headers=("Workload", "Best for", "Accelerator", "Tile"))


def front3_report(summary: SweepSummary) -> Report:
    """The three-objective front (latency, energy, area; component model) per workload."""
    records = [r for trace in summary.traces for p in trace.front3
               for r in _objective_records(trace, p)]
    empty = [_title(t) for t in summary.traces if not t.front3]
    return Report(kind=ReportKind.PARETO3,
                  title=f"{summary.name}: Pareto front over latency, energy and area "
                        "(component model)",
                  columns=_OBJECTIVE_COLUMNS, records=tuple(records),
                  row_keys=("workload", "accelerator", "config"),
                  notes=(f"no point has energy and area: {', '.join(empty)}",) if empty
                  else ())


def summary_reports(summary: SweepSummary) -> list[Report]:
    """Every summary report, in print order (the component model's two when some point
    has its energy and area)."""
    reports = [best_report(summary), pareto_report(summary)]
    if any(t.front3 for t in summary.traces):
        reports += [objectives_report(summary), front3_report(summary)]
    return reports


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "trace"


def plot_pareto(trace: TraceSummary, path: Path) -> Path | None:
    """Latency against energy of every point of one workload; ``None`` if none has both."""
    from matplotlib.ticker import ScalarFormatter

    from prosparsity.reports.plots import new_figure, save_png

    pts = [p for p in trace.points if p.latency_s is not None and p.energy_mj is not None]
    if not pts:
        return None
    fig, (ax,) = new_figure()
    for accel in dict.fromkeys(p.accelerator for p in pts):
        mine = [p for p in pts if p.accelerator == accel]
        ax.scatter([p.latency_s * 1e3 for p in mine], [p.energy_mj for p in mine],
                   label=accel, s=28, alpha=0.8)
    front = trace.front
    ax.plot([p.latency_s * 1e3 for p in front if p.latency_s is not None],
            [p.energy_mj for p in front], color="black", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers on the log axes, not 10^x
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(ScalarFormatter())
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (mJ)")
    withheld = sum(1 for p in trace.points if p.energy_mj is None and p.latency_s is not None)
    title = f"{_title(trace)}: latency against energy"
    if withheld:
        title += f" ({withheld} configurations without energy not shown)"
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_png(fig, path)


#: How each objective is plotted: axis label and the scale to the shown unit.
_SHOWN = {"latency": ("latency (ms)", 1e3), "energy": ("energy (mJ)", 1.0),
          "area": ("area (mm²)", 1.0)}


def plot_pareto3(trace: TraceSummary, path: Path) -> Path | None:
    """The three 2-D projections of the three-objective front of one workload (component
    model); ``None`` when no point has energy and area."""
    from matplotlib.ticker import ScalarFormatter

    from prosparsity.reports.plots import _legend_outside, new_figure, save_png
    from prosparsity.sweep.summary import OBJECTIVES, PROJECTIONS

    pts = [p for p in trace.points if all(p.objective(o) is not None for o in OBJECTIVES)]
    if not pts:
        return None
    fig, axes = new_figure(len(PROJECTIONS))
    colours = {a: f"C{i % 10}" for i, a in enumerate(dict.fromkeys(p.accelerator
                                                                     for p in pts))}
    ringed = {id(p) for p in trace.front3}

    def xy(p: Point, pair: tuple[str, str]) -> tuple[float, float]:
        x, y = (float(p.objective(n)) * _SHOWN[n][1] for n in pair)  # type: ignore[arg-type]
        return x, y

    for ax, pair in zip(axes, PROJECTIONS, strict=True):
        for accel, colour in colours.items():
            mine = [xy(p, pair) for p in pts if p.accelerator == accel]
            ax.scatter([a for a, _ in mine], [b for _, b in mine], s=18, alpha=0.7,
                       color=colour, label=accel)
        front = [xy(p, pair) for p in trace.projections.get(pair, ())]
        ax.plot([a for a, _ in front], [b for _, b in front], color="black", linewidth=1,
                label="front of the pair")
        ring = [xy(p, pair) for p in pts if id(p) in ringed]
        ax.scatter([a for a, _ in ring], [b for _, b in ring], s=60, facecolors="none",
                   edgecolors="black", linewidths=0.8, label="3-objective front")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers on the log axes, not 10^x
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(ScalarFormatter())
        ax.set_xlabel(_SHOWN[pair[0]][0])
        ax.set_ylabel(_SHOWN[pair[1]][0])
        ax.grid(alpha=0.3, which="both")
    _legend_outside(fig, axes)
    fig.suptitle(f"{_title(trace)}: Pareto front over latency, energy and area "
                 f"(component model; {len(trace.front3)} of {len(pts)} points)", fontsize=11)
    return save_png(fig, path)


def plot_tiles(trace: TraceSummary, tile_map: TileMap, path: Path) -> Path | None:
    """Heatmap of the best latency over tile_m x tile_k; ``None`` for an empty map."""
    if not tile_map.tile_m or not tile_map.tile_k:
        return None
    import numpy as np

    from prosparsity.reports.plots import new_figure, save_png

    grid = np.array([[np.nan if v is None else v * 1e3 for v in row]
                     for row in tile_map.latency_s], dtype=float)
    fig, (ax,) = new_figure()
    image = ax.imshow(grid, aspect="auto", origin="lower", cmap="viridis_r")
    ax.set_xticks(range(len(tile_map.tile_k)), [str(k) for k in tile_map.tile_k])
    ax.set_yticks(range(len(tile_map.tile_m)), [str(m) for m in tile_map.tile_m])
    ax.set_xlabel("tile_k")
    ax.set_ylabel("tile_m")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                r, g, b, _ = image.cmap(image.norm(grid[i, j]))
                light = 0.299 * r + 0.587 * g + 0.114 * b > 0.5  # text readable on the cell
                ax.text(j, i, f"{grid[i, j]:.4g}", ha="center", va="center", fontsize=7,
                        color="black" if light else "white")
    fig.colorbar(image, ax=ax, label="latency (ms), best over the other fields")
    ax.set_title(f"{_title(trace)}: {tile_map.accelerator} latency by tile", fontsize=10)
    return save_png(fig, path)


def plot_summary(summary: SweepSummary, out_dir: Path) -> list[Path]:
    """Every plot of a sweep into ``out_dir``: a Pareto scatter per workload, the
    projections of its three-objective front, and a tile heatmap per workload and tiled
    accelerator (maps of more than one tile only)."""
    paths: list[Path] = []
    for trace in summary.traces:
        slug = _slug(trace.label)
        p = plot_pareto(trace, out_dir / f"pareto_{slug}.png")
        if p is not None:
            paths.append(p)
        p3 = plot_pareto3(trace, out_dir / f"pareto3_{slug}.png")
        if p3 is not None:
            paths.append(p3)
        for tile_map in trace.tile_maps:
            if len(tile_map.tile_m) * len(tile_map.tile_k) > 1:
                name = f"tiles_{slug}_{tile_map.accelerator}.png"
                q = plot_tiles(trace, tile_map, out_dir / name)
                if q is not None:
                    paths.append(q)
    return paths
