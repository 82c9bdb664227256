"""What a sweep found: best configuration per workload and accelerator, speedups, Pareto.

Computed from the ``aggregate`` table (means over each trace's samples), per trace:

* **best** configuration of each accelerator: the lowest mean latency (ties: the
  lower energy, then the spec's order);
* **speedup** of each point over the baseline accelerator (the spec's ``baseline``,
  default ``ptb``): ``latency(baseline's best) / latency(point)``;
* the **Pareto front** of latency against energy: the points with an energy (see
  :func:`prosparsity.accel.energy.energy_withheld`) that no other point beats on both
  (lower or equal latency and energy, one of them strictly lower), by increasing latency;
* the **three-objective front** over latency, energy and area with the component model's
  energy and area (every design point has them; :func:`pareto_set`), its three 2-D
  projections (the fronts of each pair of objectives), and the **best point per
  objective** (lowest latency, lowest component energy, smallest area);
* **tile maps**: for each tiled accelerator, the best mean latency at each
  (tile_m, tile_k) point of the sweep (over its other fields), for a heatmap.

Pure functions of the table; :mod:`prosparsity.reports.sweep` renders the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from prosparsity.core import measures

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from prosparsity.reports.model import Report

__all__ = ["OBJECTIVES", "Point", "SweepSummary", "TileMap", "TraceSummary", "pareto_front",
           "pareto_set", "summarise"]

#: The objectives of the three-objective front: name -> the Point field (component model
#: energy and area, so that every design point takes part).
OBJECTIVES = {"latency": "latency_s", "energy": "energy_component_mj", "area": "area_mm2"}
#: The 2-D projections drawn and tabulated: pairs of :data:`OBJECTIVES`.
PROJECTIONS = (("latency", "energy"), ("latency", "area"), ("energy", "area"))


@dataclass(frozen=True)
class Point:
    """One (accelerator, tile, configuration) of a trace, averaged over its samples.

    Attributes:
        accelerator: registry name.
        config_id: short id of the resolved configuration.
        tile: ``(tile_m, tile_k)``, or ``None`` for an accelerator without tiles.
        settings: the swept fields' values, in spec order.
        latency_s: mean latency, s (``None``: no figure for this workload).
        latency_std: its sample standard deviation.
        energy_mj: mean energy, mJ (``None``: not reported, see ``note``).
        energy_std: its sample standard deviation.
        total_cycles: mean cycles.
        product_density: mean product density at the tile (tiled accelerators).
        speedup: baseline's best latency / this latency (``None`` without a baseline).
        note: why a value is missing.
        gop_per_s: mean throughput, GOP/s (the workload's operation count / latency).
        gop_per_j: mean energy efficiency, GOP/J (``None`` where energy is ``None``).
        energy_component_mj: mean energy of the component model, mJ (every design point
            of an accelerator with a design).
        energy_component_std: its sample standard deviation.
        energy_low_mj, energy_high_mj: the mean band of that energy.
        power_mw: mean on-chip power of the component model, mW.
        area_mm2: on-chip area of the component model, mm².
    """

    accelerator: str
    config_id: str
    tile: tuple[int, int] | None
    settings: Mapping[str, Any]
    latency_s: float | None
    latency_std: float | None
    energy_mj: float | None
    energy_std: float | None
    total_cycles: float | None
    product_density: float | None
    speedup: float | None = None
    note: str | None = None
    gop_per_s: float | None = None
    gop_per_j: float | None = None
    energy_component_mj: float | None = None
    energy_component_std: float | None = None
    energy_low_mj: float | None = None
    energy_high_mj: float | None = None
    power_mw: float | None = None
    area_mm2: float | None = None

    def objective(self, name: str) -> float | None:
        """The value of one of :data:`OBJECTIVES`."""
        return getattr(self, OBJECTIVES[name])


@dataclass(frozen=True)
class TileMap:
    """Best mean latency of one tiled accelerator at each tile point.

    Attributes:
        accelerator: registry name.
        tile_m: the rows of the map (sorted).
        tile_k: the columns of the map (sorted).
        latency_s: ``latency_s[i][j]`` at ``(tile_m[i], tile_k[j])``; ``None`` where the
            sweep has no such point.
    """

    accelerator: str
    tile_m: tuple[int, ...]
    tile_k: tuple[int, ...]
    latency_s: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class TraceSummary:
    """One trace's results.

    Attributes:
        trace: the trace file.
        workload: its workload name; ``label``: unique display name in this sweep.
        synthetic: written by ``prosparsity trace synth``.
        samples: samples averaged.
        points: every point, in table order.
        best: the best point of each accelerator, in spec order.
        front: the Pareto front (latency against energy), by increasing latency.
        tile_maps: one per tiled accelerator.
        baseline_latency_s: the baseline's best latency (``None`` without one).
        front3: the three-objective front (latency, component energy, area), by
            increasing latency.
        projections: ``(objective, objective)`` -> the front of that pair (the 2-D
            projections of :data:`PROJECTIONS`), by increasing first objective.
        best_by: objective -> the point with its lowest value (ties: the lower other
            objectives, in :data:`OBJECTIVES` order); absent where no point has it.
    """

    trace: str
    workload: str
    label: str
    synthetic: bool
    samples: int
    points: tuple[Point, ...]
    best: tuple[Point, ...]
    front: tuple[Point, ...]
    tile_maps: tuple[TileMap, ...]
    baseline_latency_s: float | None
    front3: tuple[Point, ...] = ()
    projections: Mapping[tuple[str, str], tuple[Point, ...]] = field(default_factory=dict)
    best_by: Mapping[str, Point] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSummary:
    """The summary of a sweep.

    Attributes:
        name: the spec's name.
        baseline: the baseline accelerator, or ``None``.
        swept: the swept fields (table columns).
        traces: one per trace, in spec order.
    """

    name: str
    baseline: str | None
    swept: tuple[str, ...]
    traces: tuple[TraceSummary, ...]

    def reports(self) -> list[Report]:
        """The best configurations and the Pareto fronts as reports
        (:mod:`prosparsity.sweep.views`), each title carrying the caveat of every
        labelled accelerator it shows (a registration's ``label``)."""
        import dataclasses

        from prosparsity.accel.registry import find
        from prosparsity.reports.build import labelled
        from prosparsity.sweep.views import summary_reports

        @dataclass(frozen=True)
        class _Shown:
            accelerator: str
            label: str

        out = []
        for report in summary_reports(self):
            shown = []
            for name in dict.fromkeys(r.accelerator for r in report.records):
                model = find(name)
                if model is not None and model.label:
                    shown.append(_Shown(model.display, model.label))
            title = labelled(report.title, shown)
            out.append(report if title == report.title else
                       dataclasses.replace(report, title=title))
        return out

    def plot(self, out_dir: Path) -> list[Path]:
        """Every plot into ``out_dir`` (:func:`prosparsity.sweep.views.plot_summary`)."""
        from prosparsity.sweep.views import plot_summary

        return plot_summary(self, out_dir)


def pareto_front(points: Sequence[Point]) -> tuple[Point, ...]:
    """Points not dominated in (latency, energy), both lower-is-better; by latency.

    Points without latency or energy take no part.
    """
    cands = sorted((p for p in points if p.latency_s is not None and p.energy_mj is not None),
                   key=lambda p: (p.latency_s, p.energy_mj))
    front: list[Point] = []
    best_energy = float("inf")
    for p in cands:
        if p.energy_mj is not None and p.energy_mj < best_energy:
            front.append(p)
            best_energy = p.energy_mj
    return tuple(front)


def pareto_set(points: Sequence[Point], objectives: Sequence[str]) -> tuple[Point, ...]:
    """Points that no other point dominates on ``objectives`` (names of
    :data:`OBJECTIVES`, all lower-is-better: another point at most as high on every one
    and lower on one); a point repeating an earlier one's values is left out; by
    increasing first objective (then the others). Points without every value take no
    part."""
    import numpy as np

    cands = [p for p in points if all(p.objective(o) is not None for o in objectives)]
    if not cands:
        return ()
    values = np.array([[p.objective(o) for o in objectives] for p in cands], dtype=float)
    keep = []
    for i, row in enumerate(values):
        le = np.all(values <= row, axis=1)
        lt = np.any(values < row, axis=1)
        same = np.all(values == row, axis=1)
        if np.any(le & lt) or np.any(same[:i]):
            continue
        keep.append(i)
    keep.sort(key=lambda i: tuple(values[i]))
    return tuple(cands[i] for i in keep)


def _best_by(points: Sequence[Point]) -> dict[str, Point]:
    out = {}
    names = list(OBJECTIVES)
    for name in names:
        order = [name, *(n for n in names if n != name)]
        have = [p for p in points if p.objective(name) is not None]
        if have:
            out[name] = min(have, key=lambda p: tuple(
                float("inf") if p.objective(n) is None else p.objective(n) for n in order))
    return out


def _tile_maps(points: Sequence[Point]) -> tuple[TileMap, ...]:
    maps = []
    for accel in dict.fromkeys(p.accelerator for p in points if p.tile is not None):
        best: dict[tuple[int, int], float] = {}
        for p in points:
            if p.accelerator == accel and p.tile is not None and p.latency_s is not None:
                best[p.tile] = min(best.get(p.tile, float("inf")), p.latency_s)
        ms = tuple(sorted({t[0] for t in best}))
        ks = tuple(sorted({t[1] for t in best}))
        grid = tuple(tuple(best.get((m, k)) for k in ks) for m in ms)
        maps.append(TileMap(accel, ms, ks, grid))
    return tuple(maps)


def summarise(aggregate: pa.Table, name: str, baseline: str | None,
              swept: Sequence[str]) -> SweepSummary:
    """The summary of a sweep's ``aggregate`` table (see :mod:`prosparsity.sweep.results`)."""
    rows = aggregate.to_pylist()
    by_trace: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        # config_id names the full configuration, the tile included for tiled models
        point = by_trace.setdefault(row["trace"], {}).setdefault(
            row["config_id"], {"row": row, "metrics": {}, "std": {}})
        point["metrics"][row["metric"]] = row["mean"]
        point["std"][row["metric"]] = row["std"]
        if row["note"] is not None and point["row"].get("note") is None:
            point["row"] = {**point["row"], "note": row["note"]}
    workloads = [next(iter(p.values()))["row"]["workload"] for p in by_trace.values()]
    traces = []
    for (trace, entries), workload in zip(by_trace.items(), workloads, strict=True):
        first = next(iter(entries.values()))["row"]
        label = workload if workloads.count(workload) == 1 else (
            f"{workload} ({PurePath(trace).name})")
        points = [_point(e, swept) for e in entries.values()]
        best = _best(points)
        base = next((p.latency_s for p in best if p.accelerator == baseline), None)
        if base is not None:
            points = [replace(p, speedup=measures.speedup(base, p.latency_s))
                      for p in points]
            best = _best(points)
        traces.append(TraceSummary(
            trace=trace, workload=workload, label=label, synthetic=bool(first["synthetic"]),
            samples=int(first["samples"]), points=tuple(points), best=best,
            front=pareto_front(points), tile_maps=_tile_maps(points),
            baseline_latency_s=base, front3=pareto_set(points, list(OBJECTIVES)),
            projections={pair: pareto_set(points, pair) for pair in PROJECTIONS},
            best_by=_best_by(points)))
    return SweepSummary(name=name, baseline=baseline, swept=tuple(swept), traces=tuple(traces))


def _point(entry: Mapping[str, Any], swept: Sequence[str]) -> Point:
    row, m, s = entry["row"], entry["metrics"], entry["std"]
    config = json.loads(row["config"])
    tile = None if row["tile_m"] is None else (int(row["tile_m"]), int(row["tile_k"]))
    return Point(
        accelerator=row["accelerator"], config_id=row["config_id"], tile=tile,
        settings={f: config[f] for f in swept if f in config},
        latency_s=m.get("latency_s"), latency_std=s.get("latency_s"),
        energy_mj=m.get("energy_mj"), energy_std=s.get("energy_mj"),
        total_cycles=m.get("total_cycles"), product_density=m.get("product_density"),
        note=row.get("note"), gop_per_s=m.get("gop_per_s"), gop_per_j=m.get("gop_per_j"),
        energy_component_mj=m.get("energy_component_mj"),
        energy_component_std=s.get("energy_component_mj"),
        energy_low_mj=m.get("energy_low_mj"), energy_high_mj=m.get("energy_high_mj"),
        power_mw=m.get("power_mw"), area_mm2=m.get("area_mm2"))


def _best(points: Sequence[Point]) -> tuple[Point, ...]:
    out: dict[str, Point] = {}
    for p in points:
        if p.latency_s is None:
            out.setdefault(p.accelerator, p)
            continue
        cur = out.get(p.accelerator)
        energy = float("inf") if p.energy_mj is None else p.energy_mj
        if cur is None or cur.latency_s is None or (p.latency_s, energy) < (
                cur.latency_s, float("inf") if cur.energy_mj is None else cur.energy_mj):
            out[p.accelerator] = p
    return tuple(out.values())
