"""The fused path: GEMM operands read straight from bit-packed layer inputs give exactly
the statistics of the im2col matrix (every geometry: stride, padding, dilation, groups,
conv1d, linear, tiles of any size and column tiles wider than 64 bits), and so do the
counters that read them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prosparsity.analysis.counters import LoASGroups, OperandSpikes
from prosparsity.analysis.density import layer_spikes
from prosparsity.analysis.gemm import PackedGemm, gemms_of, gemms_of_packed
from prosparsity.analysis.kernel import packed_stats, prosparsity_stats
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord

TILES_M = (1, 3, 8, 64, 256)
TILES_K = (1, 4, 5, 16, 64, 70, 128)


@settings(max_examples=60, deadline=None)
@given(
    t=st.integers(1, 3), b=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(1, 8),
    w=st.integers(1, 19), k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 2),
    d=st.integers(1, 2), grouped=st.booleans(), density=st.floats(0, 1),
    tile_m=st.sampled_from(TILES_M), tile_k=st.sampled_from(TILES_K), seed=st.integers(0, 99),
)
def test_conv2d_operands_equal_the_im2col_matrix(
    t: int, b: int, c: int, h: int, w: int, k: int, s: int, p: int, d: int, grouped: bool,
    density: float, tile_m: int, tile_k: int, seed: int,
) -> None:
    span = d * (k - 1) + 1
    if h + 2 * p < span or w + 2 * p < span:
        return
    x = np.random.default_rng(seed).random((t, b, c, h, w)) < density
    groups = c if grouped else 1
    rec = LayerRecord("c", LayerKind.CONV2D, {"in_channels": c, "out_channels": 2 * groups,
                                              "kernel": k, "stride": s, "padding": p,
                                              "dilation": d, "groups": groups},
                      layout="T,B,C,H,W")
    expanded = gemms_of(rec, x)
    fused = gemms_of_packed(rec, np.packbits(x, axis=-1), x.shape)
    assert len(fused) == groups
    for g_values, g_fused in zip(expanded, fused, strict=True):
        assert (g_fused.m, g_fused.k) == (g_values.m, g_values.k)
        want = prosparsity_stats(g_values.matrix(), tile_m, tile_k)
        assert packed_stats(*g_fused.packed(), tile_m, tile_k) == want
        assert packed_stats(*g_values.packed(), tile_m, tile_k) == want
        np.testing.assert_array_equal(g_fused.matrix(), g_values.matrix())  # unpacked rows


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 4), tokens=st.integers(1, 40), k=st.integers(1, 300),
       density=st.floats(0, 1), tile_m=st.sampled_from(TILES_M),
       tile_k=st.sampled_from(TILES_K), seed=st.integers(0, 99))
def test_linear_operands_equal_the_matrix(t: int, tokens: int, k: int, density: float,
                                          tile_m: int, tile_k: int, seed: int) -> None:
    x = np.random.default_rng(seed).random((t, tokens, k)) < density
    rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": k, "out_features": 3},
                      layout="T,L,K")
    (g,) = gemms_of(rec, x)
    (f,) = gemms_of_packed(rec, np.packbits(x, axis=-1), x.shape)
    assert packed_stats(*f.packed(), tile_m, tile_k) == prosparsity_stats(g.matrix(), tile_m,
                                                                          tile_k)


def test_conv1d_and_stored_layouts_other_than_the_canonical_one() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((3, 4, 2, 11)) < 0.4  # (T, C, B, L): B stored after C
    rec = LayerRecord("c1", LayerKind.CONV1D, {"in_channels": 4, "out_channels": 5,
                                               "kernel": 3, "stride": 2, "padding": 1},
                      layout="T,C,B,L")
    (g,) = gemms_of(rec, x)
    (f,) = gemms_of_packed(rec, np.packbits(x, axis=-1), x.shape)
    assert packed_stats(*f.packed(), 8, 5) == prosparsity_stats(g.matrix(), 8, 5)
    y = rng.random((2, 3, 6, 5)) < 0.5  # (T, C, W, H): packed along H, not W
    rec2 = LayerRecord("c2", LayerKind.CONV2D, {"in_channels": 3, "out_channels": 2,
                                                "kernel": 2}, layout="T,C,W,H")
    (g2,) = gemms_of(rec2, y)
    (f2,) = gemms_of_packed(rec2, np.packbits(y, axis=-1), y.shape)
    assert packed_stats(*f2.packed(), 4, 16) == prosparsity_stats(g2.matrix(), 4, 16)


def test_row_tile_ranges_and_units_stack_to_the_whole_grid() -> None:
    x = np.random.default_rng(5).random((2, 6, 3, 5, 5)) < 0.3  # six samples
    rec = LayerRecord("c", LayerKind.CONV2D, {"in_channels": 3, "out_channels": 4,
                                              "kernel": 3, "padding": 1}, layout="T,B,C,H,W")
    (f,) = gemms_of_packed(rec, np.packbits(x, axis=-1), x.shape)
    packed, gemm = f.packed()
    whole = packed_stats(packed, gemm, 50, 16)
    # rows of samples 2..5 start at row 100: row tiles 2.. of 50 rows
    part = packed_stats(packed[:, 2:], gemm, 50, 16, row_tiles=(2, 6), unit0=2)
    np.testing.assert_array_equal(part.residual_nnz, whole.residual_nnz[2:6])
    np.testing.assert_array_equal(part.head_cost, whole.head_cost[2:6])
    with pytest.raises(ConfigError, match="row tiles"):
        packed_stats(packed[:, 3:], gemm, 50, 16, row_tiles=(2, 6), unit0=3)


def test_packed_bytes_must_fit_the_shape() -> None:
    rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": 12, "out_features": 3},
                      layout="T,K")
    with pytest.raises(ConfigError, match="do not hold values"):
        gemms_of_packed(rec, np.zeros((4, 1), np.uint8), (4, 12))


@pytest.mark.parametrize("layout,shape,params", [
    ("T,B,C,H,W", (5, 2, 3, 6, 6), {"in_channels": 3, "out_channels": 4, "kernel": 3,
                                    "padding": 1, "input_hw": [6, 6]}),
    ("T,L,K", (3, 7, 40), {"in_features": 40, "out_features": 8, "seq_len": 7}),
])
def test_loas_counts_the_same_from_packed_operands(layout: str, shape: tuple[int, ...],
                                                   params: dict[str, int]) -> None:
    x = np.random.default_rng(7).random(shape) < 0.35
    kind = LayerKind.CONV2D if "H" in layout else LayerKind.LINEAR
    batch = shape[1] if kind is LayerKind.CONV2D else 1
    rec = LayerRecord("l", kind, {**params, "time_steps": shape[0], "batch": batch},
                      layout=layout)
    fast = layer_spikes(Workload.from_arrays("w", [rec], {"l": x}), "l")
    assert fast.operands[0].packed is not None
    slow = dataclasses.replace(fast, operands=tuple(
        OperandSpikes(op.gemm, op.plane, op.grid, op.row_nnz, op.shape) for op in fast.operands))
    for counter in (LoASGroups(), LoASGroups(time_groups=2, tile_m=32, tile_k=8)):
        assert counter.count(fast) == counter.count(slow) and counter.count(slow).ones > 0
    # time groups that do not divide the padded T: both paths refuse, naming the field
    # (the fused one used to drop the last steps silently)
    for spikes in (slow, fast):
        with pytest.raises(ConfigError, match="loas.time_groups: 3 does not divide padded T"):
            LoASGroups(time_groups=3).count(spikes)


def test_packed_gemm_geometry() -> None:
    g = PackedGemm(steps=4, units=2, channels=6, height=10, width=9, kernel=(3, 3),
                   stride=(2, 2), padding=(1, 1))
    assert g.out_hw == (5, 5) and g.unit_rows == 100 and (g.m, g.k) == (200, 54)
