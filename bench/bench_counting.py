"""Counting growth (``make bench``): ``prosparsity analyze`` against ``prosparsity
simulate`` of the host's accelerators (every built-in model; ``--every`` adds the plugins,
Phi and Bishop), at 1, 4, 16 and 64 samples of the SpikeBERT SST-2 and
VGG-9 CIFAR-10 shapes, as a user runs them (fresh processes, numba's cache warm).

Each trace is ``prosparsity trace synth --workload W --samples N --seed 1``. Every
command runs ``--repeats`` times; the table gives the fastest wall time, the CPU time
(user + system) of that run and the peak resident memory of the process (the largest of
the runs, from ``wait4``'s ``ru_maxrss``), then simulate / analyze in wall time (the
target's measure) and in CPU time (steadier on a busy machine). Targets
(docs/benchmarks.md, *Counting growth*): simulate at most 1.5x analyze at 16 samples, at
most 1.2x at one sample, in wall time.

Usage: ``python bench/bench_counting.py [--samples 1 4 16 64] [--workloads ...]
[--repeats N] [--every]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import accel_flags, builtin_accelerators, console_script, load_average

WORKLOADS = ("spikebert_sst2", "vgg9_cifar10")
SAMPLES = (1, 4, 16, 64)
#: simulate / analyze at most this, by samples (the issue's targets).
TARGETS = {1: 1.2, 16: 1.5}


@dataclass(frozen=True)
class Run:
    """One command's best wall time, that run's CPU time and the peak memory, s / MiB."""

    wall: float
    cpu: float
    peak_mib: float


def run(argv: list[str], repeats: int) -> Run:
    """Run ``argv`` ``repeats`` times (output discarded): the fastest wall time, the CPU
    time of that run, the largest peak resident memory."""
    best = Run(float("inf"), 0.0, 0.0)
    peak = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{' '.join(argv)} failed with exit code {proc.returncode}")
        peak = max(peak, usage.ru_maxrss / 1024)  # KiB on Linux
        if wall < best.wall:
            best = Run(wall, usage.ru_utime + usage.ru_stime, 0.0)
    return Run(best.wall, best.cpu, peak)


def synth(exe: str, workload: str, samples: int, folder: Path) -> Path:
    """The trace ``prosparsity trace synth --workload W --samples N --seed 1``."""
    path = folder / f"{workload}_{samples}.h5"
    subprocess.run([exe, "trace", "synth", "--workload", workload, "--samples", str(samples),
                    "--seed", "1", "-o", str(path)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=list(SAMPLES))
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best of)")
    parser.add_argument("--every", action="store_true",
                        help="simulate every accelerator, plugins included (default: the "
                        "host's accelerators, the set the targets were set on)")
    args = parser.parse_args()
    exe = console_script()
    print(f"load average {load_average():.1f} at the start; {os.cpu_count()} CPUs")
    which = "every accelerator, plugins included" if args.every else "the host's accelerators"
    flags = [] if args.every else accel_flags(builtin_accelerators())
    print(f"== counting growth: analyze vs simulate ({which}), fresh processes, "
          f"best of {args.repeats} ==")
    print(f"  {'workload':15s} {'samples':>7s} | {'analyze':>23s} | {'simulate':>23s} | "
          "ratio (wall, cpu)")
    print(f"  {'':15s} {'':7s} | {'wall s  cpu s  peak MiB':>23s} | "
          f"{'wall s  cpu s  peak MiB':>23s} |")
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for workload in args.workloads:
            warm = synth(exe, workload, 1, folder)  # numba's cache warm, the trace read
            run([exe, "simulate", str(warm), *flags], 1)
            for samples in args.samples:
                trace = synth(exe, workload, samples, folder)
                analyze = run([exe, "analyze", str(trace)], args.repeats)
                simulate = run([exe, "simulate", str(trace), *flags], args.repeats)
                ratio = simulate.wall / analyze.wall
                target = TARGETS.get(samples)
                verdict = "" if target is None else (
                    f"(target <= {target}x)" if ratio <= target else
                    f"TARGET {target}x MISSED")
                if target is not None and ratio > target:
                    missed.append(f"{workload} x{samples}")
                cpu = simulate.cpu / analyze.cpu
                print(f"  {workload:15s} {samples:7d} | {analyze.wall:6.2f} {analyze.cpu:6.2f} "
                      f"{analyze.peak_mib:9.0f} | {simulate.wall:6.2f} {simulate.cpu:6.2f} "
                      f"{simulate.peak_mib:9.0f} | {ratio:4.2f}x {cpu:4.2f}x {verdict}",
                      flush=True)
                trace.unlink()
    print(f"load average {load_average():.1f} at the end; "
          + ("every target met" if not missed else f"targets missed: {', '.join(missed)}"))


if __name__ == "__main__":
    main()
