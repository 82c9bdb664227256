"""The compiled loops of the PTB and SATO counters, apart so that importing the counters
(and the statistics objects that hold their keys) does not load numba; the counters
import this module when they count.

* StSAP (:func:`_stsap_lanes`): the authors' greedy pairing of a group's rows (its GEMM
  columns, in order), each with the first later untaken row whose lanes are disjoint.
  The group is held as one bit set over its columns per lane (the lane's spike row),
  so the rows with a spike, the full rows and a row's possible partners are a few word
  operations, 64 columns a step; a row's partner is the lowest set bit above it of
  ``untaken & ~(the rows of its lanes)``.
* PTB's groups straight from bit rows (:func:`_ptb_groups_py`): a group's lanes are GEMM
  rows of the time-window operand (the layer input with the steps of each window
  OR-ed), read 64 columns a word through the fused kernel's fields: exactly the lane
  bit sets StSAP takes, never unpacked.
* SATO's dealing (:func:`sato_max_loads`): rows to the least-loaded PE through a
  tournament tree (``O(log PEs)`` per row, ties to the lowest PE).
"""

from __future__ import annotations

import numpy as np

from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis._jit import trailing_zeros
from prosparsity.analysis._tile import _ONES, _U0, _U1, _U64, _popcount64

__all__ = ["greedy_max", "sato_max_loads", "stsap_rows"]

#: PTB group layouts (see :mod:`prosparsity.analysis.counters.ptb`).
PAPER_GROUPS, TOKEN_GROUPS, ONE_TOKEN = 0, 1, 2


@nb.njit(cache=True, inline="always")
def _stsap_lanes(lane_rows, lanes, words, free):
    """StSAP rows of one group whose lane ``j`` spikes in the columns of the bit set
    ``lane_rows[j, :words]`` (column ``c`` at bit ``c % 64`` of word ``c // 64``; bits
    past the last column zero). Columns with no spike are dropped, columns spiking in
    every lane kept alone, the others paired greedily in column order:
    ``rows = remaining - pairs + full``. ``free`` (``words``) is scratch."""
    remaining = 0
    full = 0
    for w in range(words):
        some = _U0
        every = _ONES
        for lane in range(lanes):
            some |= lane_rows[lane, w]
            every &= lane_rows[lane, w]
        free[w] = some & ~every
        remaining += _popcount64(free[w])
        full += _popcount64(every)
    pairs = 0
    w = 0
    done = _U0  # rows of word w already processed
    while w < words:
        rest = free[w] & ~done
        if rest == _U0:
            w += 1
            done = _U0
            continue
        b = trailing_zeros(rest)
        done |= _ONES if b == 63 else (_U1 << np.uint64(b + 1)) - _U1
        p = 0  # this column's lanes
        for lane in range(lanes):
            p |= np.int64((lane_rows[lane, w] >> np.uint64(b)) & _U1) << lane
        pw = w
        below = done
        while pw < words:
            clash = _U0  # the columns sharing a lane with this one, in word pw
            q = p
            while q != 0:
                clash |= lane_rows[trailing_zeros(q), pw]
                q &= q - 1
            cand = free[pw] & ~below & ~clash
            if cand != _U0:
                free[pw] &= ~(_U1 << np.uint64(trailing_zeros(cand)))
                pairs += 1
                break
            pw += 1
            below = _U0
    return remaining - pairs + full


@nb.njit(cache=True)
def stsap_rows(patterns: np.ndarray, lanes: int) -> int:  # pragma: no cover - compiled
    """StSAP row count of every group (row of ``patterns``: one lane bit-mask per GEMM
    column), summed: the lane bit sets built from the masks, then :func:`_stsap_lanes`."""
    groups, cols = patterns.shape
    words = (cols + 63) // 64
    lane_rows = np.zeros((max(lanes, 1), words), np.uint64)
    free = np.empty(words, np.uint64)
    total = 0
    for g in range(groups):
        lane_rows[:] = 0
        for c in range(cols):
            v = patterns[g, c]
            for lane in range(lanes):
                if (v >> lane) & 1:
                    lane_rows[lane, c >> 6] |= _U1 << np.uint64(c & 63)
        total += _stsap_lanes(lane_rows, lanes, words, free)
    return total


