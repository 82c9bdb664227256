"""Benchmark of the ProSparsity kernel (``make bench``).

Reports wall time and throughput in *row slices per second* (one row slice = one row of
one (row tile, column tile): the unit of work of the prefix search, ``M * ceil(K/tile_k)``
per GEMM) for:

1. the LeNet-5 trace at 256x16: kernel time after JIT warm-up (best of several runs), and
   the vectorised NumPy baseline (:mod:`numpy_baseline`) on the same GEMMs, same run;
2. the three ``*_loas`` reference traces, read as 3x3 / stride-1 / padding-1 convolutions;
3. the paper's 19 workloads at their official shapes with synthetic spikes at the paper's
   per-workload bit density (fixed seed; 70 % of each position's bits repeat across time
   steps, like ``../shared/reference/synthetic``), analysed end to end (im2col streaming,
   attention GEMMs, densities), first call (JIT / cache load) included.

Usage: ``python bench/bench_kernel.py [--skip-baseline-loas] [--repeats N]``. Reference
data is read from ``../shared/reference`` beside the checkout.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

T0 = time.perf_counter()  # before the first numba import: "first call included"

from prosparsity.analysis.density import analyze_records  # noqa: E402
from prosparsity.analysis.gemm import gemms_of  # noqa: E402
from prosparsity.analysis.kernel import prosparsity_stats  # noqa: E402
from prosparsity.paper.tiles import DEFAULT_TILE  # noqa: E402
from prosparsity.traces.importer import expected_dump_shape, import_dump  # noqa: E402
from prosparsity.traces.io import TraceReader  # noqa: E402
from prosparsity.traces.schema import LayerKind, LayerRecord  # noqa: E402
from prosparsity.traces.workloads import WORKLOADS, attention_operands, get_workload  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_baseline import baseline_stats  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
TILE = f"{DEFAULT_TILE.tile_m}x{DEFAULT_TILE.tile_k}"
SEED = 2025
REPEAT_FRACTION = 0.7


def row_slices(S: np.ndarray, tile_k: int) -> int:
    return S.shape[0] * -(-S.shape[1] // tile_k)


def best_time(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def check_equal(S: np.ndarray, tile_m: int, tile_k: int) -> None:
    grid = prosparsity_stats(S, tile_m, tile_k)
    for name, value in baseline_stats(S, tile_m, tile_k).items():
        if not np.array_equal(value, getattr(grid, name)):
            raise AssertionError(f"kernel and baseline disagree on {name}")


def mats_of_trace(path: Path) -> list[np.ndarray]:
    mats = []
    with TraceReader(path) as reader:
        for rec in reader.layers:
            if rec.in_network and rec.kind in (LayerKind.LINEAR, LayerKind.CONV2D):
                mats += [g.matrix() for g in gemms_of(rec, reader.read(rec.name))]
    return mats


def bench_lenet(repeats: int) -> None:
    print(f"== LeNet-5 trace (lenet5_mnist, imported with --workload), tile {TILE} ==")
    with tempfile.TemporaryDirectory() as tmp:
        trace = import_dump(
            REFERENCE / "traces" / "lenet5_mnist.npz", "lenet5_mnist", Path(tmp) / "l.h5"
        )
        mats = mats_of_trace(trace)
    work = sum(row_slices(S, DEFAULT_TILE.tile_k) for S in mats)
    t = time.perf_counter()
    for S in mats:
        prosparsity_stats(S)
    first = time.perf_counter() - t
    kernel = best_time(lambda: [prosparsity_stats(S) for S in mats], repeats)
    for S in mats:
        check_equal(S, *DEFAULT_TILE)
    base = best_time(lambda: [baseline_stats(S) for S in mats], max(1, repeats // 10))
    print(f"  GEMMs: {[S.shape for S in mats]}, {work} row slices")
    print(f"  kernel, first call (JIT/cache load): {first * 1e3:9.2f} ms")
    print(
        f"  kernel, after warm-up (best of {repeats}): {kernel * 1e3:9.3f} ms"
        f"  = {work / kernel / 1e6:8.2f} M row slices/s"
    )
    print(
        f"  numpy all-pairs baseline:            {base * 1e3:9.2f} ms"
        f"  = {work / base / 1e6:8.2f} M row slices/s"
    )
    print(f"  speed-up over the baseline: {base / kernel:.1f}x")


def loas_records(npz: Path) -> list[tuple[LayerRecord, np.ndarray]]:
    arrays = np.load(npz, allow_pickle=False)
    keys = sorted(arrays.files)
    out = []
    for i, key in enumerate(keys):
        x = arrays[key]
        if x.ndim == 4:
            nxt = next((arrays[k].shape[1] for k in keys[i + 1 :] if arrays[k].ndim == 4), 10)
            params = {
                "in_channels": x.shape[1],
                "out_channels": nxt,
                "kernel": 3,
                "stride": 1,
                "padding": 1,
            }
            out.append((LayerRecord(key, LayerKind.CONV2D, params, layout="T,C,H,W"), x))
        else:
            params = {"in_features": x.shape[1], "out_features": 10}
            out.append((LayerRecord(key, LayerKind.LINEAR, params, layout="T,K"), x))
    return out


def bench_loas(repeats: int, baseline: bool) -> None:
    print(f"== *_loas reference traces, 3x3 / stride 1 / padding 1 convolutions, tile {TILE} ==")
    for name in ("alexnet_cifar10_loas", "vgg16_cifar10_loas", "resnet19_cifar10_loas"):
        recs = loas_records(REFERENCE / "traces" / f"{name}.npz")
        t = time.perf_counter()
        mats = [g.matrix() for rec, x in recs for g in gemms_of(rec, x)]
        im2col = time.perf_counter() - t
        work = sum(row_slices(S, DEFAULT_TILE.tile_k) for S in mats)
        kernel = best_time(lambda mats=mats: [prosparsity_stats(S) for S in mats], repeats)
        line = (
            f"  {name:24s} {len(mats):2d} GEMMs {work:9d} row slices: im2col "
            f"{im2col * 1e3:7.1f} ms, kernel {kernel * 1e3:8.2f} ms "
            f"= {work / kernel / 1e6:7.2f} M/s"
        )
        if baseline:
            for S in mats:
                check_equal(S, *DEFAULT_TILE)
            base = best_time(lambda mats=mats: [baseline_stats(S) for S in mats], 1)
            line += f"; baseline {base * 1e3:9.1f} ms ({base / kernel:.0f}x)"
        print(line)


def paper_bit_densities() -> dict[str, float]:
    with (REFERENCE / "paper" / "fig11_density.csv").open() as f:
        rows = {r["metric"]: r for r in csv.DictReader(f)}
    return {w: float(v) for w, v in rows["bit_density"].items() if w != "metric"}


def synthetic_spikes(shape: tuple[int, ...], density: float, seed: int) -> np.ndarray:
    """Bernoulli spikes, time first, 70 % of each position's bits repeated across steps.

    One uniform ``u`` per element and step: ``u < 0.7`` keeps the position's base bit,
    otherwise the bit is fresh with probability ``density`` (``u < 0.7 + 0.3 * density``).
    """
    rng = np.random.default_rng(seed)
    base = rng.random(shape[1:], dtype=np.float32) < density
    fresh = np.float32(REPEAT_FRACTION + (1 - REPEAT_FRACTION) * density)
    out = np.empty(shape, dtype=bool)
    for t in range(shape[0]):
        u = rng.random(shape[1:], dtype=np.float32)
        out[t] = np.where(u < REPEAT_FRACTION, base, u < fresh)
    return out


def synthetic_workload(name: str, density: float) -> tuple[list[LayerRecord], dict]:
    records: list[LayerRecord] = []
    for rec in get_workload(name).layers:
        if rec.kind is LayerKind.ATTENTION:
            for op in attention_operands(str(rec.params["variant"])):
                p = {k: rec.params[k] for k in ("dim", "seq_len", "heads", "batch", "time_steps")}
                records.append(
                    LayerRecord(
                        f"{rec.name}_{op}",
                        LayerKind.ATTENTION_OPERAND,
                        {"operand": op, "attention": rec.name, **p},
                    )
                )
        records.append(rec)
    shaped = []
    for rec in records:
        if rec.has_data:
            shape, layout = expected_dump_shape(rec)
            rec = replace(rec, shape=shape, layout=layout)
        shaped.append(rec)
    seeds = {rec.name: SEED + i for i, rec in enumerate(shaped)}
    return shaped, seeds


def bench_workloads() -> None:
    print(
        "== the paper's 19 workloads, official shapes, synthetic spikes at the paper's "
        f"bit density (seed {SEED}), tile {TILE} =="
    )
    densities = paper_bit_densities()
    start = time.perf_counter()
    gen_total = 0.0
    for name in WORKLOADS:
        records, seeds = synthetic_workload(name, densities[name])
        by_name = {r.name: r for r in records}
        gen = [0.0]

        def loader(layer: str, by_name=by_name, seeds=seeds, name=name, gen=gen) -> np.ndarray:
            t = time.perf_counter()
            x = synthetic_spikes(by_name[layer].shape, densities[name], seeds[layer])
            gen[0] += time.perf_counter() - t
            return x

        t = time.perf_counter()
        stats = analyze_records(name, records, loader)
        wall = time.perf_counter() - t
        gen_total += gen[0]
        work = sum(g.grid.m * g.grid.shape_tiles[1] for s in stats.layers for g in s.gemms)
        n_gemms = sum(s.n_gemms for s in stats.layers)
        print(
            f"  {name:22s} {n_gemms:5d} GEMMs {work:9d} row slices  bit {stats.bit_density:.4f}"
            f" (paper {densities[name]:.4f})  product {stats.product_density:.4f}"
            f"  {wall:6.2f} s (spike generation {gen[0]:5.2f} s)"
        )
    total = time.perf_counter() - start
    print(
        f"  all 19 workloads: {total:.2f} s wall, of which {gen_total:.2f} s generating spikes;"
        f" {time.perf_counter() - T0:.2f} s since the first import (JIT/cache load included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timing repeats (best of)")
    parser.add_argument(
        "--skip-baseline-loas",
        action="store_true",
        help="do not run the (slow) NumPy baseline on the *_loas traces",
    )
    parser.add_argument("--only", choices=("lenet", "loas", "workloads"), default=None)
    args = parser.parse_args()
    if not REFERENCE.is_dir():
        sys.exit(f"reference data not found at {REFERENCE}")
    import numba

    print(f"numba {numba.__version__}, numpy {np.__version__}, {numba.get_num_threads()} threads")
    if args.only in (None, "workloads"):
        bench_workloads()  # first: its time includes the first kernel call
    if args.only in (None, "lenet"):
        bench_lenet(args.repeats)
    if args.only in (None, "loas"):
        bench_loas(max(3, args.repeats // 10), not args.skip_baseline_loas)


if __name__ == "__main__":
    main()
