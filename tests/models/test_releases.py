"""Official checkpoint releases: a state dict with exactly the authors' published names and
shapes (``official_layouts``, written from their code) and seeded values loads, in the
file format they publish, into the network that computes their forward, and captures; a
renamed, missing or reshaped key is refused naming it; the declared maps of the registry
entries cover the published layouts at the entries' sizes."""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import torch
from spikingjelly.activation_based import functional
from torch import nn
from typer.testing import CliRunner

from prosparsity.core.errors import HarnessError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.models.capture import CaptureConfig, capture_to_file
from prosparsity.models.checkpoint import CheckpointError
from prosparsity.models.registry import ModelEntry, get_model, list_models
from prosparsity.models.releases import NATIVE, KeyMap, ReleaseError, load_weights
from prosparsity.models.zoo.sdt import SDTPreset
from prosparsity.models.zoo.spikebert import SpikeBertPreset
from prosparsity.models.zoo.spikformer import SpikformerPreset
from prosparsity.models.zoo.spikingbert import SpikingBERT, SpikingBertPreset
from prosparsity.traces.io import TraceReader
from prosparsity.traces.schema import TraceInfo
from tests.models import official_layouts as L


@dataclass(frozen=True)
class Case:
    """One release at a tiny configuration."""

    release: str
    entry: ModelEntry
    layout: dict[str, tuple[int, ...]]
    wrap: str  # how the authors' files hold the state dict
    aliases: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.release


def _spikformer(flavour: str, **kw: Any) -> SpikformerPreset:
    return SpikformerPreset(f"tiny-{flavour}", "", embed_dims=32, num_heads=4, depths=2,
                            release=flavour, **kw)


_ZC = _spikformer("cifar", img_size=16)
_ZI = _spikformer("imagenet", img_size=32, patch_size=16, num_classes=7)
_ZD = _spikformer("dvs", time_steps=3, in_channels=2, img_size=32, patch_size=16, events=True)
_SDT = SDTPreset("tiny-sdt", "", img_size=16, embed_dims=32, num_heads=4, depths=2,
                 release="images")
_SDT_DVS = SDTPreset("tiny-sdt-dvs", "", time_steps=3, in_channels=2, img_size=32,
                     embed_dims=32, num_heads=4, depths=2, pooling_stat="1111", events=True,
                     release="dvs")
_SB = SpikeBertPreset("tiny-sb", "", seq_len=12, dim=32, depths=2, heads=4, vocab_size=200,
                      num_classes=3)
_SGB = SpikingBertPreset("tiny-sgb", "", time_steps=6, seq_len=12, layers=2, dim=32, heads=4,
                         intermediate=64, vocab_size=200)
_SGB_LAYOUT, _SGB_ALIASES = L.neurocomplab_spikingbert(layers=2, dim=32, inter=64, vocab=200,
                                                       positions=512, classes=2)

CASES = [
    Case("zk-zhou-cifar", _ZC.entry(),
         L.zhou_spikformer("cifar", dim=32, depth=2, heads=4, classes=10, in_channels=3),
         "timm"),
    Case("zk-zhou-imagenet", _ZI.entry(),
         L.zhou_spikformer("imagenet", dim=32, depth=2, heads=4, classes=7, in_channels=3),
         "timm"),
    Case("zk-zhou-cifar10dvs", _ZD.entry(),
         L.zhou_spikformer("dvs", dim=32, depth=2, heads=4, classes=10, in_channels=2,
                           patches=4), "timm"),
    Case("biclab-sdt", _SDT.entry(),
         L.biclab_sdt(dim=32, depth=2, heads=4, classes=10, in_channels=3), "timm"),
    Case("biclab-sdt-dvs", _SDT_DVS.entry(),
         L.biclab_sdt(dim=32, depth=2, heads=4, classes=10, in_channels=2), "timm"),
    Case("lvchangze-spikebert", _SB.entry(),
         L.lvchangze_spikebert(dim=32, depth=2, vocab=200, classes=3), "raw"),
    Case("lvchangze-spikebert-predistill", _SB.entry(),
         L.lvchangze_spikebert(dim=32, depth=2, vocab=200, classes=None), "data_parallel"),
    Case("neurocomplab-spikingbert", _SGB.entry(), _SGB_LAYOUT, "raw", _SGB_ALIASES),
]


