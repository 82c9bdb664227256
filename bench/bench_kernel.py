"""Benchmark of the counting path against the NumPy reference (``make bench``).

1. **Against the reference.** The residual-only NumPy reference
   (:mod:`numpy_reference`: one ``uint64`` per tile row, all pairs of a tile compared by
   broadcasting) and ``prosparsity.count`` (all samples as one batch) do the same whole job on the
   LeNet-5 trace and the three ``*_loas`` reference traces (read the trace, build the GEMM rows,
   count), in one run, best of ``--repeats``. Printed per trace and for the four together (the
   targets: end to end >= 30x, the kernel phase alone >= 50x): both times, their ratio, and each
   side's time split: open, read and unpack, rows, kernel, aggregation. Before timing, the residual
   count of every tile of every GEMM is checked equal on both sides.
2. **Throughput**: row slices per second of the kernel on the same traces (one row slice
   = one row of one (row tile, column tile), ``M * ceil(K / tile_k)`` per GEMM).

The ``*_loas`` dumps carry no layer shapes; they are read as 3x3 / stride 1 / padding 1
convolutions (the first one's input is the image) and written as traces first. The
LeNet-5 dump is imported with its paper workload.

Usage: ``python bench/bench_kernel.py [--repeats N] [--traces DIR]``. Reference data is
read from ``../shared/reference`` beside the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import prosparsity as ps
from prosparsity.analysis import density, kernel
from prosparsity.analysis.network import Workload
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.importer import import_dump
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reference  # noqa: E402
from benchlib import REFERENCE, best_of, load_average, require_reference  # noqa: E402

LOAS = ("alexnet_cifar10_loas", "vgg16_cifar10_loas", "resnet19_cifar10_loas")
PHASES = ("open", "read", "rows", "kernel", "aggregation")
TARGET_END_TO_END = 30.0
TARGET_KERNEL = 50.0


def loas_trace(name: str, out: Path) -> Path:
    """A ``*_loas`` dump as a trace of 3x3 / stride-1 / padding-1 convolutions."""
    arrays = np.load(REFERENCE / "traces" / f"{name}.npz", allow_pickle=False)
    keys = sorted(arrays.files)
    with TraceWriter(out, TraceInfo(model=name, dataset="cifar10", time_steps=4)) as w:
        for i, key in enumerate(keys):
            x = arrays[key]
            if x.ndim == 4:
                nxt = next((arrays[k].shape[1] for k in keys[i + 1:] if arrays[k].ndim == 4), 10)
                params = {"in_channels": x.shape[1], "out_channels": nxt, "kernel": 3,
                          "stride": 1, "padding": 1}
                w.add_layer(LayerRecord(key, LayerKind.CONV2D, params, layout="T,C,H,W"), x)
            else:
                params = {"in_features": x.shape[1], "out_features": 10}
                w.add_layer(LayerRecord(key, LayerKind.LINEAR, params, layout="T,K"), x)
    return out


def bench_traces(folder: Path) -> dict[str, Path]:
    """The four traces of the comparison, written into ``folder`` when missing."""
    out = {}
    lenet = folder / "lenet5_mnist.h5"
    if not lenet.exists():
        import_dump(REFERENCE / "traces" / "lenet5_mnist.npz", "lenet5_mnist", lenet)
    out["lenet5_mnist"] = lenet
    for name in LOAS:
        path = folder / f"{name}.h5"
        out[name] = path if path.exists() else loas_trace(name, path)
    return out


# -- our side's time split: the same functions prosparsity.count calls, timed -----------------


@dataclass
class _Clock:
    seconds: dict[str, float]

    def wrap(self, phase: str, fn: Callable[..., object]) -> Callable[..., object]:
        def timed(*args: object, **kwargs: object) -> object:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - t

        return timed


@contextlib.contextmanager
def timed_phases(seconds: dict[str, float]) -> Iterator[None]:
    """Time the stages of ``prosparsity.count`` (all samples as one batch) by wrapping the functions
    it calls: opening (``TraceReader.open``, ``Workload.from_reader``), reading (``Workload.packed``
    / ``data``), building the rows (``gemms_of_packed`` / ``gemms_of``), the compiled kernel
    (``_run_packed`` / ``_run_grid``); aggregation is the rest."""
    clock = _Clock(seconds)
    patches = [
        (TraceReader, "open", clock.wrap("open", TraceReader.open)),
        (Workload, "from_reader", classmethod(clock.wrap("open", Workload.from_reader.__func__))),
        (Workload, "packed", clock.wrap("read", Workload.packed)),
        (Workload, "data", clock.wrap("read", Workload.data)),
        (density, "gemms_of_packed", clock.wrap("rows", density.gemms_of_packed)),
        (density, "gemms_of", clock.wrap("rows", density.gemms_of)),
        (kernel, "_run_packed", clock.wrap("kernel", kernel._run_packed)),
        (kernel, "_run_grid", clock.wrap("kernel", kernel._run_grid)),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, fn in patches:
            setattr(owner, name, fn)
        yield
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)


def ours_split(path: Path, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds per phase of ``prosparsity.count`` (all samples as one
    batch; instrumented runs)."""
    best = dict.fromkeys(PHASES, float("inf"))
    for _ in range(repeats):
        seconds = dict.fromkeys(PHASES, 0.0)
        t = time.perf_counter()
        with timed_phases(seconds):
            ps.count(path, batched=True)
        total = time.perf_counter() - t
        seconds["aggregation"] = total - sum(seconds[p] for p in PHASES[:-1])
        for p in PHASES:
            best[p] = min(best[p], seconds[p])
    return best




