"""Exactness: the ProSparsity GEMM (prefix partial sums reused along each tile's forest)
equals the dense product for integer weights, on thousands of random spike matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prosparsity.analysis.functional import prosparsity_matmul
from prosparsity.analysis.kernel import prosparsity_stats
from prosparsity.core.errors import ConfigError


@st.composite
def spike_matrices(draw: st.DrawFn) -> np.ndarray:
    m = draw(st.integers(1, 48))
    k = draw(st.integers(1, 70))
    density = draw(st.sampled_from([0.0, 0.03, 0.15, 0.4, 0.8, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    S = rng.random((m, k)) < density
    if m > 1 and draw(st.booleans()):  # duplicate rows (time steps repeating)
        S = S[rng.integers(0, max(1, m // 2), m)]
    if m > 1 and draw(st.booleans()):  # nested subsets
        S[1:] &= S[:-1] | (rng.random((m - 1, k)) < 0.5)
    if m > 2 and draw(st.booleans()):
        S[rng.integers(0, m)] = True  # an all-one row
        S[rng.integers(0, m)] = False  # an all-zero row
    return S


@settings(max_examples=2500, deadline=None)
@given(spike_matrices(), st.integers(1, 40), st.integers(1, 128), st.integers(1, 9))
def test_prosparsity_gemm_is_exact(S: np.ndarray, tile_m: int, tile_k: int, n: int) -> None:
    rng = np.random.default_rng(S.shape[0] * 1000 + S.shape[1])
    W = rng.integers(-128, 128, size=(S.shape[1], n), dtype=np.int64)
    result = prosparsity_matmul(S, W, tile_m, tile_k)
    np.testing.assert_array_equal(result.output, S.astype(np.int64) @ W)
    # the additions it performed are exactly the residual ones the kernel counts
    assert result.additions == prosparsity_stats(S, tile_m, tile_k).residual_nnz.sum()


def test_exact_on_a_real_trace_tile(lenet5_npz) -> None:  # noqa: ANN001
    S = np.load(lenet5_npz)["fc_0"].reshape(32, 576)
    W = np.random.default_rng(0).integers(-128, 128, size=(576, 120))
    result = prosparsity_matmul(S, W)
    np.testing.assert_array_equal(result.output, S.astype(np.int64) @ W)
    # residual ones of fc_0 at 256x16: official compute 1348 = 868 residual + 480 EM rows
    assert result.additions == 868
    assert result.reused_rows > 0


def test_shape_mismatch() -> None:
    with pytest.raises(ConfigError, match="W"):
        prosparsity_matmul(np.zeros((2, 3), bool), np.zeros((4, 2)))
