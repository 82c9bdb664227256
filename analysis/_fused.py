"""The fused path of the ProSparsity kernel (numba): GEMM row slices read straight from
bit-packed layer inputs, never from an im2col matrix (see *The kernel* in
``docs/analysis.md``). The per-tile search is :mod:`prosparsity.analysis._tile`'s.
"""

from __future__ import annotations

import functools

import numpy as np

from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis._tile import (
    _ONES,
    _U0,
    _U1,
    _U63,
    _U64,
    DIRECT_BITS,
    DIRECT_MIN_ROWS,
    _add_row_nnz,
    _next_epoch,
    _popcount64,
    _record_tile,
    _scratch,
)

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
                       m_total, out, dtab, row_nnz):
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

    ``row_nnz`` (``(1, m_total)``, ``(nKt, m_total)`` when threads share the column tiles,
    or ``(1, 0)`` for none) receives the ones of every row slice counted, added to what it
    holds (plane ``kt`` of a ``(nKt, m_total)`` array, else plane 0), for the counters.
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
            _add_row_nnz(row_nnz, kt if row_nnz.shape[0] > 1 else 0, r0, n, pc)
            epoch = _next_epoch(dtab) if tile_k <= DIRECT_BITS and n >= DIRECT_MIN_ROWS else 0
            _record_tile(out, mt, kt, nkt, n, r0, m_total, lo, hi, pc, prefix, first, table,
                         dvals, order, bucket, depth, slo, shi, dtab, epoch)


# Released GIL: row-tile ranges run on Python threads, one per core (see _run_grid).


@functools.lru_cache(maxsize=256)
def _field_table(k: int, tile_k: int, kh: int, kw: int, dh: int, dw: int,
                 hp: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_segments`, computed once per geometry (network layers repeat)."""
    seg, nseg = _segments(k, tile_k, kh, kw, dh, dw, hp)
    seg.setflags(write=False)
    nseg.setflags(write=False)
    return seg, nseg
