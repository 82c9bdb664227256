"""Write a v2 trace, layer by layer (:class:`TraceWriter`).

The layout is :mod:`prosparsity.traces.layout`, the metadata document
:mod:`prosparsity.traces.metadata`, the seal :mod:`prosparsity.traces.seal`.

The seal is written last, after HDF5 has closed the file; then the temporary file is
renamed onto the target. Writing goes to ``<name>.tmp-<pid>-<hex>`` beside the target
(stale ones of killed writers are removed first) and is renamed onto it
(:func:`prosparsity.core.atomic.publish`) only when the ``with`` block exits cleanly; the
target is checked (:func:`prosparsity.core.atomic.check_output_path`) when the writer is
made, when it opens and just before the rename, so a FIFO, a device or anything else that
is not a regular file is never replaced. HDF5 writes through a small file object that
records the first OS error (a full disk, a quota, an I/O error) and stops passing writes
on, so HDF5 itself never fails mid-way (which can crash it); the writer then raises one
``TraceError`` naming the path and the reason and deletes the temporary file.

Every problem a caller can provoke (shape mismatch, values outside the declared levels,
set padding bits, an empty layer, a non-positive time-step or batch count, a duplicate
name) raises :class:`~prosparsity.core.errors.TraceError` naming the file, the layer and
the problem.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import h5py
import numpy as np

from prosparsity.core import signals
from prosparsity.core.atomic import (
    check_output_path,
    publish,
    reason,
    remove_stale_temps,
    temp_path,
)
from prosparsity.core.errors import TraceError, WriteError
from prosparsity.core.resources import usable_cores
from prosparsity.core.version import tool_version
from prosparsity.traces import seal as _seal
from prosparsity.traces.layout import (
    CHUNK_BYTES,
    DATA,
    DEFAULT_COMPRESSION,
    ENC_PACKBITS,
    ENC_UINT8,
    INFO_INT,
    INFO_STR,
    META,
    POOL,
    POOL_BYTES,
    Compression,
    as_uint8,
    batch_chunk_shape,
    chunk_shape,
    default_levels,
    empty_layer,
    filter_kwargs,
    levels_of,
    packed_shape,
    pad_mask,
    zstd_compressor,
)
from prosparsity.traces.metadata import check_info, jsonable, record_json
from prosparsity.traces.schema import SCHEMA_NAME, SCHEMA_VERSION, LayerRecord, TraceInfo
from prosparsity.traces.sink import Sink

__all__ = ["TraceWriteError", "TraceWriter", "checked_output"]

log = logging.getLogger(__name__)



class TraceWriteError(TraceError):
    """Writing a trace failed in the file system (full disk, quota, I/O error, bad path);
    the message names the target and the OS reason."""



def checked_output(path: str | Path) -> Path:
    """:func:`~prosparsity.core.atomic.check_output_path` of a trace, as a
    :class:`TraceWriteError`."""
    try:
        return check_output_path(path, "trace")
    except WriteError as exc:
        raise TraceWriteError(exc.path, exc.problem) from None


def _open_temp(path: Path) -> BinaryIO:
    """The temporary file HDF5 writes through (a seam for fault-injection tests)."""
    return open(path, "x+b", buffering=0)  # noqa: SIM115 - closed by the writer


class _LayerState:
    """A layer being written incrementally."""

    __slots__ = ("record", "dataset", "rows", "present", "encoding", "slabs", "along",
                 "chunk", "open_levels", "kept")

    def __init__(
        self,
        record: LayerRecord,
        dataset: h5py.Dataset | None,
        encoding: str,
        along: int = 0,
        chunk: int = 0,
        open_levels: bool = False,
    ) -> None:
        self.record = record
        self.dataset = dataset  # None: a small layer, kept in ``slabs`` for the pool
        self.rows = 0
        self.present: set[int] = set()
        self.encoding = encoding
        self.slabs: list[np.ndarray] = []
        self.along = along  # the axis appends grow
        self.chunk = chunk  # along axis 1: the samples of one chunk
        self.open_levels = open_levels  # uint8 of any levels, recorded as found
        self.kept = 0  # along axis 1: the samples in ``slabs`` (not written yet)


class TraceWriter:
    """Write a v2 trace, layer by layer in execution order.

    Use as a context manager. Whole layers go through :meth:`add_layer`; layers captured
    piecewise through :meth:`begin_layer` and :meth:`append`, which appends along the
    first axis (slabs of time steps) or, for a ``T, B, ...`` layer written one batch of
    samples at a time while the model runs (the capture), along the second.

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
        self.path = checked_output(path)
        self.info = replace(
            info,
            tool_version=info.tool_version or tool_version(),
            created=info.created or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        check_info(self.path, self.info)
        try:
            self.compression = Compression(compression)
        except ValueError:
            choices = ", ".join(c.value for c in Compression)
            raise TraceError(
                self.path, f"unknown compression '{compression}' (one of {choices})"
            ) from None
        self._filter = filter_kwargs(self.compression)
        self._zstd = zstd_compressor(self.compression)  # chunks it compresses itself
        self.tmp_path = temp_path(self.path)
        self._fh: BinaryIO | None = None
        self._sink: Sink | None = None
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
        checked_output(self.path)  # again: the target may have changed since __init__
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
        self._sink = Sink(self._fh)
        try:
            with self._io():
                self._file = h5py.File(
                    self._sink, "w", userblock_size=_seal.USERBLOCK_BYTES, track_order=False
                )
                self._file.attrs["schema"] = SCHEMA_NAME
                self._file.attrs["schema_version"] = SCHEMA_VERSION
                self._file.create_group(DATA)
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
        self.end_layers(list(self._open))
        self._flush_pool(final=True)
        meta = {
            "info": {
                **{k: getattr(self.info, k) for k in INFO_STR},
                **{k: int(getattr(self.info, k)) for k in INFO_INT},
                "extra": dict(self.info.extra),
            },
            "layers": [
                record_json(rec, enc, params, self._pooled.get(i))
                for i, (rec, enc, params) in enumerate(
                    zip(self._records, self._encodings, self._params, strict=True)
                )
            ],
        }
        blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)
        with self._io():
            f.create_dataset(META, data=blob)
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
            publish(self.tmp_path, self.path, "trace")
        except WriteError as exc:
            raise TraceWriteError(exc.path, exc.problem) from None
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
            return json.dumps(jsonable(dict(record.params)), sort_keys=True, allow_nan=False)
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
        group = self._require_file()[DATA]
        group.create_dataset(
            f"{index:05d}", data=stored, chunks=chunk_shape(stored.shape), **self._filter
        )

    def _flush_pool(self, final: bool = False) -> None:
        """Write the pooled bytes to ``/pool`` in whole chunks (the rest when ``final``).

        Each chunk is written once, so each is compressed once. A pool that never filled
        a chunk is written at the end as one data set of exactly its size.
        """
        f = self._require_file()
        whole = len(self._pool) // CHUNK_BYTES * CHUNK_BYTES
        size = len(self._pool) if final else whole
        if not size:
            return
        data = np.frombuffer(bytes(self._pool[:size]), np.uint8)
        with self._io():
            if POOL not in f and final:
                f.create_dataset(POOL, data=data, chunks=(size,), **self._filter)
            else:
                if POOL not in f:
                    f.create_dataset(
                        POOL, shape=(0,), maxshape=(None,), dtype=np.uint8,
                        chunks=(CHUNK_BYTES,), **self._filter,
                    )
                ds = f[POOL]
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
        arr = as_uint8(self.path, record.name, np.asarray(data))
        if arr.ndim == 0:
            raise TraceError(self.path, "data must have at least one axis", record.name)
        if record.shape and tuple(record.shape) != arr.shape:
            raise TraceError(
                self.path,
                f"shape mismatch: record declares {record.shape}, data has {arr.shape}",
                record.name,
            )
        if arr.size == 0:
            raise empty_layer(self.path, record.name, arr.shape)
        present = levels_of(arr)
        levels = record.levels or default_levels(present)
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

    def begin_layer(
        self,
        record: LayerRecord,
        *,
        along: int = 0,
        open_levels: bool = False,
    ) -> None:
        """Start a GEMM layer whose data arrives in pieces along axis ``along``.

        ``record.shape`` gives the full shape; its entry on ``along`` may be 0 when the
        number of entries is not known in advance (it is then fixed by what was
        appended). ``record.levels`` decides the encoding: empty or within {0, 1} means
        binary (bit-packed), anything else uint8. Several layers may be open at once
        (the hooks of one forward pass); each is finished by :meth:`end_layer` or, at
        the latest, when the writer closes. The layer's place in execution order is the
        order of the :meth:`begin_layer` / :meth:`add_layer` calls.

        Args:
            record: the layer (see above).
            along: 0 (slabs of the first axis) or 1 (batches of samples of a
                ``T, B, ...`` layer of at least three axes: kept in memory until they
                fill a chunk of every time step and as many samples as fit, see
                :func:`~prosparsity.traces.layout.batch_chunk_shape`, then written
                whole, chunk by chunk; a layer that never fills one is written when it
                ends, to the pool when small).
            open_levels: a uint8 layer whose values may be any of 0..255, its levels
                those found (instead of checked against ``record.levels``).
        """
        self._require_file()
        if not record.has_data:
            raise TraceError(self.path, f"a {record.kind} record carries no data", record.name)
        if along not in (0, 1) or len(record.shape) < 2 + along:
            raise TraceError(
                self.path,
                f"begin_layer needs the layer's full shape with at least {2 + along} axes "
                f"(appending happens along axis {along}, packing along the last)",
                record.name,
            )
        if 0 in tuple(s for i, s in enumerate(record.shape) if i != along):
            raise empty_layer(self.path, record.name, record.shape)
        self._check_layout(record)
        index, params = self._new_index(record)
        encoding = ENC_PACKBITS if record.binary else ENC_UINT8
        full = tuple(record.shape)
        if along:
            stored = packed_shape(full) if encoding == ENC_PACKBITS else full
            self._open[record.name] = _LayerState(record, None, encoding, along,
                                                  _chunk_samples(stored),
                                                  open_levels and encoding == ENC_UINT8)
            self._push(record, encoding, params)  # placeholder, replaced in _finish
            return
        tail = full[1:]
        stored_tail = packed_shape(full)[1:] if encoding == ENC_PACKBITS else tail
        if full[0] and full[0] * math.prod(stored_tail) <= POOL_BYTES:
            # small, of known size: kept in memory until end_layer, then pooled
            self._open[record.name] = _LayerState(record, None, encoding,
                                                  open_levels=open_levels)
            self._push(record, encoding, params)
            return
        with self._io():
            ds = self._require_file()[DATA].create_dataset(
                f"{index:05d}",
                shape=(0, *stored_tail),
                maxshape=(None, *stored_tail),
                dtype=np.uint8,
                chunks=chunk_shape((full[0], *stored_tail)),
                **self._filter,
            )
        self._open[record.name] = _LayerState(record, ds, encoding, open_levels=open_levels)
        self._push(record, encoding, params)  # placeholder, replaced in _finish

    def append(self, name: str, chunk: np.ndarray, *, packed: bool = False,
               levels: Collection[int] | None = None) -> None:
        """Append a piece to a layer opened by :meth:`begin_layer`, along its axis.

        Args:
            name: the layer.
            chunk: values of the layer's shape but ``n`` entries along the appended
                axis; with ``packed=True`` the output of ``np.packbits(values, axis=-1)``
                (for binary layers; cheapest, since the caller packs inside its hook and
                nothing is checked but the shape and the padding bits).
            packed: whether ``chunk`` is already bit-packed.
            levels: the values an unpacked ``chunk`` holds, when the caller found them
                already (a capture's spike check): taken as they are instead of being
                looked for again (and checked against the declared levels all the same).
        """
        signals.check()
        state = self._open.get(name)
        if state is None:
            raise TraceError(self.path, "append to a layer not opened by begin_layer", name)
        rec, along = state.record, state.along
        arr = np.asarray(chunk)
        if packed:
            if state.encoding != ENC_PACKBITS:
                raise TraceError(self.path, "packed chunks need a binary layer", name)
            if arr.dtype != np.uint8:
                raise TraceError(self.path, f"packed chunk must be uint8, got {arr.dtype}", name)
            want = packed_shape(rec.shape)
            if not _fits(arr.shape, want, along):
                raise TraceError(
                    self.path,
                    f"shape mismatch: packed chunk {arr.shape}, expected {_expected(want, along)}",
                    name,
                )
            width = rec.shape[-1]
            if width % 8 and arr.size and np.any(arr[..., -1] & pad_mask(width)):
                raise TraceError(self.path, "packed chunk has padding bits set", name)
            stored = arr
            if stored.size and np.any(stored):
                state.present.update((0, 1))
            elif stored.size:
                state.present.add(0)
        else:
            arr = as_uint8(self.path, name, arr)
            if not _fits(arr.shape, rec.shape, along):
                raise TraceError(
                    self.path,
                    f"shape mismatch: chunk {arr.shape}, expected {_expected(rec.shape, along)}",
                    name,
                )
            present = tuple(sorted(levels)) if levels is not None else levels_of(arr)
            if not state.open_levels:
                declared = rec.levels or ((0, 1) if state.encoding == ENC_PACKBITS else ())
                self._check_levels(name, declared, present)
            state.present.update(present)
            stored = np.packbits(arr, axis=-1) if state.encoding == ENC_PACKBITS else arr
        n = stored.shape[along]
        if rec.shape[along] and state.rows + n > rec.shape[along]:
            raise TraceError(
                self.path,
                f"shape mismatch: {state.rows + n} entries appended along the {_AXIS[along]} axis, "
                f"record declares {rec.shape[along]}",
                name,
            )
        if along:
            state.slabs.append(np.array(stored, dtype=np.uint8, copy=True))
            state.kept += n
            state.rows += n
            if state.kept >= state.chunk:
                self._write_chunks(name, state)
            return
        if state.dataset is None:
            state.slabs.append(np.array(stored, dtype=np.uint8, copy=True))
        else:
            with self._io():
                state.dataset.resize(state.rows + n, axis=0)
                state.dataset[state.rows : state.rows + n] = stored
        state.rows += n

    def _write_chunks(self, name: str, state: _LayerState, final: bool = False,
                      jobs: list[_Chunk] | None = None) -> None:
        """Write what a layer appended along ``B`` keeps: its whole chunks (each written,
        and compressed, once), or with ``final`` everything. A layer that never filled a
        chunk gets a data set of one chunk of exactly its size; no chunk cache (every
        chunk is written whole, in the thread that appends).

        ``jobs``: collect the chunks there (see :meth:`end_layers`) instead of writing
        them now; under Zstandard only (other filters write at once).
        """
        kept = np.concatenate(state.slabs, axis=1) if len(state.slabs) > 1 else state.slabs[0]
        size = state.kept if final else state.kept // state.chunk * state.chunk
        with self._io():
            ds = state.dataset
            if ds is None:
                shape = (kept.shape[0], size, *kept.shape[2:])
                ds = self._require_file()[DATA].create_dataset(
                    f"{self._names[name]:05d}",
                    shape=shape,
                    maxshape=(shape[0], None, *shape[2:]),
                    dtype=np.uint8,
                    chunks=batch_chunk_shape(shape, min(state.chunk, size)),
                    rdcc_nbytes=1,  # below any chunk: written through, never cached
                    **self._filter,
                )
                state.dataset, start = ds, 0
            else:
                start = ds.shape[1]
                ds.resize(start + size, axis=1)
            if self._zstd is None:
                ds[:, start : start + size] = kept[:, :size]
            else:
                pieces = list(_whole_chunks(ds, kept[:, :size], start))
                if jobs is None:
                    self._write_direct(pieces, threads=1)
                else:
                    jobs.extend(pieces)
        state.slabs = [kept[:, size:]] if size < state.kept else []
        state.kept -= size

    def _write_direct(self, chunks: Sequence[_Chunk], threads: int) -> None:
        """Compress whole chunks with Zstandard (on ``threads`` threads, the GIL released)
        and store them as they are (``write_direct_chunk``): the bytes HDF5's Zstd
        filter would have written, which it reads back the usual way."""
        if not chunks:
            return
        assert self._zstd is not None
        frames: list[bytes] = []
        if len(chunks) > 1 and threads > 1:
            try:  # the C backend's; zstandard's CFFI backend lacks it
                out = self._zstd.multi_compress_to_buffer([c.data for c in chunks],
                                                          threads=min(threads, len(chunks)))
                frames = [out[i].tobytes() for i in range(len(chunks))]
            except (AttributeError, NotImplementedError):
                pass
        if not frames:
            frames = [self._zstd.compress(c.data) for c in chunks]
        with self._io():
            for chunk, frame in zip(chunks, frames, strict=True):
                chunk.dataset.id.write_direct_chunk(chunk.offset, frame)

    def widen(self, name: str) -> None:
        """Turn a bit-packed layer opened by :meth:`begin_layer` into a uint8 one of open
        levels (a later piece holds sums of spikes): what it holds so far is read back,
        unpacked and written again (the rare path of a capture whose layer starts binary
        and turns multi-level)."""
        state = self._open.get(name)
        if state is None or state.along != 1:
            raise TraceError(self.path, "widen of a layer not opened by begin_layer along=1",
                             name)
        if state.encoding == ENC_UINT8:
            state.open_levels = True
            return
        width = state.record.shape[-1]
        if state.dataset is not None:
            with self._io():
                written = state.dataset[...]
                del self._require_file()[DATA][state.dataset.name.rsplit("/", 1)[-1]]
            state.dataset, state.slabs = None, [written, *state.slabs]
        values = [np.unpackbits(s, axis=-1, count=width) for s in state.slabs]
        state.slabs, state.kept = values, state.rows
        state.present = set().union(*(levels_of(v) for v in values))
        state.encoding = ENC_UINT8
        state.open_levels = True
        state.chunk = _chunk_samples(state.record.shape)
        self._encodings[self._names[name]] = ENC_UINT8
        if state.kept >= state.chunk:
            self._write_chunks(name, state)

    def amend(self, name: str, params: dict[str, object]) -> LayerRecord:
        """Replace the params of a layer already added, begun or ended (figures known only
        once every piece is in, e.g. a neuron's spike count); returns the record."""
        index = self._names.get(name)
        if index is None:
            raise TraceError(self.path, "amend of a layer not in the trace", name)
        record = replace(self._records[index], params=dict(params))
        self._params[index] = self._params_json(record)
        self._records[index] = record
        state = self._open.get(name)
        if state is not None:
            state.record = replace(state.record, params=dict(params))
        return record

    def set_info(self, info: TraceInfo) -> None:
        """Replace the file attributes (before the ``with`` block ends); checked as in
        the constructor."""
        info = replace(info, tool_version=info.tool_version or self.info.tool_version,
                       created=info.created or self.info.created)
        check_info(self.path, info)
        self.info = info

    def end_layer(self, name: str) -> LayerRecord:
        """Finish a layer opened by :meth:`begin_layer`; returns the stored record."""
        return self.end_layers([name])[0]

    def end_layers(self, names: Sequence[str]) -> list[LayerRecord]:
        """Finish several layers opened by :meth:`begin_layer`; returns their stored
        records. The chunks they still keep are compressed together, on every core
        (nothing else runs at the end of a capture), a few MiB at a time
        (:data:`_DIRECT_BYTES`, at least a chunk a core)."""
        self._require_file()
        cores = usable_cores()
        bound = max(_DIRECT_BYTES, cores * CHUNK_BYTES)  # chunks and frames held at once
        jobs: list[_Chunk] = []
        done, held = [], 0
        for name in names:
            before = len(jobs)
            done.append(self._finish(name, jobs))
            held += sum(c.data.nbytes for c in jobs[before:])
            if held >= bound:
                self._write_direct(jobs, threads=cores)
                jobs.clear()
                held = 0
        self._write_direct(jobs, threads=cores)
        return done

    def _finish(self, name: str, jobs: list[_Chunk] | None = None) -> LayerRecord:
        state = self._open.pop(name, None)
        if state is None:
            raise TraceError(self.path, "end_layer on a layer that is not open", name)
        rec, along = state.record, state.along
        if rec.shape[along] and state.rows != rec.shape[along]:
            raise TraceError(
                self.path,
                f"shape mismatch: {state.rows} entries appended along the {_AXIS[along]} axis, "
                f"record declares {rec.shape[along]}",
                name,
            )
        shape = (*rec.shape[:along], state.rows, *rec.shape[along + 1 :])
        if state.rows == 0:
            raise empty_layer(self.path, name, shape)
        present = tuple(sorted(state.present))
        levels = default_levels(present) if state.open_levels else (
            rec.levels or default_levels(present))
        final = replace(rec, shape=shape, levels=levels)
        index = self._names[name]
        if along and state.kept:
            stored = sum(s.nbytes for s in state.slabs)
            if state.dataset is not None or stored > POOL_BYTES:
                self._write_chunks(name, state, final=True, jobs=jobs)
        if state.dataset is None:
            with self._io():
                self._pool_add(index, np.concatenate(state.slabs, axis=along))
        self._records[index] = final
        return final


