"""The residual-only NumPy reference: the strongest simple baseline.

It does the whole job ``prosparsity.count`` does for the headline number, in plain NumPy:

1. **open**: open the trace (:class:`prosparsity.traces.reader.TraceReader`, the same
   reader, so the digest check is the same);
2. **read and unpack**: read every GEMM layer's stored bytes and ``np.unpackbits`` them;
3. **rows**: build each spiking GEMM operand ``S`` (``M x K``, uint8): im2col with
   ``sliding_window_view`` for convolutions, token-major / time-minor rows;
4. **kernel**: per row tile and column tile, pack each row's ``tile_k <= 64`` bits into
   ONE ``uint64``, compare all row pairs of the tile by broadcasting (``s ⊆ r`` iff
   ``s & ~r == 0``), take ``residual(r) = |r| - max |s|`` over the strict subsets, and
   0 for a repeat of an earlier row's value (an exact match; found by a stable sort);
   rows of popcount <= 1 keep their bits. Every column tile of a row tile is compared
   in one broadcast (``(nKt, n, n)``), so there is one NumPy call sequence per row
   tile, not per tile;
5. **aggregation**: sum nnz and residual ones over the trace, weighted by each GEMM's
   output passes ``ceil(N/128)``, into bit and product density.

Only the residual counts are computed (no row classes, no forest depth, no head cost):
the reference does strictly less work than the kernel, which is what makes it the
fair yardstick. ``bench_kernel.py`` checks that both give the same residual counts per
tile before timing them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.params import ConvParams, LinearParams
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord

ADDERS = 128


def popcount64(x: np.ndarray) -> np.ndarray:
    """Bits set per element of a uint64 array (SWAR, vectorised)."""
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def residual_tiles(S: np.ndarray, tile_m: int = DEFAULT_TILE.tile_m,
                   tile_k: int = DEFAULT_TILE.tile_k) -> np.ndarray:
    """``(nMt, nKt)`` ones left after ProSparsity in each tile of ``S`` (uint8 0/1).

    Raises:
        ValueError: ``tile_k > 64`` (one word per row).
    """
    if tile_k > 64:
        raise ValueError("the reference packs a tile row into one uint64: tile_k <= 64")
    M, K = S.shape
    nmt, nkt = -(-M // tile_m), -(-K // tile_k)
    padded = np.zeros((M, nkt * tile_k), dtype=np.uint64)
    padded[:, :K] = S
    weights = np.uint64(1) << np.arange(tile_k, dtype=np.uint64)
    # words[m, kt]: row m's bits in column tile kt
    words = (padded.reshape(M, nkt, tile_k) * weights).sum(axis=2, dtype=np.uint64)
    out = np.zeros((nmt, nkt), dtype=np.int64)
    for mt in range(nmt):
        v = np.ascontiguousarray(words[mt * tile_m : (mt + 1) * tile_m].T)  # (nKt, n)
        pc = popcount64(v)
        # strict subsets: s & ~r == 0 and a smaller popcount (a subset of equal popcount
        # is the row's own value); subset[t, r, s] for column tile t
        strict = ((v[:, None, :] & ~v[:, :, None]) == 0) & (pc[:, None, :] < pc[:, :, None])
        best = np.where(strict, pc[:, None, :], 0).max(axis=2)
        # a repeat of an earlier row's value is an exact match: residual 0
        order = np.argsort(v, axis=1, kind="stable")
        sv = np.take_along_axis(v, order, axis=1)
        repeat = np.zeros_like(sv, dtype=bool)
        repeat[:, 1:] = sv[:, 1:] == sv[:, :-1]
        twin = np.empty_like(repeat)
        np.put_along_axis(twin, order, repeat, axis=1)
        res = np.where(pc < 2, pc, np.where(twin, 0, pc - best))
        out[mt] = res.sum(axis=1)
    return out


# -- building the GEMM rows in NumPy ------------------------------------------------------


def _linear_rows(rec: LayerRecord, x: np.ndarray) -> np.ndarray:
    axes = rec.axes
    k = x.shape[-1]
    if "T" in axes[:-1]:
        x = np.moveaxis(x, axes.index("T"), 0)
    else:
        x = x[None]
    t = x.shape[0]
    return np.ascontiguousarray(x.reshape(t, -1, k).transpose(1, 0, 2)).reshape(-1, k)


def _conv_rows(rec: LayerRecord, x: np.ndarray) -> np.ndarray:
    c = rec.parsed
    assert isinstance(c, ConvParams)
    axes = rec.axes
    order = [axes.index(a) for a in ("T", "B", "C", "H", "W") if a in axes]
    x = x.transpose(order)
    if "T" not in axes:
        x = x[None]
    if "B" not in axes:
        x = x[:, None]
    k, s, p, d = int(c.kernel), c.stride, c.padding, c.dilation
    if p:
        x = np.pad(x, [(0, 0)] * 3 + [(p, p)] * 2)
    span = d * (k - 1) + 1
    win = np.lib.stride_tricks.sliding_window_view(x, (span, span), axis=(3, 4))
    win = win[:, :, :, ::s, ::s, ::d, ::d]  # (T, B, C, H', W', k, k)
    t, b, ch, oh, ow = win.shape[:5]
    # rows ((b*H' + y)*W' + x)*T + t, columns c*k*k + i*k + j
    rows = win.transpose(1, 3, 4, 0, 2, 5, 6)
    return np.ascontiguousarray(rows).reshape(b * oh * ow * t, ch * k * k)


def gemm_rows(rec: LayerRecord, x: np.ndarray) -> tuple[np.ndarray, int]:
    """The operand ``S`` (uint8) of an ungrouped linear / conv2d record and its ``N``."""
    p = rec.parsed
    if rec.kind is LayerKind.LINEAR:
        assert isinstance(p, LinearParams)
        return _linear_rows(rec, x), int(p.out_features)
    if rec.kind is LayerKind.CONV2D:
        assert isinstance(p, ConvParams)
        if p.groups != 1:
            raise ValueError(f"{rec.name}: the reference handles ungrouped convolutions only")
        return _conv_rows(rec, x), int(p.out_channels)
    raise ValueError(f"{rec.name}: the reference handles linear and conv2d layers only")


# -- the whole job -------------------------------------------------------------------------


@dataclass
class Split:
    """Seconds spent per phase (``open``, ``read``, ``rows``, ``kernel``, ``aggregation``)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("open", "read", "rows", "kernel", "aggregation"), 0.0))

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@dataclass(frozen=True)
class ReferenceResult:
    """Bit and product density of a trace, and the residual tiles of every GEMM."""

    bit_density: float
    product_density: float
    residual: dict[str, np.ndarray]


