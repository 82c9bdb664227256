"""The per-tile core of the ProSparsity kernel (numba): packing, prefix search, tile
statistics. :mod:`prosparsity.analysis.kernel` runs it over whole operands and holds the
public API; :mod:`prosparsity.analysis._fused` feeds it row slices read straight from
bit-packed layer inputs. The algorithm is described in the kernel's module docstring.
"""

from __future__ import annotations

import numpy as np

from prosparsity.analysis._jit import numba as nb

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U64 = np.uint64(64)
_U63 = np.uint64(63)
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
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


#: Rows of at most this many bits are deduplicated through a direct table (2**16 slots)
#: in tiles of at least DIRECT_MIN_ROWS rows (smaller tiles probe a hash table that stays
#: in the first-level cache; the large table's first touches of a tile would cost more).
DIRECT_BITS = 16
DIRECT_MIN_ROWS = 64
_DIRECT = 1 << DIRECT_BITS
_EPOCH_LIMIT = 1 << 31


@nb.njit(cache=True, inline="always")
def _scratch(rows):
    """The per-tile work arrays of :func:`_tile_prefix` for tiles of up to ``rows`` rows:
    ``lo, hi, pc, prefix, first, table, dvals, order, bucket, depth, slo, shi`` (the hash
    table a power of two of at least ``2 * rows`` entries). Allocated once per kernel
    call, reused by every tile."""
    tsize = 1
    while tsize < 2 * rows:
        tsize *= 2
    return (np.empty(rows, np.uint64), np.empty(rows, np.uint64), np.empty(rows, np.int64),
            np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(tsize, np.int64),
            np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(130, np.int64),
            np.empty(rows, np.int64), np.empty(rows, np.uint64), np.empty(rows, np.uint64))


@nb.njit(cache=True, inline="always")
def _next_epoch(dtab):
    """A fresh stamp for the direct table ``dtab`` (``2**16 + 1`` entries, the last one the
    stamp in use); clears the table when the stamps run out."""
    e = dtab[_DIRECT] + 1
    if e >= _EPOCH_LIMIT:
        dtab[:] = 0
        e = 1
    dtab[_DIRECT] = e
    return e


