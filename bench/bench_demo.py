"""Benchmark of ``prosparsity demo`` as ``make demo`` runs it (fresh processes), and of the
same demo of another checkout for comparison (e.g. before a change that adds models).

The demo captures every registry entry with a packaged checkpoint, so its time grows with
the trained models; ``--baseline PATH`` runs the demo of the checkout at PATH (a ``git
worktree`` of an earlier commit) with this environment's packages, right before this
checkout's, so that both run on the same machine under the same load. Each run prints
its wall time, the demo's own "demo finished in" figure and the load average.

``--per-model`` times, in one process and with the imports done first, what the demo
does for each trained model (capture of its samples, then counting and pricing each
sample for Prosperity, PTB and the GPU model): where the time of the models goes.

Usage: ``python bench/bench_demo.py [--repeats N] [--baseline ../other-checkout]
[--per-model]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import console_script, load_average

#: Runs the demo of another checkout: the editable install's path finder is pointed at it
#: before anything of ``prosparsity`` is imported.
_OTHER = """
import sys
from pathlib import Path
root, here, args = sys.argv[1], sys.argv[2], sys.argv[3:]
finders = [m for name, m in sys.modules.items() if name.startswith("__editable__") and
           name.endswith("_finder") and "prosparsity" in name]
if not finders:
    sys.exit("bench_demo --baseline needs the editable install (make .venv/.installed)")
for finder in finders:
    for name, path in list(finder.MAPPING.items()):
        other = path.replace(here, root)
        if Path(other).exists():
            finder.MAPPING[name] = other
        else:  # e.g. the root package of a checkout older than api/: a namespace there
            del finder.MAPPING[name]
            finder.NAMESPACES[name] = []
    if finder.NAMESPACES and finder.PATH_PLACEHOLDER not in sys.path:
        sys.path_hooks.append(finder._EditableNamespaceFinder._path_hook)
        sys.path.append(finder.PATH_PLACEHOLDER)
sys.argv = ["prosparsity", *args]
from prosparsity.harness.entry import main
main()
"""


def run(command: list[str]) -> tuple[float, str]:
    """Wall seconds and the demo's own 'demo finished in' line, with the models it
    captured."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        start = time.perf_counter()
        done = subprocess.run([*command, "--out", tmp], capture_output=True, text=True,
                              check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    found = re.search(r"demo finished in [0-9.]+ s", done.stderr)
    models = sorted(set(re.findall(r"^(\S+): analysing and simulating", done.stderr,
                                   re.MULTILINE)))
    line = found.group(0) if found else "(no 'demo finished' line)"
    return seconds, f"{line}; models: {', '.join(models)}"


def per_model(samples: int = 4) -> None:
    """Capture and pricing time of each trained model, as :func:`prosparsity.demo` runs
    them (the imports done first)."""
    import prosparsity as ps
    from prosparsity.accel.registry import registry
    from prosparsity.models.capture import capture_model
    from prosparsity.models.registry import list_models
    from prosparsity.paper.study import HEADLINE_BASELINE
    from prosparsity.studies import DEMO_ACCELERATORS

    entries = [e for e in list_models() if e.trained]
    for entry in entries:  # imports (torch, the families) before any clock starts
        entry.build(time_steps=entry.time_steps)
    names = [a for a in DEMO_ACCELERATORS if a in registry()]
    names += [next(m.name for m in registry().values() if m.gpu and not m.reported)]
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        for entry in entries:
            before = load_average()
            start = time.perf_counter()
            trace = capture_model(entry.name, Path(tmp) / f"{entry.name}.h5", samples=samples,
                                  batch_size=1).path
            captured = time.perf_counter() - start
            with ps.open(trace) as opened:
                ps.simulate(opened, names, baseline=HEADLINE_BASELINE)
            total = time.perf_counter() - start
            print(f"{entry.name}: capture {captured:.1f} s, count and price "
                  f"{total - captured:.1f} s ({samples} samples); load average {before:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout whose demo runs first, for comparison")
    parser.add_argument("--per-model", action="store_true",
                        help="time each trained model's part of the demo in one process")
    args = parser.parse_args()
    if args.per_model:
        per_model()
        return
    here = str(Path(__file__).resolve().parents[1])
    commands = {"this checkout": [console_script(), "demo"]}
    if args.baseline is not None:
        other = str(args.baseline.resolve())
        commands = {f"baseline {other}": [sys.executable, "-c", _OTHER, other, here, "demo"],
                    **commands}
    for _ in range(args.repeats):
        for label, command in commands.items():
            before = load_average()
            seconds, line = run(command)
            print(f"{label}: {seconds:.1f} s wall ({line}); load average {before:.2f} -> "
                  f"{load_average():.2f}")


if __name__ == "__main__":
    main()
