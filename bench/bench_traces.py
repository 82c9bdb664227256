"""Benchmark of the trace format (``make bench``): compression, layer count, open cost.

Three sections, each printing one table:

1. ``compression``: every reference trace (``../shared/reference/traces/*.npz``, imported
   with its paper workload where one applies, and the four synthetic transformer traces)
   written with each :class:`~prosparsity.traces.layout.Compression` filter: file bytes per
   stored spike (a set bit, or a non-zero value of a multi-level layer), write time and
   read time of every layer's stored data through one open reader (best of ``--repeats``
   rounds, the filters interleaved so that a change of machine load hits all alike).
2. ``layers``: a trace of ``--layers`` tiny linear layers: write, open, ``trace info`` in
   this process, and ``prosparsity trace import`` (of a ``.npz`` of as many arrays) and
   ``prosparsity trace info`` in a fresh process each (start-up included).
3. ``vgg9``: a trace at the layer shapes of the paper's ``vgg9_cifar10`` workload
   (``trace synth``: synthetic spikes at its bit density): a cold open (digest checked,
   metadata parsed) against ``prosparsity.count`` of the same trace.

Usage: ``python bench/bench_traces.py [--only compression|layers|vgg9] [--repeats N]
[--layers N]``. Reference data is read from ``../shared/reference`` beside the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchlib import REFERENCE, SEED, best_of, load_average, require_reference, synthesize

from prosparsity.traces import metadata as trace_metadata
from prosparsity.traces import reader as trace_reader
from prosparsity.traces.importer import import_dump
from prosparsity.traces.layout import Compression
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

#: (dump, workload or None): the real traces, then the synthetic transformer traces
TRACES = (
    ("traces/lenet5_mnist.npz", "lenet5_mnist"),
    ("traces/alexnet_cifar10_loas.npz", None),
    ("traces/vgg16_cifar10_loas.npz", None),
    ("traces/resnet19_cifar10_loas.npz", None),
    ("synthetic/spikformer_cifar10.npz", "spikformer_cifar10"),
    ("synthetic/sdt_cifar10.npz", "sdt_cifar10"),
    ("synthetic/spikebert_sst2.npz", "spikebert_sst2"),
    ("synthetic/spikingbert_sst2.npz", "spikingbert_sst2"),
)




def forget_seals() -> None:
    """Drop the reader's in-process memories (verified digests, parsed metadata
    documents): the next open is cold, as a command's first."""
    trace_reader._VERIFIED.clear()
    trace_metadata.parse_meta.cache_clear()


def rewrite(src: Path, dst: Path, compression: Compression) -> None:
    """Copy a trace, every record and stored value, with another filter."""
    with TraceReader(src) as reader, TraceWriter(dst, reader.info, compression=compression) as w:
        for rec in reader.layers:
            w.add_layer(rec, reader.read(rec.name) if rec.has_data else None)


def read_all(path: Path) -> int:
    """Open once and read every layer's stored data (packed bytes for binary layers)."""
    n = 0
    with TraceReader(path) as reader:
        for rec in reader.gemm_layers:
            data = reader.read_packed(rec.name) if rec.binary else reader.read(rec.name)
            n += data.nbytes
    return n


def bench_compression(repeats: int, tmp: Path) -> None:
    filters = list(Compression)
    print(
        "== compression: file bytes per stored spike, write, read of every layer "
        f"(best of {repeats}) =="
    )
    head = f"  {'trace':22s} {'spikes':>11s} {'filter':12s} {'bytes':>11s} {'B/spike':>8s}"
    print(head + f" {'vs lzf':>7s} {'write ms':>9s} {'read ms':>8s} {'vs lzf':>7s}")
    totals = {c: [0, 0.0, 0.0] for c in filters}  # bytes, write s, read s
    all_spikes = 0
    for rel, workload in TRACES:
        dump = REFERENCE / rel
        base = import_dump(dump, workload, tmp / f"{dump.stem}.h5")
        with TraceReader(base) as reader:
            spikes = sum(reader.nnz(r.name) for r in reader.gemm_layers)
        all_spikes += spikes
        files = {c: tmp / f"{dump.stem}.{c.value}.h5" for c in filters}
        writes = {}
        for c, path in files.items():
            def write(c: Compression = c, path: Path = path, base: Path = base) -> None:
                path.unlink(missing_ok=True)
                rewrite(base, path, c)

            writes[c] = best_of(write, 3)
        reads = dict.fromkeys(filters, float("inf"))
        for _ in range(repeats):  # interleaved rounds
            for c, path in files.items():
                forget_seals()  # every read hashes its file, as a fresh process does
                reads[c] = min(reads[c], best_of(lambda path=path: read_all(path), 1))
        size = {c: path.stat().st_size for c, path in files.items()}
        for c in filters:
            print(
                f"  {dump.stem:22s} {spikes:11,d} {c.value:12s} {size[c]:11,d} "
                f"{size[c] / spikes:8.4f} {size[c] / size[Compression.LZF]:7.2f} "
                f"{writes[c] * 1e3:9.2f} {reads[c] * 1e3:8.2f} "
                f"{reads[c] / reads[Compression.LZF]:7.2f}"
            )
            totals[c][0] += size[c]
            totals[c][1] += writes[c]
            totals[c][2] += reads[c]
    lzf = totals[Compression.LZF]
    for c in filters:
        b, w, r = totals[c]
        print(
            f"  {'all eight':22s} {all_spikes:11,d} {c.value:12s} {b:11,d} "
            f"{b / all_spikes:8.4f} {b / lzf[0]:7.2f} {w * 1e3:9.2f} {r * 1e3:8.2f} "
            f"{r / lzf[2]:7.2f}"
        )


