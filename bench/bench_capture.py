"""Capture throughput and memory (``make bench``).

1. **Samples per second** of ``capture_model`` for ``digits-cnn``, ``digits-spikformer``
   and the paper-shape ``spikformer-cifar10`` preset (random weights): each in a child
   process that times the capture only (imports, model set-up and one warm-up sample
   excluded), at the default batch size.
2. **Growth**: ``prosparsity capture digits-cnn`` and ``prosparsity analyze`` of its
   trace at 1, 10, 100 and 1,000 samples: wall time and peak RSS of each command, each a
   child process (``os.wait4``'s ``ru_maxrss``). Past the 450 test images the input is
   the whole digits set (1,797 images), from one ``.npy`` file per size, so every size
   goes through ``--input`` the same way.

Usage: ``python bench/bench_capture.py [--sizes 1,10,100,1000] [--throughput-samples 64]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THROUGHPUT = (("digits-cnn", 1.0), ("digits-spikformer", 1.0), ("spikformer-cifar10", 0.125))
"""Models and the fraction of ``--throughput-samples`` each captures."""


def _child_throughput(name: str, samples: int, out: str) -> None:
    """(in the child) time one capture of ``samples`` samples; print the figures."""
    import torch

    from prosparsity.models.capture import capture_model
    from prosparsity.models.registry import get_model

    entry = get_model(name)
    inputs = entry.make_input(samples=samples + 1, time_steps=entry.time_steps, seed=0)
    path = Path(out).with_suffix(".pt")
    torch.save(inputs, path)
    capture_model(name, out, input_path=path, samples=1)  # warm-up: lazy imports, caches
    start = time.perf_counter()
    result = capture_model(name, out, input_path=path, samples=samples)
    seconds = time.perf_counter() - start
    print(f"{result.info.samples} {seconds:.6f} {result.info.batch_size}")


def _popen_rusage(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS [MB] and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return seconds, usage.ru_maxrss / 1024, out


def _digits_input(samples: int, path: Path) -> None:
    """``[T=8, N, 1, 32, 32]`` digits (test split first, then the training split)."""
    import numpy as np
    import torch

    from prosparsity.models.data import digits_split, upscale

    split = digits_split()
    images = np.concatenate([np.array(split.x_test), np.array(split.x_train)])[:samples]
    x = upscale(torch.from_numpy(images)[:, None], 4)
    np.save(path, x.unsqueeze(0).repeat(8, 1, 1, 1, 1).numpy().astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--throughput-samples", type=int, default=64)
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "N", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-input", nargs=2, metavar=("N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_throughput(args.child[0], int(args.child[1]), args.child[2])
        return
    if args.child_input:
        _digits_input(int(args.child_input[0]), Path(args.child_input[1]))
        return
    # the parent imports neither torch nor numpy: a child's ru_maxrss counts the memory
    # it had between fork and exec, so a heavy parent would inflate every figure
    cli = [sys.executable, "-m", "prosparsity.harness.cli"]
    print(f"capture benchmark, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
        tmpdir = Path(tmp)
        print("\ncapture throughput (capture only, after a one-sample warm-up)")
        print(f"{'model':<20} {'samples':>7} {'batch':>5} {'seconds':>8} {'samples/s':>10}")
        for name, share in THROUGHPUT:
            n = max(1, int(args.throughput_samples * share))
            _, _, out = _popen_rusage(
                [sys.executable, __file__, "--child", name, str(n), str(tmpdir / f"{name}.h5")]
            )
            samples, seconds, batch = out.split()
            rate = int(samples) / float(seconds)
            print(f"{name:<20} {samples:>7} {batch:>5} {float(seconds):>8.2f} {rate:>10.1f}")
        print("\ndigits-cnn growth (whole commands, child processes)")
        print(f"{'samples':>7} {'capture s':>10} {'capture MB':>11} {'analyze s':>10} "
              f"{'analyze MB':>11} {'input MB':>9} {'trace kB':>9}")
        for n in (int(s) for s in args.sizes.split(",")):
            source = tmpdir / f"x{n}.npy"
            _popen_rusage([sys.executable, __file__, "--child-input", str(n), str(source)])
            trace = tmpdir / f"t{n}.h5"
            cap_s, cap_mb, _ = _popen_rusage(
                [*cli, "capture", "digits-cnn", "--input", str(source), "-o", str(trace)]
            )
            ana_s, ana_mb, _ = _popen_rusage([*cli, "analyze", str(trace), "--json"])
            print(f"{n:>7} {cap_s:>10.2f} {cap_mb:>11.0f} {ana_s:>10.2f} {ana_mb:>11.0f} "
                  f"{source.stat().st_size / 2**20:>9.1f} {trace.stat().st_size / 1024:>9.1f}")


if __name__ == "__main__":
    main()
