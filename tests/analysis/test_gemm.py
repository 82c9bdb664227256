"""GEMM operands of trace layers (the paper's spiking GEMM, docs/analysis.md): row order, im2col
column order, streaming, bit planes of multi-level inputs, attention operands."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from prosparsity.analysis.attention import attention_gemms
from prosparsity.analysis.gemm import gemm_matrix, gemms_of, iter_row_tiles
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord


def linear(layout: str, k: int = 3, n: int = 5) -> LayerRecord:
    return LayerRecord("fc", LayerKind.LINEAR, {"in_features": k, "out_features": n}, layout=layout)


def conv(
    cin: int,
    cout: int,
    k: int,
    s: int = 1,
    p: int = 0,
    d: int = 1,
    g: int = 1,
    layout: str = "T,C,H,W",
) -> LayerRecord:
    params = {
        "in_channels": cin,
        "out_channels": cout,
        "kernel": k,
        "stride": s,
        "padding": p,
        "dilation": d,
        "groups": g,
    }
    return LayerRecord("conv", LayerKind.CONV2D, params, layout=layout)


def test_linear_rows_are_token_major_time_minor() -> None:
    T, B, L, K = 2, 2, 3, 3
    x = np.arange(T * B * L * K).reshape(T, B, L, K) % 2
    S = gemm_matrix(linear("T,B,L,K"), x.astype(bool))
    assert S.shape == (T * B * L, K)
    for t in range(T):
        for b in range(B):
            for tok in range(L):
                np.testing.assert_array_equal(S[(b * L + tok) * T + t], x[t, b, tok].astype(bool))


def test_linear_layouts_without_batch_or_tokens() -> None:
    x = np.random.default_rng(0).random((4, 6)) < 0.5
    np.testing.assert_array_equal(gemm_matrix(linear("T,K", k=6), x), x)
    x3 = np.random.default_rng(1).random((4, 2, 6)) < 0.5
    S = gemm_matrix(linear("T,L,K", k=6), x3)
    np.testing.assert_array_equal(S, x3.transpose(1, 0, 2).reshape(-1, 6))


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(3, 9),
    st.sampled_from([1, 2, 3]),
    st.sampled_from([1, 2]),
    st.sampled_from([0, 1, 2]),
    st.sampled_from([1, 2]),
)
def test_conv2d_im2col_matches_torch_unfold(
    T: int, C: int, H: int, k: int, s: int, p: int, d: int
) -> None:
    if H + 2 * p < d * (k - 1) + 1:
        return
    x = np.random.default_rng(H * 7 + k).random((T, C, H, H + 1)) < 0.4
    S = gemm_matrix(conv(C, 4, k, s, p, d), x)
    cols = torch.nn.functional.unfold(
        torch.from_numpy(x).float(), k, dilation=d, padding=p, stride=s
    )  # (T, C*k*k, pixels)
    expect = cols.permute(2, 0, 1).reshape(-1, C * k * k).numpy().astype(bool)
    np.testing.assert_array_equal(S, expect)


def test_conv2d_column_order_by_hand() -> None:
    # one time step, 2 channels of 2x2, kernel 2: a single output pixel whose row is
    # channel-major, then kernel row, then kernel column
    x = np.array([[[[1, 0], [0, 0]], [[0, 0], [0, 1]]]], dtype=bool)
    S = gemm_matrix(conv(2, 1, 2), x)
    assert S.astype(int).tolist() == [[1, 0, 0, 0, 0, 0, 0, 1]]


def test_conv2d_with_batch_axis_and_groups() -> None:
    x = np.random.default_rng(3).random((2, 2, 4, 5, 5)) < 0.5  # T,B,C,H,W
    gemms = gemms_of(conv(4, 6, 3, p=1, g=2, layout="T,B,C,H,W"), x)
    assert [(g.m, g.k, g.n, g.group) for g in gemms] == [(2 * 2 * 25, 18, 3, 0), (100, 18, 3, 1)]
    for g, sl in zip(gemms, (slice(0, 2), slice(2, 4)), strict=True):
        xt = torch.from_numpy(x[:, :, sl]).float().reshape(4, 2, 5, 5)  # (T*B, C, H, W)
        cols = torch.nn.functional.unfold(xt, 3, padding=1).reshape(2, 2, 18, 25)
        expect = cols.permute(1, 3, 0, 2).reshape(-1, 18).numpy().astype(bool)  # (b, pix, t)
        np.testing.assert_array_equal(g.matrix(), expect)


def test_conv1d() -> None:
    x = np.random.default_rng(4).random((3, 2, 7)) < 0.5  # T, C, L
    rec = LayerRecord(
        "c1",
        LayerKind.CONV1D,
        {"in_channels": 2, "out_channels": 3, "kernel": 3, "padding": 1},
        layout="T,C,L",
    )
    S = gemm_matrix(rec, x)
    xt = torch.from_numpy(x).float()[:, :, None, :]
    cols = torch.nn.functional.unfold(xt, (1, 3), padding=(0, 1))
    np.testing.assert_array_equal(S, cols.permute(2, 0, 1).reshape(-1, 6).numpy().astype(bool))


def test_streamed_row_tiles_reassemble_the_matrix() -> None:
    x = np.random.default_rng(5).random((3, 2, 6, 6)) < 0.3
    rec = conv(2, 4, 3, p=1)
    whole = gemm_matrix(rec, x)
    tiles = list(iter_row_tiles(rec, x, 7))
    assert all(t.shape[0] == 7 for t in tiles[:-1]) and tiles[-1].shape[0] == whole.shape[0] % 7
    np.testing.assert_array_equal(np.concatenate(tiles), whole)


def test_multi_level_input_is_decomposed_into_bit_planes() -> None:
    x = np.random.default_rng(6).integers(0, 3, size=(4, 5, 8)).astype(np.uint8)  # 0..2
    rec = linear("T,L,K", k=8)
    (g,) = gemms_of(rec, x)
    assert g.planes == 2 and not g.binary
    values = x.transpose(1, 0, 2).reshape(-1, 8)
    recomposed = sum((1 << p) * g.matrix(p).astype(int) for p in range(g.planes))
    np.testing.assert_array_equal(recomposed, values)
    with pytest.raises(ConfigError, match="bit plane"):
        gemm_matrix(rec, x)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="fc.shape"):
        gemms_of(linear("T,K", k=4), np.zeros((2, 3), bool))
    with pytest.raises(ConfigError, match="in_channels"):
        gemms_of(conv(3, 4, 3), np.zeros((2, 2, 5, 5), bool))
    with pytest.raises(ConfigError, match="kernel larger"):
        gemms_of(conv(2, 4, 7), np.zeros((2, 2, 5, 5), bool))
    with pytest.raises(ConfigError, match="negative"):
        gemms_of(linear("T,K", k=3), -np.ones((2, 3), np.int8))
    with pytest.raises(ConfigError, match="no GEMM rule"):
        gemms_of(LayerRecord("lif", LayerKind.LIF), np.zeros((1, 1), bool))


def test_spikformer_attention_gemms() -> None:
    T, L, H, dh = 2, 6, 2, 3  # L > dh
    rng = np.random.default_rng(7)
    q, k, v = (rng.random((T, L, H * dh)) < 0.5 for _ in range(3))
    gemms = attention_gemms("attn", "spikformer", H, {"q": q, "k": k, "v": v})
    assert [g.name for g in gemms[:3]] == [
        "attn_t0_b0_h0_kv",
        "attn_t0_b0_h0_qkv",
        "attn_t0_b0_h1_kv",
    ]
    kv, qkv = gemms[2], gemms[3]  # t=0, head 1
    assert (kv.m, kv.k, kv.n) == (dh, L, dh) and (qkv.m, qkv.k, qkv.n) == (L, dh, dh)
    np.testing.assert_array_equal(kv.matrix(), k[0, :, dh : 2 * dh].T)
    np.testing.assert_array_equal(qkv.matrix(), q[0, :, dh : 2 * dh])


def test_spikingbert_and_sdt_attention_gemms() -> None:
    T, L, H, dh = 1, 4, 2, 2
    rng = np.random.default_rng(8)
    k, v = (rng.random((T, L, H * dh)) < 0.5 for _ in range(2))
    qk, sv, *_ = attention_gemms("a", "spikingbert", H, {"k": k, "v": v})
    assert (qk.m, qk.k, qk.n, qk.role) == (L, dh, L, "qk")
    assert (sv.m, sv.k, sv.n, sv.role) == (dh, L, L, "sv")
    np.testing.assert_array_equal(qk.matrix(), k[0, :, :dh])
    np.testing.assert_array_equal(sv.matrix(), v[0, :, :dh].T)
    assert attention_gemms("a", "sdt", H, {"q": k, "k": k, "v": v}) == ()
    with pytest.raises(ConfigError, match="variant"):
        attention_gemms("a", "linformer", H, {"k": k, "v": v})
    with pytest.raises(ConfigError, match="missing spike operand 'v'"):
        attention_gemms("a", "spikingbert", H, {"k": k})


@pytest.mark.parametrize("variant", ["spikformer", "spikebert", "spikingbert", "sdt"])
def test_attention_shapes_agree_with_the_gemms(variant: str) -> None:
    from prosparsity.traces.shapes import attention_gemm_shapes

    T, L, H, dh = 2, 5, 3, 4
    rng = np.random.default_rng(9)
    ops = {op: rng.random((T, L, H * dh)) < 0.5 for op in ("q", "k", "v")}
    gemms = attention_gemms("a", variant, H, ops)
    rec = LayerRecord(
        "a",
        LayerKind.ATTENTION,
        {"dim": H * dh, "heads": H, "seq_len": L, "variant": variant, "time_steps": T},
    )
    shapes = attention_gemm_shapes(rec)
    assert len(gemms) == sum(s.groups for s in shapes)
    assert [(g.m, g.k, g.n) for g in gemms[: len(shapes)]] == [(s.m, s.k, s.n) for s in shapes]
