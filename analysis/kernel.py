"""The ProSparsity kernel: per-tile prefix search of the paper's rank-one rule (spec §3).

One binary GEMM operand ``S`` (``M x K``) is cut into tiles of ``tile_m`` rows and
``tile_k`` columns (spec §2). Inside one tile every row ``r`` is a set of columns; its
*prefix* is the row ``s != r`` of the same tile with ``s ⊆ r`` of largest popcount (ties to
the smallest row index; an identical row qualifies only when its index is smaller; rows of
popcount <= 1 get no prefix, and a popcount-0 candidate is no prefix). ``r`` then costs
only ``|r| - |prefix|`` additions: its partial sum is the prefix's plus the residual bits.

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
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba as nb
import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE

#: Largest supported ``tile_k``: a tile row is packed into two 64-bit words.
MAX_TILE_K = 128
#: Largest supported ``tile_m`` (the paper sweeps 32..2048).
MAX_TILE_M = 4096

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)


# --------------------------------------------------------------------------------------
# numba core
# --------------------------------------------------------------------------------------


@nb.njit(cache=True, inline="always")
def _popcount64(x: np.uint64) -> np.int64:
    # SWAR popcount (numba has no portable intrinsic for uint64).
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@nb.njit(cache=True)
def _pack_tile(S, r0, n, c0, w, lo, hi, pc):
    """Pack rows ``r0..r0+n`` x columns ``c0..c0+w`` of ``S`` (uint8) into lo/hi words."""
    for i in range(n):
        a = _U0
        b = _U0
        row = S[r0 + i]
        for j in range(w):
            if row[c0 + j] != 0:
                if j < 64:
                    a |= _U1 << np.uint64(j)
                else:
                    b |= _U1 << np.uint64(j - 64)
        lo[i] = a
        hi[i] = b
        pc[i] = _popcount64(a) + _popcount64(b)


@nb.njit(cache=True)
def _tile_prefix(lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi):
    """Prefix search of one tile of ``n`` packed rows (spec §3).

    Writes ``prefix[i]`` (tile-local prefix row index or -1) for ``i < n`` and returns
    ``(residual_nnz, zero_rows, em_rows, pm_rows, ge2_rows, forest_depth)``. The other
    arrays are scratch space of at least ``n`` (``table``: a power of two >= 2n;
    ``bucket``: 130 entries).
    """
    tsize = table.shape[0]
    mask = np.uint64(tsize - 1)
    for s in range(tsize):
        table[s] = -1
    nd = 0  # number of distinct values
    residual = 0
    zero = 0
    em = 0
    pm = 0
    ge2 = 0
    # 1-2. hash-deduplicate; duplicates of a value with popcount >= 2 are exact matches.
    for i in range(n):
        p = pc[i]
        if p == 0:
            zero += 1
        if p >= 2:
            ge2 += 1
        h = ((lo[i] * _H1) ^ (hi[i] * _H2)) >> np.uint64(20)
        slot = np.int64(h & mask)
        while True:
            d = table[slot]
            if d == -1:
                table[slot] = nd
                dvals[nd] = i
                nd += 1
                first[i] = i
                break
            f = dvals[d]
            if lo[f] == lo[i] and hi[f] == hi[i]:
                first[i] = f
                break
            slot = (slot + 1) & (tsize - 1)
        prefix[i] = -1
        if first[i] != i:
            if p >= 2:
                prefix[i] = first[i]
                em += 1
            else:
                residual += p  # a repeated row of popcount <= 1 keeps its bit
    # 3. counting sort of distinct values by popcount, descending, stable in index.
    for p in range(130):
        bucket[p] = 0
    for d in range(nd):
        bucket[128 - pc[dvals[d]] + 1] += 1
    for p in range(1, 130):
        bucket[p] += bucket[p - 1]
    # bucket[128 - p] is now the first sorted position of popcount p.
    for d in range(nd):
        key = 128 - pc[dvals[d]]
        order[bucket[key]] = dvals[d]
        bucket[key] += 1
    # after the fill bucket[128 - p] is the end of popcount p == start of popcount p-1.
    # sorted copies of the distinct values, for a sequential scan
    for q in range(nd):
        slo[q] = lo[order[q]]
        shi[q] = hi[order[q]]
    end1 = bucket[127]  # end of popcount 1 == start of the popcount-0 value, if any
    # 4. strict-subset search for distinct values of popcount >= 2: the first sorted
    # position q in [start, end1) whose value is a subset of the row (popcount
    # descending, then first-occurrence index ascending) holds the prefix.
    for d in range(nd):
        i = dvals[d]
        p = pc[i]
        if p < 2:
            residual += p
            continue
        start = bucket[128 - p]  # first sorted position with popcount < p
        best = -1
        li = ~lo[i]
        hi_ = ~hi[i]
        for q in range(start, end1):
            if (slo[q] & li) == _U0 and (shi[q] & hi_) == _U0:
                best = order[q]
                break
        if best >= 0:
            prefix[i] = best
            residual += p - pc[best]
            pm += 1
        else:
            residual += p
    # forest depth: prefixes of distinct values have smaller popcount; walk the sorted
    # order backwards (ascending popcount) so a prefix's depth is known first.
    maxdepth = 0
    for q in range(nd - 1, -1, -1):
        i = order[q]
        if prefix[i] >= 0:
            depth[i] = depth[prefix[i]] + 1
        else:
            depth[i] = 0
        if depth[i] > maxdepth:
            maxdepth = depth[i]
    # exact matches hang below their first occurrence.
    for i in range(n):
        if first[i] != i and pc[i] >= 2:
            dd = depth[first[i]] + 1
            if dd > maxdepth:
                maxdepth = dd
    return residual, zero, em, pm, ge2, maxdepth


def _grid_stats_py(S, tile_m, tile_k, row_offset, m_total, out):
    """Statistics of every tile of ``S`` (uint8, C-contiguous) into ``out`` (9, nMt, nKt).

    Planes of ``out``: nnz, residual_nnz, zero, em, pm, other, ge2, forest_depth,
    head_cost. ``S`` holds rows ``row_offset..`` of a GEMM operand of ``m_total`` rows.
    """
    M, K = S.shape
    nmt = (M + tile_m - 1) // tile_m
    nkt = (K + tile_k - 1) // tile_k
    rows = min(tile_m, M)  # scratch for the largest tile actually present
    tsize = 1
    while tsize < 2 * rows:
        tsize *= 2
    lo = np.empty(rows, np.uint64)
    hi = np.empty(rows, np.uint64)
    pc = np.empty(rows, np.int64)
    prefix = np.empty(rows, np.int64)
    first = np.empty(rows, np.int64)
    table = np.empty(tsize, np.int64)
    dvals = np.empty(rows, np.int64)
    order = np.empty(rows, np.int64)
    bucket = np.empty(130, np.int64)
    depth = np.empty(rows, np.int64)
    slo = np.empty(rows, np.uint64)
    shi = np.empty(rows, np.uint64)
    for mt in range(nmt):
        r0 = mt * tile_m
        n = min(tile_m, M - r0)
        for kt in range(nkt):
            c0 = kt * tile_k
            w = min(tile_k, K - c0)
            _pack_tile(S, r0, n, c0, w, lo, hi, pc)
            nnz = 0
            for i in range(n):
                nnz += pc[i]
            res, zero, em, pm, ge2, dep = _tile_prefix(
                lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi
            )
            out[0, mt, kt] = nnz
            out[1, mt, kt] = res
            out[2, mt, kt] = zero
            out[3, mt, kt] = em
            out[4, mt, kt] = pm
            out[5, mt, kt] = n - zero - em - pm
            out[6, mt, kt] = ge2
            out[7, mt, kt] = dep
            # head cost: rows whose flat (row, column tile) index is below m_total
            head = 0
            for i in range(n):
                if (row_offset + r0 + i) * nkt + kt >= m_total:
                    break
                p = pc[i]
                if prefix[i] >= 0:
                    p -= pc[prefix[i]]
                    if p == 0:
                        p = 1  # an exact match costs one cycle to forward its prefix
                head += p
            out[8, mt, kt] = head


# Released GIL: row-tile ranges run on Python threads, one per core (see _run_grid).
_grid_stats = nb.njit(cache=True, nogil=True)(_grid_stats_py)
#: Row slices (rows x column tiles) above which the row tiles are split across threads.
PARALLEL_MIN_ROW_SLICES = 8192


@nb.njit(cache=True)
def _prefix_grid(S, tile_m, tile_k, out):
    """Tile-local prefix index of every row slice: ``out[m, kt]`` (``(M, nKt)``)."""
    M, K = S.shape
    nkt = (K + tile_k - 1) // tile_k
    tsize = 1
    while tsize < 2 * tile_m:
        tsize *= 2
    lo = np.empty(tile_m, np.uint64)
    hi = np.empty(tile_m, np.uint64)
    pc = np.empty(tile_m, np.int64)
    prefix = np.empty(tile_m, np.int64)
    first = np.empty(tile_m, np.int64)
    table = np.empty(tsize, np.int64)
    dvals = np.empty(tile_m, np.int64)
    order = np.empty(tile_m, np.int64)
    bucket = np.empty(130, np.int64)
    depth = np.empty(tile_m, np.int64)
    slo = np.empty(tile_m, np.uint64)
    shi = np.empty(tile_m, np.uint64)
    for r0 in range(0, M, tile_m):
        n = min(tile_m, M - r0)
        for kt in range(nkt):
            c0 = kt * tile_k
            _pack_tile(S, r0, n, c0, min(tile_k, K - c0), lo, hi, pc)
            _tile_prefix(lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi)
            for i in range(n):
                out[r0 + i, kt] = prefix[i]


@nb.njit(cache=True)
def _tile_prefix_only(S, out_prefix):
    n, w = S.shape
    lo = np.empty(n, np.uint64)
    hi = np.empty(n, np.uint64)
    pc = np.empty(n, np.int64)
    first = np.empty(n, np.int64)
    tsize = 1
    while tsize < 2 * n:
        tsize *= 2
    table = np.empty(tsize, np.int64)
    dvals = np.empty(n, np.int64)
    order = np.empty(n, np.int64)
    bucket = np.empty(130, np.int64)
    depth = np.empty(n, np.int64)
    slo = np.empty(n, np.uint64)
    shi = np.empty(n, np.uint64)
    _pack_tile(S, 0, n, 0, w, lo, hi, pc)
    return _tile_prefix(
        lo, hi, pc, n, out_prefix, first, table, dvals, order, bucket, depth, slo, shi
    )


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TileGrid:
    """ProSparsity statistics of one binary GEMM operand (one bit plane), per tile.

    All per-tile arrays have shape ``(nMt, nKt)``, dtype int64, tile order m-major then k
    (``[mt, kt]`` is row tile ``mt``, column tile ``kt``), exactly what the authors'
    per-tile loop sees. Row classes follow spec §3 and partition the rows of each tile:
    ``zero_rows + em_rows + pm_rows + other_rows == rows[:, None]``.

    Attributes:
        tile_m: rows per tile.
        tile_k: columns per tile.
        rows: ``(nMt,)`` rows in each row tile (the last may be partial).
        cols: ``(nKt,)`` columns in each column tile (the last may be partial).
        nnz: ones of ``S`` in the tile.
        residual_nnz: ones left after ProSparsity (the additions it still costs).
        zero_rows: rows with popcount 0.
        em_rows: exact-match rows (popcount > 0, empty residual).
        pm_rows: partial-match rows (prefix found, residual non-empty).
        other_rows: the rest (popcount >= 1, no prefix).
        ge2_rows: rows with popcount >= 2 (the rows the prefix search examines).
        forest_depth: longest prefix chain in edges (the authors'
            ``nx.dag_longest_path_length`` of the tile's forest; 0 without prefixes).
        head_cost: issue-type-2 cost (residual bits + one per exact match) of the rows
            of the tile whose flat row-slice index ``m * nKt + kt`` is below ``M``. Their
            sum over the grid is what the authors' CUDA path (the one that produced the
            official numbers) charges as the compute of *every* tile in its issue-type-1
            loop, a slip (see docs/analysis.md); zero for tiles past the first ``M`` row
            slices.
    """

    tile_m: int
    tile_k: int
    rows: np.ndarray
    cols: np.ndarray
    nnz: np.ndarray
    residual_nnz: np.ndarray
    zero_rows: np.ndarray
    em_rows: np.ndarray
    pm_rows: np.ndarray
    other_rows: np.ndarray
    ge2_rows: np.ndarray
    forest_depth: np.ndarray
    head_cost: np.ndarray

    _PER_TILE = (
        "nnz",
        "residual_nnz",
        "zero_rows",
        "em_rows",
        "pm_rows",
        "other_rows",
        "ge2_rows",
        "forest_depth",
        "head_cost",
    )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TileGrid):
            return NotImplemented
        return (self.tile_m, self.tile_k) == (other.tile_m, other.tile_k) and all(
            np.array_equal(getattr(self, n), getattr(other, n))
            for n in ("rows", "cols", *self._PER_TILE)
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays

    def __post_init__(self) -> None:
        for name in ("rows", "cols", *self._PER_TILE):
            arr = np.asarray(getattr(self, name), dtype=np.int64)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def m(self) -> int:
        """Rows of the GEMM operand (M)."""
        return int(self.rows.sum())

    @property
    def k(self) -> int:
        """Columns of the GEMM operand (K)."""
        return int(self.cols.sum())

    @property
    def shape_tiles(self) -> tuple[int, int]:
        """``(nMt, nKt)``."""
        return (int(self.rows.shape[0]), int(self.cols.shape[0]))

    @property
    def elements(self) -> int:
        """``M * K``."""
        return self.m * self.k

    def total(self, field: str) -> int:
        """Sum of one per-tile field over all tiles (e.g. ``total("residual_nnz")``)."""
        if field not in self._PER_TILE:
            raise ConfigError("field", f"not a per-tile field of TileGrid: {field!r}")
        return int(getattr(self, field).sum())

    @staticmethod
    def vstack(grids: list[TileGrid] | tuple[TileGrid, ...]) -> TileGrid:
        """Stack grids of consecutive row blocks (same tile sizes and columns).

        Every block but the last must hold a whole number of row tiles.
        """
        if not grids:
            raise ConfigError("grids", "at least one TileGrid is needed")
        g0 = grids[0]
        for g in grids[1:]:
            if (g.tile_m, g.tile_k) != (g0.tile_m, g0.tile_k) or not np.array_equal(
                g.cols, g0.cols
            ):
                raise ConfigError("grids", "tile sizes and columns must agree to stack")
        for g in grids[:-1]:
            if np.any(g.rows != g.tile_m):
                raise ConfigError("grids", "only the last block may hold a partial row tile")
        fields = {
            name: np.concatenate([getattr(g, name) for g in grids], axis=0)
            for name in ("rows", *TileGrid._PER_TILE)
        }
        return TileGrid(tile_m=g0.tile_m, tile_k=g0.tile_k, cols=g0.cols, **fields)


def check_tile_sizes(tile_m: int, tile_k: int) -> None:
    """Validate tile sizes (``1 <= tile_m <= 4096``, ``1 <= tile_k <= 128``).

    Raises:
        ConfigError: naming ``tile_m`` or ``tile_k``.
    """
    if not isinstance(tile_m, int | np.integer) or not 1 <= int(tile_m) <= MAX_TILE_M:
        raise ConfigError("tile_m", f"must be an integer in 1..{MAX_TILE_M}, got {tile_m!r}")
    if not isinstance(tile_k, int | np.integer) or not 1 <= int(tile_k) <= MAX_TILE_K:
        raise ConfigError("tile_k", f"must be an integer in 1..{MAX_TILE_K}, got {tile_k!r}")


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
) -> TileGrid:
    """ProSparsity statistics of every tile of one binary GEMM operand.

    Args:
        S: ``(M, K)`` spike matrix, bool (or integer 0/1), rows token-major, time-minor.
        tile_m: rows per tile, 1..4096.
        tile_k: columns per tile, 1..128.
        row_offset: when ``S`` is one streamed block of a larger operand, the index of
            its first row (a multiple of ``tile_m``); only ``head_cost`` depends on it.
        m_total: rows of the whole operand (default: ``S``'s rows).

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
    if M and K:
        _run_grid(S8, tile_m, tile_k, int(row_offset), m_total, out)
    rows = np.full(nmt, tile_m, dtype=np.int64)
    cols = np.full(nkt, tile_k, dtype=np.int64)
    if nmt:
        rows[-1] = M - tile_m * (nmt - 1)
    if nkt:
        cols[-1] = K - tile_k * (nkt - 1)
    return TileGrid(tile_m, tile_k, rows, cols, *out)


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prosparsity-kernel")


def _run_grid(
    S8: np.ndarray, tile_m: int, tile_k: int, row_offset: int, m_total: int, out: np.ndarray
) -> None:
    """Run the kernel over all row tiles, split into one contiguous range per core.

    The numba kernel releases the GIL, so plain threads use every core; idle threads
    block instead of spinning (an OpenMP/TBB pool spins, which costs a core on a busy
    machine). Small operands run on the calling thread.
    """
    M, K = S8.shape
    nmt, nkt = out.shape[1], out.shape[2]
    workers = min(nb.get_num_threads(), os.cpu_count() or 1, nmt)
    if workers < 2 or M * nkt < PARALLEL_MIN_ROW_SLICES:
        _grid_stats(S8, tile_m, tile_k, row_offset, m_total, out)
        return
    bounds = np.linspace(0, nmt, workers + 1).astype(int)
    chunks = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    def run(a: int, b: int) -> None:
        _grid_stats(
            S8[a * tile_m : b * tile_m],
            tile_m,
            tile_k,
            row_offset + a * tile_m,
            m_total,
            out[:, a:b, :],
        )

    # the calling thread takes the first range itself
    futures = [_pool(workers - 1).submit(run, a, b) for a, b in chunks[1:]]
    run(*chunks[0])
    for f in futures:
        f.result()


def prefix_indices(S_tile: np.ndarray) -> np.ndarray:
    """Prefix row of every row of ONE tile (the ProSparsity forest), spec §3.

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
