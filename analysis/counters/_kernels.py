"""The compiled loops of the PTB and SATO counters, apart so that importing the counters
(and the statistics objects that hold their keys) does not load numba; the counters
import this module when they count.
"""

from __future__ import annotations

import numpy as np

from prosparsity.analysis._jit import numba

__all__ = ["greedy_max", "stsap_rows"]


@numba.njit(cache=True)
def stsap_rows(patterns: np.ndarray, lanes: int) -> int:  # pragma: no cover - compiled
    """StSAP row count of each group (row of ``patterns``: one lane bit-mask per GEMM column).

    Greedy pairing as the authors do it, in O(K * 2**free_lanes) per group: rows are
    bucketed by lane pattern, and a per-pattern pointer walks each bucket once.
    """
    full_mask = (1 << lanes) - 1
    n_pat = 1 << lanes
    groups, cols = patterns.shape
    pos = np.empty(cols, np.int64)
    pat = np.empty(cols, np.int64)
    starts = np.zeros(n_pat + 1, np.int64)
    ptr = np.zeros(n_pat, np.int64)
    fill = np.zeros(n_pat, np.int64)
    taken = np.zeros(cols, np.bool_)
    total = 0
    for g in range(groups):
        n = 0
        full = 0
        starts[:] = 0
        for c in range(cols):
            v = patterns[g, c]
            if v == full_mask:
                full += 1
            elif v != 0:
                pat[n] = v
                starts[v + 1] += 1
                n += 1
        for q in range(n_pat):
            starts[q + 1] += starts[q]
        for q in range(n_pat):
            ptr[q] = starts[q]
            fill[q] = starts[q]
        for i in range(n):  # bucket positions, in increasing order
            q = pat[i]
            pos[fill[q]] = i
            fill[q] += 1
            taken[i] = False
        pairs = 0
        for i in range(n - 1):
            if taken[i]:
                continue
            comp = (~pat[i]) & full_mask
            best = n
            s = comp
            while s != 0:
                p = ptr[s]
                end = starts[s + 1]
                while p < end and (pos[p] <= i or taken[pos[p]]):
                    p += 1
                ptr[s] = p
                if p < end and pos[p] < best:
                    best = pos[p]
                s = (s - 1) & comp
            if best < n:
                taken[best] = True
                pairs += 1
        total += n - pairs + full
    return total


@numba.njit(cache=True)
def greedy_max(row_nnz: np.ndarray, pes: int) -> int:  # pragma: no cover - compiled
    loads = np.zeros(pes, np.int64)
    for i in range(row_nnz.shape[0]):
        best = 0
        for p in range(1, pes):
            if loads[p] < loads[best]:
                best = p
        loads[best] += row_nnz[i]
    return loads.max()
