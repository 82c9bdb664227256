"""HDF5 trace format v1: writer, streaming reader and validation.

File layout (all strings UTF-8, all integers stored as HDF5 integers)::

    /                       attributes: schema="prosparsity-trace", schema_version=1,
                            model, dataset, time_steps, batch_size, samples, weights,
                            checkpoint, checkpoint_sha256, workload, tool_version, created,
                            extra (JSON object of strings), layer_count,
                            complete=True (written last, on a clean close)
    /layers/00000, 00001... one group per layer record, in execution order; attributes:
                            name, kind, params (JSON object), shape, layout, levels,
                            in_network
    /layers/NNNNN/data      GEMM layers only. Binary layers (levels within {0, 1}) are
                            bit-packed with ``np.packbits`` along the last axis
                            (attribute encoding="packbits", last axis ceil(W / 8) bytes,
                            padding bits zero); multi-level layers are plain uint8
                            (encoding="uint8"). Chunked along the first axis, compressed
                            with LZF and checksummed with Fletcher-32, so corruption is
                            detected when a chunk is read.

Writing goes to ``<name>.tmp-<pid>`` beside the target and is renamed with
:func:`os.replace` only when the ``with`` block exits cleanly; on an exception the
temporary file is deleted, so no file at the target path ever reads as complete unless
it is. Readers stream: opening reads only attributes; data is read one layer (or one
chunk of the first axis) at a time.

Every problem a user can provoke (not HDF5, truncated, wrong schema, missing attribute,
shape mismatch, non-binary data declared binary, corrupt chunk) raises
:class:`~prosparsity.core.errors.TraceError` naming the file, the layer and the problem.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.schema import SCHEMA_NAME, SCHEMA_VERSION, LayerKind, LayerRecord, TraceInfo

__all__ = ["TraceReader", "TraceWriter", "read_info", "read_layers"]

log = logging.getLogger(__name__)

ENC_PACKBITS = "packbits"
ENC_UINT8 = "uint8"
_LAYERS = "layers"
_DATA = "data"
_CHUNK_BYTES = 1 << 20  # target size of one HDF5 chunk
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


def _os_reason(exc: OSError) -> str:
    """The short reason of an OS error ("Permission denied"), also for h5py's wordy ones."""
    if exc.errno:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


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


class _LayerState:
    """A layer being written incrementally."""

    __slots__ = ("record", "group", "dataset", "rows", "present", "encoding")

    def __init__(
        self, record: LayerRecord, group: h5py.Group, dataset: h5py.Dataset, encoding: str
    ) -> None:
        self.record = record
        self.group = group
        self.dataset = dataset
        self.rows = 0
        self.present: set[int] = set()
        self.encoding = encoding


