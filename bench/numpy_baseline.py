"""Baseline: a straightforward vectorised NumPy implementation of the rank-one rule.

One tile at a time, each row packed into two 64-bit integers, all ``n x n`` row pairs
compared by broadcasting (``s ⊆ r`` iff ``s & ~r == 0``), the prefix chosen by
``argmax`` over the candidates' popcounts (first maximum = smallest index). It computes
the same per-tile statistics as :func:`prosparsity.analysis.kernel.prosparsity_stats`
(except ``head_cost``) and is kept to measure the kernel against it.
"""

from __future__ import annotations

import numpy as np

from prosparsity.paper.tiles import DEFAULT_TILE

_WEIGHTS = (np.uint64(1) << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def _pack(tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two uint64 words per row (columns 0..63 and 64..127)."""
    n, w = tile.shape
    padded = np.zeros((n, 128), dtype=np.uint64)
    padded[:, :w] = tile
    lo = (padded[:, :64] * _WEIGHTS).sum(axis=1, dtype=np.uint64)
    hi = (padded[:, 64:] * _WEIGHTS).sum(axis=1, dtype=np.uint64)
    return lo, hi


def tile_prefix(tile: np.ndarray) -> np.ndarray:
    """Prefix row of every row of one tile (-1 for none), by all-pairs broadcasting."""
    n = tile.shape[0]
    lo, hi = _pack(tile)
    pc = tile.sum(axis=1)
    # subset[r, s]: row s is a subset of row r
    subset = ((lo[None, :] & ~lo[:, None]) == 0) & ((hi[None, :] & ~hi[:, None]) == 0)
    idx = np.arange(n)
    identical = subset & (pc[None, :] == pc[:, None])
    allowed = subset & ~(identical & (idx[None, :] >= idx[:, None]))
    score = np.where(allowed, pc[None, :], -1)
    best = score.argmax(axis=1)
    best_pc = score[idx, best]
    return np.where((pc >= 2) & (best_pc >= 1), best, -1)


def baseline_stats(
    S: np.ndarray, tile_m: int = DEFAULT_TILE.tile_m, tile_k: int = DEFAULT_TILE.tile_k
) -> dict[str, np.ndarray]:
    """Per-tile nnz, residual_nnz, row classes, ge2 rows and forest depth, tile by tile."""
    M, K = S.shape
    nmt, nkt = -(-M // tile_m), -(-K // tile_k)
    names = ("nnz", "residual_nnz", "zero_rows", "em_rows", "pm_rows", "other_rows")
    out = {k: np.zeros((nmt, nkt), dtype=np.int64) for k in (*names, "ge2_rows", "forest_depth")}
    for mt in range(nmt):
        for kt in range(nkt):
            tile = S[mt * tile_m : (mt + 1) * tile_m, kt * tile_k : (kt + 1) * tile_k]
            pre = tile_prefix(tile)
            pc = tile.sum(axis=1)
            has = pre >= 0
            res = np.where(has, pc - pc[np.where(has, pre, 0)], pc)
            out["nnz"][mt, kt] = pc.sum()
            out["residual_nnz"][mt, kt] = res.sum()
            out["zero_rows"][mt, kt] = np.sum(pc == 0)
            out["em_rows"][mt, kt] = np.sum(has & (res == 0))
            out["pm_rows"][mt, kt] = np.sum(has & (res > 0))
            out["other_rows"][mt, kt] = len(pc) - np.sum(pc == 0) - np.sum(has)
            out["ge2_rows"][mt, kt] = np.sum(pc >= 2)
            depth = np.zeros(len(pc), dtype=np.int64)
            while True:
                new = np.where(has, depth[np.where(has, pre, 0)] + 1, 0)
                if np.array_equal(new, depth):
                    break
                depth = new
            out["forest_depth"][mt, kt] = depth.max(initial=0)
    return out
