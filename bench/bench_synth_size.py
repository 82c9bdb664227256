"""`trace synth`'s size check: its estimates against the file written and the memory
traced while writing it.

    python bench/bench_synth_size.py [--samples 4] [WORKLOAD ...]

For each workload (default lenet5_mnist, vgg16_cifar10, spikformer_cifar10) at bit
density 0.2: the estimated trace size and peak memory
(:func:`prosparsity.traces.synth.estimate_size`), the size of the file
:func:`~prosparsity.traces.synth.write_synthetic` writes, and the peak of the memory
``tracemalloc`` traces meanwhile (NumPy reports its buffers to it). The estimates are
meant to be upper bounds of the same order; ``docs/sweep.md`` quotes a run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import tracemalloc
from pathlib import Path

from prosparsity.core.resources import human_bytes
from prosparsity.traces.synth import SynthSpec, estimate_size, write_synthetic

WORKLOADS = ("lenet5_mnist", "vgg16_cifar10", "spikformer_cifar10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    with open("/proc/loadavg") as fh:
        print(f"load average: {fh.read().split()[0]}")
    print(f"{'workload':<20} {'est. size':>10} {'file':>10} {'est. peak':>10} {'traced':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.workloads:
            spec = SynthSpec(name, 0.2, samples=args.samples)
            size = estimate_size(spec)
            out = Path(tmp) / f"{name}.h5"
            tracemalloc.start()
            write_synthetic(spec, out, check_size=False)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{name:<20} {human_bytes(size.trace_bytes):>10} "
                  f"{human_bytes(os.path.getsize(out)):>10} "
                  f"{human_bytes(size.peak_bytes):>10} {human_bytes(peak):>10}")


if __name__ == "__main__":
    main()
