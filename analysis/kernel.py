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
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis.gemm import PackedGemm
from prosparsity.analysis.grid import MAX_TILE_K, TileGrid, check_tile_sizes
from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE

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
    """Prefix search of one tile of ``n`` packed rows (spec §3).

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


def _grid_stats_py(S, tile_m, tile_k, row_offset, m_total, out, dtab):
    """Statistics of every tile of ``S`` (uint8, C-contiguous) into ``out`` (9, nMt, nKt).

    Planes of ``out``: nnz, residual_nnz, zero, em, pm, other, ge2, forest_depth,
    head_cost. ``S`` holds rows ``row_offset..`` of a GEMM operand of ``m_total`` rows.
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
            epoch = _next_epoch(dtab) if tile_k <= DIRECT_BITS and n >= DIRECT_MIN_ROWS else 0
            _record_tile(out, mt, kt, nkt, n, row_offset + r0, m_total, lo, hi, pc, prefix,
                         first, table, dvals, order, bucket, depth, slo, shi, dtab, epoch)


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


# --------------------------------------------------------------------------------------
# the fused path: GEMM row slices packed straight from bit-packed layer inputs
# --------------------------------------------------------------------------------------
#
# A layer input in canonical order ``(T, U, C, H, W)`` (``U`` the units whose rows are
# consecutive in ``S``: samples of a convolution, tokens of a linear layer) is stored with
# ``np.packbits`` along ``W`` (most significant bit first). ``_bit_rows`` turns each
# input row ``(t, u, c, y)`` into LSB-first ``uint64`` words with the convolution's zero
# padding in place (``ph`` zero rows above and below, ``pw`` zero bits left and right),
# so every (GEMM row, column tile) slice is the OR of a few bit fields of those rows
# (``_segments``: one field per run of consecutive kernel columns of one channel and
# kernel row). im2col is never materialised: a row slice costs a few shifts, and memory
# is the layer input's, not ``kh * kw`` times it. A linear layer is the convolution
# with ``C = H = 1`` and one kernel as wide as ``K``.

_REV8 = np.array([int(f"{b:08b}"[::-1], 2) for b in range(256)], dtype=np.uint64)


@nb.njit(cache=True)
def _bit_rows(P, width, ph, pw):
    """``P`` (uint8, ``(T, U, C, H, nbytes)``, packbits along W) -> ``(T*U*C*(H+2ph), nw)``
    uint64 rows, bit ``pw + x`` of row ``((t*U + u)*C + c)*(H+2ph) + ph + y`` being
    ``x[t, u, c, y, x]`` (bits past ``width`` and the padding are zero)."""
    T, U, C, H, nbytes = P.shape
    hp = H + 2 * ph
    nw = (width + 2 * pw + 63) // 64 + 1  # one spare word: a field never reads past it
    out = np.zeros((T * U * C * hp, nw), np.uint64)
    last = width - 8 * (nbytes - 1)  # valid bits of the last byte (1..8)
    lastmask = np.uint8((0xFF00 >> last) & 0xFF)
    for t in range(T):
        for u in range(U):
            for c in range(C):
                base = ((t * U + u) * C + c) * hp + ph
                for y in range(H):
                    row = out[base + y]
                    for i in range(nbytes):
                        byte = P[t, u, c, y, i]
                        if i == nbytes - 1:
                            byte &= lastmask
                        if byte == 0:
                            continue
                        v = _REV8[byte]
                        pos = pw + 8 * i
                        w = pos >> 6
                        off = pos & 63
                        row[w] |= v << np.uint64(off)
                        if off > 56:
                            row[w + 1] |= v >> np.uint64(64 - off)
    return out


