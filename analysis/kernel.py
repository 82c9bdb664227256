"""The ProSparsity kernel: per-tile prefix search of the paper's rank-one rule
(docs/analysis.md).

One binary GEMM operand ``S`` (``M x K``) is cut into tiles of ``tile_m`` rows and ``tile_k``
columns (the paper's tiles, docs/analysis.md). Inside one tile every row ``r`` is a set of columns;
its *prefix* is the row ``s != r`` of the same tile with ``s ⊆ r`` of largest popcount (ties to the
smallest row index; an identical row qualifies only when its index is smaller; rows of popcount <= 1
get no prefix, and a popcount-0 candidate is no prefix). ``r`` then costs only ``|r| - |prefix|``
additions: its partial sum is the prefix's plus the residual bits.

Algorithm (per tile, in numba; large operands split their row tiles across cores):

1. pack each row's ``tile_k <= 128`` bits into two ``uint64`` words and count them;
2. deduplicate rows with a small open-addressing hash table: a repeated row's prefix is
   the first occurrence of its value (an identical row has the largest possible popcount
   and the first occurrence the smallest index): an *exact match*;
3. sort the distinct values by popcount, descending, stable in first-occurrence index
   (a counting sort over 0..128);
4. for each distinct value of popcount ``p >= 2`` scan the distinct values of popcount
   ``p-1, p-2, ..., 1`` in that order; the first subset found is the prefix. Only distinct
   values are compared and the scan stops at the first hit, so a tile costs far less than
   the ``tile_m^2`` pair comparisons of a broadcasting implementation (``bench/``).

The forest depth of a tile (longest prefix chain, in edges) is measured exactly as the
authors' ``nx.dag_longest_path_length`` over the edges ``prefix -> row``: 0 for a tile
without prefixes.

Rooms: the per-tile core is :mod:`prosparsity.analysis._tile`, the fused reading of
bit-packed inputs :mod:`prosparsity.analysis._fused`, the thread sharing
:mod:`prosparsity.analysis._threads`; this module runs them over whole operands.
"""

from __future__ import annotations

import numpy as np

from prosparsity.analysis._fused import (
    _bit_grid_stats_py,
    _bit_rows,
    _byte_windows,
    _field_table,
)
from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis._threads import _cores, _direct_table, _share
from prosparsity.analysis._tile import _grid_stats_py, _prefix_grid, _tile_prefix_only
from prosparsity.analysis.gemm import PackedGemm
from prosparsity.analysis.grid import MAX_TILE_K, TileGrid, check_tile_sizes
from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE

__all__ = ["forest_depth", "packed_stats", "prefix_grid", "prefix_indices", "prosparsity_stats"]

# Released GIL: row-tile ranges run on Python threads, one per core (see _run_grid).
_grid_stats = nb.njit(cache=True, nogil=True)(_grid_stats_py)
_bit_grid_stats = nb.njit(cache=True, nogil=True)(_bit_grid_stats_py)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def _as_binary_u8(S: np.ndarray, what: str = "S") -> np.ndarray:
    S = np.asarray(S)
    if S.ndim != 2:
        raise ConfigError(what, f"must be a 2-D (M, K) matrix, got shape {S.shape}")
    if S.dtype == np.bool_:
        return np.ascontiguousarray(S).view(np.uint8)
    if not np.issubdtype(S.dtype, np.integer):
        raise ConfigError(what, f"must hold bool or integer 0/1 values, got dtype {S.dtype}")
    if S.size and (S.min() < 0 or S.max() > 1):
        raise ConfigError(
            what, "must be binary (0/1); decompose multi-level inputs into bit planes first"
        )
    return np.ascontiguousarray(S, dtype=np.uint8)


