"""HDF5 trace format v2 (written) and v1 (still read): writer, streaming reader, checks.

File layout of a v2 trace (all strings UTF-8)::

    bytes 0..511            the seal (HDF5 user block, see :mod:`prosparsity.traces.seal`):
                            a text header with the SHA-256 of every following byte
    /                       attributes: schema="prosparsity-trace", schema_version=2
    /meta                   1-D uint8 data set: one JSON document (UTF-8) holding the file
                            attributes ("info") and every layer record ("layers", in
                            execution order: name, kind, params, shape, layout, levels,
                            in_network, encoding). Opening reads it in one go: O(1) HDF5
                            operations whatever the number of layers.
    /data/00000, 00001...   GEMM layers only, named by the record's index. Binary layers
                            (levels within {0, 1}) are bit-packed with ``np.packbits``
                            along the last axis (encoding "packbits", last axis
                            ceil(W / 8) bytes, padding bits zero); multi-level layers are
                            plain uint8 (encoding "uint8"). Small layers (at most
                            ``COMPACT_BYTES`` stored) use HDF5's compact layout; larger ones
                            are chunked along the first axis and compressed with Zstandard
                            (hdf5plugin's filter; LZF in traces written before 2026-12-01,
                            still read: the filter is HDF5's business, see
                            :class:`Compression`).

The seal is written last, after HDF5 has closed the file; then the temporary file is
renamed onto the target. A reader checks the digest before HDF5 parses a byte, so a file
damaged anywhere (data, chunk index, object headers, the JSON) is one clean
:class:`~prosparsity.core.errors.TraceError`, in the time of one read of the file.

v1 traces (HDF5 at offset 0, no seal; one group ``/layers/NNNNN`` per record with seven
attributes, data in ``/layers/NNNNN/data`` with an ``encoding`` attribute, Fletcher-32
checksummed chunks, ``complete`` and ``layer_count`` root attributes) are read as
before and checked as far as a file without a digest allows: structure, chunk counts
(a damaged chunk index would otherwise read as zeros), checksums, levels and padding
bits. :attr:`TraceReader.has_digest` is False for them; ``prosparsity trace upgrade``
rewrites one as v2.

Writing goes to ``<name>.tmp-<pid>-<hex>`` beside the target (stale ones of killed
writers are removed first) and is renamed with :func:`os.replace` only when the ``with``
block exits cleanly. HDF5 writes through a small file object that records the first
OS error (a full disk, a quota, an I/O error) and stops passing writes on, so HDF5 itself
never fails mid-way (which can crash it); the writer then raises one ``TraceError``
naming the path and the reason and deletes the temporary file.

Every problem a user can provoke (not HDF5, truncated, damaged, wrong schema, missing
field, shape mismatch, values outside the declared levels, set padding bits, an empty
layer, a non-positive time-step or batch count) raises :class:`TraceError` naming the
file, the layer and the problem.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, BinaryIO

import h5py
import numpy as np

from prosparsity.core import signals
from prosparsity.core.atomic import (
    TEMP_RE,
    check_output_path,
    reason,
    remove_stale_temps,
    temp_path,
)
from prosparsity.core.errors import ConfigError, TraceError, WriteError
from prosparsity.traces import seal as _seal
from prosparsity.traces.schema import (
    READABLE_VERSIONS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    LayerKind,
    LayerRecord,
    TraceInfo,
)

__all__ = [
    "Compression",
    "TraceReader",
    "TraceWriteError",
    "TraceWriter",
    "read_info",
    "read_layers",
    "upgrade",
]

log = logging.getLogger(__name__)

ENC_PACKBITS = "packbits"
ENC_UINT8 = "uint8"
_ENCODINGS = (ENC_PACKBITS, ENC_UINT8)
_LAYERS = "layers"  # v1
_DATA = "data"  # v1: /layers/NNNNN/data; v2: the group /data
_META = "meta"  # v2
_CHUNK_BYTES = 1 << 20  # target size of one HDF5 chunk
#: layers storing at most this many bytes share the data set ``/pool`` (streamed layers
#: too when ``begin_layer`` is given their full shape)
POOL_BYTES = 16 << 10
_POOL = "pool"  # v2: the small layers' stored bytes, concatenated
_REQUIRED_ATTRS = (
    "schema",
    "schema_version",
    "model",
    "dataset",
    "time_steps",
    "batch_size",
    "samples",
    "weights",
    "checkpoint",
    "checkpoint_sha256",
    "workload",
    "tool_version",
    "created",
)
_WEIGHTS = ("trained", "random", "unknown")
_LAYER_ATTRS = ("name", "kind", "params", "shape", "layout", "levels", "in_network")
_INFO_STR = ("model", "dataset", "weights", "checkpoint", "checkpoint_sha256", "workload",
             "tool_version", "created")
_INFO_INT = ("time_steps", "batch_size", "samples")


class Compression(StrEnum):
    """The HDF5 filter of a trace's chunked layer data (compact layers are stored raw).

    Readers need no choice: HDF5 records the filter with each data set, and every filter
    listed here is readable (LZF is built into h5py, the others come from the
    ``hdf5plugin`` package, imported by the reader only when a data set needs it).
    ``bench/bench_traces.py`` measures them on the reference traces.
    """

    NONE = "none"
    LZF = "lzf"
    #: Zstandard, level 3 (hdf5plugin's Zstd filter, id 32015)
    ZSTD = "zstd"
    #: Blosc2 with its zstd codec, level 5, bit shuffle (hdf5plugin's Blosc2, id 32026)
    BLOSC2_ZSTD = "blosc2-zstd"
    #: Blosc2 with its LZ4 codec, level 5, byte shuffle
    BLOSC2_LZ4 = "blosc2-lz4"


#: the filter new traces are written with
DEFAULT_COMPRESSION = Compression.ZSTD

# (filter id, client data) of the hdf5plugin filters; the ids are registered with The HDF
# Group, the client data layout is the one hdf5plugin's Zstd / Blosc2 classes build
_ZSTD_ID = 32015
_BLOSC2_ID = 32026
_PLUGIN_FILTERS: dict[Compression, tuple[int, tuple[int, ...]]] = {
    Compression.ZSTD: (_ZSTD_ID, (3,)),
    Compression.BLOSC2_ZSTD: (_BLOSC2_ID, (0, 0, 0, 0, 5, 2, 5)),
    Compression.BLOSC2_LZ4: (_BLOSC2_ID, (0, 0, 0, 0, 5, 1, 1)),
}


def _register_plugins() -> bool:
    """Register hdf5plugin's filters with HDF5 (its import does; ~50 ms, so only when a
    data set needs one). Returns whether the package is installed."""
    try:
        import hdf5plugin  # noqa: F401 - registers its filters on import
    except ImportError:  # pragma: no cover - a locked dependency
        return False
    return True


def _filter_kwargs(compression: Compression) -> dict[str, Any]:
    """``create_dataset`` keyword arguments of a filter."""
    if compression is Compression.NONE:
        return {}
    if compression is Compression.LZF:
        return {"compression": "lzf"}
    _register_plugins()
    fid, opts = _PLUGIN_FILTERS[compression]
    return {"compression": fid, "compression_opts": opts}


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prosparsity-harness")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _tuplify(value: Any) -> Any:
    """JSON lists back to tuples, so read records compare equal to written ones."""
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuplify(v) for k, v in value.items()}
    return value


def _packed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[:-1], (shape[-1] + 7) // 8)


def _chunk_shape(stored: tuple[int, ...]) -> tuple[int, ...] | bool:
    """Chunks holding a slab of the first axis and whole trailing sub-arrays.

    Returns ``True`` (let h5py choose) when one first-axis entry alone exceeds the
    target chunk size or the shape is empty.
    """
    if not stored or 0 in stored[1:]:
        return True
    row = math.prod(stored[1:])
    if row > _CHUNK_BYTES:
        return True
    # a first axis of unknown length (streamed) gets chunks of up to 4096 entries
    first = max(1, min(stored[0] or 4096, _CHUNK_BYTES // row))
    return (first, *stored[1:])


def _levels_of(data: np.ndarray) -> tuple[int, ...]:
    if data.size == 0:
        return ()
    if data.dtype == np.bool_:
        return tuple(int(v) for v in np.unique(data))
    counts = np.bincount(data.reshape(-1))
    return tuple(int(v) for v in np.flatnonzero(counts))


def _default_levels(present: tuple[int, ...]) -> tuple[int, ...]:
    """Levels recorded when none are declared: (0, 1) for any binary data (an all-zero
    or all-one layer is still a spike layer), else the distinct values present."""
    return (0, 1) if set(present) <= {0, 1} else present


def _as_uint8(path: Path, name: str, data: np.ndarray) -> np.ndarray:
    """Spike data as uint8 (bool and small integer dtypes only)."""
    arr = np.asarray(data)
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        return arr.view(np.uint8) if arr.dtype == np.bool_ else arr
    if np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating):
        if arr.size:
            lo, hi = arr.min(), arr.max()
            if lo < 0 or hi > 255:
                raise TraceError(
                    path, f"values must be integers in 0..255, found range {lo}..{hi}", name
                )
        conv = arr.astype(np.uint8)
        if np.issubdtype(arr.dtype, np.floating) and not np.array_equal(conv, arr):
            raise TraceError(path, "values must be whole numbers (spike counts)", name)
        return conv
    raise TraceError(path, f"unsupported data type {arr.dtype} (expected bool or uint8)", name)


class TraceWriteError(TraceError):
    """Writing a trace failed in the file system (full disk, quota, I/O error, bad path);
    the message names the target and the OS reason."""


def _check_info(path: Path, info: TraceInfo) -> None:
    """The file attributes every reader relies on: known weights, positive counts."""
    if info.weights not in _WEIGHTS:
        raise TraceError(
            path,
            f"TraceInfo.weights must be one of {', '.join(_WEIGHTS)}, got '{info.weights}'",
        )
    for field in _INFO_INT:
        value = getattr(info, field)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise TraceError(path, f"{field} must be a whole number >= 1, found {value!r}")


def _empty_layer(path: Path, name: str, shape: tuple[int, ...]) -> TraceError:
    return TraceError(
        path,
        f"empty layer: its input of shape {shape} holds no values (a GEMM layer needs at "
        "least one; leave the layer out instead)",
        name,
    )


def _record_json(
    record: LayerRecord, encoding: str | None, params: str, pool: tuple[int, int] | None
) -> dict[str, Any]:
    doc = {
        "name": record.name,
        "kind": str(record.kind),
        "params": json.loads(params),
        "shape": list(record.shape),
        "layout": record.layout,
        "levels": list(record.levels),
        "in_network": bool(record.in_network),
        "encoding": encoding,
    }
    if pool is not None:
        doc["pool"] = list(pool)
    return doc


def _open_temp(path: Path) -> BinaryIO:
    """The temporary file HDF5 writes through (a seam for fault-injection tests)."""
    return open(path, "x+b", buffering=0)  # noqa: SIM115 - closed by the writer


class _Sink:
    """The file object h5py's ``fileobj`` driver writes through.

    The first failure of a write, truncate or flush (``ENOSPC``, ``EDQUOT``, ``EIO``, or a
    Ctrl-C that lands inside the call) is recorded and every later write is dropped while
    reporting success: HDF5 never sees a failed write, which it does not survive (h5py
    segfaults closing such a file). The writer checks :attr:`failure` after each HDF5 call
    and turns it into one error; the file is then deleted, so the dropped bytes never
    matter.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.failure: BaseException | None = None

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if self.failure is None:
            try:
                view = memoryview(data).cast("B")
                while view:
                    done = self.fh.write(view)
                    if done is None or done <= 0:
                        raise OSError(5, os.strerror(5))  # EIO: a write that wrote nothing
                    view = view[done:]
            except BaseException as exc:  # noqa: BLE001 - recorded, re-raised by the writer
                self._fail(exc)
        return size

    def read(self, size: int = -1) -> bytes:
        return self.fh.read(size)

    def readinto(self, buf: Any) -> int:
        return self.fh.readinto(buf)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.failure is None:
            try:
                return self.fh.truncate(size)
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)
        return size if size is not None else self.fh.tell()

    def flush(self) -> None:
        if self.failure is None:
            try:
                self.fh.flush()
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)


