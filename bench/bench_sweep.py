"""Benchmark of ``prosparsity sweep`` (``make bench``): tasks per second and wall time.

The sweep: the paper's 19 workloads as synthetic traces (``prosparsity trace synth``:
official shapes, each workload's Figure 11 bit density, 70 % of bits repeated across time
steps, seed 2025) x the 12 tile points of Figure 7 x 6 accelerator configurations
(Prosperity at issue types 1 and 2 with product and bit sparsity, at every tile; PTB and
SATO, which have no tile). It runs on a local Dask cluster of 1 and of 2 worker processes,
each time with an empty cache, so every task is computed; the wall time includes the
cluster's start. Each count task counts one (trace, tile) once, with the counters PTB
and SATO need at the first tile; the price tasks reuse those statistics. ``--workers 0``
adds the in-process run (no Dask). The CPU seconds of each run (this process and the
cluster's processes) and the 1-minute load average before and after it are printed:
other jobs on the machine slow the wall time down, not the CPU time.

Usage: ``python bench/bench_sweep.py [--workloads NAME ...] [--tiles N] [--workers 1 2]
[--traces DIR]``. ``--workloads`` / ``--tiles`` shrink the sweep for a quick check;
``--traces`` keeps the synthetic traces (and reuses them when present).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchlib import synthesize

from prosparsity.sweep.engine import run_sweep
from prosparsity.sweep.spec import load_spec, packaged_spec
from prosparsity.traces.workloads import WORKLOADS

SPEC = """\
name = "bench"
traces = [{traces}]
[tiles]
points = [{points}]
[accelerators.prosperity]
issue_type = [1, 2]
sparsity = ["product", "bit"]
[accelerators.ptb]
[accelerators.sato]
"""


def figure7_tiles(trace: Path) -> list[tuple[int, int]]:
    """The 12 tile points of Figure 7 (the packaged ``figure7`` spec's)."""
    return list(load_spec(packaged_spec("figure7"), [str(trace)]).tiles)




def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its ended descendants (the
    local cluster's nannies and workers, once it has shut down)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--tiles", type=int, default=12, help="first N of Figure 7's 12 tiles")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--traces", type=Path, default=None, help="keep the traces here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prosparsity-bench-sweep-") as tmp:
        folder = args.traces or Path(tmp) / "traces"
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        traces = synthesize(args.workloads, folder)
        print(f"synthetic traces of {len(traces)} workloads: {time.perf_counter() - t:.1f} s")
        tiles = figure7_tiles(traces[0])[: args.tiles]
        spec_path = Path(tmp) / "bench.toml"
        spec_path.write_text(SPEC.format(
            traces=", ".join(f'"{p}"' for p in traces),
            points=", ".join(f"[{m}, {k}]" for m, k in tiles)))
        spec = load_spec(spec_path)
        configs = sum(a.n_configs for a in spec.accelerators)
        print(f"{len(traces)} workloads x {len(tiles)} tiles x {configs} accelerator "
              "configurations (Prosperity at every tile, PTB and SATO once)")
        for workers in args.workers:
            out = Path(tmp) / f"out-{workers}"
            load = os.getloadavg()[0]
            cpu = _cpu_s()
            t = time.perf_counter()
            outcome = run_sweep(spec, out, workers=workers, dashboard=False)
            wall = time.perf_counter() - t
            cpu = _cpu_s() - cpu
            assert outcome.cached == 0, "the bench must compute every task"
            plan = outcome.plan
            where = "in process" if workers == 0 else f"{workers} worker(s)"
            print(f"  {where}: {outcome.computed} tasks ({len(plan.counts)} counts, "
                  f"{len(plan.prices)} prices) in {wall:.1f} s wall = "
                  f"{outcome.computed / wall:.2f} tasks/s, {cpu:.0f} CPU s (load "
                  f"{load:.2f} -> {os.getloadavg()[0]:.2f})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
