"""A functional ProSparsity GEMM: ``S · W`` computed by reusing prefix partial sums.

This is the exactness argument of the paper's rank-one rule made executable. Inside each tile, row
``r`` with prefix ``p`` gets ``partial[r] = partial[p] + residual(r) · W_tile`` where ``residual(r)
= r XOR p`` (a subset of ``r``, since ``p ⊆ r``); rows are completed level by level down the forest
(roots first), so a prefix's partial sum is always ready. Column tiles are then summed. For integer
weights the result equals the dense product exactly, and the number of weight-row additions equals
the tile grid's ``residual_nnz``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prosparsity.analysis.grid import check_tile_sizes
from prosparsity.analysis.kernel import _as_binary_u8, prefix_grid
from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE


@dataclass(frozen=True)
class ProductResult:
    """Output of :func:`prosparsity_matmul`.

    Attributes:
        output: ``(M, N)`` the product ``S · W``.
        additions: weight rows added (``Σ`` residual popcounts, one per residual bit).
        reused_rows: row slices whose partial sum started from a prefix's.
    """

    output: np.ndarray
    additions: int
    reused_rows: int


def prosparsity_matmul(
    S: np.ndarray,
    W: np.ndarray,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
) -> ProductResult:
    """``S · W`` through the ProSparsity forest of each tile.

    Args:
        S: ``(M, K)`` binary spikes.
        W: ``(K, N)`` weights (integers for an exact comparison with ``S @ W``).
        tile_m: rows per tile.
        tile_k: columns per tile.

    Raises:
        ConfigError: shape mismatch, non-binary ``S`` or bad tile sizes.
    """
    check_tile_sizes(tile_m, tile_k)
    S8 = _as_binary_u8(S).astype(bool)
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != S8.shape[1]:
        raise ConfigError("W", f"must be (K={S8.shape[1]}, N), got shape {W.shape}")
    M, K = S8.shape
    acc = np.result_type(W.dtype, np.int64) if np.issubdtype(W.dtype, np.integer) else W.dtype
    out = np.zeros((M, W.shape[1]), dtype=acc)
    local = prefix_grid(S8, tile_m, tile_k)
    # global row index of each prefix (prefixes never leave their row tile)
    base = (np.arange(M, dtype=np.int64) // tile_m * tile_m)[:, None]
    prefixes = np.where(local >= 0, local + base, -1)
    additions = 0
    reused = 0
    for kt, c0 in enumerate(range(0, K, tile_k)):
        cols = S8[:, c0 : c0 + tile_k]
        pre = prefixes[:, kt]
        has = pre >= 0
        src = np.where(has, pre, 0)
        prefix_rows = cols[src] & has[:, None]
        if np.any(prefix_rows & ~cols):
            raise AssertionError("a prefix is not a subset of its row")
        residual = cols ^ prefix_rows
        # each row's own additions: its residual bits times the tile's weights ...
        partial = residual.astype(acc) @ W[c0 : c0 + tile_k].astype(acc)
        # ... plus its prefix's partial sum, completed level by level down the forest
        depth = np.zeros(M, dtype=np.int64)
        while True:
            new = np.where(has, depth[src] + 1, 0)
            if np.array_equal(new, depth):
                break
            depth = new
        for d in range(1, int(depth.max(initial=0)) + 1):
            at = np.flatnonzero(depth == d)
            partial[at] += partial[src[at]]
        additions += int(residual.sum())
        reused += int(has.sum())
        out += partial
    return ProductResult(out, additions, reused)