def _save(case: Case, state: dict[str, torch.Tensor], path: Path) -> Path:
    """``state`` as the authors' scripts save it."""
    if case.wrap == "timm":  # timm's CheckpointSaver: the run's argparse.Namespace beside it
        args = argparse.Namespace(model="spikformer", lr=5e-4, mean=(0.4914, 0.4822), amp=True)
        obj: Any = {"epoch": 299, "arch": "spikformer", "state_dict": state, "version": 2,
                    "args": args, "metric": 95.1, "optimizer": {"state": {}, "param_groups": []}}
    elif case.wrap == "data_parallel":
        obj = {f"module.{k}": v for k, v in state.items()}
    else:
        obj = state
    torch.save(obj, path)
    return path


def _capture(case: Case, weights: Any, path: Path) -> None:
    entry = case.entry
    inputs = entry.make_input(samples=2, time_steps=entry.time_steps, seed=1)
    info = TraceInfo(model=entry.name, time_steps=entry.time_steps, weights="trained")
    config = CaptureConfig(time_steps=entry.time_steps, runner=entry.runner,
                           input_batch_axis=entry.input_batch_axis,
                           attention_operands=weights.attention_operands,
                           attentions=weights.attentions)
    weights.net.eval()
    capture_to_file(weights.net, inputs, path, info, config)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_published_layout_loads_and_captures(case: Case, tmp_path: Path) -> None:
    state = L.seeded_state(case.layout, seed=3, aliases=case.aliases)
    path = _save(case, state, tmp_path / "model_best.pth.tar")
    weights = load_weights(case.entry, path, time_steps=case.entry.time_steps)
    assert weights.release is not None and weights.release.name == case.release
    loaded = weights.net.state_dict()
    mapped, unused, unmatched = weights.release.keymap.translate(state)
    assert not unmatched
    assert set(mapped.values()) | set(weights.filled) == set(loaded)
    for theirs, ours in mapped.items():  # every tensor where the map says
        assert torch.equal(loaded[ours], state[theirs]), (theirs, ours)
    for key in weights.filled:
        assert not loaded[key].any(), key
    assert set(weights.unused) == set(unused)
    _capture(case, weights, tmp_path / "t.h5")
    with TraceReader(tmp_path / "t.h5") as reader:
        gemms = [r.name for r in reader.gemm_layers]
        operands = [r.name for r in reader.layers if r.kind == "attention_operand"]
        assert gemms and operands
        assert any(reader.read(name).any() for name in gemms[1:])  # the network spikes


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_wrong_keys_are_refused_by_name(case: Case, tmp_path: Path) -> None:
    state = L.seeded_state(case.layout, seed=3, aliases=case.aliases)
    mapped, _, _ = next(r for r in case.entry.releases if r.name == case.release
                        ).keymap.translate(state)
    victim = sorted(k for k in mapped if k.endswith(".weight") and state[k].ndim > 1)[-1]
    renamed = dict(state)
    renamed[victim.replace(".weight", ".weight_renamed")] = renamed.pop(victim)
    missing = {k: v for k, v in state.items() if k != victim}
    reshaped = dict(state)
    reshaped[victim] = torch.zeros(state[victim].shape[0] + 1, *state[victim].shape[1:])
    for alias, original in case.aliases.items():  # the authors' tree repeats it
        if original == victim:
            reshaped[alias] = reshaped[victim]
    for kind, bad in (("renamed", renamed), ("missing", missing), ("reshaped", reshaped)):
        path = _save(case, bad, tmp_path / f"{kind}.pth")
        with pytest.raises(CheckpointError) as exc:
            load_weights(case.entry, path, time_steps=case.entry.time_steps)
        msg = str(exc.value)
        assert victim in msg or victim.replace(".weight", ".weight_renamed") in msg, (kind, msg)
        if kind == "reshaped":
            assert "shape mismatches (1)" in msg, msg
        else:  # both sides named: the checkpoint key nothing maps, the parameter nothing fills
            assert "model parameters no checkpoint key fills" in msg, msg


