"""A session with the example plugin installed (run by ``test_example_plugin.py`` in a
subprocess whose ``PYTHONPATH`` holds the pip-installed plugin, so that its entry points
are found exactly as an installed third party's are).

Usage: ``python -m tests.plugins.example_session TRACE OUT``. Prices ``TRACE`` through
the API with a spy on the counting pass, runs an in-process sweep into ``OUT``, and
prints what it saw as one JSON document (the test asserts on it).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import prosparsity as ps
from prosparsity.analysis import density
from tests.harness.test_count_once import Spy, _operands


def main(trace: str, out: str) -> dict[str, object]:
    import rowskip  # the installed plugin's module (on PYTHONPATH, not in the venv)

    seen: dict[str, object] = {"registered": sorted(ps.accelerators())}
    with pytest.MonkeyPatch.context() as mp:
        spy = Spy(mp)
        inside = {"pass": 0}  # > 0 while a counting pass runs
        counting = density.count

        def in_pass(*args: object, **kwargs: object) -> object:
            inside["pass"] += 1
            try:
                return counting(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                inside["pass"] -= 1

        mp.setattr(density, "count", in_pass)
        calls: list[tuple[str, bool]] = []
        plugin_count = rowskip.BusySegments.count

        def spied(self: rowskip.BusySegments, layer: object) -> tuple[int, ...]:
            calls.append((layer.name, inside["pass"] > 0))  # type: ignore[attr-defined]
            return plugin_count(self, layer)  # type: ignore[arg-type]

        mp.setattr(rowskip.BusySegments, "count", spied)
        sim = ps.simulate(trace, ["prosperity", "rowskip"])
        (stats, kernel_calls), = spy.passes  # one counting pass for both models
        seen["passes"] = len(spy.passes)
        seen["kernel_calls_are_the_operands"] = Counter(kernel_calls) == _operands(stats)
        seen["counter_calls"] = calls
        seen["counters"] = sorted(c.kind for c in stats.counters)
    run = sim["rowskip"]
    seen["api"] = {"total_cycles": run.total_cycles, "model": run.model_json(),
                   "title": run.reports()[0].title, "plugin": run.model.plugin}
    counted = ps.count(trace, counters=["busy_segments"])
    seen["busy_segment_share"] = counted.counter_density("busy_segment_share").mean

    spec = Path(out) / "rowskip.toml"
    spec.write_text(f'name = "rowskip"\ntraces = ["{trace}"]\n\n'
                    "[accelerators.rowskip]\nwidth = [8, 16]\n\n"
                    "[accelerators.prosperity]\n")
    result = ps.explore(spec, Path(out) / "sweep", workers=0)
    table = result.to_frame()
    mine = table[(table["accelerator"] == "rowskip") & (table["metric"] == "total_cycles")]
    seen["sweep"] = {str(int(w)): float(v) for w, v in zip(mine["width"], mine["value"],
                                                           strict=True)}
    seen["sweep_reports"] = [r.title for r in result.reports()]
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
