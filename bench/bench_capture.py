"""Capture speed, throughput and memory (``make bench``).

0. **Capture against the bare forward** (the target of docs/benchmarks.md, "Capture"):
   ``capture_model`` of ``digits-cnn`` (128 samples), ``digits-spikformer`` (128) and the
   paper-shape ``spikformer-cifar10`` (random weights, 16 samples) against the same
   model's bare forward passes over the same inputs at the same batch size (weights
   loaded, ``eval()``, ``no_grad``, states reset before each pass; no hooks, no packing,
   no file), in one child process per model after a warm-up of both, the two run in
   turns ``--repeats`` times: the best wall time of each, the median of the per-turn
   ratios of wall time (capture and bare forward back to back: this machine's speed
   drifts by a third within minutes, and the two best times may come from different
   minutes), and the median of the per-turn ratios of CPU time
   (``time.process_time``), which other jobs on the machine disturb far less.
   ``capture_model`` is timed whole: set-up (building the model, loading the checkpoint
   and the input), the probe pass, the forward passes under capture, and the trace's
   write. ``--threads 1`` runs torch on one thread.
1. **Samples per second** of ``capture_model`` for ``digits-cnn``, ``digits-spikformer``
   and the paper-shape ``spikformer-cifar10`` preset (random weights): each in a child
   process that times the capture only (imports, model set-up and one warm-up sample
   excluded), at the default batch size.
2. **Growth**: ``prosparsity capture digits-cnn`` and ``prosparsity analyze`` of its
   trace at 1, 10, 100 and 1,000 samples: wall time and peak RSS of each command, each a
   child process (``os.wait4``'s ``ru_maxrss``). Past the 450 test images the input is
   the whole digits set (1,797 images), from one ``.npy`` file per size, so every size
   goes through ``--input`` the same way.

Usage: ``python bench/bench_capture.py [--sizes 1,10,100,1000] [--throughput-samples 64]
[--repeats 3] [--only ratio|throughput|growth] [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import load_average

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


RATIO = (("digits-cnn", 128), ("digits-spikformer", 128), ("spikformer-cifar10", 16))
"""Models and samples of the capture / bare forward comparison."""


def _child_ratio(name: str, samples: int, out: str, repeats: int, device: str,
                 threads: int) -> None:
    """(in the child) best-of wall times of ``capture_model`` and of the bare forward
    passes, and the median of their CPU-time ratios (capture and bare run in turns)."""
    import statistics

    import torch

    from prosparsity.models.adapters import reset_states
    from prosparsity.models.capture import DEFAULT_BATCH_SIZE, capture_model
    from prosparsity.models.checkpoint import load_checkpoint, packaged_checkpoint
    from prosparsity.models.registry import get_model

    if threads:
        torch.set_num_threads(threads)
    entry = get_model(name)
    inputs = entry.make_input(samples=samples, time_steps=entry.time_steps, seed=0)
    path = Path(out).with_suffix(".pt")
    torch.save(inputs, path)
    kwargs = {"device": device} if device != "cpu" else {}

    def capture() -> None:
        capture_model(name, out, input_path=path, samples=samples, **kwargs)

    torch.manual_seed(0)
    net = entry.build(time_steps=entry.time_steps, **entry.options)
    if entry.checkpoint:
        load_checkpoint(net, packaged_checkpoint(entry.checkpoint))
    net = net.to(device).eval()
    axis = entry.input_batch_axis
    pieces = [p.to(device) for p in torch.split(inputs, DEFAULT_BATCH_SIZE, dim=axis)]

    def bare() -> None:
        with torch.no_grad():
            for piece in pieces:
                reset_states(net)
                net(piece)
            if device == "cuda":
                torch.cuda.synchronize()

    bare()
    capture()  # warm-up of both: lazy imports, allocator, caches
    walls = {"bare": float("inf"), "capture": float("inf")}
    ratios, turns = [], []
    for _ in range(repeats):
        cpu, wall = {}, {}
        for key, fn in (("bare", bare), ("capture", capture)):
            w, c = time.perf_counter(), time.process_time()
            fn()
            wall[key] = time.perf_counter() - w
            walls[key] = min(walls[key], wall[key])
            cpu[key] = time.process_time() - c
        ratios.append(cpu["capture"] / cpu["bare"])
        turns.append(wall["capture"] / wall["bare"])
    print(f"{walls['capture']:.6f} {walls['bare']:.6f} {statistics.median(ratios):.4f} "
          f"{statistics.median(turns):.4f}")


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
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("ratio", "throughput", "growth"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads in the ratio children (default: torch's)")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "N", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-ratio", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--child-input", nargs=2, metavar=("N", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_ratio:
        _child_ratio(args.child_ratio[0], int(args.child_ratio[1]), args.out, args.repeats,
                     args.device, args.threads)
        return
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
          f"load average {load_average():.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
        tmpdir = Path(tmp)
        if args.only in (None, "ratio"):
            _ratio(tmpdir, args.repeats, args.device, args.threads)
        if args.only in (None, "throughput"):
            _throughput(tmpdir, args.throughput_samples)
        if args.only in (None, "growth"):
            _growth(tmpdir, args.sizes, cli)


def _ratio(tmpdir: Path, repeats: int, device: str, threads: int) -> None:
    print(f"\ncapture_model against the bare forward ({device}, "
          f"{threads or 'default'} torch threads; wall: best of {repeats} each; turns: "
          "median of the per-turn wall ratios; cpu: median of the per-turn CPU-time "
          "ratios; same inputs and batch size)")
    print(f"{'model':<20} {'samples':>7} {'capture s':>10} {'forward s':>10} {'wall':>6} "
          f"{'turns':>6} {'cpu':>6} {'load':>5}")
    for name, n in RATIO:
        load = load_average()
        _, _, out = _popen_rusage(
            [sys.executable, __file__, "--child-ratio", name, str(n), "--repeats",
             str(repeats), "--device", device, "--threads", str(threads), "--out",
             str(tmpdir / f"r-{name}.h5")]
        )
        cap, bare, cpu, turns = (float(v) for v in out.split())
        print(f"{name:<20} {n:>7} {cap:>10.3f} {bare:>10.3f} {cap / bare:>5.2f}x "
              f"{turns:>5.2f}x {cpu:>5.2f}x {load:>5.1f}")


def _throughput(tmpdir: Path, throughput_samples: int) -> None:
    print("\ncapture throughput (capture only, after a one-sample warm-up)")
    print(f"{'model':<20} {'samples':>7} {'batch':>5} {'seconds':>8} {'samples/s':>10}")
    for name, share in THROUGHPUT:
        n = max(1, int(throughput_samples * share))
        _, _, out = _popen_rusage(
            [sys.executable, __file__, "--child", name, str(n), str(tmpdir / f"{name}.h5")]
        )
        samples, seconds, batch = out.split()
        rate = int(samples) / float(seconds)
        print(f"{name:<20} {samples:>7} {batch:>5} {float(seconds):>8.2f} {rate:>10.1f}")


def _growth(tmpdir: Path, sizes: str, cli: list[str]) -> None:
    print("\ndigits-cnn growth (whole commands, child processes)")
    print(f"{'samples':>7} {'capture s':>10} {'capture MB':>11} {'analyze s':>10} "
          f"{'analyze MB':>11} {'input MB':>9} {'trace kB':>9}")
    for n in (int(s) for s in sizes.split(",")):
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
