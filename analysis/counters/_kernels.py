"""The compiled loops of the PTB and SATO counters, apart so that importing the counters
(and the statistics objects that hold their keys) does not load numba; the counters
import this module when they count.

* StSAP (:func:`stsap_rows`, :func:`_stsap_group`): the authors' greedy pairing of a
  group's rows, each with the first later untaken row whose lanes are disjoint. Rows are
  scanned forward first (at the densities of the paper's traces a disjoint row is
  usually a few rows on); only a row that finds none within :data:`SCAN_ROWS` rows looks
  its partner up in buckets by lane pattern (one pointer per pattern, walking its bucket
  once: ``O(2**free_lanes)`` per row).
* PTB's groups straight from bit rows (:func:`_ptb_groups_py`): the rows of a group are
  GEMM rows of the time-window operand (the layer input with the steps of each window
  OR-ed, read through the fused kernel's fields), scattered into one lane pattern per
  column.
* SATO's dealing (:func:`sato_max_loads`): rows to the least-loaded PE through a
  tournament tree (``O(log PEs)`` per row, ties to the lowest PE).
"""

from __future__ import annotations

import numpy as np

from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis._tile import _ONES, _U0, _U1, _U64, _popcount64

__all__ = ["SCAN_ROWS", "greedy_max", "sato_max_loads", "stsap_rows"]

#: Later rows a row's partner is looked for among before the pattern buckets.
SCAN_ROWS = 32

#: PTB group layouts (see :mod:`prosparsity.analysis.counters.ptb`).
PAPER_GROUPS, TOKEN_GROUPS, ONE_TOKEN = 0, 1, 2


@nb.njit(cache=True, inline="always")
def _stsap_group(pat, ncols, lanes, vals, taken, pos, starts, ptr, fill):
    """StSAP rows of one group: ``pat[:ncols]`` holds one lane bit-mask per GEMM column
    (the group's rows, in order). Rows with no spike are dropped, full rows kept alone,
    the others paired greedily: ``rows = remaining - pairs + full``. The other arrays are
    scratch (``vals, taken, pos``: ``ncols``; ``starts``: ``2**lanes + 1``; ``ptr, fill``:
    ``2**lanes``)."""
    full_mask = (1 << lanes) - 1
    n_pat = 1 << lanes
    n = 0
    full = 0
    for c in range(ncols):
        v = pat[c]
        if v == full_mask:
            full += 1
        elif v != 0:
            vals[n] = v
            taken[n] = False
            n += 1
    pairs = 0
    built = False
    for i in range(n - 1):
        if taken[i]:
            continue
        p = vals[i]
        best = -1
        j = i + 1
        stop = min(n, i + 1 + SCAN_ROWS)
        while j < stop:
            if (vals[j] & p) == 0 and not taken[j]:
                best = j
                break
            j += 1
        if best < 0 and stop < n:
            if not built:  # buckets of positions by pattern, in increasing order
                built = True
                for q in range(n_pat + 1):
                    starts[q] = 0
                for r in range(n):
                    starts[vals[r] + 1] += 1
                for q in range(n_pat):
                    starts[q + 1] += starts[q]
                for q in range(n_pat):
                    ptr[q] = starts[q]
                    fill[q] = starts[q]
                for r in range(n):
                    q = vals[r]
                    pos[fill[q]] = r
                    fill[q] += 1
            comp = (~p) & full_mask
            best = n
            s = comp
            while s != 0:
                q = ptr[s]
                end = starts[s + 1]
                while q < end and (pos[q] <= i or taken[pos[q]]):
                    q += 1
                ptr[s] = q
                if q < end and pos[q] < best:
                    best = pos[q]
                s = (s - 1) & comp
            if best == n:
                best = -1
        if best >= 0:
            taken[best] = True
            pairs += 1
    return n - pairs + full


@nb.njit(cache=True)
def stsap_rows(patterns: np.ndarray, lanes: int) -> int:  # pragma: no cover - compiled
    """StSAP row count of every group (row of ``patterns``: one lane bit-mask per GEMM
    column), summed."""
    groups, cols = patterns.shape
    n_pat = 1 << lanes
    vals = np.empty(cols, np.int64)
    taken = np.empty(cols, np.bool_)
    pos = np.empty(cols, np.int64)
    starts = np.empty(n_pat + 1, np.int64)
    ptr = np.empty(n_pat, np.int64)
    fill = np.empty(n_pat, np.int64)
    total = 0
    for g in range(groups):
        total += _stsap_group(patterns[g], cols, lanes, vals, taken, pos, starts, ptr, fill)
    return total


def _ptb_groups_py(BR, geo, seg, nseg, k, lanes, mode, positions, windows, per_sample,
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
    nchunk = nseg.shape[0]
    n_pat = 1 << lanes
    pat = np.zeros(k, np.int64)
    vals = np.empty(k, np.int64)
    taken = np.empty(k, np.bool_)
    pos = np.empty(k, np.int64)
    starts = np.empty(n_pat + 1, np.int64)
    ptr = np.empty(n_pat, np.int64)
    fill = np.empty(n_pat, np.int64)
    ored = np.empty(nchunk, np.uint64)
    flat = windows * positions
    per_token = (windows + lanes - 1) // lanes
    for g in range(g0, g1):
        b = g // per_sample
        x = g - b * per_sample
        if mode == ONE_TOKEN:
            for c in range(nchunk):
                ored[c] = _U0
        else:
            for c in range(k):
                pat[c] = 0
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
            lane = np.int64(1) << j if mode != ONE_TOKEN else np.int64(0)
            for c in range(nchunk):
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
                if mode == ONE_TOKEN:
                    ored[c] |= word
                    continue
                base = c * 64
                while word != _U0:
                    low = word & (~word + _U1)
                    pat[base + _popcount64(low - _U1)] |= lane
                    word ^= low
        if mode == ONE_TOKEN:
            cols = 0
            for c in range(nchunk):
                cols += _popcount64(ored[c])
            out[g] = cols
        else:
            out[g] = _stsap_group(pat, k, lanes, vals, taken, pos, starts, ptr, fill)


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
