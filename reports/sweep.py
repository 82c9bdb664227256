"""Rendering of a sweep's summary: rich tables and matplotlib plots (render only).

Input is :class:`prosparsity.sweep.summary.SweepSummary` (computed by the sweep
package). Tables:

* **best configuration** per workload and accelerator: tile, swept fields, latency and
  energy (mean ± std over samples), throughput (GOP/s) and energy efficiency (GOP/J),
  speedup over the baseline;
* **Pareto front** of latency against energy per workload;
* **best point per objective** (latency, component-model energy, area) and the
  **three-objective front** over them, per workload.

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

import math
import re
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import ScalarFormatter
from rich.table import Table

from prosparsity.reports.plots import _legend_outside, new_figure, save_png
from prosparsity.sweep.summary import (
    OBJECTIVES,
    PROJECTIONS,
    Point,
    SweepSummary,
    TileMap,
    TraceSummary,
)

__all__ = ["best_table", "front3_table", "objectives_table", "pareto_table", "plot_pareto",
           "plot_pareto3", "plot_summary", "plot_tiles", "summary_tables"]

DASH = "—"


def _num(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return format(value, fmt)


def _spread(mean: float | None, std: float | None, fmt: str, samples: int) -> str:
    text = _num(mean, fmt)
    if mean is not None and samples > 1 and std is not None:
        text += f" ± {format(std, fmt)}"
    return text


def _tile(point: Point) -> str:
    return DASH if point.tile is None else f"{point.tile[0]}x{point.tile[1]}"


def _settings(point: Point) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.settings.items()) or DASH


def _title(trace: TraceSummary) -> str:
    return trace.label + (" (synthetic)" if trace.synthetic else "")


def best_table(summary: SweepSummary) -> Table:
    """Best configuration (lowest latency) per workload and accelerator."""
    title = f"{summary.name}: best configuration per workload and accelerator"
    table = Table(title=title, title_justify="left")
    speed = f"vs {summary.baseline}" if summary.baseline else None
    headers = ["workload", "accelerator", "tile", "config", "cycles", "latency (ms)",
               "energy (mJ)", "GOP/s", "GOP/J", *([speed] if speed else []), "note"]
    for h in headers:
        table.add_column(h, justify="left" if h in ("workload", "accelerator", "tile",
                                                     "config", "note") else "right")
    for trace in summary.traces:
        for p in trace.best:
            ms = None if p.latency_s is None else p.latency_s * 1e3
            ms_std = None if p.latency_std is None else p.latency_std * 1e3
            cells = [_title(trace), p.accelerator, _tile(p), _settings(p),
                     _num(p.total_cycles, ",.0f"), _spread(ms, ms_std, ".4f", trace.samples),
                     _spread(p.energy_mj, p.energy_std, ".4g", trace.samples),
                     _num(p.gop_per_s, ",.4g"), _num(p.gop_per_j, ",.4g")]
            if speed:
                cells.append(_num(p.speedup, ".2f"))
            cells.append("" if p.note is None else p.note.split(";")[0])
            table.add_row(*cells)
        table.add_section()
    if any(p.note for t in summary.traces for p in t.best):
        table.caption = "notes in full: the note column of results.parquet"
    return table


def pareto_table(summary: SweepSummary) -> Table:
    """The Pareto front of latency against energy, per workload."""
    table = Table(title=f"{summary.name}: Pareto front (latency against energy)",
                  title_justify="left")
    for h in ("workload", "accelerator", "tile", "config", "latency (ms)", "energy (mJ)"):
        table.add_column(h, justify="right" if h.startswith(("latency", "energy")) else "left")
    for trace in summary.traces:
        if not trace.front:
            table.add_row(_title(trace), DASH, "", "no point has an energy", "", "")
        for p in trace.front:
            table.add_row(_title(trace), p.accelerator, _tile(p), _settings(p),
                          _num(None if p.latency_s is None else p.latency_s * 1e3, ".4f"),
                          _num(p.energy_mj, ".4g"))
        table.add_section()
    return table


#: How each objective is shown: header, scale to the shown unit, format.
_SHOWN = {"latency": ("latency (ms)", 1e3, ".4f"), "energy": ("energy (mJ)", 1.0, ".4g"),
          "area": ("area (mm²)", 1.0, ".4g")}


def _objective_cells(p: Point) -> list[str]:
    cells = []
    for name in OBJECTIVES:
        _, scale, fmt = _SHOWN[name]
        value = p.objective(name)
        cells.append(_num(None if value is None else value * scale, fmt))
    return cells


def _objective_table(title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for h in ("workload", "best for", "accelerator", "tile", "config",
              *(_SHOWN[n][0] for n in OBJECTIVES), "power (mW)"):
        table.add_column(h, justify="right" if "(" in h else "left")
    return table


def objectives_table(summary: SweepSummary) -> Table:
    """The best point per objective (latency, energy, area; component model) per
    workload."""
    table = _objective_table(f"{summary.name}: best point per objective "
                             "(energy and area: component model)")
    for trace in summary.traces:
        for name, p in trace.best_by.items():
            table.add_row(_title(trace), name, p.accelerator, _tile(p), _settings(p),
                          *_objective_cells(p), _num(p.power_mw, ".4g"))
        table.add_section()
    return table


def front3_table(summary: SweepSummary) -> Table:
    """The three-objective front (latency, energy, area; component model) per workload."""
    table = _objective_table(f"{summary.name}: Pareto front over latency, energy and area "
                             "(component model)")
    for trace in summary.traces:
        if not trace.front3:
            table.add_row(_title(trace), "", DASH, "", "no point has energy and area",
                          "", "", "", "")
        for p in trace.front3:
            table.add_row(_title(trace), "", p.accelerator, _tile(p), _settings(p),
                          *_objective_cells(p), _num(p.power_mw, ".4g"))
        table.add_section()
    return table


def summary_tables(summary: SweepSummary) -> list[Table]:
    """Every summary table, in print order (the component model's tables only when some
    point has its energy and area)."""
    tables = [best_table(summary), pareto_table(summary)]
    if any(t.front3 for t in summary.traces):
        tables += [objectives_table(summary), front3_table(summary)]
    return tables


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "trace"


def plot_pareto(trace: TraceSummary, path: Path) -> Path | None:
    """Latency against energy of every point of one workload; ``None`` if none has both."""
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


def _log_plain(ax: Axes) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain numbers on the log axes, not 10^x
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(ScalarFormatter())


def plot_pareto3(trace: TraceSummary, path: Path) -> Path | None:
    """The three 2-D projections of the three-objective front of one workload (component
    model); ``None`` when no point has energy and area."""
    pts = [p for p in trace.points if all(p.objective(o) is not None for o in OBJECTIVES)]
    if not pts:
        return None
    fig, axes = new_figure(len(PROJECTIONS))
    colours = {a: f"C{i % 10}" for i, a in enumerate(dict.fromkeys(p.accelerator
                                                                     for p in pts))}
    ringed = {id(p) for p in trace.front3}

    def xy(p: Point, pair: tuple[str, str]) -> tuple[float, float]:
        (x, sx), (y, sy) = ((p.objective(n), _SHOWN[n][1]) for n in pair)
        return float(x) * sx, float(y) * sy  # type: ignore[arg-type]

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
        _log_plain(ax)
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


def counts_line(computed: int, cached: int) -> str:
    """``N computed, M from cache``: what the CLI says after a sweep."""
    return f"{computed} computed, {cached} from cache"