def test_partial_match_names_both_sides(tmp_path: Path) -> None:
    """With the release forced by name, a renamed key is listed on both sides."""
    state = L.seeded_state(CASES[0].layout, seed=3)
    state["block.1.attn.q_bn.running_mean_x"] = state.pop("block.1.attn.q_bn.running_mean")
    path = _save(CASES[0], state, tmp_path / "bad.pth.tar")
    with pytest.raises(CheckpointError) as exc:
        load_weights(CASES[0].entry, path, time_steps=4, release="zk-zhou-cifar")
    msg = str(exc.value)
    assert ("checkpoint keys the release does not map (1): "
            "block.1.attn.q_bn.running_mean_x") in msg
    assert "model parameters no checkpoint key fills (1): block.1.attn.q_bn.running_mean" in msg


def test_spikingbert_aliases_must_repeat_their_original(tmp_path: Path) -> None:
    state = L.seeded_state(_SGB_LAYOUT, seed=3, aliases=_SGB_ALIASES)
    alias = "snn_ide_conv.snn_func.network_s_list.2.query.weight"
    state[alias] = state[alias] + 1.0
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="should repeat another key's tensor.*"
                       + alias.replace(".", r"\.") + r" \(differs from network_s3\.query"):
        load_weights(_SGB.entry(), path, time_steps=6)


def test_a_checkpoint_in_no_known_layout_says_what_fits_best(tmp_path: Path) -> None:
    state = L.seeded_state(CASES[3].layout, seed=3)  # SDT keys offered to a Spikformer
    path = tmp_path / "sdt.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as exc:
        load_weights(CASES[0].entry, path, time_steps=4)
    msg = str(exc.value)
    assert msg.startswith(f"checkpoint {path}: does not fit the model: missing keys")
    assert "nor does it fit release zk-zhou-cifar (github.com/ZK-Zhou/spikformer" in msg
    assert "checkpoint keys it does not map" in msg and "block.0.attn.q_conv.weight" in msg


def test_release_by_name_and_native(tmp_path: Path) -> None:
    case = CASES[0]
    path = _save(case, L.seeded_state(case.layout), tmp_path / "zk.pth.tar")
    assert load_weights(case.entry, path, time_steps=4,
                        release="zk-zhou-cifar").release.name == "zk-zhou-cifar"
    with pytest.raises(CheckpointError, match=r"does not fit the model: missing keys"):
        load_weights(case.entry, path, time_steps=4, release=NATIVE)
    with pytest.raises(CheckpointError, match=r"has no release 'nope' \(its releases: native, "
                                              r"zk-zhou-cifar\)"):
        load_weights(case.entry, path, time_steps=4, release="nope")
    native = case.entry.build(time_steps=4)
    torch.save(native.state_dict(), tmp_path / "own.pt")
    own = load_weights(case.entry, tmp_path / "own.pt", time_steps=4)
    assert own.release is None and own.attention_operands == case.entry.attention_operands


def test_keymap_declarations_are_checked() -> None:
    with pytest.raises(ReleaseError, match="placeholders differ"):
        KeyMap(rules=(("a.{i}.w", "b.w"),))
    overlapping = KeyMap(rules=(("a.{i}.w", "b.{i}.w"),), unused=(("a.0.{p}", "why"),))
    with pytest.raises(ReleaseError, match="matches more than one pattern"):
        overlapping.translate(["a.0.w"])
    clash = KeyMap(rules=(("a.{i}", "b.{i}"), ("c.{i}", "b.{i}")))
    with pytest.raises(ReleaseError, match="both map to 'b.0'"):
        clash.translate(["a.0", "c.0"])


# ---------------------------------------------------------------------------------------
# the registry's full-size entries


def _published(entry: ModelEntry, name: str) -> tuple[dict[str, tuple[int, ...]], dict]:
    """The authors' layout at a registry entry's configuration."""
    build = entry.build(time_steps=1) if name.startswith("neurocomplab") else None
    if name.startswith("zk-zhou"):
        net = next(r for r in entry.releases if r.name == name).build(time_steps=1)
        flavour = {"zk-zhou-cifar": "cifar", "zk-zhou-imagenet": "imagenet",
                   "zk-zhou-cifar10dvs": "dvs"}[name]
        blocks = net.block
        dim = net.head.in_features
        in_ch = net.patch_embed.proj_conv.in_channels
        patches = entry.attentions["blocks.0.attn"]["seq_len"]
        return L.zhou_spikformer(flavour, dim=dim, depth=len(blocks), heads=1,
                                 classes=net.head.out_features, in_channels=in_ch,
                                 patches=patches), {}
    if name.startswith("biclab"):
        net = entry.build(time_steps=1)
        attn = net.blocks[0].attn
        return L.biclab_sdt(dim=attn.dim, depth=len(net.blocks), heads=attn.num_heads,
                            classes=net.head.out_features,
                            in_channels=net.patch_embed.stages[0][0].in_channels), {}
    if name.startswith("lvchangze"):
        net = entry.build(time_steps=1)
        classes = None if name.endswith("predistill") else net.classifier.out_features
        return L.lvchangze_spikebert(dim=net.emb.embedding_dim, depth=len(net.blocks),
                                     vocab=net.emb.num_embeddings, classes=classes), {}
    assert isinstance(build, SpikingBERT)
    return L.neurocomplab_spikingbert(
        layers=len(build.layers), dim=build.classifier.in_features,
        inter=build.layers[0].ffn_in.out_features,
        vocab=build.embeddings.word.num_embeddings,
        positions=build.embeddings.position.num_embeddings,
        classes=build.classifier.out_features)