# The per-tile functions are inlined into the loops that call them (numba IR inlining):
# a call passing a score of arrays costs their reference counts, which for small tiles
# (late CNN layers: 16 rows) was most of the time.
@nb.njit(cache=True, inline="always")
def _tile_prefix(lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi,
                 dtab, epoch):
    """Prefix search of one tile of ``n`` packed rows (the paper's rank-one rule, docs/analysis.md).

    Writes ``prefix[i]`` (tile-local prefix row index or -1) for ``i < n`` and returns
    ``(residual_nnz, zero_rows, em_rows, pm_rows, ge2_rows, forest_depth)``. The other
    arrays are scratch space of at least ``n`` (``table``: at least ``2n`` entries;
    ``bucket``: 130 entries). With ``epoch > 0`` the rows hold at
    most 16 bits and ``dtab`` (``2**16`` entries, none stamped with ``epoch`` yet, see
    :func:`_next_epoch`) replaces the hash table.
    """
    tsize = 2
    while tsize < 2 * n:  # the table of this tile: small tiles clear and probe less
        tsize *= 2
    mask = np.uint64(tsize - 1)
    if epoch == 0:
        for s in range(tsize):
            table[s] = -1
    stamp = epoch << 32
    nd = 0  # number of distinct values
    residual = 0
    zero = 0
    em = 0
    pm = 0
    ge2 = 0
    maxp = 0
    # 1-2. deduplicate; duplicates of a value with popcount >= 2 are exact matches. Rows
    # of at most 16 bits index ``dtab`` directly (entries ``epoch << 32 | first row``: no
    # clearing per tile; written without branches: new and repeated values are equally
    # likely), wider ones go through the hash table of first rows, where a row equal to
    # the row before it (common: time steps repeat) needs no lookup.
    if epoch != 0:
        for i in range(n):
            p = pc[i]
            zero += p == 0
            ge2 += p >= 2
            maxp = max(maxp, p)
            key = np.int64(lo[i])
            e = dtab[key]
            seen = (e >> 32) == epoch
            first[i] = (e & 0xFFFFFFFF) if seen else i
            dtab[key] = e if seen else stamp | i
            dvals[nd] = i
            nd += 0 if seen else 1
    else:
        for i in range(n):
            p = pc[i]
            zero += p == 0
            ge2 += p >= 2
            maxp = max(maxp, p)
            if i > 0 and lo[i] == lo[i - 1] and hi[i] == hi[i - 1]:
                first[i] = first[i - 1]
                continue
            h = ((lo[i] * _H1) ^ (hi[i] * _H2)) >> np.uint64(20)
            slot = np.int64(h & mask)
            while True:
                f = table[slot]
                if f == -1:
                    table[slot] = i
                    dvals[nd] = i
                    nd += 1
                    first[i] = i
                    break
                if lo[f] == lo[i] and hi[f] == hi[i]:
                    first[i] = f
                    break
                slot = (slot + 1) & (tsize - 1)
    for i in range(n):
        f = first[i]
        p = pc[i]
        repeat = f != i
        exact = repeat and p >= 2
        prefix[i] = f if exact else -1
        em += exact
        residual += p if repeat and p < 2 else 0  # a repeated row of popcount <= 1 keeps its bit
    # 3. counting sort of distinct values by popcount, descending, stable in index, over
    # the keys 128 - p of the popcounts present (bucket[128 - p]: first sorted position
    # of popcount p once counted), straight into sorted copies of the values (for a
    # sequential scan) and their rows (order).
    low = min(128 - maxp, 127)
    for p in range(low, 130):
        bucket[p] = 0
    for d in range(nd):
        bucket[129 - pc[dvals[d]]] += 1
    for p in range(low + 1, 130):
        bucket[p] += bucket[p - 1]
    for d in range(nd):
        i = dvals[d]
        key = 128 - pc[i]
        q = bucket[key]
        order[q] = i
        slo[q] = lo[i]
        shi[q] = hi[i]
        bucket[key] = q + 1
    # after the fill bucket[128 - p] is the end of popcount p == start of popcount p-1.
    end1 = bucket[127]  # end of popcount 1 == start of the popcount-0 value, if any
    # 4. strict-subset search for distinct values of popcount >= 2: the first sorted
    # position q in [start, end1) whose value is a subset of the row (popcount
    # descending, then first-occurrence index ascending) holds the prefix.
    # Scan the candidates in that order until the first subset. (Looking a row's
    # submasks up in the deduplication table instead, largest popcount first, finds the
    # same prefix; it was measured slower at every density of the reference traces.)
    wide = _U0
    for q in range(nd):
        wide |= shi[q]
    for d in range(nd):
        i = dvals[d]
        p = pc[i]
        if p < 2:
            residual += p
            continue
        start = bucket[128 - p]  # first sorted position with popcount < p
        best = -1
        if epoch != 0 and bucket[129 - p] - start > p:
            # when the values one bit short outnumber the row's bits, those p values
            # are looked up directly (the first occurrence of those present is the
            # prefix); only when none is present, the scan goes on from popcount p - 2
            x = lo[i]
            first_row = n
            while x != _U0:
                bit = x & (~x + _U1)
                e = dtab[np.int64(lo[i] ^ bit)]
                first_row = min(first_row, (e & 0xFFFFFFFF) if (e >> 32) == epoch else n)
                x ^= bit
            if first_row < n:
                best = first_row
            else:
                start = bucket[129 - p]
        if best >= 0:
            pass
        elif wide == _U0:
            li = ~lo[i]
            q = start
            # four candidates per test: one hard-to-predict branch instead of four
            while q + 4 <= end1 and (((slo[q] & li) != _U0) & ((slo[q + 1] & li) != _U0)
                                     & ((slo[q + 2] & li) != _U0)
                                     & ((slo[q + 3] & li) != _U0)):
                q += 4
            while q < end1:
                if (slo[q] & li) == _U0:
                    best = order[q]
                    break
                q += 1
        else:
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
        f = first[i]
        maxdepth = max(maxdepth, depth[f] + 1 if f != i and pc[i] >= 2 else 0)
    return residual, zero, em, pm, ge2, maxdepth