_AXIS = ("first", "second")
#: chunk bytes :meth:`TraceWriter.end_layers` compresses at a time (at least one chunk a
#: core): what it holds beyond the layers' own bytes is this and the frames made of it
_DIRECT_BYTES = 8 << 20


@dataclass(frozen=True)
class _Chunk:
    """One whole chunk of a data set, to be compressed and written as it is."""

    dataset: h5py.Dataset
    offset: tuple[int, ...]
    data: np.ndarray  # C-contiguous, of the data set's chunk shape


def _whole_chunks(ds: h5py.Dataset, values: np.ndarray, start: int) -> Iterator[_Chunk]:
    """The chunks of ``ds`` that ``values`` (its samples ``start ..``, every time step)
    fill; ``start`` is a chunk boundary. An edge chunk (past the data set's end along T
    or B) is padded with zeros, HDF5's fill value, as HDF5 itself stores it."""
    chunks = ds.chunks
    assert chunks is not None and start % chunks[1] == 0
    ct, cb = chunks[0], chunks[1]
    for t0 in range(0, values.shape[0], ct):
        for b0 in range(0, values.shape[1], cb):
            piece = values[t0 : t0 + ct, b0 : b0 + cb]
            if piece.shape[:2] != (ct, cb):
                padded = np.zeros(chunks, np.uint8)
                padded[: piece.shape[0], : piece.shape[1]] = piece
                piece = padded
            yield _Chunk(ds, (t0, start + b0, *([0] * (values.ndim - 2))),
                         np.ascontiguousarray(piece))


def _chunk_samples(stored: tuple[int, ...]) -> int:
    """Samples of one chunk of a layer appended along ``B`` (its stored shape)."""
    return batch_chunk_shape(stored)[1]


def _fits(shape: tuple[int, ...], full: tuple[int, ...], along: int) -> bool:
    """Whether a piece of ``shape`` fits a layer of ``full`` shape appended along ``along``."""
    return len(shape) == len(full) and all(
        a == b for i, (a, b) in enumerate(zip(shape, full, strict=True)) if i != along)


def _expected(full: tuple[int, ...], along: int) -> str:
    return "(" + ", ".join("n" if i == along else str(s) for i, s in enumerate(full)) + ")"
