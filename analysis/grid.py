"""Tile grids: the per-tile statistics the ProSparsity kernel fills, and the tile-size
limits. Plain numpy, no numba: cost models, the statistics objects and the sweep's
scheduler read grids without loading the compiled kernel
(:mod:`prosparsity.analysis.kernel`, which re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prosparsity.core.errors import ConfigError

__all__ = ["MAX_TILE_K", "MAX_TILE_M", "TileGrid", "check_tile_sizes"]

#: Largest supported ``tile_k``: a tile row is packed into two 64-bit words.
MAX_TILE_K = 128
#: Largest supported ``tile_m`` (the paper sweeps 32..2048).
MAX_TILE_M = 4096


@dataclass(frozen=True, eq=False)
class TileGrid:
    """ProSparsity statistics of one binary GEMM operand (one bit plane), per tile.

    All per-tile arrays have shape ``(nMt, nKt)``, dtype int64, tile order m-major then k
    (``[mt, kt]`` is row tile ``mt``, column tile ``kt``), exactly what the authors'
    per-tile loop sees. Row classes (docs/analysis.md) partition the rows of each tile:
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