def _ptb_groups_py(BR, geo, seg, nseg, lanes, mode, positions, windows, per_sample,
                   g0, g1, out):  # pragma: no cover - compiled
    """PTB rows of the groups ``[g0, g1)`` into ``out[g0:g1]``.

    ``BR``: bit rows of the time-window operand (``_fused._bit_rows`` of the input with
    the steps of each window OR-ed), ``geo`` its geometry as the fused kernel takes it
    (``T`` = windows), ``seg, nseg`` its fields in column chunks of 64. Group ``g`` is
    group ``g % per_sample`` of sample ``g // per_sample``; its lanes are window rows
    (``(b*L + l)*W + w``) as ``mode`` lays them out: ``PAPER_GROUPS`` (the flat
    ``(W, L)`` rows read as ``(lanes, X)``), ``TOKEN_GROUPS`` (up to ``lanes`` windows of
    one token), ``ONE_TOKEN`` (every window of the single token OR-ed: the columns that
    spike at all).
    """
    T, U, C, hp, sh, sw, ow, npix, c_off = geo
    words = nseg.shape[0]
    lane_rows = np.zeros((max(lanes, 1), words), np.uint64)
    free = np.empty(words, np.uint64)
    flat = windows * positions
    per_token = (windows + lanes - 1) // lanes
    for g in range(g0, g1):
        b = g // per_sample
        x = g - b * per_sample
        lane_rows[:] = 0
        n_lanes = windows if mode == ONE_TOKEN else lanes
        for j in range(n_lanes):
            if mode == PAPER_GROUPS:
                f = j * per_sample + x
                if f >= flat:
                    break
                w = f // positions
                tok = b * positions + f - w * positions
            elif mode == TOKEN_GROUPS:
                tok_local = x // per_token
                w = (x - tok_local * per_token) * lanes + j
                if w >= windows:
                    break
                tok = b * positions + tok_local
            else:
                w = j
                tok = b * positions
            m = tok * windows + w  # the window row, as the fused kernel numbers rows
            t = m % T
            pix = m // T
            u = pix // npix
            rem = pix - u * npix
            yy = rem // ow
            xx = rem - yy * ow
            br = ((t * U + u) * C + c_off) * hp + yy * sh
            bp = xx * sw
            lane = 0 if mode == ONE_TOKEN else j
            for c in range(words):
                word = _U0
                for q in range(nseg[c]):
                    r = br + seg[c, q, 0]
                    p = bp + seg[c, q, 1]
                    bits = np.uint64(seg[c, q, 2])
                    wd = p >> 6
                    off = np.uint64(p & 63)
                    v = BR[r, wd] >> off
                    if off + bits > _U64:
                        v |= BR[r, wd + 1] << (_U64 - off)
                    v &= _ONES if bits == _U64 else (_U1 << bits) - _U1
                    word |= v << np.uint64(seg[c, q, 3])
                lane_rows[lane, c] |= word
        if mode == ONE_TOKEN:
            cols = 0
            for c in range(words):
                cols += _popcount64(lane_rows[0, c])
            out[g] = cols
        else:
            out[g] = _stsap_lanes(lane_rows, lanes, words, free)


_ptb_groups = nb.njit(cache=True, nogil=True)(_ptb_groups_py)


@nb.njit(cache=True)
def greedy_max(row_nnz: np.ndarray, pes: int) -> int:  # pragma: no cover - compiled
    """Largest PE load after dealing ``row_nnz`` in order, each to the least-loaded PE
    (ties: lowest PE), scanning every PE per row (the plain form of the dealing)."""
    loads = np.zeros(pes, np.int64)
    for i in range(row_nnz.shape[0]):
        best = 0
        for p in range(1, pes):
            if loads[p] < loads[best]:
                best = p
        loads[best] += row_nnz[i]
    return loads.max()


@nb.njit(cache=True, nogil=True)
def sato_max_loads(row_nnz, batch, positions, steps, pes):  # pragma: no cover - compiled
    """SATO's largest PE load of every sample: the rows of sample ``b`` (``row_nnz`` in
    GEMM order ``(b*L + l)*T + t``) dealt time step major, token minor, each to the
    least-loaded PE (ties: lowest PE), found through a tournament tree."""
    leaves = 1
    while leaves < pes:
        leaves *= 2
    big = np.int64(1) << 62
    loads = np.empty(leaves, np.int64)
    tree = np.empty(2 * leaves, np.int64)  # node -> PE of least load below (lowest on ties)
    out = np.zeros(batch, np.int64)
    for b in range(batch):
        for p in range(leaves):
            loads[p] = 0 if p < pes else big
            tree[leaves + p] = p
        for node in range(leaves - 1, 0, -1):
            a = tree[2 * node]
            c = tree[2 * node + 1]
            tree[node] = a if loads[a] <= loads[c] else c
        for t in range(steps):
            for tok in range(positions):
                add = row_nnz[(b * positions + tok) * steps + t]
                if add == 0:
                    continue
                p = tree[1]
                loads[p] += add
                node = (leaves + p) // 2
                while node >= 1:
                    a = tree[2 * node]
                    c = tree[2 * node + 1]
                    tree[node] = a if loads[a] <= loads[c] else c
                    node //= 2
        top = 0
        for p in range(pes):
            top = max(top, loads[p])
        out[b] = top
    return out
