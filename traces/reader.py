"""Read a trace (v2, or v1 without a digest) one layer at a time (:class:`TraceReader`).

Opening checks the digest of a v2 file (:mod:`prosparsity.traces.seal`) before HDF5
reads a byte, so a file damaged anywhere (data, chunk index, object headers, the JSON)
is one clean :class:`~prosparsity.core.errors.TraceError`, in the time of one read of
the file; then the metadata document is read in one go
(:mod:`prosparsity.traces.metadata`). A v1 file (:mod:`prosparsity.traces.v1`) has no
digest: it is first checked in a child process with a time limit
(:func:`prosparsity.traces.probe.ensure_verified`, remembered per file digest), so no
command stalls or crashes inside HDF5 on a damaged one. :attr:`TraceReader.has_digest`
is False for it; ``prosparsity trace upgrade`` rewrites it as v2.

Every problem a user can provoke (not a regular file, not HDF5, truncated, damaged,
wrong schema, missing field, shape mismatch, values outside the declared levels, set
padding bits, an empty layer, a non-positive time-step or batch count) raises
:class:`TraceError` naming the file, the layer and the problem.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from prosparsity.core import signals
from prosparsity.core.atomic import TEMP_RE, reason
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.core.paths import FileKey, FileMemo, input_problem
from prosparsity.traces import seal as _seal
from prosparsity.traces import v1
from prosparsity.traces.layout import (
    CHUNK_BYTES,
    ENC_PACKBITS,
    ENC_UINT8,
    INFO_INT,
    META,
    POOL,
    WEIGHTS,
    check_filters,
    check_stored,
    empty_layer,
    levels_of,
    packed_shape,
    pad_mask,
    popcount,
    row_bytes,
)
from prosparsity.traces.metadata import Bad, parse_meta
from prosparsity.traces.schema import READABLE_VERSIONS, SCHEMA_VERSION, LayerRecord, TraceInfo

__all__ = ["TraceReader", "read_info", "read_layers"]


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
        verify_v1: check a file without a digest (schema v1) in a child process with a
            time limit before HDF5 opens it here (:func:`prosparsity.traces.probe.
            ensure_verified`, once per file content); ``False`` only inside that child.
    """

    def __init__(self, path: str | Path, *, check_levels: bool = True,
                 verify_v1: bool = True) -> None:
        self.path = Path(path)
        self.check_levels = check_levels
        self.verify_v1 = verify_v1
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
        problem = input_problem(self.path, what="trace file")
        if problem is not None:  # a FIFO or device is never opened: it would block
            raise TraceError(self.path, problem)
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
        if self._seal is None and self.verify_v1:
            from prosparsity.traces.probe import ensure_verified

            ensure_verified(self.path)  # HDF5 stalls or crashes on some damaged v1 files
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
                self._info = v1.read_info(self.path, self._f)
                found = v1.read_layers(self.path, self._f)
                self._layers = tuple(found.records)
                self._where.update(found.where)
                self._enc.update(found.encodings)
                self._checked.update(found.where)
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
        return v1.read_version(self.path, self._f)

    def _read_meta_v2(self) -> tuple[TraceInfo, tuple[LayerRecord, ...]]:
        ds = self._f.get(META)
        if not isinstance(ds, h5py.Dataset):
            raise TraceError(self.path, "missing the metadata data set '/meta'")
        if ds.dtype != np.uint8 or ds.ndim != 1:
            raise TraceError(self.path, "the metadata data set '/meta' is not a byte string")
        try:
            meta = parse_meta(ds[()].tobytes())
        except Bad as exc:
            raise TraceError(self.path, exc.problem, exc.layer) from None
        self._enc.update(meta.encodings)
        self._where.update(meta.where)
        self._pool_at.update(meta.pool_at)
        if self._pool_at:
            self._open_pool()
        return meta.info, meta.layers

    def _open_pool(self) -> None:
        """Check ``/pool`` against the places the records give (no data is read)."""
        ds = self._f.get(POOL)
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
                check_filters(self.path, name, ds)
            start = offset // CHUNK_BYTES * CHUNK_BYTES
            stop = min(self._pool_size, max(offset + n, start + CHUNK_BYTES))
            try:
                self._window = w = (start, ds[start:stop])
            except OSError as exc:
                raise TraceError(
                    self.path, f"corrupt data (checksum or read error): {exc}", name
                ) from None
        return w[1][offset - w[0] : offset - w[0] + n]

    def _validate(self) -> None:
        """Checks common to v1 and v2: positive counts, records consistent in themselves."""
        info = self._info
        assert info is not None
        for field in INFO_INT:
            value = getattr(info, field)
            if value < 1:
                raise TraceError(self.path, f"{field} must be >= 1, the file says {value}")
        if info.weights not in WEIGHTS:
            raise TraceError(
                self.path, f"weights must be one of {', '.join(WEIGHTS)}, found '{info.weights}'"
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
                raise empty_layer(self.path, rec.name, rec.shape)
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

    def encoding(self, name: str) -> str:
        """How layer ``name``'s data is stored: ``"packbits"`` or ``"uint8"``."""
        rec = self.record(name)
        if not rec.has_data:
            raise TraceError(self.path, f"a {rec.kind} record carries no data", name)
        return self._enc[name]

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
            stored = packed_shape(rec.shape) if enc == ENC_PACKBITS else rec.shape
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
            check_stored(self.path, rec, ds, enc)
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
            if np.any(stored[..., -1] & pad_mask(width)):
                raise TraceError(self.path, "corrupt data: packed padding bits set", rec.name)

    def _check_values(self, rec: LayerRecord, stored: np.ndarray) -> None:
        if self.check_levels and stored.size:
            present = levels_of(stored)
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

    def release(self, name: str) -> None:
        """Done with layer ``name`` for now: close its data set, and with it the chunks
        HDF5 keeps cached for it (a reader of many samples, one layer at a time, would
        otherwise hold every layer's). A later read opens it again."""
        self._datasets.pop(name, None)

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
                total += popcount(stored)
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
            self.nnz(rec.name, axis0_chunk=max(1, CHUNK_BYTES // max(1, row_bytes(rec))))
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


_VERIFIED = FileMemo(256)  # file -> its seal


def _verified_seal(path: Path, st: os.stat_result) -> _seal.Seal | None:
    """:func:`prosparsity.traces.seal.check`, remembered per unchanged file in this process
    (same device, inode, size and modification and change times), so that re-opening a
    trace does not hash it again."""
    key = FileMemo.key(path, st)
    found = _VERIFIED.get(key)
    if found is not None:
        return found
    found = _seal.check(path)
    if found is not None:
        _VERIFIED.remember(key, found)
    return found


def _same_file(before: os.stat_result, f: h5py.File) -> bool:
    """Whether HDF5 opened the very file whose digest was checked (not one swapped in)."""
    try:
        now = os.fstat(f.id.get_vfd_handle())
    except (OSError, TypeError, ValueError, RuntimeError):  # a driver without a fd
        return True
    return FileKey.of(now) == FileKey.of(before)


def read_info(path: str | Path) -> TraceInfo:
    """The file attributes of a trace (opens, validates, closes)."""
    with TraceReader(path) as r:
        return r.info


def read_layers(path: str | Path) -> tuple[LayerRecord, ...]:
    """The layer records of a trace, in execution order."""
    with TraceReader(path) as r:
        return r.layers