@nb.njit(cache=True)
def _segments(k_cols, tile_k, kh, kw, dh, dw, hp):
    """Bit fields of every column tile: ``seg[kt, q] = (row_delta, pos_delta, bits,
    dest)`` and ``nseg[kt]``. Column ``col = c*kh*kw + i*kw + j`` reads bit
    ``pos + j*dw`` of input row ``row + c*hp + i*dh``; a field is a run of columns of one
    ``(c, i)`` (consecutive bits when ``dw == 1``) that does not cross a 64-bit word of
    the packed row slice."""
    nkt = (k_cols + tile_k - 1) // tile_k
    seg = np.zeros((nkt, tile_k, 4), np.int64)
    nseg = np.zeros(nkt, np.int64)
    for kt in range(nkt):
        c0 = kt * tile_k
        w = min(tile_k, k_cols - c0)
        q = -1
        for d in range(w):
            col = c0 + d
            c = col // (kh * kw)
            i = (col // kw) % kh
            j = col % kw
            rd = c * hp + i * dh
            pd = j * dw
            if (q >= 0 and dw == 1 and d != 64 and seg[kt, q, 0] == rd
                    and seg[kt, q, 1] + seg[kt, q, 2] == pd):
                seg[kt, q, 2] += 1
            else:
                q += 1  # at most one field per column: the table is wide enough
                seg[kt, q, 0] = rd
                seg[kt, q, 1] = pd
                seg[kt, q, 2] = 1
                seg[kt, q, 3] = d
        nseg[kt] = q + 1
    return seg, nseg


@nb.njit(cache=True)
def _byte_windows(BR, width):
    """``W8[r, x]``: bits ``x .. x+7`` of bit row ``r`` (LSB-first), ``x < width``: one
    byte per input bit position (the size of the unpacked input, not ``kh*kw`` times)."""
    rows = BR.shape[0]
    out = np.empty((rows, width), np.uint8)
    for r in range(rows):
        for w in range((width + 63) // 64):
            a = BR[r, w]
            b = BR[r, w + 1] << _U1
            x0 = w * 64
            for j in range(min(64, width - x0)):
                s = np.uint64(j)
                out[r, x0 + j] = np.uint8(((a >> s) | (b << (_U63 - s))) & np.uint64(0xFF))
    return out


def _bit_grid_stats_py(BR, W8, geo, seg, nseg, mt0, mt1, kt0, kt1, tile_m, tile_k, m_first,
                       m_total, out, dtab):
    """Statistics of the tiles ``[mt0, mt1) x [kt0, kt1)`` of a GEMM operand given as bit
    rows.

    ``W8`` (``_byte_windows`` of ``BR``, or an empty array) holds the 8 bits from every
    bit position of every row, for fields of at most 8 bits: one load per field.

    ``geo = (T, U, C, hp, sh, sw, ow, npix, c_off)``: GEMM row ``m`` (local to the units
    in ``BR``: ``m - m_first``) is output pixel ``(y, x)`` of unit ``u`` at step ``t``,
    ``m_local = (u*npix + y*ow + x)*T + t``; its row slice of column tile ``kt`` is the
    OR of the fields ``seg[kt]`` read from input row ``((t*U + u)*C + c_off)*hp + y*sh``
    at bit ``x*sw``. ``out`` is ``(9, nMt, nKt)`` of the whole operand (tile ``mt`` at
    ``out[:, mt]``); ``m_total`` the operand's rows (for ``head_cost``).
    """
    T, U, C, hp, sh, sw, ow, npix, c_off = geo
    nkt = nseg.shape[0]
    narrow = W8.shape[0] > 0
    rows = tile_m
    base_row = np.empty(rows, np.int64)
    base_pos = np.empty(rows, np.int64)
    f_row = np.empty(seg.shape[1], np.int64)
    f_pos = np.empty(seg.shape[1], np.int64)
    f_bits = np.empty(seg.shape[1], np.uint64)
    f_mask = np.empty(seg.shape[1], np.uint64)
    f_dest = np.empty(seg.shape[1], np.uint64)
    lo, hi, pc, prefix, first, table, dvals, order, bucket, depth, slo, shi = _scratch(rows)
    for mt in range(mt0, mt1):
        r0 = mt * tile_m
        n = min(tile_m, m_total - r0)
        for i in range(n):
            m = r0 + i - m_first
            t = m % T
            pix = m // T
            u = pix // npix
            rem = pix - u * npix
            y = rem // ow
            x = rem - y * ow
            base_row[i] = ((t * U + u) * C + c_off) * hp + y * sh
            base_pos[i] = x * sw
        for kt in range(kt0, kt1):
            ns = nseg[kt]
            for q in range(ns):
                f_row[q] = seg[kt, q, 0]
                f_pos[q] = seg[kt, q, 1]
                f_bits[q] = np.uint64(seg[kt, q, 2])
                f_mask[q] = _ONES if seg[kt, q, 2] == 64 else (_U1 << f_bits[q]) - _U1
                f_dest[q] = np.uint64(seg[kt, q, 3])
            if narrow:  # fields of <= 8 bits: one byte each, from the byte windows
                for i in range(n):
                    lo[i] = _U0
                    hi[i] = _U0
                for q in range(ns):  # a field at a time: long, predictable loops
                    fr = f_row[q]
                    fp = f_pos[q]
                    fm = f_mask[q]
                    fd = f_dest[q]
                    if fd < _U64:
                        for i in range(n):
                            lo[i] |= (np.uint64(W8[base_row[i] + fr, base_pos[i] + fp]) & fm
                                      ) << fd
                    else:
                        fd -= _U64
                        for i in range(n):
                            hi[i] |= (np.uint64(W8[base_row[i] + fr, base_pos[i] + fp]) & fm
                                      ) << fd
                for i in range(n):
                    pc[i] = _popcount64(lo[i]) + _popcount64(hi[i])
            for i in range(n):
                if narrow:
                    break
                a = _U0
                b = _U0
                br = base_row[i]
                bp = base_pos[i]
                for q in range(ns):
                    # bits f_bits[q] of input row br + f_row[q] from bit bp + f_pos[q]
                    # (written out: a helper here costs a third of the loop)
                    r = br + f_row[q]
                    pos = bp + f_pos[q]
                    w = pos >> 6
                    off = np.uint64(pos & 63)
                    v = BR[r, w] >> off
                    if off + f_bits[q] > _U64:
                        v |= BR[r, w + 1] << (_U64 - off)
                    v &= f_mask[q]
                    if f_dest[q] < _U64:
                        a |= v << f_dest[q]
                    else:
                        b |= v << (f_dest[q] - _U64)
                lo[i] = a
                hi[i] = b
                pc[i] = _popcount64(a) + _popcount64(b)
            epoch = _next_epoch(dtab) if tile_k <= DIRECT_BITS and n >= DIRECT_MIN_ROWS else 0
            _record_tile(out, mt, kt, nkt, n, r0, m_total, lo, hi, pc, prefix, first, table,
                         dvals, order, bucket, depth, slo, shi, dtab, epoch)


# Released GIL: row-tile ranges run on Python threads, one per core (see _run_grid).
_grid_stats = nb.njit(cache=True, nogil=True)(_grid_stats_py)
_bit_grid_stats = nb.njit(cache=True, nogil=True)(_bit_grid_stats_py)
#: Row slices (rows x column tiles) above which the row tiles are split across threads.
PARALLEL_MIN_ROW_SLICES = 8192


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


def packed_stats(
    packed: np.ndarray,
    gemm: PackedGemm,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    *,
    row_tiles: tuple[int, int] | None = None,
    unit0: int = 0,
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
    if mt1 > mt0 and k:
        _run_packed(np.ascontiguousarray(packed, dtype=np.uint8), gemm, tile_m, tile_k,
                    (mt0, mt1), unit0, out)
    out = out[:, mt0:mt1]
    rows = np.minimum(tile_m, m - np.arange(mt0, mt1) * tile_m)
    cols = np.minimum(tile_k, k - np.arange(nkt) * tile_k)
    return TileGrid(tile_m, tile_k, rows, cols, *out)


_LOCAL = threading.local()


def _direct_table() -> np.ndarray:
    """This thread's direct deduplication table (see :func:`_next_epoch`), made once."""
    table = getattr(_LOCAL, "direct", None)
    if table is None:
        table = _LOCAL.direct = np.zeros(_DIRECT + 1, dtype=np.int64)
    return table


def _cores() -> int:
    """Threads the kernel may use: numba's thread count, at most the usable cores."""
    return min(nb.get_num_threads(), _usable_cores())


@functools.cache
def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prosparsity-kernel")


def _run_grid(
    S8: np.ndarray, tile_m: int, tile_k: int, row_offset: int, m_total: int, out: np.ndarray
) -> None:
    """Run the kernel over all row tiles, shared between threads (:func:`_share`)."""
    M, K = S8.shape
    nmt, nkt = out.shape[1], out.shape[2]

    def run(a: int, b: int) -> None:
        _grid_stats(S8[a * tile_m : b * tile_m], tile_m, tile_k, row_offset + a * tile_m,
                    m_total, out[:, a:b, :], _direct_table())

    _share(run, 0, nmt, M * nkt)


#: Row-tile chunks per thread: threads take chunks as they go, so a thread the machine
#: delays (other processes on the cores) leaves its share to the others.
CHUNKS_PER_THREAD = 4


def _share(run: Callable[[int, int], None], lo: int, hi: int, row_slices: int) -> None:
    """``run(a, b)`` over consecutive chunks of ``[lo, hi)`` (row tiles, or the column
    tiles of an operand of few row tiles), on the calling thread and the pool's threads,
    each taking the next chunk when done with one.

    The numba kernels release the GIL, so plain threads use every core; idle threads
    block instead of spinning (an OpenMP/TBB pool spins, which costs a core on a busy
    machine). Small operands (under :data:`PARALLEL_MIN_ROW_SLICES`) run on the calling
    thread.
    """
    workers = min(_cores(), hi - lo)
    if workers < 2 or row_slices < PARALLEL_MIN_ROW_SLICES:
        run(lo, hi)
        return
    step = -(-(hi - lo) // (workers * CHUNKS_PER_THREAD))
    starts = iter(range(lo, hi, step))  # shared: next() on it is atomic under the GIL

    def drain() -> None:
        for a in starts:
            run(a, min(a + step, hi))

    futures = [_pool(workers - 1).submit(drain) for _ in range(workers - 1)]
    drain()
    for f in futures:
        f.result()


@functools.lru_cache(maxsize=256)
def _field_table(k: int, tile_k: int, kh: int, kw: int, dh: int, dw: int,
                 hp: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_segments`, computed once per geometry (network layers repeat)."""
    seg, nseg = _segments(k, tile_k, kh, kw, dh, dw, hp)
    seg.setflags(write=False)
    nseg.setflags(write=False)
    return seg, nseg


def _run_packed(
    packed: np.ndarray, gemm: PackedGemm, tile_m: int, tile_k: int,
    row_tiles: tuple[int, int], unit0: int, out: np.ndarray,
) -> None:
    """The fused kernel over row tiles ``row_tiles``, shared between threads
    (:func:`_share`)."""
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
                            m_first, gemm.m, out, _direct_table())

    else:  # few row tiles (a small layer's one): threads share its column tiles

        def run(a: int, b: int) -> None:
            _bit_grid_stats(rows, windows, geo, seg, nseg, mt0, mt1, a, b, tile_m, tile_k,
                            m_first, gemm.m, out, _direct_table())

        _share(run, 0, nkt, slices)
        return
    _share(run, mt0, mt1, slices)


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
