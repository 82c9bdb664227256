"""Benchmark of start-up (``make bench``): cold processes, as a user starts them.

1. The light commands (``--help``, ``models``, ``trace workloads``, ``trace info``): wall
   time of a fresh ``prosparsity`` process each, best of ``--repeats``.
2. A cold ``prosparsity analyze`` of the LeNet-5 trace, split into
   * interpreter start (a bare ``python -c pass``),
   * imports (every module a run of ``analyze`` imports: the CLI, the stages, h5py,
     numba, rich, ...),
   * cache load (the first ``analyze`` less a second one in the same process: numba
     initialising itself and loading the compiled kernels from its on-disk cache), and
   * work (the second ``analyze``: opening the trace, counting, printing),
   * the rest (the console script's wall less the above: the first rich output, the
     interpreter's exit),
   measured inside a fresh process, best of ``--repeats``; and the wall time of the
   plain console script for comparison.

The compiled kernels must be in numba's cache (any earlier run puts them there); the
benchmark runs ``analyze`` once first to make sure.

Usage: ``python bench/bench_startup.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import REFERENCE, console_script, load_average, require_reference, wall

#: Prints every module a run of ``analyze`` imports, in import order.
_MODULES = """
import io, json, sys
from contextlib import redirect_stdout
before = set(sys.modules)
import prosparsity.harness.cli as cli
with redirect_stdout(io.StringIO()):
    try:
        cli.main(["analyze", sys.argv[1]])
    except SystemExit as exc:
        assert exc.code == 0
print(json.dumps([m for m in sys.modules if m not in before]))
"""

#: Imports those modules, then runs ``analyze`` twice; prints the three times.
_SPLIT = """
import importlib, io, json, sys, time
from contextlib import redirect_stdout
modules = json.loads(sys.argv[2])
t0 = time.perf_counter()
for name in modules:
    try:
        importlib.import_module(name)
    except ImportError:  # a module a package puts in sys.modules under another name
        pass
import prosparsity.harness.cli as cli
t1 = time.perf_counter()
def run():
    with redirect_stdout(io.StringIO()):
        try:
            cli.main(["analyze", sys.argv[1]])
        except SystemExit as exc:
            assert exc.code == 0
run()
t2 = time.perf_counter()
run()
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "first": t2 - t1, "work": t3 - t2}))
"""




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (best of)")
    args = parser.parse_args()
    require_reference()
    exe = console_script()
    load = load_average()
    print(f"== start-up, fresh processes, best of {args.repeats} (load average {load:.1f}) ==")
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "lenet5_mnist.h5"
        subprocess.run([exe, "trace", "import", str(REFERENCE / "traces" / "lenet5_mnist.npz"),
                        "--workload", "lenet5_mnist", "-o", str(trace)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([exe, "analyze", str(trace)], check=True, stdout=subprocess.DEVNULL)
        for argv in (["--help"], ["models"], ["trace", "workloads"], ["trace", "info", "TRACE"]):
            argv = [str(trace) if a == "TRACE" else a for a in argv]
            shown = " ".join("t.h5" if a == str(trace) else a for a in argv)
            print(f"  prosparsity {shown:18s} {wall([exe, *argv], args.repeats):6.2f} s")
        interpreter = wall([sys.executable, "-c", "pass"], args.repeats)
        modules = subprocess.run([sys.executable, "-c", _MODULES, str(trace)], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
        best: dict[str, float] = {}
        for _ in range(args.repeats):
            done = subprocess.run([sys.executable, "-c", _SPLIT, str(trace), modules],
                                  check=True, capture_output=True, text=True)
            split = json.loads(done.stdout.strip().splitlines()[-1])
            for key, value in split.items():
                best[key] = min(best.get(key, float("inf")), value)
        cache = best["first"] - best["work"]
        total = wall([exe, "analyze", str(trace)], args.repeats)
        rest = total - interpreter - best["imports"] - cache - best["work"]
        print(f"  prosparsity analyze t.h5 (LeNet-5) {total:6.2f} s wall: interpreter "
              f"{interpreter:.2f} s, imports {best['imports']:.2f} s, cache load {cache:.2f} s, "
              f"work {best['work']:.3f} s, the rest (printing, interpreter exit) {rest:.2f} s")


if __name__ == "__main__":
    main()