RELEASED = [(e.name, r.name) for e in list_models() for r in e.releases
            if e.name in ("spikformer-cifar10", "spikformer-cifar10dvs", "sdt-cifar10",
                          "sdt-8-384", "spikebert-sst2", "spikingbert-sst2")]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "release"), RELEASED)
def test_registry_entry_maps_the_published_layout(model: str, release: str) -> None:
    """At the entry's own size, the authors' keys are covered and land on parameters of
    the same shapes in the network that runs them."""
    entry = get_model(model)
    rel = next(r for r in entry.releases if r.name == release)
    layout, aliases = _published(entry, release)
    assert rel.keymap.covers(layout)
    mapped, _, _ = rel.keymap.translate(layout)
    net = rel.build(time_steps=1) if rel.build is not None else entry.build(time_steps=1)
    state = net.state_dict()
    assert set(mapped.values()) | {k for k in state if rel.keymap.fills(k)} == set(state)
    assert all(tuple(state[ours].shape) == layout[theirs] for theirs, ours in mapped.items())


def test_every_release_is_declared_on_the_paper_entries() -> None:
    releases = {e.name: [r.name for r in e.releases] for e in list_models()}
    assert releases["spikformer-cifar10"] == ["zk-zhou-cifar"]
    assert releases["spikformer-cifar10dvs"] == ["zk-zhou-cifar10dvs"]
    assert releases["sdt-8-384"] == ["biclab-sdt"]  # a published ImageNet checkpoint's size
    assert releases["sdt-cifar10dvs"] == ["biclab-sdt-dvs"]
    assert releases["spikebert-sst2"] == ["lvchangze-spikebert", "lvchangze-spikebert-predistill"]
    assert releases["spikingbert-sst2"] == ["neurocomplab-spikingbert"]
    assert releases["digits-cnn"] == [] and releases["listops-spikebert"] == []


# ---------------------------------------------------------------------------------------
# the official networks compute what the authors' code computes


