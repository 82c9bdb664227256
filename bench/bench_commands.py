"""Benchmark of whole commands (``make bench``), as a user runs them (fresh processes).

1. ``prosparsity simulate`` against ``prosparsity analyze`` of the same trace, on the
   three SpikeBERT workloads (the shared reference's synthetic SST-2 trace, imported with
   its workload, and ``trace synth`` traces of MR and SST-5): target simulate of the
   host's accelerators (``--accel`` each built-in) <= 1.5x analyze; simulate of every
   accelerator (plugins included: Phi fits its patterns by k-means on every sample)
   reported beside it. Best of ``--repeats`` wall times.
2. ``prosparsity reproduce`` on ten dumps (the LeNet-5 dump, a VGG-9-shaped one and eight
   synthetic transformer and ResNet ones: the shared reference's four synthetic dumps,
   with their authors'-simulator outputs beside them, and synthetic ResNet-18 CIFAR-10 /
   CIFAR-100, Spikformer CIFAR-100 and SpikeBERT MR dumps written here): importing,
   analysing, simulating every accelerator, the Figure 7 sweep, the reports and plots.
   Target: under 2 minutes wall.

Synthetic dumps have the authors' keys and shapes (``traces.synth`` records and
spikes: each workload's Figure 11 bit density, 70 % of bits repeated across time steps,
seed 2025).

Usage: ``python bench/bench_commands.py [--repeats N] [--only simulate|reproduce]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import (
    REFERENCE,
    SEED,
    accel_flags,
    builtin_accelerators,
    console_script,
    load_average,
    require_reference,
    synthesize,
    wall,
)

from prosparsity.paper.fig11 import FIG11_BIT_DENSITY
from prosparsity.traces.synth import synthetic_records, synthetic_spikes

TARGET_SIMULATE = 1.5
TARGET_REPRODUCE_S = 120.0
SYNTHETIC_DUMPS = ("vgg9_cifar10", "resnet18_cifar10", "resnet18_cifar100",
                   "spikformer_cifar100", "spikebert_mr")
REFERENCE_DUMPS = ("spikformer_cifar10", "sdt_cifar10", "spikebert_sst2", "spikingbert_sst2")


def synthetic_dump(workload: str, out: Path) -> Path:
    """An ``.npz`` dump of ``workload`` keyed and shaped as the authors' dumps."""
    records = [r for r in synthetic_records(workload) if r.has_data]
    streams = np.random.SeedSequence(SEED).spawn(len(records))
    arrays = {r.name: synthetic_spikes(r.shape, FIG11_BIT_DENSITY[workload],
                                       np.random.default_rng(s))
              for r, s in zip(records, streams, strict=True)}
    np.savez(out, **arrays)
    return out


def bench_simulate(exe: str, folder: Path, repeats: int) -> None:
    print(f"== simulate against analyze, fresh processes, best of {repeats}: the host's "
          "accelerators (target), then every accelerator, plugins included ==")
    builtins = accel_flags(builtin_accelerators())
    sst2 = folder / "spikebert_sst2.h5"
    subprocess.run([exe, "trace", "import", str(REFERENCE / "synthetic" / "spikebert_sst2.npz"),
                    "--workload", "spikebert_sst2", "-o", str(sst2)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    traces = [sst2]
    traces += synthesize(["spikebert_mr", "spikebert_sst5"], folder)
    subprocess.run([exe, "analyze", str(sst2)], check=True, stdout=subprocess.DEVNULL)
    for path in traces:
        analyze = wall([exe, "analyze", str(path)], repeats)
        simulate = wall([exe, "simulate", str(path), *builtins], repeats)
        every = wall([exe, "simulate", str(path)], repeats)
        ratio = simulate / analyze
        verdict = "ok" if ratio <= TARGET_SIMULATE else "TARGET MISSED"
        print(f"  {path.stem:16s} analyze {analyze:5.2f} s, simulate {simulate:5.2f} s: "
              f"{ratio:.2f}x (target <= {TARGET_SIMULATE}x) {verdict}; every accelerator "
              f"{every:5.2f} s: {every / analyze:.2f}x")


def bench_reproduce(exe: str, folder: Path) -> None:
    data = folder / "data"
    data.mkdir()
    os.symlink(REFERENCE / "traces" / "lenet5_mnist.npz", data / "lenet5_mnist.npz")
    for name in REFERENCE_DUMPS:
        for suffix in (".npz", ".official.json"):
            os.symlink(REFERENCE / "synthetic" / f"{name}{suffix}", data / f"{name}{suffix}")
    t = time.perf_counter()
    for name in SYNTHETIC_DUMPS:
        synthetic_dump(name, data / f"{name}.npz")
    made = time.perf_counter() - t
    dumps = sorted(p.stem for p in data.glob("*.npz"))
    print(f"== reproduce on {len(dumps)} dumps ({', '.join(dumps)}; synthetic ones written "
          f"in {made:.1f} s, not counted) ==")
    t = time.perf_counter()
    subprocess.run([exe, "reproduce", "--data", str(data), "--out", str(folder / "out")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    verdict = "target met" if seconds < TARGET_REPRODUCE_S else "TARGET MISSED"
    print(f"  prosparsity reproduce: {seconds:.1f} s wall (reports and plots included), "
          f"target < {TARGET_REPRODUCE_S:.0f} s -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (best of)")
    parser.add_argument("--only", choices=("simulate", "reproduce"), default=None)
    args = parser.parse_args()
    require_reference()
    exe = console_script()
    load = load_average()
    print(f"load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "simulate"):
            bench_simulate(exe, Path(tmp), args.repeats)
        if args.only in (None, "reproduce"):
            bench_reproduce(exe, Path(tmp))


if __name__ == "__main__":
    main()
