"""The paper workload builders against the transcription of the authors' configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind
from prosparsity.traces.shapes import GemmShape, gemm_shape
from prosparsity.traces.workloads import (
    AUTHOR_SLIPS,
    WORKLOADS,
    attention_operands,
    get_workload,
    workload,
)

OPS = {
    "conv2d": LayerKind.CONV2D,
    "fc": LayerKind.LINEAR,
    "lif": LayerKind.LIF,
    "attention": LayerKind.ATTENTION,
    "layernorm": LayerKind.LAYERNORM,
    "maxpool2d": LayerKind.MAXPOOL2D,
}
RENAMED = {"sequence_length": "seq_len"}


@pytest.fixture(scope="module")
def reference(reference_dir: Path) -> dict[str, list[dict]]:
    return json.loads((reference_dir / "paper" / "workloads.json").read_text())["workloads"]


def test_names(reference: dict) -> None:
    assert len(WORKLOADS) == 19
    assert set(WORKLOADS) == set(reference)


@pytest.mark.parametrize("name", WORKLOADS)
def test_matches_authors_configs(reference: dict, name: str) -> None:
    mine = workload(name)
    ref = reference[name]
    assert [r.name for r in mine] == [x["name"] for x in ref]
    for rec, entry in zip(mine, ref, strict=True):
        fields = {RENAMED.get(k, k): v for k, v in entry.items() if k not in ("name", "op")}
        assert rec.kind is OPS[entry["op"]], rec.name
        assert dict(rec.params) == fields, rec.name
        assert rec.shape == () and rec.in_network


def test_workload_metadata() -> None:
    wl = get_workload("spikformer_cifar10dvs")
    assert (wl.model, wl.dataset, wl.time_steps, wl.batch) == ("spikformer", "cifar10dvs", 16, 1)
    assert wl.layer("attention_enc_1").params["heads"] == 16
    with pytest.raises(ConfigError, match="spikformer_cifar10dvs.attention_enc_2: no such layer"):
        wl.layer("attention_enc_2")


def test_lenet_gemm_shapes() -> None:
    shapes = {r.name: gemm_shape(r) for r in workload("lenet5_mnist") if r.has_data}
    assert shapes == {
        "conv2d_1": GemmShape(4608, 150, 16, 5),
        "fc_0": GemmShape(32, 576, 120),
        "fc_1": GemmShape(32, 120, 84),
    }


def test_corrected_values() -> None:
    paper = {r.name: r for r in workload("resnet18_cifar10")}
    fixed = {r.name: r for r in workload("resnet18_cifar10", corrected=True)}
    assert paper["lif_3"].params["neurons"] == 8 * 8 * 128
    assert fixed["lif_3"].params["neurons"] == fixed["lif_4"].params["neurons"] == 8 * 8 * 64
    # a corrected LIF layer counts the outputs of the layer before it
    assert fixed["lif_3"].params["neurons"] == 8 * 8 * fixed["conv2d_3"].params["out_channels"]
    assert fixed["lif_5"] == paper["lif_5"]
    vgg9 = {r.name: r for r in workload("vgg9_cifar10", corrected=True)}
    assert vgg9["lif_6"].params["neurons"] == vgg9["fc_0"].params["out_features"] == 1024
    assert set(AUTHOR_SLIPS) == {"resnet18", "vgg9"}


def test_unknown_workload_and_variant() -> None:
    with pytest.raises(ConfigError, match="workload: unknown workload 'vgg11' \\(known: lenet5"):
        workload("vgg11")
    assert attention_operands("spikingbert") == ("k", "v")
    assert attention_operands("sdt") == ("q", "k", "v")
    with pytest.raises(ConfigError, match="attention.variant: unknown variant 'x'"):
        attention_operands("x")
