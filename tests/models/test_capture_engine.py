"""The capture engine on tiny hand-built models: time axis recovery, value levels,
execution order, several samples, attention operands, the snntorch loop path, a
plain-PyTorch custom neuron, and failures that must leave no complete trace."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
import snntorch
import torch
from spikingjelly.activation_based import layer, neuron
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.capture import (
    CaptureConfig,
    CaptureError,
    SpikeCapture,
    capture_to_file,
    to_time_first,
)
from prosparsity.models.registry import Runner
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.models.conftest import OutputRecorder, replay

T, B = 4, 3


def spikes(*shape: int, p: float = 0.3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < p).float()


def sj_net() -> nn.Sequential:
    """Multi-step conv (layer.Conv2d), raw conv in SeqToANNContainer, Linear."""
    torch.manual_seed(0)
    return nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1, step_mode="m"),
        neuron.IFNode(v_threshold=0.5, step_mode="m"),
        layer.MaxPool2d(2, step_mode="m"),
        layer.SeqToANNContainer(nn.Conv2d(4, 6, 3, stride=2, padding=1)),
        neuron.IFNode(v_threshold=0.2, step_mode="m"),
        layer.Flatten(step_mode="m"),
        layer.Linear(6 * 2 * 2, 5, step_mode="m"),
    )


def test_multistep_model_records_inputs_that_replay_to_the_outputs(tmp_trace: Path) -> None:
    net = sj_net()
    x = spikes(T, B, 2, 8, 8)
    rec = OutputRecorder(net)
    with rec.attach():
        summary = capture_to_file(net, x, tmp_trace, TraceInfo(model="tiny"), CaptureConfig(T))
    assert summary.skipped == () and summary.samples == B and summary.forwards == 1
    with TraceReader(tmp_trace) as r:
        kinds = [(layer_.name, str(layer_.kind)) for layer_ in r.layers]
        assert kinds == [
            ("0", "conv2d"),
            ("1", "lif"),
            ("2", "maxpool2d"),
            ("3.0", "conv2d"),
            ("4", "lif"),
            ("6", "linear"),
        ]
        c0, c1, fc = r.record("0"), r.record("3.0"), r.record("6")
        assert c0.shape == (T, B, 2, 8, 8) and c0.layout == "T,B,C,H,W"
        assert dict(c0.params) | {} == {
            "in_channels": 2, "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1,
            "dilation": 1, "groups": 1, "input_hw": 8, "time_steps": T, "batch": B,
        }  # fmt: skip
        assert c1.shape == (T, B, 4, 4, 4) and c1.params["stride"] == 2
        assert fc.shape == (T, B, 24) and fc.layout == "T,B,K"
        assert fc.params["in_features"] == 24 and fc.params["out_features"] == 5
        assert r.record("1").params["neurons"] == 4 * 8 * 8
        assert r.record("2").params == {
            "input_hw": 8, "channels": 4, "kernel": 2, "stride": 2, "padding": 0,
            "time_steps": T, "batch": B,
        }  # fmt: skip
        # the network input is recorded exactly (T and B not swapped)
        np.testing.assert_array_equal(r.read("0"), x.numpy().astype(np.uint8))
        # recorded input pushed through the layer == the layer's real output
        for name, how in (("0", "multi"), ("3.0", "folded"), ("6", "multi")):
            module = net.get_submodule(name)
            want = rec.last(name)
            if how == "folded":
                want = want.reshape(T, B, *want.shape[1:])
            got = replay(module, r.read(name), how)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
            assert r.read(name).any(), f"{name}: test is vacuous without spikes"


def test_seq_to_ann_container_recovers_time_and_batch(tmp_trace: Path) -> None:
    net = nn.Sequential(layer.SeqToANNContainer(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2)))
    x = spikes(T, B, 3, 5, 5, seed=3)
    capture_to_file(net, x, tmp_trace, TraceInfo(model="s2a"), CaptureConfig(T))
    with TraceReader(tmp_trace) as r:
        assert r.record("0.0").shape == (T, B, 3, 5, 5)
        np.testing.assert_array_equal(r.read("0.0"), x.numpy())


def test_to_time_first_readings() -> None:
    x = torch.arange(T * B * 2 * 3 * 3).reshape(T * B, 2, 3, 3)
    tf, step = to_time_first(x, T, B, core_rank=3)
    assert not step and tf.shape == (T, B, 2, 3, 3) and torch.equal(tf[1, 2], x[1 * B + 2])
    tf, step = to_time_first(x[:B], T, B, core_rank=3)
    assert step and tf.shape == (B, 2, 3, 3)
    lin = torch.zeros(T, B, 7, 5)
    assert to_time_first(lin, T, B)[0].shape == (T, B, 7, 5)
    assert to_time_first(lin.flatten(0, 1), T, B)[0].shape == (T, B, 7, 5)
    with pytest.raises(CaptureError, match=r"layer 'x'.*\(5, 7\).*T=4, B=3"):
        to_time_first(torch.zeros(5, 7), T, B, layer="x")


def test_sums_of_spikes_are_recorded_with_their_levels(tmp_trace: Path) -> None:
    net = nn.Sequential(layer.Linear(6, 2, step_mode="m"))
    x = spikes(T, B, 9, 6, seed=1) + spikes(T, B, 9, 6, seed=2)  # values 0..2, 9 tokens
    assert x.max() == 2
    capture_to_file(net, x, tmp_trace, TraceInfo(model="lv"), CaptureConfig(T))
    with TraceReader(tmp_trace) as r:
        fc = r.record("0")
        assert fc.levels == (0, 1, 2) and not fc.binary
        assert fc.layout == "T,B,L,K" and fc.params["seq_len"] == 9
        np.testing.assert_array_equal(r.read("0"), x.numpy())


def test_analog_first_layer_is_skipped_not_recorded(tmp_trace: Path) -> None:
    net = sj_net()
    x = torch.rand(T, B, 2, 8, 8)  # direct encoding: fractions
    summary = capture_to_file(net, x * 3, tmp_trace, TraceInfo(model="a"), CaptureConfig(T))
    assert summary.skipped == ("0",)
    with TraceReader(tmp_trace) as r:
        assert [g.name for g in r.gemm_layers] == ["3.0", "6"]


def test_several_samples_equal_separate_captures(tmp_path: Path) -> None:
    net = sj_net()
    x = spikes(T, 5, 2, 8, 8, seed=4)
    cfg, info = CaptureConfig(T), TraceInfo(model="m")
    capture_to_file(net, x, tmp_path / "all.h5", info, cfg)
    capture_to_file(net, x, tmp_path / "split.h5", info, cfg, batch_size=2)
    capture_to_file(net, x[:, 3:4], tmp_path / "one.h5", info, cfg)
    with (
        TraceReader(tmp_path / "all.h5") as a,
        TraceReader(tmp_path / "split.h5") as s,
        TraceReader(tmp_path / "one.h5") as o,
    ):
        assert a.info.samples == 5 and s.info.samples == 5 and s.info.batch_size == 2
        assert [r.params["batch"] for r in s.layers] == [5] * len(s.layers)
        assert [r.name for r in a.layers] == [r.name for r in s.layers]
        for rec in a.gemm_layers:
            assert rec.shape[:2] == (T, 5)
            np.testing.assert_array_equal(a.read(rec.name), s.read(rec.name))
            # sample 3 alone: membranes are reset between inputs, samples independent
            np.testing.assert_array_equal(a.read(rec.name)[:, 3:4], o.read(rec.name))


class SpikeAttention(nn.Module):
    """q, k, v spike maps (channel-first like spikingjelly's Spikformer) and q·kᵀ·v."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.q_conv = layer.Conv1d(dim, dim, 1, step_mode="m")
        self.k_conv = layer.Conv1d(dim, dim, 1, step_mode="m")
        self.v_conv = layer.Conv1d(dim, dim, 1, step_mode="m")
        self.q_lif = neuron.IFNode(v_threshold=0.1, step_mode="m")
        self.k_lif = neuron.IFNode(v_threshold=0.1, step_mode="m")
        self.v_lif = neuron.IFNode(v_threshold=0.1, step_mode="m")
        self.proj = layer.Linear(dim, dim, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [T, B, D, L]
        q = self.q_lif(self.q_conv(x))
        k = self.k_lif(self.k_conv(x))
        v = self.v_lif(self.v_conv(x))
        attn = q.transpose(-1, -2) @ k  # [T, B, L, L]
        return self.proj((attn @ v.transpose(-1, -2)) * 0.125)


def test_attention_operands_are_recorded_time_first_token_major(tmp_trace: Path) -> None:
    torch.manual_seed(0)
    net = SpikeAttention()
    x = spikes(T, B, 8, 6, seed=5)
    ops = {"q_lif": ("attn", "q", "D,L"), "k_lif": ("attn", "k", "D,L"), "v_lif": ("attn", "v")}
    attn = {"dim": 8, "heads": 2, "variant": "spikformer"}  # typed params: a known variant
    cfg = CaptureConfig(T, attention_operands=ops, attentions={"attn": attn})
    outs: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(net, n).register_forward_hook(lambda m, a, o, n=n: outs.__setitem__(n, o))
        for n in ("q_lif", "k_lif", "v_lif")
    ]
    capture_to_file(net, x, tmp_trace, TraceInfo(model="att"), cfg)
    for h in hooks:
        h.remove()
    with TraceReader(tmp_trace) as r:
        names = [(rec.name, str(rec.kind)) for rec in r.layers]
        assert names[:3] == [("q_conv", "conv1d"), ("q_lif", "lif"), ("attn", "attention")]
        assert ("attn.q", "attention_operand") in names
        q = r.record("attn.q")
        assert q.layout == "T,B,L,D" and q.shape == (T, B, 6, 8)
        assert dict(q.params) == {
            "operand": "q", "attention": "attn", "dim": 8, "seq_len": 6, "heads": 2,
            "time_steps": T, "batch": B,
        }  # fmt: skip
        np.testing.assert_array_equal(r.read("attn.q"), outs["q_lif"].transpose(-1, -2).numpy())
        # v declared without axes: default "L,D" keeps the module's own order
        assert r.record("attn.v").shape == (T, B, 8, 6)
        np.testing.assert_array_equal(r.read("attn.v"), outs["v_lif"].numpy())
        assert r.record("q_conv").params["input_len"] == 6


class LoopNet(nn.Module):
    """snntorch style: plain layers and Leaky neurons, Python loop over T."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.fc1 = nn.Linear(10, 12)
        self.lif1 = snntorch.Leaky(beta=0.5, threshold=0.3)
        self.fc2 = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem = self.lif1.init_leaky()
        outs = []
        for step in x:
            s, mem = self.lif1(self.fc1(step), mem)
            outs.append(self.fc2(s))
        return torch.stack(outs)


def test_snntorch_loop_steps_are_stacked_time_first(tmp_trace: Path) -> None:
    net = LoopNet()
    x = spikes(T, B, 10, p=0.5, seed=6)
    rec = OutputRecorder(net)
    with rec.attach():
        capture_to_file(net, x, tmp_trace, TraceInfo(model="loop"), CaptureConfig(T, "loop"))
    with TraceReader(tmp_trace) as r:
        assert [(x_.name, str(x_.kind)) for x_ in r.layers] == [
            ("fc1", "linear"),
            ("lif1", "lif"),
            ("fc2", "linear"),
        ]
        assert r.record("lif1").params["neurons"] == 12
        assert r.record("fc2").shape == (T, B, 12)
        np.testing.assert_array_equal(r.read("fc1"), x.numpy())
        want = rec.last("fc2", T)  # one output per step
        got = replay(net.fc2, r.read("fc2"), "loop")
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        assert r.read("fc2").any()


def test_loop_module_called_twice_per_step_gives_two_records(tmp_trace: Path) -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([self.fc(s) + self.fc(1 - s) for s in x])

    x = spikes(T, B, 4, seed=7)
    capture_to_file(Twice(), x, tmp_trace, TraceInfo(model="t"), CaptureConfig(T, "loop"))
    with TraceReader(tmp_trace) as r:
        assert [rec.name for rec in r.layers] == ["fc", "fc@2"]
        np.testing.assert_array_equal(r.read("fc"), x.numpy())
        np.testing.assert_array_equal(r.read("fc@2"), 1 - x.numpy())


def test_loop_layer_whose_input_turns_analog_is_an_error(tmp_trace: Path) -> None:
    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([self.fc(self.fc(s)) for s in x])  # 2nd call: analog

    with pytest.raises(CaptureError, match="layer 'fc'.*stopped being spikes"):
        capture_to_file(
            Chain(), spikes(T, B, 4), tmp_trace, TraceInfo(model="c"), CaptureConfig(T, "loop")
        )
    assert not tmp_trace.exists()


class HeavisideNeuron(nn.Module):
    """A plain-PyTorch multi-step IF neuron (no spiking library)."""

    prosparsity_neuron = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, ...]
        v = torch.zeros_like(x[0])
        out = []
        for xt in x:
            v = v + xt
            s = (v >= 0.5).float()
            v = v * (1 - s)
            out.append(s)
        return torch.stack(out)


def test_plain_pytorch_custom_neuron(tmp_trace: Path) -> None:
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(7, 9), HeavisideNeuron(), nn.Linear(9, 2))
    x = spikes(T, B, 7, p=0.5, seed=8)
    rec = OutputRecorder(net)
    with rec.attach():
        capture_to_file(net, x, tmp_trace, TraceInfo(model="plain"), CaptureConfig(T))
    with TraceReader(tmp_trace) as r:
        assert [str(x_.kind) for x_ in r.layers] == ["linear", "lif", "linear"]
        assert r.record("1").params["neurons"] == 9
        assert r.record("1").params["neuron"] == "HeavisideNeuron"
        got = replay(net[2], r.read("2"), "multi")
        torch.testing.assert_close(got, rec.last("2"), rtol=0, atol=1e-6)
        assert r.read("2").any()


# -- failures leave no trace that reads as complete ---------------------------------------


class Boom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = layer.Linear(4, 4, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc(x)
        raise RuntimeError("forward failed")


def test_forward_that_raises_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "t.h5"
    with pytest.raises(RuntimeError, match="forward failed"):
        capture_to_file(Boom(), spikes(T, B, 4), out, TraceInfo(model="b"), CaptureConfig(T))
    assert list(tmp_path.iterdir()) == []


def test_disk_full_mid_way_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real_append = TraceWriter.append

    def append(self: TraceWriter, name: str, chunk: np.ndarray, **kw: bool) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second layer's data: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_append(self, name, chunk, **kw)

    monkeypatch.setattr(TraceWriter, "append", append)
    out = tmp_path / "t.h5"
    with pytest.raises(OSError, match="No space left"):
        x = spikes(T, B, 2, 8, 8)
        capture_to_file(sj_net(), x, out, TraceInfo(model="d"), CaptureConfig(T))
    assert calls["n"] == 2
    assert list(tmp_path.iterdir()) == []


def test_attention_operand_that_is_not_spikes_is_an_error(tmp_trace: Path) -> None:
    net = nn.Sequential(layer.Linear(4, 4, step_mode="m"))
    cfg = CaptureConfig(T, attention_operands={"0": ("a", "q")})
    with pytest.raises(CaptureError, match=r"a\.q.*not made of spikes"):
        capture_to_file(net, spikes(T, B, 5, 4), tmp_trace, TraceInfo(model="x"), cfg)
    assert not tmp_trace.exists()


def test_unknown_attention_module_is_named(tmp_trace: Path) -> None:
    cfg = CaptureConfig(T, attention_operands={"nope": ("a", "q")})
    with pytest.raises(CaptureError, match="'nope'.*not found"):
        capture_to_file(sj_net(), spikes(T, B, 2, 8, 8), tmp_trace, TraceInfo(model="x"), cfg)


def test_more_forward_passes_than_configured_is_an_error(tmp_trace: Path) -> None:
    net = sj_net()
    with TraceWriter(tmp_trace, TraceInfo(model="x")) as w:
        with SpikeCapture(net, w, CaptureConfig(T, batches=1)), torch.no_grad():
            net(spikes(T, B, 2, 8, 8))
            with pytest.raises(CaptureError, match="forward pass 2 but the capture was configured"):
                net(spikes(T, B, 2, 8, 8))


def test_loop_runner_in_several_forward_passes(tmp_path: Path) -> None:
    x = spikes(T, 5, 10, p=0.5, seed=9)
    cfg, info = CaptureConfig(T, "loop"), TraceInfo(model="loop")
    capture_to_file(LoopNet(), x, tmp_path / "all.h5", info, cfg)
    capture_to_file(LoopNet(), x, tmp_path / "split.h5", info, cfg, batch_size=2)
    with TraceReader(tmp_path / "all.h5") as a, TraceReader(tmp_path / "split.h5") as s:
        assert [r.name for r in a.layers] == [r.name for r in s.layers] == ["fc1", "lif1", "fc2"]
        for name in ("fc1", "fc2"):
            assert s.record(name).shape[:2] == (T, 5)
            np.testing.assert_array_equal(a.read(name), s.read(name))


def test_capture_config_validates_its_fields() -> None:
    with pytest.raises(HarnessError, match="runner: 'scan' is not one of multi, loop"):
        CaptureConfig(T, "scan")
    with pytest.raises(HarnessError, match="time_steps: must be >= 1, got 0"):
        CaptureConfig(0)
    assert CaptureConfig(T, "loop").runner is Runner.LOOP