def analyze(path: str | Path, tile_m: int = DEFAULT_TILE.tile_m,
            tile_k: int = DEFAULT_TILE.tile_k,
            split: Split | None = None) -> ReferenceResult:
    """The reference's whole job on a trace of linear / conv2d layers (see module doc)."""
    split = split or Split()
    sec = split.seconds
    t0 = time.perf_counter()
    with TraceReader(path) as reader:
        records = [r for r in reader.layers if r.in_network and r.has_data]
        t1 = time.perf_counter()
        sec["open"] += t1 - t0
        nnz = res = elements = 0
        residual = {}
        for rec in records:
            t1 = time.perf_counter()
            x = reader.read(rec.name)
            t2 = time.perf_counter()
            S, n = gemm_rows(rec, x)
            t3 = time.perf_counter()
            tiles = residual_tiles(S, tile_m, tile_k)
            t4 = time.perf_counter()
            passes = math.ceil(n / ADDERS)
            residual[rec.name] = tiles
            nnz += int(S.sum(dtype=np.int64)) * passes
            res += int(tiles.sum()) * passes
            elements += S.size * passes
            t5 = time.perf_counter()
            sec["read"] += t2 - t1
            sec["rows"] += t3 - t2
            sec["kernel"] += t4 - t3
            sec["aggregation"] += t5 - t4
    return ReferenceResult(nnz / elements, res / elements, residual)
