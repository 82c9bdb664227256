"""Every CNN adapter of the registry, in a tiny configuration: the trace's layers, shapes
and value levels match the model's own forward pass (each recorded input, pushed
through its layer, gives the output the layer really produced)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from prosparsity.models.adapters import resolve_neurons
from prosparsity.models.capture import (
    CaptureConfig,
    capture_to_file,
    reset_states,
)
from prosparsity.models.data import digits_time_input, random_frames
from prosparsity.models.registry import get_model
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import TraceInfo
from tests.models.conftest import OutputRecorder, replay

T, B = 4, 2


def resnet_layers(blocks: int, shortcuts: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """GEMM records of a ResNet in execution order: conv1, conv2, then the shortcut."""
    names: dict[str, tuple[int, ...]] = {}
    for i in range(blocks):
        names |= {f"layers.{i}.conv1.0": (), f"layers.{i}.conv2.0": ()}
        if i in shortcuts:
            names[f"layers.{i}.shortcut.0"] = ()
    return names


# name -> (build options, input, GEMM records expected (name: per-sample shape), skipped)
TINY: dict[str, tuple[dict, torch.Tensor, dict[str, tuple[int, ...]], tuple[str, ...]]] = {
    "lenet5": (
        {"input_hw": 16},
        digits_time_input(B, T, upscale_factor=2),
        {"conv2": (6, 8, 8), "fc1": (64,), "fc2": (120,), "fc3": (84,)},
        ("conv1",),
    ),
    "snntorch-lenet5": (
        {"input_hw": 16},
        digits_time_input(B, T, upscale_factor=2),
        {"conv2": (6, 8, 8), "fc1": (64,), "fc2": (120,), "fc3": (84,)},
        ("conv1",),
    ),
    "vgg9": (
        {"width": 1 / 16, "input_hw": 16},
        random_frames(B, T, (3, 16, 16)),
        {
            "features.3": (4, 16, 16),
            "features.7": (4, 8, 8),
            "features.10": (8, 8, 8),
            "features.14": (8, 4, 4),
            "features.17": (16, 4, 4),
            "classifier.0": (64,),
            "classifier.2": (64,),
        },
        ("features.0",),
    ),
    "vgg16": (
        {"width": 1 / 32, "input_hw": 16},
        random_frames(B, T, (3, 16, 16)),
        {f"features.{i}": () for i in (3, 7, 10, 14, 17, 20, 23, 26, 29, 32, 35, 38)}
        | {"classifier.0": (256,), "classifier.2": (128,), "classifier.4": (128,)},
        ("features.0",),
    ),
    "resnet18": (
        {"width": 1 / 16},
        random_frames(B, T, (3, 16, 16)),
        resnet_layers(8, (2, 4, 6)),
        ("stem.0", "classifier.0"),  # analog image; average-pooled spikes (fractions)
    ),
    "resnet19": (
        {"width": 1 / 16},
        random_frames(B, T, (3, 16, 16)),
        resnet_layers(8, (3, 6)) | {"classifier.2": (16,)},
        ("stem.0", "classifier.0"),
    ),
}


def excite(net: nn.Module, x: torch.Tensor, gain: float = 3.0) -> None:
    """Random weights barely spike: scale the weights and calibrate every BatchNorm on
    ``x`` (pre-activations ~ N(0.5, 1)) so that spikes reach the deep layers."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                m.weight.mul_(gain)
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.bias.fill_(0.5)
                m.momentum = 1.0
        net.train()
        reset_states(net)
        net(x)
        net.eval()
        reset_states(net)


@pytest.mark.parametrize("name", sorted(TINY))
def test_adapter_trace_matches_its_forward(name: str, tmp_trace: Path) -> None:
    options, x, expected, skipped = TINY[name]
    entry = get_model(name)
    torch.manual_seed(0)
    net = entry.build(time_steps=T, **options)
    excite(net, x)
    folded = resolve_neurons(net).folded
    rec = OutputRecorder(net)
    with rec.attach():
        summary = capture_to_file(
            net, x, tmp_trace, TraceInfo(model=name), CaptureConfig(T, entry.runner)
        )
    assert summary.skipped == skipped
    assert summary.no_neuron == ()  # every spiking GEMM is fed by a recognised neuron
    with TraceReader(tmp_trace) as r:
        gemms = r.gemm_layers
        assert [g.name for g in gemms] == list(expected)
        lifs = [layer for layer in r.layers if str(layer.kind) == "lif"]
        assert lifs and all(layer.params["neurons"] > 0 for layer in lifs)
        spiking = 0
        for g in gemms:
            data = r.read(g.name)
            assert g.shape[:2] == (T, B) and g.binary and set(np.unique(data)) <= {0, 1}
            if expected[g.name]:
                assert g.shape[2:] == expected[g.name]
            module = net.get_submodule(g.name)
            if entry.runner == "loop":
                how, want = "loop", rec.last(g.name, T)
            elif g.name in folded:
                out = rec.last(g.name)
                how, want = "folded", out.reshape(T, B, *out.shape[1:])
            else:
                how, want = "multi", rec.last(g.name)
            torch.testing.assert_close(replay(module, data, how), want, rtol=1e-5, atol=1e-5)
            spiking += bool(data.any())
        assert spiking >= 0.75 * len(gemms), "too few layers with spikes: the check is vacuous"


def test_vgg_and_resnet_conv_params_follow_the_modules(tmp_trace: Path) -> None:
    torch.manual_seed(0)
    net = get_model("resnet18").build(time_steps=T, width=1 / 16)
    x = random_frames(1, T, (3, 16, 16))
    excite(net, x)
    capture_to_file(net, x, tmp_trace, TraceInfo(model="r"), CaptureConfig(T))
    with TraceReader(tmp_trace) as r:
        down = r.record("layers.2.conv1.0")  # first block of stage 2: stride 2
        assert (down.params["stride"], down.params["kernel"], down.params["padding"]) == (2, 3, 1)
        assert down.params["input_hw"] == 16 and down.params["out_channels"] == 8
        short = r.record("layers.2.shortcut.0")
        shape = (short.params["kernel"], short.params["padding"], short.params["stride"])
        assert shape == (1, 0, 2)
        np.testing.assert_array_equal(r.read("layers.2.shortcut.0"), r.read("layers.2.conv1.0"))


def test_paper_lenet5_shapes() -> None:
    """At 32x32 our LeNet-5 has the GEMM shapes of the paper's lenet5_mnist workload."""
    net = get_model("lenet5").build(time_steps=1)
    assert (net.conv2.in_channels, net.conv2.out_channels, net.conv2.kernel_size) == (6, 16, (5, 5))
    assert (net.fc1.in_features, net.fc1.out_features) == (576, 120)
    assert (net.fc2.in_features, net.fc2.out_features) == (120, 84)