@nb.njit(cache=True, inline="always")
def _add_row_nnz(row_nnz, plane, r0, n, pc):
    """Add the popcounts ``pc[:n]`` of one tile's row slices to ``row_nnz[plane, r0:r0+n]``
    (nothing when ``row_nnz`` has no columns: no counter asked for them)."""
    if row_nnz.shape[1] > 0:
        for i in range(n):
            row_nnz[plane, r0 + i] += pc[i]


@nb.njit(cache=True, inline="always")
def _record_tile(out, mt, kt, nkt, n, g0, m_total, lo, hi, pc, prefix, first, table, dvals,
                 order, bucket, depth, slo, shi, dtab, epoch):
    """Prefix search of one packed tile of ``n`` rows and its statistics into
    ``out[:, mt, kt]`` (planes: nnz, residual_nnz, zero, em, pm, other, ge2,
    forest_depth, head_cost). ``g0`` is the operand row of the tile's first row."""
    nnz = 0
    for i in range(n):
        nnz += pc[i]
    res, zero, em, pm, ge2, dep = _tile_prefix(
        lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi, dtab,
        epoch,
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
        if (g0 + i) * nkt + kt >= m_total:
            break
        p = pc[i]
        if prefix[i] >= 0:
            p -= pc[prefix[i]]
            if p == 0:
                p = 1  # an exact match costs one cycle to forward its prefix
        head += p
    out[8, mt, kt] = head


def _grid_stats_py(S, tile_m, tile_k, row_offset, m_total, out, dtab, row_nnz):
    """Statistics of every tile of ``S`` (uint8, C-contiguous) into ``out`` (9, nMt, nKt).

    Planes of ``out``: nnz, residual_nnz, zero, em, pm, other, ge2, forest_depth,
    head_cost. ``S`` holds rows ``row_offset..`` of a GEMM operand of ``m_total`` rows.
    ``row_nnz`` (``(1, M)``, or ``(1, 0)`` for none) receives the ones of every row of
    ``S`` (added to what it holds), for the counters.
    """
    M, K = S.shape
    nmt = (M + tile_m - 1) // tile_m
    nkt = (K + tile_k - 1) // tile_k
    rows = min(tile_m, M)  # scratch for the largest tile actually present
    lo, hi, pc, prefix, first, table, dvals, order, bucket, depth, slo, shi = _scratch(rows)
    for mt in range(nmt):
        r0 = mt * tile_m
        n = min(tile_m, M - r0)
        for kt in range(nkt):
            c0 = kt * tile_k
            w = min(tile_k, K - c0)
            _pack_tile(S, r0, n, c0, w, lo, hi, pc)
            _add_row_nnz(row_nnz, 0, r0, n, pc)
            epoch = _next_epoch(dtab) if tile_k <= DIRECT_BITS and n >= DIRECT_MIN_ROWS else 0
            _record_tile(out, mt, kt, nkt, n, row_offset + r0, m_total, lo, hi, pc, prefix,
                         first, table, dvals, order, bucket, depth, slo, shi, dtab, epoch)


@nb.njit(cache=True)
def _prefix_grid(S, tile_m, tile_k, out):
    """Tile-local prefix index of every row slice: ``out[m, kt]`` (``(M, nKt)``)."""
    M, K = S.shape
    nkt = (K + tile_k - 1) // tile_k
    lo, hi, pc, prefix, first, table, dvals, order, bucket, depth, slo, shi = _scratch(tile_m)
    for r0 in range(0, M, tile_m):
        n = min(tile_m, M - r0)
        for kt in range(nkt):
            c0 = kt * tile_k
            _pack_tile(S, r0, n, c0, min(tile_k, K - c0), lo, hi, pc)
            _tile_prefix(lo, hi, pc, n, prefix, first, table, dvals, order, bucket, depth, slo, shi,
                         table, 0)
            for i in range(n):
                out[r0 + i, kt] = prefix[i]


@nb.njit(cache=True)
def _tile_prefix_only(S, out_prefix):
    n, w = S.shape
    lo, hi, pc, _, first, table, dvals, order, bucket, depth, slo, shi = _scratch(n)
    _pack_tile(S, 0, n, 0, w, lo, hi, pc)
    return _tile_prefix(
        lo, hi, pc, n, out_prefix, first, table, dvals, order, bucket, depth, slo, shi,
        table, 0,
    )