def many_layers(path: Path, n: int) -> None:
    info = TraceInfo(model=f"{n}-layers", time_steps=4)
    rng = np.random.default_rng(SEED)
    with TraceWriter(path, info) as w:
        for i in range(n):
            rec = LayerRecord(
                f"fc_{i}", LayerKind.LINEAR, {"in_features": 16, "out_features": 16},
                layout="T,K",
            )
            w.add_layer(rec, rng.random((4, 16)) < 0.2)


def bench_layers(n: int, tmp: Path) -> None:
    from prosparsity.harness.cli import main as cli_main

    print(f"== layer count: a trace of {n:,} linear layers of 4x16 spikes ==")
    path = tmp / f"layers{n}.h5"
    t = time.perf_counter()
    many_layers(path, n)
    write = time.perf_counter() - t
    forget_seals()
    t = time.perf_counter()
    with TraceReader(path) as reader:
        opened = time.perf_counter() - t
        assert len(reader.layers) == n
    forget_seals()
    sink = io.StringIO()
    t = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        try:
            cli_main(["trace", "info", str(path)])
        except SystemExit as exc:
            assert exc.code == 0, exc.code
    info_in = time.perf_counter() - t
    exe = Path(sys.executable).with_name("prosparsity")
    rng = np.random.default_rng(SEED)
    dump = tmp / f"layers{n}.npz"
    np.savez(dump, **{f"fc_{i}": rng.random((4, 16)) < 0.2 for i in range(n)})
    t = time.perf_counter()
    done = subprocess.run(
        [str(exe), "trace", "import", str(dump), "-o", str(tmp / "imported.h5")],
        capture_output=True, check=False,
    )
    imported = time.perf_counter() - t
    assert done.returncode == 0, done.stderr.decode()
    t = time.perf_counter()
    done = subprocess.run(
        [str(exe), "trace", "info", str(path)], capture_output=True, check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    info_cold = time.perf_counter() - t
    assert done.returncode == 0, done.stderr.decode()
    print(f"  write (TraceWriter)                     {write:6.2f} s")
    print(f"  open (digest checked, records built)    {opened:6.2f} s")
    print(f"  trace info, in this process             {info_in:6.2f} s")
    print(f"  prosparsity trace import (fresh process) {imported:5.2f} s  (a .npz of {n:,} arrays)")
    print(f"  prosparsity trace info (fresh process)  {info_cold:6.2f} s  "
          f"({len(done.stdout):,} B of output; file {path.stat().st_size:,} B)")


def bench_vgg9(repeats: int, tmp: Path) -> None:
    import prosparsity as ps

    def count(path: Path) -> object:
        return ps.count(path, batched=True)

    print("== open against analyse: a trace at vgg9_cifar10's layer shapes, tile 256x16 ==")
    (path,) = synthesize(["vgg9_cifar10"], tmp)  # `trace synth`: Figure 11's bit density
    count(path)  # JIT / cache load out of the way

    def cold_open() -> None:
        forget_seals()
        with TraceReader(path):
            pass

    def warm_open() -> None:
        with TraceReader(path):
            pass

    cold = best_of(cold_open, repeats)
    warm = best_of(warm_open, repeats)
    forget_seals()
    analyse = best_of(lambda: (forget_seals(), count(path)), max(3, repeats // 5))
    with TraceReader(path) as reader:
        layers, gemms = len(reader.layers), len(reader.gemm_layers)
    print(
        f"  {layers} records, {gemms} with data, {path.stat().st_size:,} B: open (cold: "
        f"digest checked, records parsed) {cold * 1e3:.2f} ms, open again {warm * 1e3:.2f} ms, "
        f"ps.count {analyse * 1e3:.1f} ms: open / analyse = {cold / analyse:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("compression", "layers", "vgg9"), default=None)
    parser.add_argument("--repeats", type=int, default=15, help="timing rounds (best of)")
    parser.add_argument("--layers", type=int, default=10_000, help="layers of section 2")
    args = parser.parse_args()
    require_reference()
    load = load_average()
    print(f"{os.cpu_count()} cores, load average {load:.2f} at the start")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.only in (None, "compression"):
            bench_compression(args.repeats, tmp)
        if args.only in (None, "layers"):
            bench_layers(args.layers, tmp)
        if args.only in (None, "vgg9"):
            bench_vgg9(args.repeats, tmp)


if __name__ == "__main__":
    main()
