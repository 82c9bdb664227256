"""The summary (best, speedup, Pareto, tile maps) and its rendering (the energy rule's
own tests are in tests/accel/test_energy.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from rich.console import Console

from prosparsity.reports.plots import PIXELS
from prosparsity.reports.render import render_report
from prosparsity.sweep.summary import OBJECTIVES, Point, pareto_front, pareto_set, summarise
from prosparsity.sweep.views import plot_summary


def _p(accel: str, latency: float | None, energy: float | None) -> Point:
    return Point(accel, f"{accel}-{latency}-{energy}", None, {}, latency, 0.0, energy, 0.0,
                 None, None)


def test_pareto_front_by_hand() -> None:
    pts = [_p("a", 1.0, 9.0), _p("b", 2.0, 5.0), _p("c", 2.0, 6.0), _p("d", 3.0, 5.0),
           _p("e", 4.0, 1.0), _p("f", 0.5, None), _p("g", None, 0.1), _p("h", 1.0, 9.0)]
    front = pareto_front(pts)
    # c is beaten by b, d ties b's energy at a higher latency, h repeats a
    assert [p.accelerator for p in front] == ["a", "b", "e"]


def _rows() -> list[dict]:
    """An aggregate table of one trace: two prosperity tiles x two adders, and ptb."""
    rows = []
    values = {  # (accelerator, tile_m, adders) -> (latency, energy)
        ("prosperity", 32, 128): (4.0, None), ("prosperity", 256, 128): (2.0, 1.0),
        ("prosperity", 32, 256): (3.0, None), ("prosperity", 256, 256): (1.0, None),
        ("ptb", None, None): (8.0, 4.0),
    }
    for (accel, tile_m, adders), (latency, energy) in values.items():
        config = {"adders": adders} if adders else {"time_window_steps": 4}
        base = {"trace": "/t/x.h5", "trace_sha256": "0" * 64, "workload": "w",
                "synthetic": True, "samples": 2, "accelerator": accel, "tile_m": tile_m,
                "tile_k": None if tile_m is None else 16, "config": json.dumps(config),
                "config_id": f"{accel}{tile_m}{adders}", "harness": "h", "adders": adders}
        ops = 3e9  # GOP/s = ops / latency / 1e9, GOP/J = ops / (energy * 1e-3) / 1e9
        for metric, value in (("latency_s", latency), ("energy_mj", energy),
                              ("total_cycles", latency * 5e8), ("gop_per_s", 3 / latency),
                              ("gop_per_j", None if energy is None else ops / energy * 1e-6)):
            note = "withheld" if value is None else None
            rows.append({**base, "metric": metric, "mean": value, "std": 0.5 if value else
                         None, "n": 2, "note": note})
    return rows


def test_summary_best_speedup_front_tiles() -> None:
    summary = summarise(pa.Table.from_pylist(_rows()), "s", "ptb", ["adders"])
    (trace,) = summary.traces
    assert trace.label == "w" and trace.synthetic and trace.samples == 2
    best = {p.accelerator: p for p in trace.best}
    assert best["prosperity"].tile == (256, 16) and best["prosperity"].settings == {
        "adders": 256}
    assert best["prosperity"].speedup == 8.0 and best["ptb"].speedup == 1.0
    assert (best["prosperity"].gop_per_s, best["prosperity"].gop_per_j) == (3.0, None)
    assert (best["ptb"].gop_per_s, best["ptb"].gop_per_j) == (3 / 8, 3e9 / 4 * 1e-6)
    assert trace.baseline_latency_s == 8.0
    assert [(p.accelerator, p.latency_s) for p in trace.front] == [("prosperity", 2.0)]
    (tiles,) = trace.tile_maps
    assert tiles.tile_m == (32, 256) and tiles.tile_k == (16,)
    assert tiles.latency_s == ((3.0,), (1.0,))


def test_render_and_plots(tmp_path: Path) -> None:
    summary = summarise(pa.Table.from_pylist(_rows()), "s", "ptb", ["adders"])
    buf = io.StringIO()
    console = Console(file=buf, width=160, color_system=None)
    for report in summary.reports():
        console.print(render_report(report))
    text = buf.getvalue()
    assert "w (synthetic)" in text and "adders=256" in text and "8.00" in text
    assert "1.0000e+00 ± 5.0000e-01" in text  # latency in s, mean ± std over 2 samples
    assert "GOP/s" in text and "│   0.4 │ 750.0 │" in text  # ptb: 3 GOP in 8 s, with 4 mJ
    paths = plot_summary(summary, tmp_path)
    assert sorted(p.name for p in paths) == ["pareto_w.png", "tiles_w_prosperity.png"]
    from PIL import Image

    for p in paths:
        with Image.open(p) as image:
            assert image.size == PIXELS


@pytest.mark.parametrize("baseline", [None, "sato"])
def test_no_speedups_without_the_baseline(baseline: str | None) -> None:
    summary = summarise(pa.Table.from_pylist(_rows()), "s", baseline, ["adders"])
    assert all(p.speedup is None for t in summary.traces for p in t.points)


def _p3(name: str, latency: float | None, energy: float | None, area: float | None) -> Point:
    return Point(name, name, None, {}, latency, 0.0, None, None, None, None,
                 energy_component_mj=energy, area_mm2=area, power_mw=1.0)


def test_three_objective_front_by_hand() -> None:
    pts = [_p3("a", 1.0, 9.0, 5.0), _p3("b", 2.0, 5.0, 5.0), _p3("c", 2.0, 6.0, 5.0),
           _p3("d", 3.0, 5.0, 1.0), _p3("e", 4.0, 1.0, 9.0), _p3("f", 1.0, 9.0, 5.0),
           _p3("g", 5.0, 5.0, 5.0), _p3("h", 0.5, None, 1.0)]
    # c is beaten by b; g by b; f repeats a; h has no energy
    assert [p.accelerator for p in pareto_set(pts, list(OBJECTIVES))] == ["a", "b", "d", "e"]
    assert [p.accelerator for p in pareto_set(pts, ["latency", "energy"])] == ["a", "b", "e"]
    assert [p.accelerator for p in pareto_set(pts, ["latency", "area"])] == ["h"]
    assert [p.accelerator for p in pareto_set(pts, ["energy", "area"])] == ["e", "d"]
    assert pareto_set([], list(OBJECTIVES)) == ()


def _rows3() -> list[dict]:
    """_rows() with the component model's energy and area at every point."""
    extra = {"prosperity32128": (3.0, 0.10), "prosperity256128": (2.5, 0.40),
             "prosperity32256": (4.0, 0.12), "prosperity256256": (3.5, 0.50),
             "ptbNoneNone": (6.0, 0.36)}
    rows = _rows()
    out = list(rows)
    seen = set()
    for r in rows:
        if r["config_id"] in seen:
            continue
        seen.add(r["config_id"])
        energy, area = extra[r["config_id"]]
        for metric, value in (("energy_component_mj", energy), ("area_mm2", area),
                              ("power_mw", 100.0), ("energy_low_mj", energy / 1.1),
                              ("energy_high_mj", energy / 0.9)):
            out.append({**r, "metric": metric, "mean": value, "std": 0.0, "note": None})
    return out


