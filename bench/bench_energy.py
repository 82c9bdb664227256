"""Benchmark of the component energy and area model in a design sweep (``make bench``).

The sweep: the paper's 19 workloads as synthetic traces (``benchlib.synthesize``: official
shapes, Figure 11 bit densities, seed 2025) x the 12 tile points of Figure 7 x 40
Prosperity hardware configurations (adders 32..512, issue type 1 and 2, 4- and 8-bit
weights, which size the weight buffer, and 4 or 8 popcount units), 9,120 design points,
each with energy, power and area. It runs in process (``--workers 0``, no Dask, so the
two runs compare the stages alone) twice with an empty cache: without the component
model (the price stage called with ``energy=False``, set here on the engine's reference
to it) and with it. Printed: wall and CPU time of each, the energy model's share, the
points that have energy and area, and the load average before and after each run.

Usage: ``python bench/bench_energy.py [--workloads NAME ...] [--tiles N]
[--traces DIR]`` (``--workloads`` / ``--tiles`` shrink it for a quick check).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench_sweep import figure7_tiles
from benchlib import load_average, synthesize

from prosparsity.sweep import engine, stages
from prosparsity.sweep.engine import run_sweep
from prosparsity.sweep.spec import load_spec
from prosparsity.traces.workloads import WORKLOADS

SPEC = """\
name = "energy-bench"
traces = [{traces}]
[tiles]
points = [{points}]
[accelerators.prosperity]
adders = [32, 64, 128, 256, 512]
issue_type = [1, 2]
weight_bits = [4, 8]
popcount_units = [4, 8]
"""


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _without_energy(stats, accelerator, settings):  # type: ignore[no-untyped-def]
    return stages.price(stats, accelerator, settings, energy=False)


def _run(spec, out: Path, energy: bool) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """``(wall s, CPU s, tasks, rows with the component model's energy)`` of one run."""
    engine.price = stages.price if energy else _without_energy  # type: ignore[assignment]
    try:
        cpu, t = _cpu_s(), time.perf_counter()
        outcome = run_sweep(spec, out, workers=0, dashboard=False)
        wall, cpu = time.perf_counter() - t, _cpu_s() - cpu
    finally:
        engine.price = stages.price  # type: ignore[assignment]
    assert outcome.cached == 0, "the bench must compute every task"
    metrics = outcome.tables.results.column("metric").to_pylist()
    values = outcome.tables.results.column("value").to_pylist()
    points = sum(1 for m, v in zip(metrics, values, strict=True)
                 if m == "energy_component_mj" and v is not None)
    return wall, cpu, outcome.computed, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--tiles", type=int, default=12, help="first N of Figure 7's 12 tiles")
    parser.add_argument("--traces", type=Path, default=None, help="keep the traces here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prosparsity-bench-energy-") as tmp:
        folder = args.traces or Path(tmp) / "traces"
        folder.mkdir(parents=True, exist_ok=True)
        traces = synthesize(args.workloads, folder)
        tiles = figure7_tiles(traces[0])[: args.tiles]
        spec_path = Path(tmp) / "energy.toml"
        spec_path.write_text(SPEC.format(
            traces=", ".join(f'"{p}"' for p in traces),
            points=", ".join(f"[{m}, {k}]" for m, k in tiles)))
        spec = load_spec(spec_path)
        configs = sum(a.n_configs for a in spec.accelerators)
        print(f"{len(traces)} workloads x {len(tiles)} tiles x {configs} Prosperity "
              f"configurations = {len(traces) * len(tiles) * configs} design points")
        # warm-up (numba's compiled kernels), not timed
        warm = Path(tmp) / "warm.toml"
        warm.write_text(SPEC.format(traces=f'"{traces[0]}"', points="[256, 16]"))
        run_sweep(load_spec(warm), Path(tmp) / "warm", workers=0, dashboard=False)
        results = {}
        for energy in (False, True):
            load = load_average()
            wall, cpu, tasks, points = _run(spec, Path(tmp) / f"out-{energy}", energy)
            results[energy] = (wall, cpu)
            what = "with the component model" if energy else "without energy"
            print(f"  {what}: {tasks} tasks in {wall:.1f} s wall, {cpu:.1f} CPU s, "
                  f"{points} points with energy and area (load {load:.2f} -> "
                  f"{load_average():.2f})")
        (w0, c0), (w1, c1) = results[False], results[True]
        print(f"energy model's share: {(w1 - w0) / w1:+.1%} of the wall time, "
              f"{(c1 - c0) / c1:+.1%} of the CPU time ({c1 - c0:+.1f} CPU s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
