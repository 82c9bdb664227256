"""The paper's tile sizes: the default ProSparsity tile and its notation."""

from __future__ import annotations

from typing import Final, NamedTuple


class Tile(NamedTuple):
    """A ProSparsity tile of the spike matrix: ``tile_m`` rows by ``tile_k`` columns.

    A plain ``(tile_m, tile_k)`` tuple compares and hashes equal to it, so tables keyed
    by tuples can be read with a :class:`Tile` and the other way round.
    """

    tile_m: int
    tile_k: int


DEFAULT_TILE: Final = Tile(256, 16)
"""The paper's default tile, 256 rows x 16 columns: the design point of Fig. 7's
tile-size exploration, at which Fig. 8's Prosperity and Fig. 11's densities are given."""