class TraceWriter:
    """Write a v1 trace, layer by layer in execution order.

    Use as a context manager. Whole layers go through :meth:`add_layer`; layers captured
    piecewise (one batch or sample at a time) through :meth:`begin_layer` and
    :meth:`append`, which appends along the first axis.

    Args:
        path: target file; it appears only when the ``with`` block exits cleanly.
        info: file attributes. Empty ``tool_version`` / ``created`` are filled in.

    Example:
        >>> with TraceWriter("t.h5", TraceInfo(model="m")) as w:  # doctest: +SKIP
        ...     w.add_layer(LayerRecord("fc", "linear", {...}, layout="T,K"), spikes)
    """

    def __init__(self, path: str | Path, info: TraceInfo) -> None:
        self.path = Path(path)
        self.info = replace(
            info,
            tool_version=info.tool_version or _tool_version(),
            created=info.created or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if self.info.weights not in _WEIGHTS:
            raise TraceError(
                self.path,
                f"TraceInfo.weights must be one of {', '.join(_WEIGHTS)}, got '{info.weights}'",
            )
        token = secrets.token_hex(3)  # two writers of one process never share a temp name
        self.tmp_path = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}-{token}")
        self._file: h5py.File | None = None
        self._names: dict[str, int] = {}
        self._open: dict[str, _LayerState] = {}
        self._records: list[LayerRecord] = []

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
                self.path, f"cannot create folder {self.path.parent}: {_os_reason(exc)}"
            ) from None
        try:
            self._file = h5py.File(self.tmp_path, "w", track_order=True)
        except OSError as exc:
            raise TraceError(self.path, f"cannot write the trace: {_os_reason(exc)}") from None
        f = self._file
        inf = self.info
        f.attrs["schema"] = SCHEMA_NAME
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["model"] = inf.model
        f.attrs["dataset"] = inf.dataset
        f.attrs["time_steps"] = int(inf.time_steps)
        f.attrs["batch_size"] = int(inf.batch_size)
        f.attrs["samples"] = int(inf.samples)
        f.attrs["weights"] = inf.weights
        f.attrs["checkpoint"] = inf.checkpoint
        f.attrs["checkpoint_sha256"] = inf.checkpoint_sha256
        f.attrs["workload"] = inf.workload
        f.attrs["tool_version"] = inf.tool_version
        f.attrs["created"] = inf.created
        f.attrs["extra"] = json.dumps(dict(inf.extra), sort_keys=True)
        f.create_group(_LAYERS, track_order=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        f = self._file
        self._file = None
        if f is None:
            return
        if exc_type is None:
            try:
                for name in list(self._open):
                    self._finish(f, name)
                f.attrs["layer_count"] = len(self._records)
                f.attrs["complete"] = True  # written last: marks a cleanly closed file
                f.close()
            except BaseException:
                f.close()
                self.tmp_path.unlink(missing_ok=True)
                raise
            try:
                os.replace(self.tmp_path, self.path)
            except OSError as exc:  # e.g. the target became a directory meanwhile
                self.tmp_path.unlink(missing_ok=True)
                raise TraceError(
                    self.path, f"cannot write the trace: {_os_reason(exc)}"
                ) from None
            log.debug("wrote %s (%d layers)", self.path, len(self._records))
        else:
            f.close()
            self.tmp_path.unlink(missing_ok=True)
            log.debug("discarded %s after %s", self.tmp_path, exc_type.__name__)

    # -- writing -------------------------------------------------------------------------

    @property
    def records(self) -> tuple[LayerRecord, ...]:
        """Records written so far (final shapes and levels), in execution order."""
        return tuple(self._records)

    def _require_file(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError("TraceWriter must be used inside a `with` block")
        return self._file

    def _new_group(self, record: LayerRecord) -> h5py.Group:
        f = self._require_file()
        if record.name in self._names:
            raise TraceError(self.path, "duplicate layer name", record.name)
        self._params_json(record)  # fail before anything of the layer is written
        index = len(self._names)
        self._names[record.name] = index
        return f[_LAYERS].create_group(f"{index:05d}")

    def _params_json(self, record: LayerRecord) -> str:
        try:
            return json.dumps(_jsonable(dict(record.params)), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TraceError(
                self.path, f"params must be JSON-serialisable: {exc}", record.name
            ) from None

    def _write_attrs(self, group: h5py.Group, record: LayerRecord) -> None:
        group.attrs["name"] = record.name
        group.attrs["kind"] = str(record.kind)
        group.attrs["params"] = self._params_json(record)
        group.attrs["shape"] = np.asarray(record.shape, dtype=np.int64)
        group.attrs["layout"] = record.layout
        group.attrs["levels"] = np.asarray(record.levels, dtype=np.int64)
        group.attrs["in_network"] = bool(record.in_network)

    def _check_layout(self, record: LayerRecord) -> None:
        if record.layout and len(record.axes) != len(record.shape):
            raise TraceError(
                self.path,
                f"layout '{record.layout}' names {len(record.axes)} axes "
                f"but the shape {record.shape} has {len(record.shape)}",
                record.name,
            )

    def add_layer(self, record: LayerRecord, data: np.ndarray | None = None) -> LayerRecord:
        """Append one whole layer in execution order.

        Args:
            record: the layer's metadata. For GEMM kinds ``record.shape`` may be empty
                (taken from ``data``) or must equal ``data.shape``; empty
                ``record.levels`` are computed from the data, declared levels are
                checked (values outside them, e.g. a 2 in a layer declared binary, are
                an error).
            data: the layer's input (bool or small non-negative integers); required for
                GEMM kinds, forbidden for the others.

        Returns:
            The record as stored (with shape and levels filled in).
        """
        self._require_file()
        if not record.has_data:
            if data is not None:
                raise TraceError(self.path, f"a {record.kind} record carries no data", record.name)
            group = self._new_group(record)
            self._write_attrs(group, record)
            self._records.append(record)
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
        present = _levels_of(arr)
        levels = record.levels or _default_levels(present)
        self._check_levels(record.name, levels, present)
        record = replace(record, shape=arr.shape, levels=levels)
        self._check_layout(record)
        group = self._new_group(record)
        encoding = ENC_PACKBITS if record.binary else ENC_UINT8
        stored = np.packbits(arr, axis=-1) if encoding == ENC_PACKBITS else arr
        chunked = stored.size > 0
        ds = group.create_dataset(
            _DATA,
            data=stored,
            chunks=_chunk_shape(stored.shape) if chunked else None,
            compression="lzf" if chunked else None,
            fletcher32=chunked,
        )
        ds.attrs["encoding"] = encoding
        self._write_attrs(group, record)
        self._records.append(record)
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
        self._check_layout(record)
        group = self._new_group(record)
        encoding = ENC_PACKBITS if record.binary else ENC_UINT8
        full = tuple(record.shape)
        tail = full[1:]
        stored_tail = _packed_shape(full)[1:] if encoding == ENC_PACKBITS else tail
        ds = group.create_dataset(
            _DATA,
            shape=(0, *stored_tail),
            maxshape=(None, *stored_tail),
            dtype=np.uint8,
            chunks=_chunk_shape((full[0], *stored_tail)),
            compression="lzf",
            fletcher32=True,
        )
        ds.attrs["encoding"] = encoding
        self._open[record.name] = _LayerState(record, group, ds, encoding)
        self._records.append(record)  # placeholder, replaced in _finish

    def append(self, name: str, chunk: np.ndarray, *, packed: bool = False) -> None:
        """Append a slab of the first axis to a layer opened by :meth:`begin_layer`.

        Args:
            name: the layer.
            chunk: values of shape ``(n, *shape[1:])``; with ``packed=True`` the output of
                ``np.packbits(values, axis=-1)`` (for binary layers; cheapest, since the
                caller packs inside its hook and nothing is checked but the shape).
            packed: whether ``chunk`` is already bit-packed.
        """
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
        ds.resize(state.rows + n, axis=0)
        ds[state.rows : state.rows + n] = stored
        state.rows += n

    def end_layer(self, name: str) -> LayerRecord:
        """Finish a layer opened by :meth:`begin_layer`; returns the stored record."""
        return self._finish(self._require_file(), name)

    def _finish(self, f: h5py.File, name: str) -> LayerRecord:
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
        levels = rec.levels or _default_levels(tuple(sorted(state.present)))
        final = replace(rec, shape=(state.rows, *rec.shape[1:]), levels=levels)
        self._write_attrs(state.group, final)
        self._records[self._names[name]] = final
        return final


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


class TraceReader:
    """Read a v1 trace one layer at a time.

    Opening validates the schema, the file attributes and the completion marker;
    :meth:`read` and :meth:`iter_chunks` validate each layer's stored data against its
    record (shape, encoding, levels, checksum).

    Args:
        path: the trace file.
        check_levels: verify that multi-level data holds only its declared levels and
            that packed padding bits are zero (costs one pass over the data).
    """

    def __init__(self, path: str | Path, *, check_levels: bool = True) -> None:
        self.path = Path(path)
        self.check_levels = check_levels
        self._file: h5py.File | None = None
        self._info: TraceInfo | None = None
        self._layers: tuple[LayerRecord, ...] = ()
        self._groups: dict[str, str] = {}
        self._by_name: dict[str, LayerRecord] = {}

    def __enter__(self) -> TraceReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open and validate the file (called by ``with``)."""
        if not self.path.exists():
            raise TraceError(self.path, "file not found")
        if self.path.is_dir():
            raise TraceError(self.path, "is a directory, not a trace file")
        if not h5py.is_hdf5(self.path):
            raise TraceError(self.path, "not an HDF5 file (is this a trace?)")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise TraceError(
                self.path, f"cannot open HDF5 file (truncated or corrupt?): {exc}"
            ) from None
        try:
            self._info = self._read_info()
            self._layers = self._read_layers()
            self._by_name = {rec.name: rec for rec in self._layers}
        except TraceError:
            self.close()
            raise
        except ConfigError as exc:  # a record's typed params (traces/params.py) refused
            self.close()
            raise TraceError(self.path, str(exc)) from None
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            self.close()
            raise TraceError(self.path, f"corrupt trace file: {exc}") from None

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def _f(self) -> h5py.File:
        if self._file is None:
            raise RuntimeError("TraceReader must be opened (use `with TraceReader(...)`)")
        return self._file

    def _read_info(self) -> TraceInfo:
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
        if not np.issubdtype(raw.dtype, np.integer) or version != SCHEMA_VERSION:
            raise TraceError(
                self.path,
                f"unsupported schema version {version!r} (this tool reads version "
                f"{SCHEMA_VERSION})",
            )
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
        return TraceInfo(
            model=_attr_str(a["model"]),
            dataset=_attr_str(a["dataset"]),
            time_steps=int(a["time_steps"]),
            batch_size=int(a["batch_size"]),
            samples=int(a["samples"]),
            weights=_attr_str(a["weights"]),
            checkpoint=_attr_str(a["checkpoint"]),
            checkpoint_sha256=_attr_str(a["checkpoint_sha256"]),
            workload=_attr_str(a["workload"]),
            tool_version=_attr_str(a["tool_version"]),
            created=_attr_str(a["created"]),
            extra={str(k): str(v) for k, v in extra.items()},
        )

    def _read_layers(self) -> tuple[LayerRecord, ...]:
        layers = self._f[_LAYERS]
        keys = sorted(layers.keys())
        expected = int(self._f.attrs.get("layer_count", len(keys)))
        if len(keys) != expected:
            raise TraceError(
                self.path, f"file lists {expected} layers but holds {len(keys)} (truncated?)"
            )
        out: list[LayerRecord] = []
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
            rec = LayerRecord(
                name=label,
                kind=kind,
                params=params,
                shape=tuple(int(s) for s in np.asarray(g.attrs["shape"]).reshape(-1)),
                layout=_attr_str(g.attrs["layout"]),
                levels=tuple(int(v) for v in np.asarray(g.attrs["levels"]).reshape(-1)),
                in_network=bool(g.attrs["in_network"]),
            )
            if rec.layout and len(rec.axes) != len(rec.shape):
                raise TraceError(
                    self.path,
                    f"layout '{rec.layout}' does not match the shape {rec.shape}",
                    rec.name,
                )
            if rec.has_data:
                self._check_dataset(key, rec)
            if rec.name in self._groups:
                raise TraceError(self.path, "duplicate layer name", rec.name)
            self._groups[rec.name] = key
            out.append(rec)
        return tuple(out)

    def _check_dataset(self, key: str, rec: LayerRecord) -> None:
        g = self._f[_LAYERS][key]
        if _DATA not in g:
            raise TraceError(self.path, f"{rec.kind} layer has no data", rec.name)
        ds = g[_DATA]
        enc = _attr_str(ds.attrs.get("encoding", ""))
        if enc == ENC_PACKBITS:
            if not rec.binary:
                raise TraceError(
                    self.path,
                    f"layer declares levels {rec.levels} but its data is stored bit-packed",
                    rec.name,
                )
            want = _packed_shape(rec.shape) if rec.shape else ()
        elif enc == ENC_UINT8:
            want = rec.shape
        else:
            raise TraceError(self.path, f"unknown data encoding '{enc}'", rec.name)
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

    def record(self, name: str) -> LayerRecord:
        """The record of layer ``name``."""
        self._f  # noqa: B018
        try:
            return self._by_name[name]
        except KeyError:
            raise TraceError(self.path, "no such layer", name) from None

    def _dataset(self, name: str) -> tuple[LayerRecord, h5py.Dataset, str]:
        rec = self.record(name)
        if not rec.has_data:
            raise TraceError(self.path, f"a {rec.kind} record carries no data", name)
        ds = self._f[_LAYERS][self._groups[name]][_DATA]
        return rec, ds, _attr_str(ds.attrs["encoding"])

    def _decode(self, rec: LayerRecord, enc: str, stored: np.ndarray) -> np.ndarray:
        if enc == ENC_PACKBITS:
            width = rec.shape[-1]
            if self.check_levels and width % 8 and stored.size:
                pad_mask = np.uint8((1 << (8 - width % 8)) - 1)
                if np.any(stored[..., -1] & pad_mask):
                    raise TraceError(self.path, "corrupt data: packed padding bits set", rec.name)
            return np.unpackbits(stored, axis=-1, count=width)
        if self.check_levels and stored.size:
            present = _levels_of(stored)
            extra = sorted(set(present) - set(rec.levels))
            if extra:
                raise TraceError(
                    self.path,
                    f"data holds values {extra} outside the declared levels {rec.levels}",
                    rec.name,
                )
        return np.asarray(stored, dtype=np.uint8)

    def _load(self, rec: LayerRecord, ds: h5py.Dataset, sel: slice) -> np.ndarray:
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
        return self._load(rec, ds, slice(None))

    def read_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        """Entries ``[start, stop)`` along ``axis`` of layer ``name``, other axes whole.

        Reads only that selection from the file (e.g. one sample of a ``T,B,...`` layer),
        as uint8 values; the selected axis keeps its place (length ``stop - start``).
        """
        rec, ds, enc = self._dataset(name)
        ndim = len(rec.shape)
        if not 0 <= axis < ndim or not 0 <= start <= stop <= rec.shape[axis]:
            raise TraceError(
                self.path, f"range {start}:{stop} of axis {axis} is outside shape {rec.shape}", name
            )
        if enc == ENC_PACKBITS and axis == ndim - 1:
            # the packed axis itself: decode whole rows, then slice
            return self.read(name)[(slice(None),) * axis + (slice(start, stop),)]
        sel = (slice(None),) * axis + (slice(start, stop),)
        try:
            stored = ds[sel]
        except OSError as exc:
            raise TraceError(
                self.path, f"corrupt data (checksum or read error): {exc}", name
            ) from None
        return self._decode(rec, enc, stored)

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
            yield stored if packed else self._decode(rec, enc, stored)

    def nnz(self, name: str, axis0_chunk: int = 64) -> int:
        """Number of non-zero values of a layer, streamed."""
        rec, ds, enc = self._dataset(name)
        total = 0
        for start in range(0, rec.shape[0], axis0_chunk):
            sel = slice(start, min(start + axis0_chunk, rec.shape[0]))
            stored = self._load(rec, ds, sel)
            if enc == ENC_PACKBITS:
                total += _popcount(stored)
            else:
                total += int(np.count_nonzero(stored))
        return total


def read_info(path: str | Path) -> TraceInfo:
    """The file attributes of a trace (opens, validates, closes)."""
    with TraceReader(path) as r:
        return r.info


def read_layers(path: str | Path) -> tuple[LayerRecord, ...]:
    """The layer records of a trace, in execution order."""
    with TraceReader(path) as r:
        return r.layers
