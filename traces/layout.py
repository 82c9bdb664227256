"""The HDF5 layout of a trace: names, encodings, filters, and the checks of stored data.

File layout of a v2 trace (all strings UTF-8)::

    bytes 0..511            the seal (HDF5 user block, see :mod:`prosparsity.traces.seal`):
                            a text header with the SHA-256 of every following byte
    /                       attributes: schema="prosparsity-trace", schema_version=2
    /meta                   1-D uint8 data set: one JSON document (UTF-8) holding the file
                            attributes ("info") and every layer record ("layers", in
                            execution order: name, kind, params, shape, layout, levels,
                            in_network, encoding; see :mod:`prosparsity.traces.metadata`).
                            Opening reads it in one go: O(1) HDF5 operations whatever the
                            number of layers.
    /pool                   1-D uint8: the stored bytes of every layer of at most
                            ``POOL_BYTES``, concatenated (a record's "pool" field gives
                            its offset and length)
    /data/00000, 00001...   the larger GEMM layers, named by the record's index. Binary
                            layers (levels within {0, 1}) are bit-packed with
                            ``np.packbits`` along the last axis (encoding "packbits", last
                            axis ceil(W / 8) bytes, padding bits zero); multi-level layers
                            are plain uint8 (encoding "uint8"). They are chunked along the
                            first axis and compressed with Zstandard (hdf5plugin's filter;
                            LZF in traces written before 2026-12-01, still read: the filter
                            is HDF5's business, see :class:`Compression`).

The v1 layout (no seal, one group per record) is :mod:`prosparsity.traces.v1`. This
module holds what the writer (:mod:`prosparsity.traces.writer`) and the reader
(:mod:`prosparsity.traces.reader`) share: the names above, the encodings, the filters,
and the checks a layer's stored data must pass.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from prosparsity.core.errors import TraceError
from prosparsity.traces.schema import LayerRecord

__all__ = [
    "CHUNK_BYTES",
    "DATA",
    "DEFAULT_COMPRESSION",
    "ENCODINGS",
    "ENC_PACKBITS",
    "ENC_UINT8",
    "INFO_INT",
    "INFO_STR",
    "META",
    "POOL",
    "POOL_BYTES",
    "WEIGHTS",
    "Compression",
    "as_uint8",
    "check_filters",
    "check_stored",
    "batch_chunk_shape",
    "chunk_shape",
    "default_levels",
    "empty_layer",
    "filter_kwargs",
    "levels_of",
    "packed_shape",
    "pad_mask",
    "popcount",
    "register_plugins",
    "row_bytes",
    "zstd_compressor",
]

ENC_PACKBITS = "packbits"
ENC_UINT8 = "uint8"
ENCODINGS = (ENC_PACKBITS, ENC_UINT8)
DATA = "data"  # v1: /layers/NNNNN/data; v2: the group /data
META = "meta"  # v2
#: target size of one HDF5 chunk
CHUNK_BYTES = 1 << 20
#: layers storing at most this many bytes share the data set ``/pool`` (streamed layers
#: too when ``begin_layer`` is given their full shape)
POOL_BYTES = 16 << 10
POOL = "pool"  # v2: the small layers' stored bytes, concatenated
#: the ``weights`` attribute's values
WEIGHTS = ("trained", "random", "unknown")
#: the string and whole-number file attributes
INFO_STR = ("model", "dataset", "weights", "checkpoint", "checkpoint_sha256", "workload",
            "tool_version", "created")
INFO_INT = ("time_steps", "batch_size", "samples")


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


def register_plugins() -> bool:
    """Register hdf5plugin's filters with HDF5 (its import does; ~50 ms, so only when a
    data set needs one). Returns whether the package is installed."""
    try:
        import hdf5plugin  # noqa: F401 - registers its filters on import
    except ImportError:  # pragma: no cover - a locked dependency
        return False
    return True


def filter_kwargs(compression: Compression) -> dict[str, Any]:
    """``create_dataset`` keyword arguments of a filter."""
    if compression is Compression.NONE:
        return {}
    if compression is Compression.LZF:
        return {"compression": "lzf"}
    register_plugins()
    fid, opts = _PLUGIN_FILTERS[compression]
    return {"compression": fid, "compression_opts": opts}


def zstd_compressor(compression: Compression) -> Any:
    """A ``zstandard.ZstdCompressor`` making exactly the frames HDF5's Zstd filter
    (:data:`Compression.ZSTD`) makes and reads (its level, the content size in the
    header, no checksum), for chunks the writer compresses itself; ``None`` for the
    other filters."""
    if compression is not Compression.ZSTD:
        return None
    import zstandard

    level = _PLUGIN_FILTERS[Compression.ZSTD][1][0]
    return zstandard.ZstdCompressor(level=level, write_content_size=True,
                                    write_checksum=False)


# ------------------------------------------------------------------------ shapes, values


def packed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The stored shape of a bit-packed layer: the last axis in bytes."""
    return (*shape[:-1], (shape[-1] + 7) // 8)


def chunk_shape(stored: tuple[int, ...]) -> tuple[int, ...] | bool:
    """Chunks holding a slab of the first axis and whole trailing sub-arrays.

    Returns ``True`` (let h5py choose) when one first-axis entry alone exceeds the
    target chunk size or the shape is empty.
    """
    if not stored or 0 in stored[1:]:
        return True
    row = math.prod(stored[1:])
    if row > CHUNK_BYTES:
        return True
    # a first axis of unknown length (streamed) gets chunks of up to 4096 entries
    first = max(1, min(stored[0] or 4096, CHUNK_BYTES // row))
    return (first, *stored[1:])


def batch_chunk_shape(stored: tuple[int, ...], samples: int = 0) -> tuple[int, ...]:
    """Chunks of a ``T, B, ...`` layer written a batch of samples at a time along ``B``.

    A chunk holds whole trailing sub-arrays: every time step and as many samples as fit
    :data:`CHUNK_BYTES` (one sample and fewer steps when one sample does not fit; a
    single step-sample row above it is a chunk of its own). ``samples``, when given,
    caps the samples of a chunk (a layer smaller than one chunk is one chunk of exactly
    its size). A writer that appends whole chunks writes and compresses each once.
    """
    t, tail = max(1, stored[0]), tuple(max(1, s) for s in stored[2:])
    row = math.prod(tail)
    if t * row <= CHUNK_BYTES:
        b = CHUNK_BYTES // (t * row)
        return (t, max(1, min(b, samples) if samples else b), *tail)
    return (max(1, min(t, CHUNK_BYTES // row)), 1, *tail)


def row_bytes(rec: LayerRecord) -> int:
    """Values per entry of a record's first axis (1 for a 1-D layer)."""
    return math.prod(rec.shape[1:]) if len(rec.shape) > 1 else 1


#: values read at a time by :func:`levels_of` (``np.bincount`` casts its input to 8-byte
#: integers: whole, a layer would cost eight times its size in memory)
_LEVEL_SLAB = 1 << 20
#: values between the smallest and the largest that :func:`levels_of` looks for one by one
#: (past that, a histogram)
_FEW_LEVELS = 16


def levels_of(data: np.ndarray) -> tuple[int, ...]:
    """The distinct values of uint8 (or bool) data, ascending.

    The smallest and largest values are levels; each value between them is looked for,
    slab by slab, until every one is found (spike data has few levels, and a binary
    layer none between 0 and 1); past ``_FEW_LEVELS`` of them, one histogram per slab.
    """
    if data.size == 0:
        return ()
    flat = data.reshape(-1)
    if data.dtype == np.bool_:
        return tuple(v for v, seen in ((0, not flat.all()), (1, bool(flat.any()))) if seen)
    first, last = int(flat.min()), int(flat.max())
    inner = range(first + 1, last)
    if len(inner) > _FEW_LEVELS:
        counts = np.zeros(256, np.int64)
        for start in range(0, flat.size, _LEVEL_SLAB):
            counts += np.bincount(flat[start : start + _LEVEL_SLAB], minlength=256)
        return tuple(int(v) for v in np.flatnonzero(counts))
    missing = set(inner)
    for start in range(0, flat.size, _LEVEL_SLAB):
        if not missing:
            break
        slab = flat[start : start + _LEVEL_SLAB]
        missing = {v for v in missing if not (slab == v).any()}
    return tuple(sorted({first, last, *(v for v in inner if v not in missing)}))


def default_levels(present: tuple[int, ...]) -> tuple[int, ...]:
    """Levels recorded when none are declared: (0, 1) for any binary data (an all-zero
    or all-one layer is still a spike layer), else the distinct values present."""
    return (0, 1) if set(present) <= {0, 1} else present


def as_uint8(path: str | Path, name: str, data: np.ndarray) -> np.ndarray:
    """Spike data as uint8 (bool, integer and whole-valued float dtypes in 0..255).

    Raises:
        TraceError: values outside 0..255, fractional values, or another dtype (naming
            ``path`` and layer ``name``).
    """
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


def pad_mask(width: int) -> np.uint8:
    """The padding bits of the last packed byte of a row of ``width`` bits."""
    return np.uint8((1 << (8 - width % 8)) - 1) if width % 8 else np.uint8(0)


def popcount(packed: np.ndarray) -> int:
    """Number of set bits in a uint8 array."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return int(np.bitwise_count(packed).sum(dtype=np.int64))
    return int(np.unpackbits(packed).sum(dtype=np.int64))  # pragma: no cover


def empty_layer(path: str | Path, name: str, shape: tuple[int, ...]) -> TraceError:
    """The error of a GEMM layer without values (writer and reader)."""
    return TraceError(
        path,
        f"empty layer: its input of shape {shape} holds no values (a GEMM layer needs at "
        "least one; leave the layer out instead)",
        name,
    )


# ------------------------------------------------------------------- stored-data checks


def check_stored(path: str | Path, rec: LayerRecord, ds: Any, enc: str) -> None:
    """A layer's stored data set (or pooled bytes) against its record: encoding, shape,
    dtype, and (chunked data) the availability of its filters.

    Raises:
        TraceError: the first mismatch, naming the layer.
    """
    if enc == ENC_PACKBITS:
        if not rec.binary:
            raise TraceError(
                path,
                f"layer declares levels {rec.levels} but its data is stored bit-packed",
                rec.name,
            )
        want = packed_shape(rec.shape) if rec.shape else ()
    else:
        want = rec.shape
    if not rec.shape or tuple(ds.shape) != tuple(want):
        raise TraceError(
            path,
            f"shape mismatch: metadata says {rec.shape} ({enc} store {want}), "
            f"stored data is {tuple(ds.shape)}",
            rec.name,
        )
    if ds.dtype != np.uint8:
        raise TraceError(path, f"stored data has dtype {ds.dtype}, expected uint8", rec.name)
    if ds.chunks is not None:
        check_filters(path, rec.name, ds)


def check_filters(path: str | Path, name: str, ds: h5py.Dataset) -> None:
    """Every filter of a chunked data set must be available before its first read;
    hdf5plugin's are registered on first need."""
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        fid = plist.get_filter(i)[0]
        if h5py.h5z.filter_avail(fid):
            continue
        if register_plugins() and h5py.h5z.filter_avail(fid):
            continue
        raise TraceError(
            path,
            f"its data needs HDF5 filter {fid}, which this installation lacks "
            "(is hdf5plugin installed?)",
            name,
        )