def check_equal(path: Path) -> int:
    """Residual ones of every tile: reference == kernel. Returns the row slices."""
    stats = ps.count(path, batched=True).stats
    ref = numpy_reference.analyze(path)
    work = 0
    for layer in stats.layers:
        (g,) = layer.gemms
        if not np.array_equal(ref.residual[layer.name], g.grid.residual_nnz):
            raise AssertionError(f"{path.name} {layer.name}: reference and kernel disagree")
        work += g.grid.m * g.grid.shape_tiles[1]
    if ref.product_density != stats.product_density or ref.bit_density != stats.bit_density:
        raise AssertionError(f"{path.name}: densities differ")
    return work


def fmt_split(seconds: dict[str, float]) -> str:
    return "  ".join(f"{p} {seconds[p] * 1e3:8.2f}" for p in PHASES)


def bench_reference(traces: dict[str, Path], repeats: int) -> bool:
    tile = f"{DEFAULT_TILE.tile_m}x{DEFAULT_TILE.tile_k}"
    print(f"== prosparsity.count against the residual-only NumPy reference, tile {tile}, "
          f"best of {repeats} (ms) ==")
    ok = True
    ratios = []
    totals = {"reference": 0.0, "analyze": 0.0, "reference kernel": 0.0, "kernel": 0.0}
    for name, path in traces.items():
        work = check_equal(path)
        ref_split = numpy_reference.Split()
        ref_best = float("inf")
        ref_phases = dict.fromkeys(PHASES, float("inf"))
        for _ in range(max(1, repeats // 4)):
            one = numpy_reference.Split()
            t = time.perf_counter()
            numpy_reference.analyze(path, split=one)
            ref_best = min(ref_best, time.perf_counter() - t)
            for p in PHASES:
                ref_phases[p] = min(ref_phases[p], one.seconds[p])
        ref_split.seconds.update(ref_phases)
        ours = best_of(lambda path=path: ps.count(path, batched=True), repeats)
        split = ours_split(path, repeats)
        e2e, kern = ref_best / ours, ref_split.seconds["kernel"] / split["kernel"]
        ratios.append((e2e, kern))
        for key, value in (("reference", ref_best), ("analyze", ours),
                           ("reference kernel", ref_split.seconds["kernel"]),
                           ("kernel", split["kernel"])):
            totals[key] += value
        print(f"  {name} ({work:,} row slices)")
        print(f"    reference   {ref_best * 1e3:9.2f}   {fmt_split(ref_split.seconds)}")
        print(f"    analyze     {ours * 1e3:9.2f}   {fmt_split(split)}")
        print(f"    end to end {e2e:6.1f}x (target {TARGET_END_TO_END:.0f}x)   kernel "
              f"{kern:6.1f}x (target {TARGET_KERNEL:.0f}x)   kernel "
              f"{work / split['kernel'] / 1e6:6.1f} M row slices/s")
    e2e = totals["reference"] / totals["analyze"]
    kern = totals["reference kernel"] / totals["kernel"]
    ok = e2e >= TARGET_END_TO_END and kern >= TARGET_KERNEL
    worst = min(r[0] for r in ratios), min(r[1] for r in ratios)
    print(f"  the four traces in one run: reference {totals['reference'] * 1e3:.1f} ms, "
          f"analyze {totals['analyze'] * 1e3:.1f} ms: end to end {e2e:.1f}x "
          f"(target {TARGET_END_TO_END:.0f}x), kernel {kern:.1f}x (target "
          f"{TARGET_KERNEL:.0f}x) -> {'targets met' if ok else 'TARGET MISSED'}")
    print(f"  (per trace, smallest: end to end {worst[0]:.1f}x, kernel {worst[1]:.1f}x; a "
          "small trace is dominated by fixed costs: opening the file, per-layer Python work)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timing repeats (best of)")
    parser.add_argument("--traces", type=Path, default=None,
                        help="folder for the benchmark traces (kept; default: a temp dir)")
    args = parser.parse_args()
    require_reference()
    import numba

    load = load_average()
    print(f"numba {numba.__version__}, numpy {np.__version__}, {kernel._cores()} kernel "
          f"threads, load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.traces or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        traces = bench_traces(folder)
        for path in traces.values():  # JIT / cache load outside the timings
            ps.count(path, batched=True)
        bench_reference(traces, args.repeats)


if __name__ == "__main__":
    main()
