"""Operation count (the authors' ``compute_num_OPS``): hand-computed conv and attention
layers, the authors' float truncation, and their function's values on the paper's
LeNet-5 trace and the synthetic SpikingBERT trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prosparsity.analysis.ops import (
    GEMM_KINDS,
    OpRule,
    layer_ops,
    nnz_at_density,
    nnz_by_layer,
    operation_count,
)
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.workloads import workload
from tests.counting import analyze_records


def _ops_of(records: list[LayerRecord], arrays: dict[str, np.ndarray], **kw: int) -> dict:
    stats = analyze_records("t", [r for r in records if r.kind in GEMM_KINDS], arrays.__getitem__)
    count = operation_count(records, nnz_by_layer(stats), **kw)
    return {layer.name: layer.ops for layer in count.layers}


def test_conv_layer_by_hand() -> None:
    # T = 2, one 3x3 channel, 2x2 kernel, stride 1, no padding -> 4 output positions
    # per step; K = 4, N = 4 output channels.
    x = np.zeros((2, 1, 3, 3), dtype=bool)
    x[0] = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]  # every 2x2 window holds two ones: 4 * 2
    x[1, 0, 1, 1] = 1  # the centre lies in all four windows: 4 * 1
    conv = LayerRecord("conv", LayerKind.CONV2D,
                       {"in_channels": 1, "out_channels": 4, "kernel": 2, "stride": 1,
                        "padding": 0}, shape=x.shape, layout="T,C,H,W")
    lif = LayerRecord("lif", LayerKind.LIF, {"neurons": 16})
    ops = _ops_of([conv, lif], {"conv": x}, time_steps=2)
    # nnz(im2col S) = 8 + 4 = 12 ones, each adds a weight row of N = 4
    assert ops == {"conv": 12 * 4, "lif": 2 * 16}

    # with padding 1 the output is 4x4 per step; each one of x lands in k*k = 4 windows
    padded = LayerRecord("conv", LayerKind.CONV2D,
                         {"in_channels": 1, "out_channels": 4, "kernel": 2, "stride": 1,
                          "padding": 1}, shape=x.shape, layout="T,C,H,W")
    assert _ops_of([padded], {"conv": x}) == {"conv": (5 + 1) * 4 * 4}


def test_attention_and_layernorm_by_hand() -> None:
    # B = 1, T = 2, H = 2 heads, L = 3 tokens, dim = 4 -> dh = 2; per = B*T*H = 4
    shape = {"dim": 4, "seq_len": 3, "heads": 2, "time_steps": 2}

    def att(variant: str) -> LayerRecord:
        return LayerRecord("att", LayerKind.ATTENTION, {**shape, "variant": variant})

    bert = layer_ops(att("spikingbert"))
    # the authors: 2*B*T*H*L*L*dh + 2*B*T*H*L*L = 2*4*9*2 + 2*4*9
    assert (bert.ops, bert.rule) == (144 + 72, OpRule.AUTHORS_ATTENTION)
    # ours (the authors' Eyeriss count): Q K^T and A V, L*L*dh each per head and step
    assert layer_ops(att("spikformer")).ops == 2 * 4 * 9 * 2 == 144
    assert layer_ops(att("spikebert")).rule is OpRule.EYERISS_ATTENTION
    assert layer_ops(att("sdt")).ops == 4 * 4 * 3 * 2 == 96
    norm = LayerRecord("ln", LayerKind.LAYERNORM, {"dim": 4, "seq_len": 3, "batch": 3})
    assert layer_ops(norm, time_steps=2).ops == 2 * 3 * 2 * 3 * 4  # 2*B*T*L*dim
    pool = LayerRecord("pool", LayerKind.MAXPOOL2D, {"input_hw": 8, "channels": 4})
    assert (layer_ops(pool).ops, layer_ops(pool).rule) == (0, OpRule.NONE)


def test_the_authors_float_truncation() -> None:
    # LeNet-5 fc_1: M = 32, K = 120, N = 84 with 674 ones. int(M*K*N * (674 / (M*K)))
    # evaluates to 56615.99... in floating point and truncates to 56615.
    fc = LayerRecord("fc_1", LayerKind.LINEAR,
                     {"in_features": 120, "out_features": 84, "seq_len": 1, "time_steps": 32})
    assert layer_ops(fc, 674).ops == 56615
    assert layer_ops(fc, 674, paper_compat=False).ops == 674 * 84 == 56616


def test_lenet5_equals_the_authors_function(lenet5_npz: Path) -> None:
    # compute_num_OPS on the authors' lenet5_mnist dump, evaluated by hand from its
    # definition: conv2d_1 has 175,255 ones after im2col (N = 16), fc_0 5,036 (N = 120),
    # fc_1 674 (N = 84, truncated); LIF B*T*neurons with T = 32.
    records = list(workload("lenet5_mnist"))
    data = np.load(lenet5_npz)
    ops = _ops_of(records, {k: data[k] for k in data.files})
    assert ops == {"conv2d_1": 2_804_080, "lif_2": 73_728, "fc_0": 604_320, "lif_3": 3_840,
                   "fc_1": 56_615, "lif_4": 2_688}
    count = operation_count(records, {"conv2d_1": 175_255, "fc_0": 5_036, "fc_1": 674})
    assert (count.total, count.gemm, count.neuron) == (3_545_271, 3_465_015, 80_256)
    assert count.paper_rules_only


def test_spikingbert_equals_the_authors_function(reference_dir: Path) -> None:
    # compute_num_OPS on the synthetic spikingbert_sst2 trace (its spike data), evaluated
    # from the authors' definition; attention is their own SpikingBERT rule:
    # 2*16*12*128*128*64 + 2*16*12*128*128 = 408,944,640 per block.
    records = list(workload("spikingbert_sst2"))
    data = np.load(reference_dir / "synthetic" / "spikingbert_sst2.npz")
    stats = analyze_records("s", [r for r in records if r.kind in GEMM_KINDS],
                            lambda name: data[name])
    count = operation_count(records, nnz_by_layer(stats))
    assert (count.total, count.gemm, count.neuron) == (
        13_581_134_592, 11_863_567_104, 56_623_104)
    attention = [layer for layer in count.layers if layer.kind == "attention"]
    assert [layer.ops for layer in attention] == [408_944_640] * 4
    assert count.paper_rules_only


def test_variants_the_authors_function_refuses_are_marked() -> None:
    records = workload("spikformer_cifar10")
    count = operation_count(records, nnz_at_density(records, 0.0))
    assert not count.paper_rules_only
    # with no spikes only LIF and attention remain: 4 blocks of 2*T*H*L*L*dh
    assert count.gemm == 0
    attention = 2 * 4 * 12 * 64 * 64 * 32
    assert count.total == count.neuron + 4 * attention
    assert count.to_json()["layers"][0] == {
        "name": "conv2d_1_sps", "kind": "conv2d", "ops": 0, "rule": "nnz*N"}


def test_dense_upper_bound_and_density() -> None:
    records = workload("lenet5_mnist")
    dense = operation_count(records, nnz_at_density(records, 1.0), paper_compat=False)
    macs = 32 * 144 * 150 * 16 + 32 * 576 * 120 + 32 * 120 * 84  # dense M*K*N
    assert dense.gemm == macs
    half = nnz_at_density(records, 0.5)
    assert half["fc_0"] == 32 * 576 // 2
    with pytest.raises(ConfigError, match="density"):
        nnz_at_density(records, 1.5)


def test_bad_input_names_the_layer() -> None:
    records = workload("lenet5_mnist")
    with pytest.raises(ConfigError, match=r"conv2d_1\.nnz"):
        operation_count(records, {"fc_0": 1, "fc_1": 1})
    with pytest.raises(ConfigError, match=r"att\.params\.variant"):  # refused when built
        layer_ops(LayerRecord("att", LayerKind.ATTENTION,
                              {"dim": 4, "seq_len": 3, "heads": 2, "variant": "mystery"}))
    with pytest.raises(ConfigError, match=r"att\.params\.heads"):
        layer_ops(LayerRecord("att", LayerKind.ATTENTION,
                              {"dim": 5, "seq_len": 3, "heads": 2, "variant": "sdt"}))
    with pytest.raises(ConfigError, match=r"lif\.params\.neurons"):
        layer_ops(LayerRecord("lif", LayerKind.LIF, {}))


def test_attention_operands_and_off_network_records_are_not_counted() -> None:
    operand = LayerRecord("att_q", LayerKind.ATTENTION_OPERAND, {"attention": "att"})
    image = LayerRecord("conv2d_0", LayerKind.CONV2D, {}, in_network=False)
    lif = LayerRecord("lif", LayerKind.LIF, {"neurons": 3, "time_steps": 2, "batch": 2})
    count = operation_count([operand, image, lif], {})
    assert [(layer.name, layer.ops) for layer in count.layers] == [("lif", 12)]
    assert (count + count).total == 24


def test_operations_of_counted_statistics_and_rates(lenet5_npz: Path) -> None:
    from prosparsity.analysis.density import count
    from prosparsity.analysis.network import Workload
    from prosparsity.analysis.ops import gop_per_j, gop_per_s, operations_of

    lenet = Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))
    ops = operations_of(count(lenet, 32, 16))  # the tile does not change the count
    assert (ops.total, ops.gemm, ops.neuron) == (3_545_271, 3_465_015, 80_256)
    assert gop_per_s(3_000_000_000, 1.5) == 2.0  # 3 GOP in 1.5 s
    assert gop_per_j(3_000_000_000, 500.0) == 6.0  # 3 GOP with 0.5 J