class _LayerState:
    """A layer being written incrementally."""

    __slots__ = ("record", "dataset", "rows", "present", "encoding", "slabs")

    def __init__(
        self, record: LayerRecord, dataset: h5py.Dataset | None, encoding: str
    ) -> None:
        self.record = record
        self.dataset = dataset  # None: a small layer, kept in ``slabs`` for the pool
        self.rows = 0
        self.present: set[int] = set()
        self.encoding = encoding
        self.slabs: list[np.ndarray] = []


class TraceWriter:
    """Write a v2 trace, layer by layer in execution order.

    Use as a context manager. Whole layers go through :meth:`add_layer`; layers captured
    piecewise (one batch or sample at a time) through :meth:`begin_layer` and
    :meth:`append`, which appends along the first axis.

    Args:
        path: target file; it appears only when the ``with`` block exits cleanly.
        info: file attributes. Empty ``tool_version`` / ``created`` are filled in.
        compression: the HDF5 filter of chunked layer data (see :class:`Compression`).

    Raises:
        TraceError: a target that cannot be a file (empty, a directory, under a plain
            file, a name too long), invalid ``info`` (unknown weights, a time-step, batch
            or sample count below 1), and, while writing, any failed write (path and
            reason, e.g. ``No space left on device``).

    Example:
        >>> with TraceWriter("t.h5", TraceInfo(model="m")) as w:  # doctest: +SKIP
        ...     w.add_layer(LayerRecord("fc", "linear", {...}, layout="T,K"), spikes)
    """

    def __init__(
        self,
        path: str | Path,
        info: TraceInfo,
        *,
        compression: Compression | str = DEFAULT_COMPRESSION,
    ) -> None:
        try:
            self.path = check_output_path(path, "trace")
        except WriteError as exc:
            raise TraceWriteError(exc.path, exc.problem) from None
        self.info = replace(
            info,
            tool_version=info.tool_version or _tool_version(),
            created=info.created or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        _check_info(self.path, self.info)
        try:
            self.compression = Compression(compression)
        except ValueError:
            choices = ", ".join(c.value for c in Compression)
            raise TraceError(
                self.path, f"unknown compression '{compression}' (one of {choices})"
            ) from None
        self._filter = _filter_kwargs(self.compression)
        self.tmp_path = temp_path(self.path)
        self._fh: BinaryIO | None = None
        self._sink: _Sink | None = None
        self._file: h5py.File | None = None
        self._names: dict[str, int] = {}
        self._open: dict[str, _LayerState] = {}
        self._records: list[LayerRecord] = []
        self._encodings: list[str | None] = []
        self._params: list[str] = []
        self._pooled: dict[int, tuple[int, int]] = {}  # record index -> (offset, bytes)
        self._pool = bytearray()  # small layers' bytes not yet in /pool
        self._pool_done = 0  # bytes already written to /pool

    # -- context management -------------------------------------------------------------

    def __enter__(self) -> TraceWriter:
        if self.path.is_dir():
            raise TraceError(self.path, "is a directory; give a file name for the trace")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise TraceError(
                self.path, f"cannot create the trace: {self.path.parent} is not a directory"
            ) from None
        except OSError as exc:
            raise TraceError(
                self.path, f"cannot create folder {self.path.parent}: {reason(exc)}"
            ) from None
        remove_stale_temps(self.path)
        try:
            self._fh = _open_temp(self.tmp_path)
        except OSError as exc:
            raise TraceWriteError(self.path, f"cannot write the trace: {reason(exc)}") from None
        self._sink = _Sink(self._fh)
        try:
            with self._io():
                self._file = h5py.File(
                    self._sink, "w", userblock_size=_seal.USERBLOCK_BYTES, track_order=False
                )
                self._file.attrs["schema"] = SCHEMA_NAME
                self._file.attrs["schema_version"] = SCHEMA_VERSION
                self._file.create_group(_DATA)
        except BaseException:
            self._discard()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is None:
            return
        if exc_type is not None:
            self._discard()
            log.debug("discarded %s after %s", self.tmp_path, exc_type.__name__)
            return
        try:
            self._commit()
        except BaseException:
            self._discard()
            raise
        log.debug("wrote %s (%d layers)", self.path, len(self._records))

    def _commit(self) -> None:
        f = self._require_file()
        for name in list(self._open):
            self._finish(name)
        self._flush_pool(final=True)
        meta = {
            "info": {
                **{k: getattr(self.info, k) for k in _INFO_STR},
                **{k: int(getattr(self.info, k)) for k in _INFO_INT},
                "extra": dict(self.info.extra),
            },
            "layers": [
                _record_json(rec, enc, params, self._pooled.get(i))
                for i, (rec, enc, params) in enumerate(
                    zip(self._records, self._encodings, self._params, strict=True)
                )
            ],
        }
        blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)
        with self._io():
            f.create_dataset(_META, data=blob)
            f.close()
        self._file = None
        fh = self._fh
        assert fh is not None
        try:
            _seal.seal(fh, SCHEMA_VERSION)
            os.fsync(fh.fileno())
            fh.close()
            self._fh = None
            signals.check()  # a Ctrl-C that a library swallowed still publishes nothing
            os.replace(self.tmp_path, self.path)
        except OSError as exc:
            raise TraceWriteError(self.path, f"cannot write the trace: {reason(exc)}") from None

    def _discard(self) -> None:
        """Drop everything written: close HDF5 without touching the disk, delete the temp."""
        if self._sink is not None and self._sink.failure is None:
            self._sink.failure = RuntimeError("discarded")  # close writes nothing more
        f, self._file = self._file, None
        fh, self._fh = self._fh, None
        try:
            if f is not None:
                try:
                    f.close()
                except Exception:  # noqa: BLE001 - the file is deleted below anyway
                    log.debug("closing the discarded %s failed", self.tmp_path, exc_info=True)
        finally:  # even when a second Ctrl-C lands in the close
            if fh is not None:
                try:
                    fh.close()
                except OSError:
                    pass
            try:
                self.tmp_path.unlink(missing_ok=True)
            except OSError:  # pragma: no cover - nothing more can be done
                log.warning("could not remove the temporary file %s", self.tmp_path)

    @contextmanager
    def _io(self) -> Iterator[None]:
        """Run HDF5 calls; turn a recorded write failure (or h5py's OSError) into one
        TraceError, and a Ctrl-C recorded inside the file object into KeyboardInterrupt."""
        try:
            with signals.deferred():  # no Ctrl-C exception inside HDF5's callbacks
                yield
        except OSError as exc:
            failure = self._sink.failure if self._sink is not None else None
            if isinstance(failure, BaseException) and not isinstance(failure, OSError):
                raise failure from None
            raise TraceWriteError(
                self.path, f"cannot write the trace: {reason(failure or exc)}"
            ) from None
        failure = self._sink.failure if self._sink is not None else None
        if failure is not None:
            if isinstance(failure, OSError):
                raise TraceWriteError(self.path, f"cannot write the trace: {reason(failure)}")
            raise failure

    # -- writing -------------------------------------------------------------------------

    @property
    def records(self) -> tuple[LayerRecord, ...]:
        """Records written so far (final shapes and levels), in execution order."""
        return tuple(self._records)

    def _require_file(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError("TraceWriter must be used inside a `with` block")
        return self._file

    def _new_index(self, record: LayerRecord) -> tuple[int, str]:
        self._require_file()
        signals.check()  # a Ctrl-C whose exception a callback dropped ends it here
        if record.name in self._names:
            raise TraceError(self.path, "duplicate layer name", record.name)
        params = self._params_json(record)  # fail before anything of the layer is written
        index = len(self._names)
        self._names[record.name] = index
        return index, params

    def _params_json(self, record: LayerRecord) -> str:
        try:
            return json.dumps(_jsonable(dict(record.params)), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TraceError(
                self.path, f"params must be JSON-serialisable: {exc}", record.name
            ) from None

    def _check_layout(self, record: LayerRecord) -> None:
        if record.layout and len(record.axes) != len(record.shape):
            raise TraceError(
                self.path,
                f"layout '{record.layout}' names {len(record.axes)} axes "
                f"but the shape {record.shape} has {len(record.shape)}",
                record.name,
            )

    def _push(self, record: LayerRecord, encoding: str | None, params: str) -> None:
        self._records.append(record)
        self._encodings.append(encoding)
        self._params.append(params)

    def _pool_add(self, index: int, stored: np.ndarray) -> None:
        """Small layers share one data set: O(1) HDF5 objects however many layers."""
        self._pooled[index] = (self._pool_done + len(self._pool), stored.nbytes)
        self._pool += np.ascontiguousarray(stored).tobytes()
        self._flush_pool()

    def _create_dataset(self, index: int, stored: np.ndarray) -> None:
        if stored.nbytes <= POOL_BYTES:
            self._pool_add(index, stored)
            return
        group = self._require_file()[_DATA]
        group.create_dataset(
            f"{index:05d}", data=stored, chunks=_chunk_shape(stored.shape), **self._filter
        )

    def _flush_pool(self, final: bool = False) -> None:
        """Write the pooled bytes to ``/pool`` in whole chunks (the rest when ``final``).

        Each chunk is written once, so each is compressed once. A pool that never filled
        a chunk is written at the end as one data set of exactly its size.
        """
        f = self._require_file()
        whole = len(self._pool) // _CHUNK_BYTES * _CHUNK_BYTES
        size = len(self._pool) if final else whole
        if not size:
            return
        data = np.frombuffer(bytes(self._pool[:size]), np.uint8)
        with self._io():
            if _POOL not in f and final:
                f.create_dataset(_POOL, data=data, chunks=(size,), **self._filter)
            else:
                if _POOL not in f:
                    f.create_dataset(
                        _POOL, shape=(0,), maxshape=(None,), dtype=np.uint8,
                        chunks=(_CHUNK_BYTES,), **self._filter,
                    )
                ds = f[_POOL]
                ds.resize(self._pool_done + size, axis=0)
                ds[self._pool_done : self._pool_done + size] = data
        self._pool_done += size
        del self._pool[:size]

    def add_layer(self, record: LayerRecord, data: np.ndarray | None = None) -> LayerRecord:
        """Append one whole layer in execution order.

        Args:
            record: the layer's metadata. For GEMM kinds ``record.shape`` may be empty
                (taken from ``data``) or must equal ``data.shape``; empty
                ``record.levels`` are computed from the data, declared levels are
                checked (values outside them, e.g. a 2 in a layer declared binary, are
                an error).
            data: the layer's input (bool or small non-negative integers, at least one
                value); required for GEMM kinds, forbidden for the others.

        Returns:
            The record as stored (with shape and levels filled in).
        """
        self._require_file()
        if not record.has_data:
            if data is not None:
                raise TraceError(self.path, f"a {record.kind} record carries no data", record.name)
            _, params = self._new_index(record)
            self._push(record, None, params)
            return record
        if data is None:
            raise TraceError(self.path, f"a {record.kind} layer needs its input data", record.name)
        arr = _as_uint8(self.path, record.name, np.asarray(data))
        if arr.ndim == 0:
            raise TraceError(self.path, "data must have at least one axis", record.name)
        if record.shape and tuple(record.shape) != arr.shape:
            raise TraceError(
                self.path,
                f"shape mismatch: record declares {record.shape}, data has {arr.shape}",
                record.name,
            )
        if arr.size == 0:
            raise _empty_layer(self.path, record.name, arr.shape)
        present = _levels_of(arr)
        levels = record.levels or _default_levels(present)
        self._check_levels(record.name, levels, present)
        record = replace(record, shape=arr.shape, levels=levels)
        self._check_layout(record)
        index, params = self._new_index(record)
        encoding = ENC_PACKBITS if record.binary else ENC_UINT8
        stored = np.packbits(arr, axis=-1) if encoding == ENC_PACKBITS else arr
        with self._io():
            self._create_dataset(index, stored)
        self._push(record, encoding, params)
        return record

    def _check_levels(self, name: str, declared: Sequence[int], present: Sequence[int]) -> None:
        extra = sorted(set(present) - set(declared))
        if extra:
            what = "binary" if set(declared) <= {0, 1} else f"levels {tuple(declared)}"
            raise TraceError(
                self.path,
                f"data holds values {extra} but the layer is declared {what}",
                name,
            )

    def begin_layer(self, record: LayerRecord) -> None:
        """Start a GEMM layer whose data arrives in pieces along the first axis.

        ``record.shape`` gives the full shape; its first entry may be 0 when the number
        of first-axis entries is not known in advance (it is then fixed by what was
        appended). ``record.levels`` decides the encoding: empty or within {0, 1} means
        binary (bit-packed), anything else uint8. Several layers may be open at once
        (the hooks of one forward pass); each is finished by :meth:`end_layer` or, at
        the latest, when the writer closes. The layer's place in execution order is the
        order of the :meth:`begin_layer` / :meth:`add_layer` calls.
        """
        self._require_file()
        if not record.has_data:
            raise TraceError(self.path, f"a {record.kind} record carries no data", record.name)
        if len(record.shape) < 2:
            raise TraceError(
                self.path,
                "begin_layer needs the layer's full shape with at least two axes "
                "(appending happens along the first, packing along the last)",
                record.name,
            )
        if 0 in record.shape[1:]:
            raise _empty_layer(self.path, record.name, record.shape)
        self._check_layout(record)
        index, params = self._new_index(record)
        encoding = ENC_PACKBITS if record.binary else ENC_UINT8
        full = tuple(record.shape)
        tail = full[1:]
        stored_tail = _packed_shape(full)[1:] if encoding == ENC_PACKBITS else tail
        if full[0] and full[0] * math.prod(stored_tail) <= POOL_BYTES:
            # small, of known size: kept in memory until end_layer, then pooled
            self._open[record.name] = _LayerState(record, None, encoding)
            self._push(record, encoding, params)
            return
        with self._io():
            ds = self._require_file()[_DATA].create_dataset(
                f"{index:05d}",
                shape=(0, *stored_tail),
                maxshape=(None, *stored_tail),
                dtype=np.uint8,
                chunks=_chunk_shape((full[0], *stored_tail)),
                **self._filter,
            )
        self._open[record.name] = _LayerState(record, ds, encoding)
        self._push(record, encoding, params)  # placeholder, replaced in _finish

    def append(self, name: str, chunk: np.ndarray, *, packed: bool = False) -> None:
        """Append a slab of the first axis to a layer opened by :meth:`begin_layer`.

        Args:
            name: the layer.
            chunk: values of shape ``(n, *shape[1:])``; with ``packed=True`` the output of
                ``np.packbits(values, axis=-1)`` (for binary layers; cheapest, since the
                caller packs inside its hook and nothing is checked but the shape and
                the padding bits).
            packed: whether ``chunk`` is already bit-packed.
        """
        signals.check()
        state = self._open.get(name)
        if state is None:
            raise TraceError(self.path, "append to a layer not opened by begin_layer", name)
        rec = state.record
        arr = np.asarray(chunk)
        if packed:
            if state.encoding != ENC_PACKBITS:
                raise TraceError(self.path, "packed chunks need a binary layer", name)
            if arr.dtype != np.uint8:
                raise TraceError(self.path, f"packed chunk must be uint8, got {arr.dtype}", name)
            want = _packed_shape(rec.shape)[1:]
            if arr.shape[1:] != want:
                raise TraceError(
                    self.path,
                    f"shape mismatch: packed chunk {arr.shape}, expected (n, *{want})",
                    name,
                )
            width = rec.shape[-1]
            if width % 8 and arr.size and np.any(arr[..., -1] & _pad_mask(width)):
                raise TraceError(self.path, "packed chunk has padding bits set", name)
            stored = arr
            if stored.size and np.any(stored):
                state.present.update((0, 1))
            elif stored.size:
                state.present.add(0)
        else:
            arr = _as_uint8(self.path, name, arr)
            if arr.shape[1:] != rec.shape[1:] or arr.ndim != len(rec.shape):
                raise TraceError(
                    self.path,
                    f"shape mismatch: chunk {arr.shape}, expected (n, *{rec.shape[1:]})",
                    name,
                )
            present = _levels_of(arr)
            declared = rec.levels or ((0, 1) if state.encoding == ENC_PACKBITS else ())
            self._check_levels(name, declared, present)
            state.present.update(present)
            stored = np.packbits(arr, axis=-1) if state.encoding == ENC_PACKBITS else arr
        n = stored.shape[0]
        if rec.shape[0] and state.rows + n > rec.shape[0]:
            raise TraceError(
                self.path,
                f"shape mismatch: {state.rows + n} entries appended along the first axis, "
                f"record declares {rec.shape[0]}",
                name,
            )
        ds = state.dataset
        if ds is None:
            state.slabs.append(np.array(stored, dtype=np.uint8, copy=True))
        else:
            with self._io():
                ds.resize(state.rows + n, axis=0)
                ds[state.rows : state.rows + n] = stored
        state.rows += n

    def end_layer(self, name: str) -> LayerRecord:
        """Finish a layer opened by :meth:`begin_layer`; returns the stored record."""
        self._require_file()
        return self._finish(name)

    def _finish(self, name: str) -> LayerRecord:
        state = self._open.pop(name, None)
        if state is None:
            raise TraceError(self.path, "end_layer on a layer that is not open", name)
        rec = state.record
        if rec.shape[0] and state.rows != rec.shape[0]:
            raise TraceError(
                self.path,
                f"shape mismatch: {state.rows} entries appended along the first axis, "
                f"record declares {rec.shape[0]}",
                name,
            )
        if state.rows == 0:
            raise _empty_layer(self.path, name, (0, *rec.shape[1:]))
        levels = rec.levels or _default_levels(tuple(sorted(state.present)))
        final = replace(rec, shape=(state.rows, *rec.shape[1:]), levels=levels)
        index = self._names[name]
        if state.dataset is None:
            with self._io():
                self._pool_add(index, np.concatenate(state.slabs, axis=0))
        self._records[index] = final
        return final


def _pad_mask(width: int) -> np.uint8:
    """The padding bits of the last packed byte of a row of ``width`` bits."""
    return np.uint8((1 << (8 - width % 8)) - 1) if width % 8 else np.uint8(0)


# ---------------------------------------------------------------------------------------
# reading


def _popcount(packed: np.ndarray) -> int:
    """Number of set bits in a uint8 array."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return int(np.bitwise_count(packed).sum(dtype=np.int64))
    return int(np.unpackbits(packed).sum(dtype=np.int64))  # pragma: no cover


def _attr_str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


class _Bad(ValueError):
    """A field of the v2 JSON document is invalid (turned into a TraceError)."""

    def __init__(self, problem: str, layer: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.layer = layer


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str,
         layer: str | None = None) -> Any:
    if key not in obj:
        raise _Bad(f"{what} lacks the field '{key}'", layer)
    value = obj[key]
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise _Bad(f"{what} field '{key}' has the wrong type ({type(value).__name__})", layer)
    return value


def _int_list(value: Any, what: str, layer: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise _Bad(f"layer field '{what}' must be a list of whole numbers", layer)
    return tuple(value)


def _parse_info(obj: Any) -> TraceInfo:
    if not isinstance(obj, dict):
        raise _Bad("the metadata lacks the file attributes ('info')")
    values: dict[str, Any] = {k: _get(obj, k, str, "info") for k in _INFO_STR}
    values.update({k: _get(obj, k, int, "info") for k in _INFO_INT})
    extra = _get(obj, "extra", dict, "info")
    if not all(isinstance(v, str) for v in extra.values()):
        raise _Bad("info field 'extra' must map names to strings")
    return TraceInfo(**values, extra=extra)


def _parse_layer(obj: Any, index: int) -> tuple[LayerRecord, str | None, tuple[int, int] | None]:
    if not isinstance(obj, dict):
        raise _Bad(f"layer #{index} is not a JSON object")
    name = obj.get("name")
    label = name if isinstance(name, str) else f"#{index}"
    name = _get(obj, "name", str, "layer", label)
    kind_text = _get(obj, "kind", str, "layer", label)
    try:
        kind = LayerKind(kind_text)
    except ValueError:
        raise _Bad(f"unknown layer kind '{kind_text}'", label) from None
    params = _get(obj, "params", dict, "layer", label)
    shape = _int_list(obj.get("shape"), "shape", label)
    levels = _int_list(obj.get("levels"), "levels", label)
    layout = _get(obj, "layout", str, "layer", label)
    in_network = _get(obj, "in_network", bool, "layer", label)
    encoding = obj.get("encoding")
    if kind.is_gemm:
        if encoding not in _ENCODINGS:
            raise _Bad(f"unknown data encoding {encoding!r}", label)
    elif encoding is not None:
        raise _Bad(f"a {kind} record carries no data but declares encoding {encoding!r}", label)
    pool = obj.get("pool")
    if pool is not None:
        if not kind.is_gemm:
            raise _Bad(f"a {kind} record carries no data but has a place in the pool", label)
        pool = _int_list(pool, "pool", label)
        if len(pool) != 2 or min(pool) < 0:
            raise _Bad("layer field 'pool' must be [offset, bytes], both >= 0", label)
    rec = LayerRecord(name, kind, _tuplify(params), shape, layout, levels, in_network)
    return rec, encoding, pool


@dataclass(frozen=True)
class _Meta:
    """A v2 trace's parsed metadata document: the file attributes, the records, and per
    record with data its encoding and place (data set path; offset and bytes in /pool)."""

    info: TraceInfo
    layers: tuple[LayerRecord, ...]
    encodings: Mapping[str, str]
    where: Mapping[str, str]
    pool_at: Mapping[str, tuple[int, int]]


@functools.lru_cache(maxsize=32)
def _parse_meta(raw: bytes) -> _Meta:
    """Parse and check the ``/meta`` document ``raw``; raises :class:`_Bad`.

    A pure function of the bytes (every value it returns is immutable), so it is
    remembered: a process that opens the same trace again (a sweep's tasks, a command
    visiting several tile sizes) parses its records once. Bad documents raise and are
    not remembered."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Bad(f"the metadata is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise _Bad("the metadata lacks the layer list ('layers')")
    info = _parse_info(doc.get("info"))
    layers = []
    names: set[str] = set()
    encodings: dict[str, str] = {}
    where: dict[str, str] = {}
    pool_at: dict[str, tuple[int, int]] = {}
    for i, obj in enumerate(doc["layers"]):
        rec, enc, pool = _parse_layer(obj, i)
        if rec.name in names:
            raise _Bad("duplicate layer name", rec.name)
        names.add(rec.name)
        if enc is not None:
            encodings[rec.name] = enc
            if pool is None:
                where[rec.name] = f"{_DATA}/{i:05d}"
            else:
                where[rec.name] = _POOL
                pool_at[rec.name] = (pool[0], pool[1])
        layers.append(rec)
    return _Meta(info, tuple(layers), MappingProxyType(encodings), MappingProxyType(where),
                 MappingProxyType(pool_at))


def _open_hdf5(path: Path) -> h5py.File:
    """HDF5's handle on a trace (a seam: tests count the file reads HDF5 makes)."""
    return h5py.File(path, "r")


class TraceReader:
    """Read a trace (v2, or v1 without a digest) one layer at a time.

    Opening checks the digest of a v2 file before HDF5 reads it, then reads the metadata
    in one go (v2: one JSON document; v1: the attributes of every group) and validates
    the file attributes and every record. Reading a layer checks its stored data against
    its record (shape, encoding, levels, padding bits; v1 also checksums). One open
    reader serves every read of a command: it holds no data, only the records.

    Args:
        path: the trace file.
        check_levels: verify that multi-level data holds only its declared levels and
            that packed padding bits are zero (costs one pass over the data read).
    """

    def __init__(self, path: str | Path, *, check_levels: bool = True) -> None:
        self.path = Path(path)
        self.check_levels = check_levels
        self._file: h5py.File | None = None
        self._info: TraceInfo | None = None
        self._layers: tuple[LayerRecord, ...] = ()
        self._where: dict[str, str] = {}  # layer name -> data set path
        self._enc: dict[str, str] = {}
        self._checked: set[str] = set()
        self._by_name: dict[str, LayerRecord] = {}
        self._seal: _seal.Seal | None = None
        self._version = 0
        self._sha256: str | None = None
        self._pool_at: dict[str, tuple[int, int]] = {}  # pooled layer -> (offset, bytes)
        self._pool_size = 0
        self._pool_ds: h5py.Dataset | None = None
        self._window: tuple[int, np.ndarray] | None = None  # (offset, bytes) of /pool read
        self._datasets: dict[str, h5py.Dataset | _Pooled] = {}

    def __enter__(self) -> TraceReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Verify and open the file (called by ``with``)."""
        if not self.path.exists():
            raise TraceError(self.path, "file not found")
        if self.path.is_dir():
            raise TraceError(self.path, "is a directory, not a trace file")
        m = TEMP_RE.match(self.path.name)
        if m is not None:
            raise TraceError(
                self.path,
                f"incomplete write: this is the temporary file of a writer (process "
                f"{m['pid']}) that did not finish '{m['target']}'",
            )
        try:
            before = os.stat(self.path)
        except OSError as exc:
            raise TraceError(self.path, f"cannot read the file: {reason(exc)}") from None
        # None only for a file that starts with the HDF5 signature (v1); anything else
        # that is not a sealed trace is refused there
        self._seal = _verified_seal(self.path, before)
        try:
            self._file = _open_hdf5(self.path)
        except OSError as exc:
            raise TraceError(
                self.path, f"cannot open HDF5 file (truncated or corrupt?): {exc}"
            ) from None
        try:
            if self._seal is not None and not _same_file(before, self._file):
                raise TraceError(self.path, "the file changed while it was opened; try again")
            self._version = self._read_version()
            if self._version == 1:
                self._info = self._read_info_v1()
                self._layers = self._read_layers_v1()
            else:
                self._info, self._layers = self._read_meta_v2()
            self._validate()
            self._by_name = {rec.name: rec for rec in self._layers}
        except TraceError:
            self.close()
            raise
        except ConfigError as exc:  # a record's typed params (traces/params.py) refused
            self.close()
            raise TraceError(self.path, str(exc)) from None
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
            self.close()
            raise TraceError(self.path, f"corrupt trace file: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        self._datasets.clear()
        self._pool_ds = None
        self._window = None
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def _f(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError("TraceReader must be opened (use `with TraceReader(...)`)")
        return self._file

    # -- metadata -------------------------------------------------------------------------

    def _read_version(self) -> int:
        if self._seal is not None:
            # A sealed file's version is in its verified header, its metadata in /meta;
            # the root attributes (kept for h5dump and older readers) are never decoded,
            # which keeps HDF5's attribute parsing out of reach of crafted files.
            version = self._seal.version
            if version > SCHEMA_VERSION:
                readable = " and ".join(str(v) for v in READABLE_VERSIONS)
                raise TraceError(
                    self.path,
                    f"unsupported schema version {version} (this tool reads versions "
                    f"{readable})",
                )
            if version < 2:
                raise TraceError(
                    self.path, f"damaged trace: its header declares version {version}"
                )
            return version
        a = self._f.attrs
        if "schema" not in a or _attr_str(a["schema"]) != SCHEMA_NAME:
            found = _attr_str(a["schema"]) if "schema" in a else "no schema attribute"
            raise TraceError(
                self.path, f"not a prosparsity trace (schema '{found}', expected '{SCHEMA_NAME}')"
            )
        if "schema_version" not in a:
            raise TraceError(self.path, "missing attribute 'schema_version'")
        raw = np.asarray(a["schema_version"])
        version = raw.item() if raw.size == 1 else raw.tolist()
        if isinstance(version, bytes):
            version = version.decode("utf-8", "replace")
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        if not np.issubdtype(raw.dtype, np.integer) or version not in READABLE_VERSIONS:
            raise TraceError(
                self.path,
                f"unsupported schema version {version!r} (this tool reads versions {readable})",
            )
        version = int(version)
        if version != 1:
            raise TraceError(
                self.path,
                f"damaged trace: a version {version} trace without its header (digest)",
            )
        return version

    def _read_meta_v2(self) -> tuple[TraceInfo, tuple[LayerRecord, ...]]:
        ds = self._f.get(_META)
        if not isinstance(ds, h5py.Dataset):
            raise TraceError(self.path, "missing the metadata data set '/meta'")
        if ds.dtype != np.uint8 or ds.ndim != 1:
            raise TraceError(self.path, "the metadata data set '/meta' is not a byte string")
        try:
            meta = _parse_meta(ds[()].tobytes())
        except _Bad as exc:
            raise TraceError(self.path, exc.problem, exc.layer) from None
        self._enc.update(meta.encodings)
        self._where.update(meta.where)
        self._pool_at.update(meta.pool_at)
        if self._pool_at:
            self._open_pool()
        return meta.info, meta.layers

    def _open_pool(self) -> None:
        """Check ``/pool`` against the places the records give (no data is read)."""
        ds = self._f.get(_POOL)
        if not isinstance(ds, h5py.Dataset):
            raise TraceError(self.path, "missing the data set '/pool' of the small layers")
        if ds.dtype != np.uint8 or ds.ndim != 1:
            raise TraceError(self.path, "the data set '/pool' is not a byte string")
        self._pool_size = int(ds.shape[0])
        for name, (offset, n) in self._pool_at.items():
            if offset + n > self._pool_size:
                raise TraceError(
                    self.path,
                    f"its place in '/pool' ({offset}..{offset + n}) lies past the end "
                    f"({self._pool_size} bytes)",
                    name,
                )
        self._pool_ds = ds

    def _pool_bytes(self, name: str, offset: int, n: int) -> np.ndarray:
        """A pooled layer's stored bytes. Reads ``/pool`` in windows of whole chunks, so
        layers read in order cost one HDF5 read per chunk, not one per layer."""
        w = self._window
        if w is None or not (w[0] <= offset and offset + n <= w[0] + w[1].size):
            ds = self._pool_ds
            assert ds is not None
            if w is None:
                self._check_filters(name, ds)
            start = offset // _CHUNK_BYTES * _CHUNK_BYTES
            stop = min(self._pool_size, max(offset + n, start + _CHUNK_BYTES))
            try:
                self._window = w = (start, ds[start:stop])
            except OSError as exc:
                raise TraceError(
                    self.path, f"corrupt data (checksum or read error): {exc}", name
                ) from None
        return w[1][offset - w[0] : offset - w[0] + n]

    def _read_info_v1(self) -> TraceInfo:
        a = self._f.attrs
        missing = [k for k in _REQUIRED_ATTRS if k not in a]
        if missing:
            raise TraceError(self.path, f"missing attribute(s) {', '.join(missing)}")
        if not bool(a.get("complete", False)):
            raise TraceError(
                self.path, "incomplete trace: the writer did not finish (no 'complete' marker)"
            )
        if _LAYERS not in self._f:
            raise TraceError(self.path, "missing group '/layers'")
        extra_raw = _attr_str(a["extra"]) if "extra" in a else "{}"
        try:
            extra = json.loads(extra_raw)
        except json.JSONDecodeError:
            raise TraceError(self.path, "attribute 'extra' is not valid JSON") from None
        if not isinstance(extra, dict):
            raise TraceError(self.path, "attribute 'extra' is not a JSON object")
        ints = {}
        for key in _INFO_INT:
            raw = np.asarray(a[key])
            if raw.size != 1 or not np.issubdtype(raw.dtype, np.integer):
                raise TraceError(self.path, f"attribute '{key}' is not a whole number")
            ints[key] = int(raw.item())
        return TraceInfo(
            **{k: _attr_str(a[k]) for k in _INFO_STR},
            **ints,
            extra={str(k): str(v) for k, v in extra.items()},
        )

    def _read_layers_v1(self) -> tuple[LayerRecord, ...]:
        layers = self._f[_LAYERS]
        keys = sorted(layers.keys())
        expected = int(self._f.attrs.get("layer_count", len(keys)))
        if len(keys) != expected:
            raise TraceError(
                self.path, f"file lists {expected} layers but holds {len(keys)} (truncated?)"
            )
        out: list[LayerRecord] = []
        names: set[str] = set()
        for key in keys:
            g = layers[key]
            label = _attr_str(g.attrs["name"]) if "name" in g.attrs else f"#{key}"
            missing = [k for k in _LAYER_ATTRS if k not in g.attrs]
            if missing:
                raise TraceError(
                    self.path, f"missing layer attribute(s) {', '.join(missing)}", label
                )
            try:
                kind = LayerKind(_attr_str(g.attrs["kind"]))
            except ValueError:
                raise TraceError(
                    self.path, f"unknown layer kind '{_attr_str(g.attrs['kind'])}'", label
                ) from None
            try:
                params = _tuplify(json.loads(_attr_str(g.attrs["params"])))
            except json.JSONDecodeError:
                raise TraceError(
                    self.path, "layer attribute 'params' is not valid JSON", label
                ) from None
            if not isinstance(params, dict):
                raise TraceError(self.path, "layer attribute 'params' is not a JSON object", label)
            rec = LayerRecord(
                name=label,
                kind=kind,
                params=params,
                shape=tuple(int(s) for s in np.asarray(g.attrs["shape"]).reshape(-1)),
                layout=_attr_str(g.attrs["layout"]),
                levels=tuple(int(v) for v in np.asarray(g.attrs["levels"]).reshape(-1)),
                in_network=bool(g.attrs["in_network"]),
            )
            if rec.name in self._where or rec.name in names:
                raise TraceError(self.path, "duplicate layer name", rec.name)
            if rec.has_data:
                self._check_dataset_v1(key, rec)
            out.append(rec)
            names.add(rec.name)
        return tuple(out)

    def _check_dataset_v1(self, key: str, rec: LayerRecord) -> None:
        g = self._f[_LAYERS][key]
        if _DATA not in g:
            raise TraceError(self.path, f"{rec.kind} layer has no data", rec.name)
        ds = g[_DATA]
        if not isinstance(ds, h5py.Dataset):
            raise TraceError(self.path, f"'/{_LAYERS}/{key}/{_DATA}' is not a data set", rec.name)
        enc = _attr_str(ds.attrs.get("encoding", ""))
        if enc not in _ENCODINGS:
            raise TraceError(self.path, f"unknown data encoding '{enc}'", rec.name)
        self._where[rec.name] = f"{_LAYERS}/{key}/{_DATA}"
        self._enc[rec.name] = enc
        self._check_stored(rec, ds, enc)
        if ds.chunks is not None:
            # A damaged chunk index reads as missing chunks, i.e. zeros, without error.
            want = math.prod(-(-s // c) for s, c in zip(ds.shape, ds.chunks, strict=True))
            got = ds.id.get_num_chunks()
            if got != want:
                raise TraceError(
                    self.path,
                    f"damaged trace: its data has {got} of its {want} chunks (the chunk index "
                    "is damaged)",
                    rec.name,
                )
        self._checked.add(rec.name)

    def _check_stored(self, rec: LayerRecord, ds: h5py.Dataset, enc: str) -> None:
        if enc == ENC_PACKBITS:
            if not rec.binary:
                raise TraceError(
                    self.path,
                    f"layer declares levels {rec.levels} but its data is stored bit-packed",
                    rec.name,
                )
            want = _packed_shape(rec.shape) if rec.shape else ()
        else:
            want = rec.shape
        if not rec.shape or tuple(ds.shape) != tuple(want):
            raise TraceError(
                self.path,
                f"shape mismatch: metadata says {rec.shape} ({enc} store {want}), "
                f"stored data is {tuple(ds.shape)}",
                rec.name,
            )
        if ds.dtype != np.uint8:
            raise TraceError(
                self.path, f"stored data has dtype {ds.dtype}, expected uint8", rec.name
            )
        if ds.chunks is not None:
            self._check_filters(rec.name, ds)

    def _check_filters(self, name: str, ds: h5py.Dataset) -> None:
        """Every filter of a chunked data set must be available before its first read;
        hdf5plugin's are registered on first need."""
        plist = ds.id.get_create_plist()
        for i in range(plist.get_nfilters()):
            fid = plist.get_filter(i)[0]
            if h5py.h5z.filter_avail(fid):
                continue
            if _register_plugins() and h5py.h5z.filter_avail(fid):
                continue
            raise TraceError(
                self.path,
                f"its data needs HDF5 filter {fid}, which this installation lacks "
                "(is hdf5plugin installed?)",
                name,
            )

    def _validate(self) -> None:
        """Checks common to v1 and v2: positive counts, records consistent in themselves."""
        info = self._info
        assert info is not None
        for field in _INFO_INT:
            value = getattr(info, field)
            if value < 1:
                raise TraceError(self.path, f"{field} must be >= 1, the file says {value}")
        if info.weights not in _WEIGHTS:
            raise TraceError(
                self.path, f"weights must be one of {', '.join(_WEIGHTS)}, found '{info.weights}'"
            )
        for rec in self._layers:
            if rec.layout and len(rec.axes) != len(rec.shape):
                raise TraceError(
                    self.path,
                    f"layout '{rec.layout}' does not match the shape {rec.shape}",
                    rec.name,
                )
            if any(v < 0 or v > 255 for v in rec.levels) or list(rec.levels) != sorted(
                set(rec.levels)
            ):
                raise TraceError(
                    self.path, f"levels {rec.levels} are not distinct values in 0..255", rec.name
                )
            if not rec.has_data:
                continue
            if not rec.shape or any(s < 0 for s in rec.shape):
                raise TraceError(self.path, f"invalid input shape {rec.shape}", rec.name)
            if 0 in rec.shape:
                raise _empty_layer(self.path, rec.name, rec.shape)
            if self._enc[rec.name] == ENC_PACKBITS and not rec.binary:
                raise TraceError(
                    self.path,
                    f"layer declares levels {rec.levels} but its data is stored bit-packed",
                    rec.name,
                )
            if self._enc[rec.name] == ENC_UINT8 and rec.binary and self._version > 1:
                raise TraceError(
                    self.path, "a binary layer must be stored bit-packed (damaged?)", rec.name
                )

    # -- public API ---------------------------------------------------------------------

    @property
    def info(self) -> TraceInfo:
        """File attributes."""
        self._f  # noqa: B018 - raises when closed
        assert self._info is not None
        return self._info

    @property
    def layers(self) -> tuple[LayerRecord, ...]:
        """All layer records (GEMM and others), in execution order."""
        self._f  # noqa: B018
        return self._layers

    @property
    def gemm_layers(self) -> tuple[LayerRecord, ...]:
        """The records that carry data, in execution order."""
        return tuple(r for r in self.layers if r.has_data)

    @property
    def schema_version(self) -> int:
        """The file's schema version (1 or 2)."""
        self._f  # noqa: B018
        return self._version

    @property
    def has_digest(self) -> bool:
        """Whether the file carries a whole-file digest (v2), verified on open."""
        self._f  # noqa: B018
        return self._seal is not None

    @property
    def digest(self) -> str:
        """Hex SHA-256 identifying the file's content, e.g. as a cache key.

        For a v2 file it is the verified digest of its header (free); for a v1 file, which
        has none, the SHA-256 of the whole file, computed on first use.
        """
        self._f  # noqa: B018
        if self._seal is not None:
            return self._seal.sha256
        if self._sha256 is None:
            import hashlib

            with open(self.path, "rb") as fh:
                self._sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
        return self._sha256

    def record(self, name: str) -> LayerRecord:
        """The record of layer ``name``."""
        self._f  # noqa: B018
        try:
            return self._by_name[name]
        except KeyError:
            raise TraceError(self.path, "no such layer", name) from None

    def _dataset(self, name: str) -> tuple[LayerRecord, h5py.Dataset | _Pooled, str]:
        signals.check()  # every read of a layer: a Ctrl-C a callback dropped ends it here
        rec = self.record(name)
        if not rec.has_data:
            raise TraceError(self.path, f"a {rec.kind} record carries no data", name)
        found = self._datasets.get(name)
        if found is not None:
            return rec, found, self._enc[name]
        where, enc = self._where[name], self._enc[name]
        ds: h5py.Dataset | _Pooled
        if name in self._pool_at:
            offset, n = self._pool_at[name]
            stored = _packed_shape(rec.shape) if enc == ENC_PACKBITS else rec.shape
            if n != math.prod(stored):
                raise TraceError(
                    self.path,
                    f"shape mismatch: metadata says {rec.shape} ({enc} store {stored}), "
                    f"its place in '/pool' holds {n} bytes",
                    name,
                )
            ds = _Pooled(self, name, offset, stored)
        else:
            try:
                ds = self._f[where]
            except KeyError:
                raise TraceError(self.path, f"missing the data set '/{where}'", name) from None
        if name not in self._checked:
            if not isinstance(ds, h5py.Dataset | _Pooled):
                raise TraceError(self.path, f"'/{where}' is not a data set", name)
            self._check_stored(rec, ds, enc)
            self._checked.add(name)
        self._datasets[name] = ds
        return rec, ds, enc

    def _decode(self, rec: LayerRecord, enc: str, stored: np.ndarray) -> np.ndarray:
        if enc == ENC_PACKBITS:
            self._check_padding(rec, stored)
            return np.unpackbits(stored, axis=-1, count=rec.shape[-1])
        self._check_values(rec, stored)
        return np.asarray(stored, dtype=np.uint8)

    def _check_padding(self, rec: LayerRecord, stored: np.ndarray, last: bool = True) -> None:
        """Set padding bits are an error. A 1-D layer is packed along its only axis, so
        a slab of it holds padding only when it is the ``last`` slab."""
        width = rec.shape[-1]
        if len(rec.shape) == 1 and not last:
            return
        if self.check_levels and width % 8 and stored.size:
            if np.any(stored[..., -1] & _pad_mask(width)):
                raise TraceError(self.path, "corrupt data: packed padding bits set", rec.name)

    def _check_values(self, rec: LayerRecord, stored: np.ndarray) -> None:
        if self.check_levels and stored.size:
            present = _levels_of(stored)
            extra = sorted(set(present) - set(rec.levels))
            if extra:
                raise TraceError(
                    self.path,
                    f"data holds values {extra} outside the declared levels {rec.levels}",
                    rec.name,
                )

    def _load(self, rec: LayerRecord, ds: h5py.Dataset | _Pooled, sel: Any) -> np.ndarray:
        try:
            return ds[sel]
        except OSError as exc:
            raise TraceError(
                self.path, f"corrupt data (checksum or read error): {exc}", rec.name
            ) from None

    def read(self, name: str) -> np.ndarray:
        """The whole input of layer ``name`` as uint8 values in its original shape."""
        rec, ds, enc = self._dataset(name)
        return self._decode(rec, enc, self._load(rec, ds, slice(None)))

    def read_packed(self, name: str) -> np.ndarray:
        """The stored bytes of a binary layer: ``np.packbits(values, axis=-1)``."""
        rec, ds, enc = self._dataset(name)
        if enc != ENC_PACKBITS:
            raise TraceError(self.path, f"layer is multi-level {rec.levels}, not bit-packed", name)
        stored = self._load(rec, ds, slice(None))
        self._check_padding(rec, stored)
        return stored

    def _range_sel(self, rec: LayerRecord, axis: int, start: int, stop: int) -> tuple[slice, ...]:
        ndim = len(rec.shape)
        if not 0 <= axis < ndim or not 0 <= start <= stop <= rec.shape[axis]:
            raise TraceError(
                self.path,
                f"range {start}:{stop} of axis {axis} is outside shape {rec.shape}",
                rec.name,
            )
        return (slice(None),) * axis + (slice(start, stop),)

    def read_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        """Entries ``[start, stop)`` along ``axis`` of layer ``name``, other axes whole.

        Reads only that selection from the file (e.g. one sample of a ``T,B,...`` layer),
        as uint8 values; the selected axis keeps its place (length ``stop - start``).
        """
        rec, ds, enc = self._dataset(name)
        sel = self._range_sel(rec, axis, start, stop)
        if enc == ENC_PACKBITS and axis == len(rec.shape) - 1:
            # the packed axis itself: decode whole rows, then slice
            return self.read(name)[sel]
        return self._decode(rec, enc, self._load(rec, ds, sel))

    def read_packed_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        """Stored (bit-packed) bytes of entries ``[start, stop)`` along ``axis``.

        Like :meth:`read_range` without unpacking: ``np.packbits(values, axis=-1)`` of that
        selection, for consumers that work on packed rows (e.g. one sample along ``B``).
        ``axis`` may not be the last (packed) axis.
        """
        rec, ds, enc = self._dataset(name)
        if enc != ENC_PACKBITS:
            raise TraceError(self.path, f"layer is multi-level {rec.levels}, not bit-packed", name)
        if axis == len(rec.shape) - 1:
            raise TraceError(self.path, "cannot slice the packed (last) axis packed", name)
        stored = self._load(rec, ds, self._range_sel(rec, axis, start, stop))
        self._check_padding(rec, stored)
        return stored

    def iter_chunks(
        self, name: str, axis0_chunk: int, *, packed: bool = False
    ) -> Iterator[np.ndarray]:
        """Stream layer ``name`` in slabs of ``axis0_chunk`` entries of its first axis.

        Args:
            name: the layer.
            axis0_chunk: first-axis entries per slab (the last slab may be shorter).
            packed: yield the stored bytes (``np.packbits(values, axis=-1)``) of a binary
                layer instead of unpacked values; saves the unpacking for consumers that
                work on packed rows.
        """
        if axis0_chunk < 1:
            raise ValueError("axis0_chunk must be >= 1")
        rec, ds, enc = self._dataset(name)
        if packed and enc != ENC_PACKBITS:
            raise TraceError(self.path, f"layer is multi-level {rec.levels}, not bit-packed", name)
        if len(rec.shape) == 1 and enc == ENC_PACKBITS and not packed:
            # the packed axis is the first axis: decode once, then slice
            whole = self._decode(rec, enc, self._load(rec, ds, slice(None)))
            for start in range(0, rec.shape[0], axis0_chunk):
                yield whole[start : start + axis0_chunk]
            return
        first = ds.shape[0] if packed else rec.shape[0]
        for start in range(0, first, axis0_chunk):
            stored = self._load(rec, ds, slice(start, min(start + axis0_chunk, first)))
            if packed:
                self._check_padding(rec, stored, start + axis0_chunk >= first)
                yield stored
            else:
                yield self._decode(rec, enc, stored)

    def nnz(self, name: str, axis0_chunk: int = 64) -> int:
        """Number of non-zero values of a layer, streamed, with the same checks as a read
        (set padding bits and values outside the declared levels are errors)."""
        rec, ds, enc = self._dataset(name)
        total = 0
        for start in range(0, ds.shape[0], axis0_chunk):
            stored = self._load(rec, ds, slice(start, min(start + axis0_chunk, ds.shape[0])))
            if enc == ENC_PACKBITS:
                self._check_padding(rec, stored, start + axis0_chunk >= ds.shape[0])
                total += _popcount(stored)
            else:
                self._check_values(rec, stored)
                total += int(np.count_nonzero(stored))
        return total

    def verify(self) -> int:
        """Read every layer's data once with all checks (nothing is analysed).

        Returns:
            The number of layers whose data was checked.

        Raises:
            TraceError: the first problem found.
        """
        n = 0
        for rec in self.gemm_layers:
            self.nnz(rec.name, axis0_chunk=max(1, _CHUNK_BYTES // max(1, _row_bytes(rec))))
            n += 1
        return n


class _Pooled:
    """A small layer's bytes in ``/pool``, read like its own data set (shape, dtype,
    slicing). Slices are copies: nothing a caller does reaches the reader's window."""

    __slots__ = ("reader", "name", "offset", "shape")
    dtype = np.dtype(np.uint8)
    chunks = None

    def __init__(self, reader: TraceReader, name: str, offset: int,
                 shape: tuple[int, ...]) -> None:
        self.reader = reader
        self.name = name
        self.offset = offset
        self.shape = tuple(shape)

    def __getitem__(self, sel: Any) -> np.ndarray:
        flat = self.reader._pool_bytes(self.name, self.offset, math.prod(self.shape))
        return flat.reshape(self.shape)[sel].copy()


def _row_bytes(rec: LayerRecord) -> int:
    return math.prod(rec.shape[1:]) if len(rec.shape) > 1 else 1


@dataclass(frozen=True)
class _StatKey:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> _StatKey:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


_VERIFIED: dict[tuple[str, _StatKey], _seal.Seal] = {}
_VERIFIED_MAX = 256


def _verified_seal(path: Path, st: os.stat_result) -> _seal.Seal | None:
    """:func:`prosparsity.traces.seal.check`, remembered per unchanged file in this process
    (same device, inode, size and modification and change times), so that re-opening a
    trace does not hash it again."""
    key = (str(path.resolve()), _StatKey.of(st))
    found = _VERIFIED.get(key)
    if found is not None:
        return found
    found = _seal.check(path)
    if found is not None:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = found
    return found


def _same_file(before: os.stat_result, f: h5py.File) -> bool:
    """Whether HDF5 opened the very file whose digest was checked (not one swapped in)."""
    try:
        now = os.fstat(f.id.get_vfd_handle())
    except (OSError, TypeError, ValueError, RuntimeError):  # a driver without a fd
        return True
    return _StatKey.of(now) == _StatKey.of(before)


def read_info(path: str | Path) -> TraceInfo:
    """The file attributes of a trace (opens, validates, closes)."""
    with TraceReader(path) as r:
        return r.info


def read_layers(path: str | Path) -> tuple[LayerRecord, ...]:
    """The layer records of a trace, in execution order."""
    with TraceReader(path) as r:
        return r.layers


_UPGRADE_WHOLE = 1 << 28  # values; larger binary layers are copied packed, in slabs


def upgrade(path: str | Path, out: str | Path | None = None) -> Path:
    """Rewrite a trace as v2 (atomically; ``out`` defaults to ``path`` itself).

    Records (names, kinds, params, shapes, layouts, levels) and file attributes (creation
    time and tool version included) are kept, and every layer's stored data is copied
    bit for bit, so analysis and simulation give identical numbers. The source is fully
    verified first.

    Returns:
        The path written.
    """
    src = Path(path)
    target = Path(out) if out is not None else src
    with TraceReader(src) as reader:
        reader.verify()
        with TraceWriter(target, reader.info) as writer:
            for rec in reader.layers:
                if not rec.has_data:
                    writer.add_layer(rec)
                elif (
                    reader._enc[rec.name] == ENC_PACKBITS
                    and len(rec.shape) > 1
                    and math.prod(rec.shape) > _UPGRADE_WHOLE
                ):
                    # a large binary layer: copy its packed bytes slab by slab
                    writer.begin_layer(rec)
                    step = max(1, _CHUNK_BYTES // max(1, _row_bytes(rec) // 8))
                    for slab in reader.iter_chunks(rec.name, step, packed=True):
                        writer.append(rec.name, slab, packed=True)
                    writer.end_layer(rec.name)
                else:
                    writer.add_layer(rec, reader.read(rec.name))
    return target
