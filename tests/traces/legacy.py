"""Test helpers: write a schema v1 trace exactly as the v1 writer did, write a v2 trace in
the first v2 layout (every layer its own data set), and re-seal a v2 trace after
tampering with it (so that checks behind the digest can be reached)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from prosparsity.traces import layout as trace_layout
from prosparsity.traces import seal
from prosparsity.traces import writer as trace_writer
from prosparsity.traces.schema import LayerRecord, TraceInfo


def _levels(arr: np.ndarray) -> tuple[int, ...]:
    present = tuple(int(v) for v in np.flatnonzero(np.bincount(arr.reshape(-1))))
    return (0, 1) if set(present) <= {0, 1} else present


def write_v1(
    path: Path,
    info: TraceInfo,
    layers: Sequence[tuple[LayerRecord, np.ndarray | None]],
    *,
    tool_version: str = "0.1.0",
    created: str = "2026-11-30T12:00:00+00:00",
) -> Path:
    """A v1 file: root attributes, one group per record with seven attributes, data in
    ``/layers/NNNNN/data`` (packbits or uint8, chunked, LZF, Fletcher-32)."""
    with h5py.File(path, "w", track_order=True) as f:
        for key, value in (
            ("schema", "prosparsity-trace"), ("schema_version", 1), ("model", info.model),
            ("dataset", info.dataset), ("time_steps", int(info.time_steps)),
            ("batch_size", int(info.batch_size)), ("samples", int(info.samples)),
            ("weights", info.weights), ("checkpoint", info.checkpoint),
            ("checkpoint_sha256", info.checkpoint_sha256), ("workload", info.workload),
            ("tool_version", info.tool_version or tool_version),
            ("created", info.created or created),
            ("extra", json.dumps(dict(info.extra), sort_keys=True)),
        ):  # fmt: skip
            f.attrs[key] = value
        group = f.create_group("layers", track_order=True)
        for i, (rec, data) in enumerate(layers):
            g = group.create_group(f"{i:05d}")
            shape, levels = rec.shape, rec.levels
            if data is not None:
                arr = np.asarray(data).astype(np.uint8)
                shape, levels = arr.shape, rec.levels or _levels(arr)
                binary = set(levels) <= {0, 1}
                stored = np.packbits(arr, axis=-1) if binary else arr
                ds = g.create_dataset(
                    "data", data=stored, chunks=True, compression="lzf", fletcher32=True
                )
                ds.attrs["encoding"] = "packbits" if binary else "uint8"
            g.attrs["name"] = rec.name
            g.attrs["kind"] = str(rec.kind)
            g.attrs["params"] = json.dumps(dict(rec.params), sort_keys=True)
            g.attrs["shape"] = np.asarray(shape, dtype=np.int64)
            g.attrs["layout"] = rec.layout
            g.attrs["levels"] = np.asarray(levels, dtype=np.int64)
            g.attrs["in_network"] = bool(rec.in_network)
        f.attrs["layer_count"] = len(layers)
        f.attrs["complete"] = True
    return path


def reseal(path: Path) -> None:
    """Write a fresh, valid seal over a (tampered) v2 file."""
    with open(path, "r+b") as fh:
        seal.seal(fh, 2)


def edit_meta(path: Path, fn) -> None:
    """Apply ``fn`` to the parsed ``/meta`` JSON of a v2 trace, store it, re-seal."""
    with h5py.File(path, "a") as f:
        doc = json.loads(f["meta"][()].tobytes())
        fn(doc)
        del f["meta"]
        f.create_dataset("meta", data=np.frombuffer(json.dumps(doc).encode(), np.uint8))
    reseal(path)


def tamper(path: Path, fn) -> None:
    """Apply ``fn`` to the open h5py file (append mode); re-seal if it was v2."""
    sealed = path.read_bytes()[:8] != seal.HDF5_SIGNATURE
    with h5py.File(path, "a") as f:
        fn(f)
    if sealed:
        reseal(path)


def _first_v2_create_dataset(self, index: int, stored: np.ndarray) -> None:
    """``TraceWriter._create_dataset`` as the first v2 writer had it (b699330): a layer of
    at most 16 KiB stored in HDF5's compact layout, larger ones chunked with LZF."""
    group = self._require_file()["data"]
    name = f"{index:05d}"
    if stored.nbytes <= 16 << 10:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple(stored.shape)
        dsid = h5py.h5d.create(group.id, name.encode(), h5py.h5t.STD_U8LE, space, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.ascontiguousarray(stored))
        return
    group.create_dataset(name, data=stored, chunks=trace_layout.chunk_shape(stored.shape),
                         compression="lzf")


@contextmanager
def first_v2_layout() -> Iterator[None]:
    """Within the block, TraceWriter writes the first v2 layout (no ``/pool``)."""
    real = trace_writer.TraceWriter._create_dataset
    trace_writer.TraceWriter._create_dataset = _first_v2_create_dataset
    try:
        yield
    finally:
        trace_writer.TraceWriter._create_dataset = real