def _reference_spikingbert(net: SpikingBERT, ids: torch.Tensor) -> torch.Tensor:
    """The authors' inference loop (their ``snn_forward``), written independently: every
    time step runs the sub-layers in order, each integrating its current into a membrane
    that fires at ``vth`` and is reduced by it; returns the last layer's average rate."""
    vth = net.embed_if.v_threshold
    mask = (1.0 - (ids != 0).float())[:, None, None, :] * -10000.0
    x = net.embeddings(ids)
    layers = net.layers
    count = 1 + 6 * len(layers)
    u = [torch.zeros(()) for _ in range(count)]
    total = None

    def attention(layer: nn.Module, s_in: torch.Tensor, k: torch.Tensor,
                  v: torch.Tensor) -> torch.Tensor:
        b, length, d = s_in.shape
        h = layer.heads

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, length, h, d // h).transpose(1, 2)

        q = heads(layer.query(s_in))
        probs = (q @ heads(k).transpose(-1, -2) / math.sqrt(d // h) + mask).softmax(-1)
        return (probs @ heads(v)).transpose(1, 2).reshape(b, length, d)

    for _ in range(net.T):
        s: list[torch.Tensor] = []

        def fire(i: int, current: torch.Tensor) -> torch.Tensor:
            u[i] = u[i] + current
            spike = (u[i] >= vth).float()
            u[i] = u[i] - vth * spike
            return spike

        s.append(fire(0, x))
        for n, layer in enumerate(layers):
            base = 6 * n
            inp = s[base]
            s.append(fire(base + 1, layer.key(inp)))
            s.append(fire(base + 2, layer.value(inp)))
            s.append(fire(base + 3, attention(layer, inp, s[base + 1], s[base + 2])))
            s.append(fire(base + 4, layer.attn_norm(layer.attn_out(s[base + 3]) + inp)))
            s.append(fire(base + 5, nn.functional.gelu(layer.ffn_in(s[base + 4]))))
            s.append(fire(base + 6, layer.ffn_norm(layer.ffn_out(s[base + 5]) + s[base + 4])))
        total = s[-1] if total is None else total + s[-1]
    assert total is not None
    return total / net.T


def test_spikingbert_is_the_authors_time_loop() -> None:
    torch.manual_seed(0)
    preset = SpikingBertPreset("t", "", time_steps=5, seq_len=10, layers=2, dim=32, heads=4,
                               intermediate=64, vocab_size=200)
    net = preset.build().eval()
    with torch.no_grad():
        for p in net.parameters():  # larger weights: the neurons fire
            p.mul_(8.0)
        ids = preset.make_input(samples=2)
        rate = _reference_spikingbert(net, ids)
        functional.reset_net(net)
        logits = net(ids)
    assert 0.0 < float(rate.mean()) < 1.0
    assert torch.allclose(logits, net.classifier(torch.relu(rate[:, 0])), atol=1e-6)


def _tap_outputs(net: nn.Module, names: list[str], run: Callable[[], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    modules = dict(net.named_modules())
    hooks = [modules[n].register_forward_hook(
        lambda m, i, o, n=n: out.__setitem__(n, o.detach().clone())) for n in names]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return out


def test_zhou_attention_is_lif_of_scaled_products() -> None:
    """attn = LIF_0.5((Q K^T) V * scale) per head, from the q, k, v the taps pass (one
    time step: the attention neuron's first step is a plain threshold)."""
    torch.manual_seed(0)
    net = _ZC.releases()[0].build(time_steps=1).eval()
    names = [f"block.0.attn.{o}_tap" for o in ("q", "k", "v", "attn")]
    x = _ZC.make_input(samples=1, time_steps=1, seed=2)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
        got = _tap_outputs(net, names, lambda: net(x))
    q, k, v, attn = (got[n] for n in names)
    heads, hd = 4, 8

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*t.shape[:3], heads, hd).transpose(2, 3)

    ref = (split(q) @ split(k).transpose(-1, -2) @ split(v) * 0.125).transpose(2, 3)
    expect = (ref.reshape(attn.shape) / 2.0 >= 0.5).float()  # LIF tau 2: v = x / 2 at t=0
    assert q.any() and torch.equal(attn, expect)


def test_sdt_dvs_mode_pools_k_and_v() -> None:
    torch.manual_seed(0)
    rel = _SDT_DVS.releases()[0]
    net = rel.build(time_steps=3).eval()
    names = ["blocks.0.attn.k_tap", "blocks.0.attn.k_lif"]
    x = _SDT_DVS.make_input(samples=1, seed=4)
    with torch.no_grad():
        got = _tap_outputs(net, names, lambda: net(x))
    k_lif = got["blocks.0.attn.k_lif"]  # [T, B, C, H, W]
    pooled = nn.functional.max_pool2d(k_lif.flatten(0, 1), 3, 1, 1).reshape(k_lif.shape)
    assert torch.equal(got["blocks.0.attn.k_tap"], pooled.flatten(3).transpose(-1, -2))


# ---------------------------------------------------------------------------------------
# through the command line


@pytest.fixture()
def out() -> Iterator[tuple[StringIO, StringIO]]:
    stdout, stderr = StringIO(), StringIO()
    set_output(Output(stdout, stderr, width=200, color=False))
    yield stdout, stderr
    set_output(None)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_capture_cli_reads_an_official_spikformer_checkpoint(
        tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    """The paper-size spikformer-cifar10 with the authors' CIFAR-10 file layout (timm's
    model_best.pth.tar): recognised by its keys, run by their network, said so."""
    layout = L.zhou_spikformer("cifar", dim=384, depth=4, heads=12, classes=10, in_channels=3)
    path = _save(CASES[0], L.seeded_state(layout, seed=5), tmp_path / "model_best.pth.tar")
    trace = tmp_path / "t.h5"
    result = invoke("capture", "spikformer-cifar10", "--checkpoint", str(path), "-o", str(trace))
    assert result.exit_code == 0, result.output
    err = out[1].getvalue()
    assert ("checkpoint read as release zk-zhou-cifar (github.com/ZK-Zhou/spikformer, "
            "cifar10/model.py)") in err
    assert "weights: trained (model_best.pth.tar)" in err and "random weights" not in err
    with TraceReader(trace) as reader:
        assert reader.info.extra["release"] == "zk-zhou-cifar"
        names = [r.name for r in reader.gemm_layers]
        assert names[:2] == ["patch_embed.proj_conv1", "patch_embed.proj_conv2"]
        assert "block.3.attn.q_linear" in names and "block.3.mlp.fc2_linear" in names
        assert reader.read("block.0.attn.attn").shape == (4, 1, 64, 384)


def test_release_flag_errors(tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    result = invoke("capture", "digits-cnn", "--release", "zk-zhou-cifar", "-o",
                    str(tmp_path / "t.h5"))
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception) == ("--release zk-zhou-cifar: names the layout of a "
                                     "--checkpoint: give one")
    ckpt = tmp_path / "w.pt"
    torch.save(get_model("digits-cnn").build().state_dict(), ckpt)
    result = invoke("capture", "digits-cnn", "--checkpoint", str(ckpt), "--release", "x", "-o",
                    str(tmp_path / "t.h5"))
    assert isinstance(result.exception, HarnessError)
    assert "model 'digits-cnn' has no release 'x' (its releases: native)" in str(result.exception)
    assert not (tmp_path / "t.h5").exists()


def test_random_weights_and_silent_layers_are_said(tmp_path: Path,
                                                   out: tuple[StringIO, StringIO]) -> None:
    """A random SDT falls silent after its stem: the summary line says RANDOM and a warning
    names the neuron layers that emit no spike at all."""
    trace = tmp_path / "t.h5"
    result = invoke("capture", "digits-sdt", "--random-weights", "-o", str(trace))
    assert result.exit_code == 0, result.output
    err = " ".join(out[1].getvalue().split())
    assert "weights: RANDOM (no checkpoint)" in err
    assert "random weights: the densities of this trace are meaningless" in err
    with TraceReader(trace) as reader:
        silent = [r.name for r in reader.layers if r.kind == "lif"
                  and r.parsed.spike_rate == 0]  # type: ignore[union-attr]
    assert silent, "a random digits-sdt is expected to have silent layers"
    assert f"neuron layer(s) emit no spike at all: {silent[0]}" in err


def test_spikingjelly_resnet_checkpoints_are_refused_with_the_reason(tmp_path: Path) -> None:
    """spikingjelly's spiking_resnet / sew_resnet state dicts (torchvision's names) are
    recognised and refused: a different network from the paper's CIFAR ResNet."""
    state = {"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.ones(64),
             "layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3),
             "layer1.0.bn1.weight": torch.ones(64),
             "layer2.0.downsample.0.weight": torch.zeros(128, 64, 1, 1),
             "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(state, tmp_path / "sew_resnet18.pth")
    with pytest.raises(CheckpointError, match=r"is in the layout of spikingjelly-resnet .*"
                                              r"which model 'resnet18' does not load: "
                                              r"spikingjelly's ResNets are ImageNet networks"):
        load_weights(get_model("resnet18"), tmp_path / "sew_resnet18.pth", time_steps=4)
    with pytest.raises(CheckpointError, match=r"has no release 'spikingjelly-resnet'"):
        load_weights(get_model("resnet18"), tmp_path / "sew_resnet18.pth", time_steps=4,
                     release="spikingjelly-resnet")


def test_report_titles_say_random_weights(tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    trace = tmp_path / "r.h5"
    assert invoke("capture", "digits-cnn", "--random-weights", "-T", "2", "-o",
                  str(trace)).exit_code == 0
    out[0].seek(0)
    out[0].truncate(0)
    result = invoke("analyze", str(trace))
    assert result.exit_code == 0, result.output
    text = " ".join(out[0].getvalue().split())
    assert "r.h5: ProSparsity at tile 256x16 — random weights: r.h5;" in text
    assert ("r.h5: captured with random weights (no checkpoint), not a trained network's "
            "spikes.") in text