def test_summary_front3_projections_and_best_per_objective(tmp_path: Path) -> None:
    summary = summarise(pa.Table.from_pylist(_rows3()), "s", "ptb", ["adders"])
    (trace,) = summary.traces
    best = {k: (p.accelerator, p.tile, p.settings.get("adders")) for k, p in
            trace.best_by.items()}
    assert best == {"latency": ("prosperity", (256, 16), 256),
                    "energy": ("prosperity", (256, 16), 128),
                    "area": ("prosperity", (32, 16), 128)}
    # (latency, energy, area): 256/256 (1, 3.5, .5), 256/128 (2, 2.5, .4), 32/128
    # (4, 3, .1) and 32/256 (3, 4, .12); ptb (8, 6, .36) is beaten by 256/128
    front = [(p.tile, p.settings.get("adders")) for p in trace.front3]
    assert front == [((256, 16), 256), ((256, 16), 128), ((32, 16), 256), ((32, 16), 128)]
    assert [p.latency_s for p in trace.projections[("latency", "energy")]] == [1.0, 2.0]
    assert [p.area_mm2 for p in trace.projections[("energy", "area")]] == [0.4, 0.1]
    buf = io.StringIO()
    console = Console(file=buf, width=200, color_system=None)
    for report in summary.reports():
        console.print(render_report(report))
    text = buf.getvalue()
    assert "best point per objective" in text and "Pareto front over latency, energy" in text
    assert "Best for" in text and "│ area     │ prosperity  │ M32_K16 adders=128" in text
    paths = plot_summary(summary, tmp_path)
    assert "pareto3_w.png" in [p.name for p in paths]
    from PIL import Image

    with Image.open(tmp_path / "pareto3_w.png") as image:
        assert image.size == PIXELS