def prosparsity_stats(
    S: np.ndarray,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    *,
    row_offset: int = 0,
    m_total: int | None = None,
    row_nnz: np.ndarray | None = None,
) -> TileGrid:
    """ProSparsity statistics of every tile of one binary GEMM operand.

    Args:
        S: ``(M, K)`` spike matrix, bool (or integer 0/1), rows token-major, time-minor.
        tile_m: rows per tile, 1..4096.
        tile_k: columns per tile, 1..128.
        row_offset: when ``S`` is one streamed block of a larger operand, the index of
            its first row (a multiple of ``tile_m``); only ``head_cost`` depends on it.
        m_total: rows of the whole operand (default: ``S``'s rows).
        row_nnz: ``(M,)`` int64 that receives, added, the ones of every row of ``S``
            (counted in the same pass; the counters' row sums).

    Returns:
        The per-tile statistics (see :class:`TileGrid`).

    Raises:
        ConfigError: bad tile sizes or a non-binary / non-2-D ``S``.
    """
    check_tile_sizes(tile_m, tile_k)
    S8 = _as_binary_u8(S)
    M, K = S8.shape
    tile_m, tile_k = int(tile_m), int(tile_k)
    nmt = -(-M // tile_m)
    nkt = -(-K // tile_k)
    if row_offset % tile_m:
        raise ConfigError("row_offset", f"must be a multiple of tile_m={tile_m}")
    m_total = M + row_offset if m_total is None else int(m_total)
    out = np.zeros((9, nmt, nkt), dtype=np.int64)
    sums = _row_sums(row_nnz, M)
    if M and K:
        _run_grid(S8, tile_m, tile_k, int(row_offset), m_total, out, sums)
    rows = np.full(nmt, tile_m, dtype=np.int64)
    cols = np.full(nkt, tile_k, dtype=np.int64)
    if nmt:
        rows[-1] = M - tile_m * (nmt - 1)
    if nkt:
        cols[-1] = K - tile_k * (nkt - 1)
    return TileGrid(tile_m, tile_k, rows, cols, *out)


def packed_stats(
    packed: np.ndarray,
    gemm: PackedGemm,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    *,
    row_tiles: tuple[int, int] | None = None,
    unit0: int = 0,
    row_nnz: np.ndarray | None = None,
) -> TileGrid:
    """ProSparsity statistics of a GEMM operand packed straight from its layer input.

    Equal to :func:`prosparsity_stats` of the im2col matrix of the same input, without
    building it (see :class:`PackedGemm`).

    Args:
        packed: ``(T, U_block, C, H, ceil(W/8))`` uint8, the stored input of units
            ``unit0 .. unit0 + U_block`` (all units by default).
        gemm: the operand's geometry.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        row_tiles: the row tiles ``[mt0, mt1)`` to count (default: all); their rows must
            lie within the units given.
        unit0: the first unit of ``packed``.
        row_nnz: ``(M,)`` int64 that receives, added, the ones of every row of the row
            tiles counted (counted in the same pass; the counters' row sums).

    Returns:
        The statistics of the row tiles counted (``head_cost`` relative to the whole
        operand).
    """
    check_tile_sizes(tile_m, tile_k)
    tile_m, tile_k = int(tile_m), int(tile_k)
    m, k = gemm.m, gemm.k
    nmt, nkt = -(-m // tile_m), -(-k // tile_k)
    mt0, mt1 = row_tiles if row_tiles is not None else (0, nmt)
    block = packed.shape[1]
    if not (0 <= mt0 <= mt1 <= nmt) or packed.shape[0] != gemm.steps or (
        mt1 > mt0 and not (unit0 * gemm.unit_rows <= mt0 * tile_m
                           and min(m, mt1 * tile_m) <= (unit0 + block) * gemm.unit_rows)
    ):
        raise ConfigError("row_tiles", f"row tiles {mt0}..{mt1} are not within the units "
                          f"{unit0}..{unit0 + block} given")
    out = np.zeros((9, nmt, nkt), dtype=np.int64)
    sums = _row_sums(row_nnz, m)
    if mt1 > mt0 and k:
        _run_packed(np.ascontiguousarray(packed, dtype=np.uint8), gemm, tile_m, tile_k,
                    (mt0, mt1), unit0, out, sums)
    out = out[:, mt0:mt1]
    rows = np.minimum(tile_m, m - np.arange(mt0, mt1) * tile_m)
    cols = np.minimum(tile_k, k - np.arange(nkt) * tile_k)
    return TileGrid(tile_m, tile_k, rows, cols, *out)


_NO_ROWS = np.zeros((1, 0), dtype=np.int64)


def _row_sums(row_nnz: np.ndarray | None, m: int) -> np.ndarray:
    """``row_nnz`` as the kernels' ``(1, M)`` output, or their "none" (``(1, 0)``).

    Raises:
        ConfigError: not a writable C-contiguous int64 array of ``M`` entries.
    """
    if row_nnz is None:
        return _NO_ROWS
    if (row_nnz.shape != (m,) or row_nnz.dtype != np.int64
            or not row_nnz.flags.c_contiguous or not row_nnz.flags.writeable):
        raise ConfigError("row_nnz", f"must be a writable contiguous int64 array of {m} "
                          f"entries, got {row_nnz.dtype} {row_nnz.shape}")
    return row_nnz.reshape(1, m)


def _run_grid(
    S8: np.ndarray, tile_m: int, tile_k: int, row_offset: int, m_total: int, out: np.ndarray,
    row_nnz: np.ndarray = _NO_ROWS,
) -> None:
    """Run the kernel over all row tiles, shared between threads (:func:`_share`)."""
    M, K = S8.shape
    nmt, nkt = out.shape[1], out.shape[2]
    sums = row_nnz.shape[1] > 0

    def run(a: int, b: int) -> None:
        _grid_stats(S8[a * tile_m : b * tile_m], tile_m, tile_k, row_offset + a * tile_m,
                    m_total, out[:, a:b, :], _direct_table(),
                    row_nnz[:, a * tile_m : b * tile_m] if sums else row_nnz)

    _share(run, 0, nmt, M * nkt)


def _run_packed(
    packed: np.ndarray, gemm: PackedGemm, tile_m: int, tile_k: int,
    row_tiles: tuple[int, int], unit0: int, out: np.ndarray,
    row_nnz: np.ndarray = _NO_ROWS,
) -> None:
    """The fused kernel over row tiles ``row_tiles``, shared between threads
    (:func:`_share`); ``row_nnz`` as :func:`_row_sums` gives it."""
    (kh, kw), (sh, sw) = gemm.kernel, gemm.stride
    (ph, pw), (dh, dw) = gemm.padding, gemm.dilation
    hp = gemm.height + 2 * ph
    rows = _bit_rows(packed, gemm.width, ph, pw)
    seg, nseg = _field_table(gemm.k, tile_k, kh, kw, dh, dw, hp)
    # fields of at most 8 bits (kernels up to 8 wide, undilated) read byte windows
    windows = (_byte_windows(rows, gemm.width + 2 * pw) if kw <= 8 and dw == 1
               else np.empty((0, 0), np.uint8))
    oh, ow = gemm.out_hw
    geo = (gemm.steps, packed.shape[1], gemm.channels, hp, sh, sw, ow, oh * ow, gemm.c_off)
    m_first = unit0 * gemm.unit_rows
    mt0, mt1 = row_tiles
    nkt = out.shape[2]

    slices = (min(gemm.m, mt1 * tile_m) - mt0 * tile_m) * nkt
    if mt1 - mt0 >= 2 * _cores():  # threads share the row tiles

        def run(a: int, b: int) -> None:
            _bit_grid_stats(rows, windows, geo, seg, nseg, a, b, 0, nkt, tile_m, tile_k,
                            m_first, gemm.m, out, _direct_table(), row_nnz)

    else:  # few row tiles (a small layer's one): threads share its column tiles
        # (then each column tile sums its rows apart, added up below)
        sums = row_nnz.shape[1] > 0
        parts = np.zeros((nkt, row_nnz.shape[1]), np.int64) if sums else row_nnz

        def run(a: int, b: int) -> None:
            _bit_grid_stats(rows, windows, geo, seg, nseg, mt0, mt1, a, b, tile_m, tile_k,
                            m_first, gemm.m, out, _direct_table(), parts)

        _share(run, 0, nkt, slices)
        if sums:
            row_nnz += parts.sum(axis=0)
        return
    _share(run, mt0, mt1, slices)


def prefix_indices(S_tile: np.ndarray) -> np.ndarray:
    """Prefix row of every row of ONE tile (the ProSparsity forest), the paper's rank-one rule.

    Args:
        S_tile: ``(n, w)`` binary tile, ``w <= 128``.

    Returns:
        ``(n,)`` int64: the tile-local index of each row's prefix, or -1 for none.
    """
    S8 = _as_binary_u8(S_tile, "S_tile")
    n, w = S8.shape
    if w > MAX_TILE_K:
        raise ConfigError("S_tile", f"has {w} columns; a tile holds at most {MAX_TILE_K}")
    prefix = np.full(n, -1, dtype=np.int64)
    if n and w:
        _tile_prefix_only(S8, prefix)
    return prefix


def prefix_grid(
    S: np.ndarray, tile_m: int = DEFAULT_TILE.tile_m, tile_k: int = DEFAULT_TILE.tile_k
) -> np.ndarray:
    """The ProSparsity forest of every tile of ``S`` at once.

    Args:
        S: ``(M, K)`` binary matrix.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).

    Returns:
        ``(M, nKt)`` int64: ``[m, kt]`` is the prefix of row ``m`` in column tile ``kt``
        as a row index *local to its row tile* (add ``(m // tile_m) * tile_m`` for the
        global row), or -1.
    """
    check_tile_sizes(tile_m, tile_k)
    S8 = _as_binary_u8(S)
    M, K = S8.shape
    out = np.full((M, -(-K // int(tile_k))), -1, dtype=np.int64)
    if M and K:
        _prefix_grid(S8, int(tile_m), int(tile_k), out)
    return out


def forest_depth(prefix: np.ndarray) -> int:
    """Longest chain (in edges) of a prefix forest given as per-row prefix indices.

    Equals the authors' ``nx.dag_longest_path_length`` of the graph with one edge
    ``prefix[i] -> i`` per row with a prefix (0 for an empty forest).
    """
    prefix = np.asarray(prefix, dtype=np.int64)
    depth = np.full(prefix.shape[0], -1, dtype=np.int64)
    best = 0
    for i in range(prefix.shape[0]):
        chain = []
        j = i
        while depth[j] < 0 and prefix[j] >= 0:
            chain.append(j)
            j = int(prefix[j])
            if len(chain) > prefix.shape[0]:
                raise ConfigError("prefix", "contains a cycle; not a forest")
        base = max(depth[j], 0)
        for c in reversed(chain):
            base += 1
            depth[c] = base
        if depth[i] < 0:
            depth[i] = 0
        best = max(best, int(depth[i]))
    return best
