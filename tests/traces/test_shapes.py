"""GEMM shapes (the paper's spiking GEMM, docs/analysis.md), hand-computed."""

from __future__ import annotations

import pytest

from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import GemmShape, conv_output_size, gemm_shape

LENET_CONV = {
    "input_hw": 16,
    "in_channels": 6,
    "out_channels": 16,
    "kernel": 5,
    "padding": 0,
    "stride": 1,
    "batch": 1,
    "time_steps": 32,
}


def test_conv2d_from_params_and_from_shape() -> None:
    from_params = gemm_shape(LayerRecord("conv2d_1", LayerKind.CONV2D, LENET_CONV))
    assert from_params == GemmShape(m=32 * 12 * 12, k=6 * 5 * 5, n=16, kernel=5)
    from_shape = gemm_shape(
        LayerRecord(
            "conv2d_1", LayerKind.CONV2D, LENET_CONV, shape=(32, 6, 16, 16), layout="T,C,H,W"
        )
    )
    assert from_shape == GemmShape(4608, 150, 16, 5)
    assert from_shape.macs == 4608 * 150 * 16


def test_conv2d_batch_stride_padding_dilation() -> None:
    params = {"in_channels": 3, "out_channels": 8, "kernel": 3, "stride": 2, "padding": 1}
    rec = LayerRecord("c", LayerKind.CONV2D, params, shape=(4, 2, 3, 7, 9), layout="T,B,C,H,W")
    # H' = (7 + 2 - 3) // 2 + 1 = 4, W' = (9 + 2 - 3) // 2 + 1 = 5
    assert gemm_shape(rec) == GemmShape(m=4 * 2 * 4 * 5, k=27, n=8, kernel=3)
    dil = LayerRecord("d", LayerKind.CONV2D, {**params, "dilation": 2}, (1, 3, 7, 7), "T,C,H,W")
    # (7 + 2 - 2*2 - 1) // 2 + 1 = 3
    assert gemm_shape(dil).m == 9
    assert conv_output_size(32, 3, 1, 1) == 32


def test_grouped_and_conv1d() -> None:
    params = {"in_channels": 8, "out_channels": 4, "kernel": 3, "padding": 1, "groups": 2}
    rec = LayerRecord("g", LayerKind.CONV2D, params, shape=(2, 8, 5, 5), layout="T,C,H,W")
    assert gemm_shape(rec) == GemmShape(m=2 * 25, k=4 * 9, n=2, kernel=3, groups=2)
    c1 = LayerRecord(
        "c1",
        LayerKind.CONV1D,
        {"in_channels": 6, "out_channels": 5, "kernel": 3},
        (4, 6, 10),
        "T,C,L",
    )
    assert gemm_shape(c1) == GemmShape(m=4 * 8, k=18, n=5, kernel=3)


@pytest.mark.parametrize(
    ("shape", "layout", "m"),
    [((32, 576), "T,K", 32), ((4, 64, 576), "T,L,K", 256), ((4, 2, 64, 576), "T,B,L,K", 512)],
)
def test_linear(shape: tuple[int, ...], layout: str, m: int) -> None:
    rec = LayerRecord(
        "fc", LayerKind.LINEAR, {"in_features": 576, "out_features": 120}, shape, layout
    )
    assert gemm_shape(rec) == GemmShape(m=m, k=576, n=120, kernel=1)


def test_linear_from_params() -> None:
    params = {"in_features": 384, "out_features": 1152, "seq_len": 64, "batch": 1, "time_steps": 4}
    assert gemm_shape(LayerRecord("fc_q", LayerKind.LINEAR, params)) == GemmShape(256, 384, 1152)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            LayerRecord("a", LayerKind.ATTENTION_OPERAND, {"operand": "q"}),
            "a.kind: no GEMM shape rule for kind 'attention_operand'",
        ),
        (LayerRecord("l", LayerKind.LIF, {"neurons": 3}), "l.kind: no GEMM shape rule"),
        (
            LayerRecord("fc", LayerKind.LINEAR, {"in_features": 4}),
            "fc.params.out_features: missing (needed for a linear GEMM)",
        ),
        (
            LayerRecord("c", LayerKind.CONV2D, LENET_CONV, (32, 7, 16, 16), "T,C,H,W"),
            "c.shape: channel axis 7 differs from in_channels 6",
        ),
        (
            LayerRecord(
                "fc", LayerKind.LINEAR, {"in_features": 4, "out_features": 2}, (3, 5), "T,K"
            ),
            "fc.shape: last axis 5 differs from in_features 4",
        ),
        (
            LayerRecord("c", LayerKind.CONV2D, {**LENET_CONV, "input_hw": 3}),
            "c.params.kernel: kernel larger than the padded input",
        ),
        (
            LayerRecord("c", LayerKind.CONV2D, {**LENET_CONV, "groups": 4}),
            "c.params.groups: 4 does not divide in_channels 6",
        ),
    ],
)
def test_errors(record: LayerRecord, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        gemm_shape(record)
    assert str(exc.value).startswith(message)


def test_non_square_kernel_is_refused_when_the_record_is_built() -> None:
    # typed params (traces/params.py) validate once, on construction
    with pytest.raises(ConfigError) as exc:
        LayerRecord("c", LayerKind.CONV2D, {**LENET_CONV, "kernel": (3, 5)})
    assert str(exc.value).startswith("c.params.kernel: non-square values (3, 5) are not supported")


def test_gemm_shape_validates() -> None:
    with pytest.raises(ConfigError, match="GemmShape.k: must be a positive integer"):
        GemmShape(1, 0, 1)
