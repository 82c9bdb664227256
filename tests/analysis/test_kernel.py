"""The ProSparsity kernel on hand-computed tiles (every clause of the paper's rank-one rule) and
against a brute-force transcription of the rule on random tiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from prosparsity.analysis.kernel import (
    TileGrid,
    forest_depth,
    prefix_grid,
    prefix_indices,
    prosparsity_stats,
)
from prosparsity.core.errors import ConfigError


def rows(*bits: str) -> np.ndarray:
    """A tile from strings of 0/1, one per row."""
    return np.array([[c == "1" for c in b] for b in bits], dtype=bool)


def brute_prefix(tile: np.ndarray) -> np.ndarray:
    """Spec §3, literally: O(n^2 k) per tile."""
    pc = tile.sum(axis=1)
    out = np.full(tile.shape[0], -1)
    for r in range(tile.shape[0]):
        if pc[r] <= 1:
            continue
        best, best_pc = -1, 0
        for s in range(tile.shape[0]):
            if s == r or np.any(tile[s] & ~tile[r]):
                continue
            if pc[s] == pc[r] and s > r:
                continue
            if pc[s] > best_pc:
                best, best_pc = s, pc[s]
        out[r] = best
    return out


# ---- hand-computed tiles, one per clause ------------------------------------------


def test_rows_with_popcount_at_most_one_get_no_prefix() -> None:
    tile = rows("0000", "0100", "0100", "1000")
    assert prefix_indices(tile).tolist() == [-1, -1, -1, -1]


def test_largest_subset_wins() -> None:
    # row 3 = {0,1,2}; subsets: row 0 {0} (1), row 1 {0,1} (2), row 2 {1} (1)
    # row 1 = {0,1}: subsets row 0 and row 2, both popcount 1 -> the smaller index, 0
    tile = rows("1000", "1100", "0100", "1110")
    assert prefix_indices(tile).tolist() == [-1, 0, -1, 1]


def test_ties_go_to_the_smallest_index() -> None:
    # row 0 = {0,1,2,3}; rows 1 {0,1}, 2 {2,3}, 3 {1,2} all popcount 2
    tile = rows("1111", "1100", "0011", "0110")
    assert prefix_indices(tile).tolist() == [1, -1, -1, -1]


def test_strict_subset_with_larger_index_qualifies() -> None:
    tile = rows("1110", "0000", "0110")
    assert prefix_indices(tile).tolist() == [2, -1, -1]


def test_identical_rows_only_earlier_qualifies() -> None:
    # rows 0, 2, 3 identical: 2 and 3 take 0 (ties -> smallest index); 0 takes no later
    # identical row, only the strict subset row 1
    tile = rows("0110", "0010", "0110", "0110")
    assert prefix_indices(tile).tolist() == [1, -1, 0, 0]
    tile = rows("0110", "0110", "0110")
    assert prefix_indices(tile).tolist() == [-1, 0, 0]


def test_identical_beats_strict_subset() -> None:
    tile = rows("1100", "1110", "1110")
    assert prefix_indices(tile).tolist() == [-1, 0, 1]


def test_zero_popcount_candidate_is_no_prefix() -> None:
    # row 1's only subset is the all-zero row 0
    tile = rows("0000", "1010", "0101")
    assert prefix_indices(tile).tolist() == [-1, -1, -1]


def test_tile_statistics_by_hand() -> None:
    # one 6x4 tile: zero row, two popcount-1 rows, a chain {1} -> {0,1}... see below
    S = rows(
        "0000",  # 0 zero
        "1000",  # 1 other (popcount 1)
        "1100",  # 2 PM, prefix 1, residual 1
        "1110",  # 3 PM, prefix 2, residual 1
        "1110",  # 4 EM, prefix 3
        "0001",  # 5 other
    )
    g = prosparsity_stats(S, tile_m=8, tile_k=4)
    assert prefix_indices(S).tolist() == [-1, -1, 1, 2, 3, -1]
    assert g.nnz.tolist() == [[1 + 2 + 3 + 3 + 1]]
    assert g.residual_nnz.tolist() == [[1 + 1 + 1 + 0 + 1]]
    assert (g.zero_rows[0, 0], g.em_rows[0, 0], g.pm_rows[0, 0], g.other_rows[0, 0]) == (
        1,
        1,
        2,
        2,
    )
    assert g.ge2_rows.tolist() == [[3]]
    # forest 1 -> 2 -> 3 -> 4: three edges
    assert g.forest_depth.tolist() == [[3]]
    assert g.rows.tolist() == [6] and g.cols.tolist() == [4]


def test_partial_tiles_and_tile_boundaries() -> None:
    # 5 rows x 6 cols, tiles 2x4: rows [2,2,1], cols [4,2]; prefixes never cross tiles
    S = rows("110011", "110011", "110011", "010001", "110000")
    g = prosparsity_stats(S, tile_m=2, tile_k=4)
    assert g.rows.tolist() == [2, 2, 1] and g.cols.tolist() == [4, 2]
    assert g.nnz.tolist() == [[4, 4], [3, 3], [2, 0]]
    # row tile 0: row 1 = row 0 -> EM in both column tiles; row tile 1: row 2 takes the
    # popcount-1 row 3 as prefix (PM); row tile 2: one row, no candidates (padding rows
    # of a partial tile never are)
    assert g.residual_nnz.tolist() == [[2, 2], [2, 2], [2, 0]]
    assert g.em_rows.tolist() == [[1, 1], [0, 0], [0, 0]]
    assert g.pm_rows.tolist() == [[0, 0], [1, 1], [0, 0]]
    assert g.zero_rows.tolist() == [[0, 0], [0, 0], [0, 1]]
    assert g.other_rows.tolist() == [[1, 1], [1, 1], [1, 0]]
    np.testing.assert_array_equal(
        g.zero_rows + g.em_rows + g.pm_rows + g.other_rows,
        np.broadcast_to(g.rows[:, None], g.nnz.shape),
    )


def test_prefix_grid_is_tile_local() -> None:
    S = rows("11", "11", "11", "11")
    assert prefix_grid(S, tile_m=2, tile_k=2).tolist() == [[-1], [0], [-1], [0]]


def test_head_cost_counts_the_first_m_row_slices() -> None:
    # 3 rows x 4 cols, tile_k=2 -> 2 column tiles; flat row slices m*2+kt < 3:
    # (0,0), (0,1), (1,0)
    S = rows("1101", "1101", "0011")
    g = prosparsity_stats(S, tile_m=4, tile_k=2)
    # (0,0): "11" cost 2; (0,1): "01" cost 1; (1,0): EM of row 0 -> 1
    assert g.head_cost.tolist() == [[3, 1]]


def test_forest_depth_helper_matches_networkx() -> None:
    nx = pytest.importorskip("networkx")
    prefix = np.array([-1, 0, 1, 1, -1, 4, 2])
    graph = nx.DiGraph([(int(p), i) for i, p in enumerate(prefix) if p >= 0])
    assert forest_depth(prefix) == nx.dag_longest_path_length(graph) == 3
    assert forest_depth(np.array([-1, -1])) == 0


def test_bad_input_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="tile_m"):
        prosparsity_stats(np.zeros((2, 2), bool), tile_m=0)
    with pytest.raises(ConfigError, match="tile_k"):
        prosparsity_stats(np.zeros((2, 2), bool), tile_k=129)
    with pytest.raises(ConfigError, match="bit planes"):
        prosparsity_stats(np.full((2, 2), 2, np.uint8))
    with pytest.raises(ConfigError, match="2-D"):
        prosparsity_stats(np.zeros(4, bool))


def test_empty_operand() -> None:
    g = prosparsity_stats(np.zeros((0, 5), bool), 4, 2)
    assert g.nnz.shape == (0, 3) and g.m == 0


# ---- properties ----------------------------------------------------------------------


@st.composite
def tiles_with_repeats(draw: st.DrawFn, max_rows: int = 40, max_cols: int = 130) -> np.ndarray:
    n = draw(st.integers(1, max_rows))
    k = draw(st.integers(1, max_cols))
    density = draw(st.sampled_from([0.02, 0.1, 0.3, 0.6, 0.95]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.random((max(1, n // 3), k)) < density
    tile = base[rng.integers(0, base.shape[0], n)]  # duplicate rows
    tile &= rng.random((n, k)) > draw(st.sampled_from([0.0, 0.1, 0.5]))  # subsets
    if n > 2 and draw(st.booleans()):
        tile[0] = True  # an all-one row
        tile[1] = False  # an all-zero row
    return tile


@settings(max_examples=400, deadline=None)
@given(tiles_with_repeats(max_cols=128))
def test_prefix_matches_brute_force(tile: np.ndarray) -> None:
    np.testing.assert_array_equal(prefix_indices(tile), brute_prefix(tile))


@settings(max_examples=200, deadline=None)
@given(
    tiles_with_repeats(max_rows=70, max_cols=90),
    st.integers(1, 33),
    st.integers(1, 128),
)
def test_grid_matches_per_tile_rule(S: np.ndarray, tile_m: int, tile_k: int) -> None:
    g = prosparsity_stats(S, tile_m, tile_k)
    pre_grid = prefix_grid(S, tile_m, tile_k)
    for mt, r0 in enumerate(range(0, S.shape[0], tile_m)):
        for kt, c0 in enumerate(range(0, S.shape[1], tile_k)):
            tile = S[r0 : r0 + tile_m, c0 : c0 + tile_k]
            pre = brute_prefix(tile)
            np.testing.assert_array_equal(pre_grid[r0 : r0 + tile.shape[0], kt], pre)
            pc = tile.sum(axis=1)
            res = np.where(pre >= 0, pc - pc[np.maximum(pre, 0)], pc)
            assert g.nnz[mt, kt] == pc.sum()
            assert g.residual_nnz[mt, kt] == res.sum()
            assert g.zero_rows[mt, kt] == np.sum(pc == 0)
            assert g.em_rows[mt, kt] == np.sum((pre >= 0) & (res == 0))
            assert g.pm_rows[mt, kt] == np.sum((pre >= 0) & (res > 0))
            assert g.ge2_rows[mt, kt] == np.sum(pc >= 2)
            assert g.forest_depth[mt, kt] == forest_depth(pre)


@settings(max_examples=60, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 90), st.integers(1, 40))), st.integers(1, 4))
def test_streamed_blocks_stack_to_the_whole(S: np.ndarray, blocks: int) -> None:
    tile_m, tile_k = 8, 16
    whole = prosparsity_stats(S, tile_m, tile_k)
    step = tile_m * blocks
    parts = [
        prosparsity_stats(S[r : r + step], tile_m, tile_k, row_offset=r, m_total=S.shape[0])
        for r in range(0, S.shape[0], step)
    ]
    stacked = TileGrid.vstack(parts)
    for name in ("rows", "cols", *TileGrid._PER_TILE):
        np.testing.assert_array_equal(getattr(stacked, name), getattr(whole, name))


def test_grids_compare_by_value_and_are_read_only() -> None:
    S = rows("1100", "1110", "1110")
    a, b = prosparsity_stats(S, 2, 2), prosparsity_stats(S.copy(), 2, 2)
    assert a == b and a != prosparsity_stats(S, 3, 2)
    with pytest.raises(ValueError):
        a.nnz[0, 0] = 7
