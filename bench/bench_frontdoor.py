"""Benchmark of the front door's outputs (``make bench``): the tutorial and the HTML page.

1. ``examples/tutorial.ipynb`` executed from start to end in a fresh Jupyter kernel
   (nbclient + ipykernel, as ``tests/test_tutorial.py`` runs it): wall time, best of
   ``--repeats``; the suite wants it under about 30 s on 2 cores.
2. ``prosparsity simulate --layers --html PATH`` on the LeNet-5 dump (fresh processes)
   against the same command without ``--html``: what drawing the three plots and writing
   the self-contained page adds. Best of ``--repeats``.

Prints the load average with every figure (timings on a shared machine are noisy).

Usage: ``python bench/bench_frontdoor.py [--repeats N] [--only tutorial|html]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchlib import REFERENCE, best_of, console_script, load_average, require_reference, wall

TUTORIAL = Path(__file__).resolve().parents[1] / "examples" / "tutorial.ipynb"


def bench_tutorial(repeats: int) -> None:
    import nbformat
    from nbclient import NotebookClient

    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="bench-tutorial-") as tmp:
            os.environ["JUPYTER_RUNTIME_DIR"] = str(Path(tmp) / "runtime")
            os.environ["IPYTHONDIR"] = str(Path(tmp) / "ipython")
            nb = nbformat.read(TUTORIAL, as_version=4)
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()

    start = time.perf_counter()
    run()  # the first run also fills numba's cache, if anything was missing
    first = time.perf_counter() - start
    best = min(first, best_of(run, repeats - 1)) if repeats > 1 else first
    print(f"tutorial: {best:.1f} s (best of {repeats}; first {first:.1f} s), "
          f"load average {load_average():.2f}")


def bench_html(repeats: int) -> None:
    require_reference()
    exe = console_script()
    dump = REFERENCE / "traces" / "lenet5_mnist.npz"
    with tempfile.TemporaryDirectory(prefix="bench-html-") as tmp:
        page = Path(tmp) / "report.html"
        plain = wall([exe, "simulate", str(dump), "--layers"], repeats)
        html = wall([exe, "simulate", str(dump), "--layers", "--html", str(page)], repeats)
        size = page.stat().st_size
    print(f"simulate --layers: {plain:.2f} s; with --html: {html:.2f} s "
          f"(+{html - plain:.2f} s, page {size:,} bytes), best of {repeats}, "
          f"load average {load_average():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("tutorial", "html"))
    args = parser.parse_args()
    if args.only in (None, "tutorial"):
        bench_tutorial(args.repeats)
    if args.only in (None, "html"):
        bench_html(args.repeats)


if __name__ == "__main__":
    main()
