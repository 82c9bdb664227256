"""Transformer adapters (Spikformer, SDT, SpikeBERT): configurations, operand taps, and
capture checked against the models' own forward passes (tiny configurations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional
from spikingjelly.activation_based.model import spike_driven_transformer as sj_sdt
from spikingjelly.activation_based.model import spikformer as sj_spikformer
from torch import nn

from prosparsity.models.capture import CaptureConfig, capture_to_file
from prosparsity.models.registry import get_model, list_models
from prosparsity.models.zoo import _training, sdt, spikebert, spikformer
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, TraceInfo
from tests.models.conftest import OutputRecorder, replay
from tests.models.registry_golden import lively

T = 3
TINY_SF = spikformer.SpikformerPreset(
    "tiny-sf", "", img_size=16, embed_dims=32, num_heads=4, depths=2
)
TINY_SDT = sdt.SDTPreset("tiny-sdt", "", img_size=16, embed_dims=32, num_heads=4, depths=2)
TINY_SB = spikebert.SpikeBertPreset(
    "tiny-sb", "", seq_len=12, dim=32, depths=2, heads=4, vocab_size=200
)


def capture(model: nn.Module, x: torch.Tensor, preset, out: Path, axis: int = 1):
    """Capture ``model`` on ``x`` (operands from ``preset``) while recording, test side,
    every GEMM's real output and every module's output."""
    operands, attentions = preset.capture_maps()
    cfg = CaptureConfig(
        time_steps=T, attention_operands=operands, attentions=attentions, input_batch_axis=axis
    )
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda mod, a, o, n=name: outputs.__setitem__(n, o.detach()))
        for name, m in model.named_modules()
        if name
    ]
    rec = OutputRecorder(model)
    try:
        with rec.attach():
            summary = capture_to_file(model, x, out, TraceInfo(model=preset.name), cfg)
    finally:
        for h in handles:
            h.remove()
    assert summary.no_neuron == ()  # every spiking GEMM is fed by a recognised neuron
    return summary, rec, outputs


def check_gemm_replay(model: nn.Module, out: Path, rec: OutputRecorder, folded: set[str]) -> int:
    """Every recorded GEMM input, pushed through its layer, gives the layer's real output."""
    modules = dict(model.named_modules())
    checked = 0
    with TraceReader(out) as reader:
        for r in reader.layers:
            if r.kind in (LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D):
                data = reader.read(r.name)
                assert data.shape == r.shape
                got = replay(modules[r.name], data, "folded" if r.name in folded else "multi")
                real = rec.last(r.name)
                np.testing.assert_allclose(
                    got.reshape(real.shape).numpy(),
                    real.numpy(),
                    rtol=1e-5,
                    atol=1e-5,
                    err_msg=r.name,
                )
                checked += 1
    return checked


def operand_data(out: Path) -> dict[str, np.ndarray]:
    with TraceReader(out) as reader:
        return {
            r.name: reader.read(r.name)
            for r in reader.layers
            if r.kind is LayerKind.ATTENTION_OPERAND
        }


# ---------------------------------------------------------------------------------------
# the paper's configurations


PAPER = {
    "spikformer-cifar10": "spikformer_cifar10",
    "spikformer-cifar100": "spikformer_cifar100",
    "spikformer-cifar10dvs": "spikformer_cifar10dvs",
    "sdt-cifar10": "sdt_cifar10",
    "sdt-cifar100": "sdt_cifar100",
    "sdt-cifar10dvs": "sdt_cifar10dvs",
    "spikebert-sst2": "spikebert_sst2",
    "spikebert-sst5": "spikebert_sst5",
    "spikebert-mr": "spikebert_mr",
}


@pytest.fixture(scope="module")
def workloads(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "paper" / "workloads.json").read_text())["workloads"]


@pytest.mark.parametrize("name", sorted(PAPER))
def test_entry_matches_paper_workload(name: str, workloads: dict) -> None:
    """T, attention shapes and block count of each entry are the paper's (docs/paper-numbers.md)."""
    entry, layers = get_model(name), workloads[PAPER[name]]
    paper_attn = [layer for layer in layers if layer["op"] == "attention"]
    assert entry.time_steps == paper_attn[0]["time_steps"]
    assert list(entry.attentions) == [f"blocks.{i}.attn" for i in range(len(paper_attn))]
    for params, paper in zip(entry.attentions.values(), paper_attn, strict=True):
        assert dict(params) == {
            "dim": paper["dim"],
            "seq_len": paper["sequence_length"],
            "heads": paper["heads"],
            "variant": paper["variant"],
        }
    assert len(entry.attention_operands) == 4 * len(paper_attn)


@pytest.mark.parametrize("name", [n for n in sorted(PAPER) if not n.startswith("spikebert")])
def test_built_stem_and_blocks_match_paper_gemms(name: str, workloads: dict) -> None:
    """The spiking convolutions of the built stem and the block GEMM widths are the
    paper's layers (the first, analog stem convolution excepted)."""
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = get_model(name).build()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    paper = [
        (x["in_channels"], x["out_channels"]) for x in workloads[PAPER[name]] if x["op"] == "conv2d"
    ]
    assert [(c.in_channels, c.out_channels) for c in convs[1:]] == paper
    fc = next(x for x in workloads[PAPER[name]] if x["op"] == "fc" and x["name"] == "fc_1_enc_0")
    mlp1 = model.blocks[0].mlp.fc1
    mlp1 = mlp1[0] if isinstance(mlp1, nn.Sequential) else mlp1
    assert (mlp1.in_channels, mlp1.out_channels) == (fc["in_features"], fc["out_features"])


TRANSFORMERS = sorted(
    e.name for e in list_models() if e.family in ("spikformer", "sdt", "spikebert")
)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_full_size_entry_runs_with_declared_operand_shapes(name: str) -> None:
    """Every entry at full size, run on PyTorch's meta device (shapes without data):
    its default input fits, and each tapped operand is ``[T, 1, seq_len, dim]`` as its
    ``attentions`` declare."""
    entry = get_model(name)
    with torch.device("meta"):
        model = entry.build(time_steps=entry.time_steps)
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    for mod_name in entry.attention_operands:
        modules[mod_name].register_forward_hook(
            lambda m, a, o, n=mod_name: shapes.__setitem__(n, tuple(o.shape))
        )
    x = entry.make_input(samples=1, time_steps=entry.time_steps)
    assert x.shape[entry.input_batch_axis] == 1
    with torch.no_grad():
        model(x.to("meta"))
    assert shapes.keys() == entry.attention_operands.keys()
    for mod_name, (attention, _op) in entry.attention_operands.items():
        params = entry.attentions[attention]
        assert shapes[mod_name] == (entry.time_steps, 1, params["seq_len"], params["dim"])


def test_registry_lists_spikingjelly_builders() -> None:
    for name, family in (
        ("spikformer-ti", "spikformer"),
        ("spikformer-s", "spikformer"),
        ("sdt-8-384", "sdt"),
        ("digits-spikformer", "spikformer"),
    ):
        assert get_model(name).family == family
    assert get_model("sdt-8-384").attentions["blocks.7.attn"]["seq_len"] == 14 * 14


# ---------------------------------------------------------------------------------------
# taps change nothing


def test_spikformer_taps_keep_function_and_keys() -> None:
    torch.manual_seed(0)
    plain = lively(
        sj_spikformer.Spikformer(
            T=T,
            img_size_h=16,
            img_size_w=16,
            patch_size=4,
            embed_dims=32,
            num_heads=4,
            depths=2,
            num_classes=10,
        )
    ).eval()
    tapped = TINY_SF.build(time_steps=T).eval()
    assert tapped.state_dict().keys() == plain.state_dict().keys()
    tapped.load_state_dict(plain.state_dict())
    x = TINY_SF.make_input(2, T)
    with torch.no_grad():
        want = plain(x)
        functional.reset_net(plain)
        got = tapped(x)
    assert torch.equal(got, want)
    assert type(tapped.blocks[0].attn).__name__ == "TappedSpikingSelfAttention"
    assert spikformer.add_operand_taps(tapped) == ["blocks.0.attn", "blocks.1.attn"]


def test_sdt_taps_keep_function_and_keys() -> None:
    torch.manual_seed(0)
    plain = lively(
        sj_sdt.SpikeDrivenTransformer(
            T=T, embed_dims=32, num_heads=4, depths=2, num_classes=10, pooling_stat="0011"
        )
    ).eval()
    tapped = TINY_SDT.build(time_steps=T).eval()
    assert tapped.state_dict().keys() == plain.state_dict().keys()
    tapped.load_state_dict(plain.state_dict())
    x = TINY_SDT.make_input(2, T)
    with torch.no_grad():
        want = plain(x)
        functional.reset_net(plain)
        got = tapped(x)
    assert want.abs().max() > 0
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# capture against the models' own forward


def test_capture_spikformer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = lively(TINY_SF.build(time_steps=T))
    out = tmp_path / "sf.h5"
    summary, rec, outs = capture(model, TINY_SF.make_input(2, T), TINY_SF, out)
    # the analog image, and the classifier on token-averaged rates
    assert summary.skipped == ("patch_embed.stages.0.conv_bn.block.0", "head")
    folded = {
        n for n, m in model.named_modules() if isinstance(m, nn.Conv1d | nn.Conv2d) and n != "head"
    }
    assert check_gemm_replay(model, out, rec, folded) == 4 + 2 * 4  # stem + 4 per block
    levels = {r.name: r.levels for r in summary.records if r.has_data}
    # residual sums of spikes enter qkv and the first MLP layer, recorded as they are
    assert levels["blocks.0.attn.qkv_conv_bn.0"] == (0, 1, 2)
    assert set(levels["blocks.1.mlp.fc1.0"]) > {0, 1}
    assert levels["blocks.0.mlp.fc2.0"] == (0, 1)
    ops = operand_data(out)
    c = 32
    for i in range(2):
        qkv = outs[f"blocks.{i}.attn.qkv_lif"]  # [T, B, 3C, L]
        for j, name in enumerate("qkv"):
            want = qkv[:, :, j * c : (j + 1) * c].transpose(2, 3)
            np.testing.assert_array_equal(ops[f"blocks.{i}.attn.{name}"], want.numpy())
        attn = outs[f"blocks.{i}.attn.attn_lif"].reshape(T, 2, c, 16).transpose(2, 3)
        np.testing.assert_array_equal(ops[f"blocks.{i}.attn.attn"], attn.numpy())
        assert ops[f"blocks.{i}.attn.q"].any() and ops[f"blocks.{i}.attn.attn"].any()
    by_name = {r.name: r for r in summary.records}
    assert dict(by_name["blocks.1.attn"].params) == {
        "dim": 32,
        "seq_len": 16,
        "heads": 4,
        "variant": "spikformer",
        "time_steps": T,
        "batch": 2,
    }
    q = by_name["blocks.1.attn.q"]
    assert (q.shape, q.layout, q.params["operand"], q.params["attention"]) == (
        (T, 2, 16, 32),
        "T,B,L,D",
        "q",
        "blocks.1.attn",
    )


def test_capture_sdt(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = lively(TINY_SDT.build(time_steps=T))
    out = tmp_path / "sdt.h5"
    summary, rec, outs = capture(model, TINY_SDT.make_input(2, T), TINY_SDT, out)
    assert summary.skipped == ("patch_embed.stages.0.0",)
    # 3 stem + rpe, 6 per block (q, k, v, proj, fc1, fc2), the classifier on spikes
    assert check_gemm_replay(model, out, rec, set()) == 4 + 2 * 6 + 1
    assert all(r.levels == (0, 1) for r in summary.records if r.has_data)  # all binary
    ops = operand_data(out)
    for i in range(2):
        pre = f"blocks.{i}.attn"
        for name in "qkv":
            want = outs[f"{pre}.{name}_lif"].flatten(3).transpose(-1, -2)
            np.testing.assert_array_equal(ops[f"{pre}.{name}"], want.numpy())
        q = outs[f"{pre}.q_lif"].flatten(3).transpose(-1, -2).reshape(T, 2, 16, 4, 8)
        kv = outs[f"{pre}.attn_lif"].transpose(2, 3)  # [T, B, 1, heads, hd]
        np.testing.assert_array_equal(ops[f"{pre}.attn"], (q * kv).reshape(T, 2, 16, 32).numpy())
    assert any(ops[f"blocks.{i}.attn.attn"].any() for i in range(2))


def test_capture_spikebert(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = lively(TINY_SB.build(time_steps=T, tau=2.0))
    ids = TINY_SB.make_input(2)
    out = tmp_path / "sb.h5"
    summary, rec, outs = capture(model, ids, TINY_SB, out, axis=0)
    assert summary.skipped == ("classifier",)  # token-averaged rates, not spikes
    assert check_gemm_replay(model, out, rec, set()) == 2 * 6
    levels = {r.name: r.levels for r in summary.records if r.has_data}
    assert levels["blocks.0.attn.q_m"] == (0, 1)  # Heaviside-encoded embedding
    assert set(levels["blocks.1.attn.q_m"]) > {0, 1}  # residual sums of spikes
    ops = operand_data(out)
    for i in range(2):
        for op, neuron in (("q", "q_lif"), ("k", "k_lif"), ("v", "v_lif"), ("attn", "attn_lif")):
            want = outs[f"blocks.{i}.attn.{neuron}"]
            np.testing.assert_array_equal(ops[f"blocks.{i}.attn.{op}"], want.numpy())
    assert ops["blocks.0.attn.q"].any() and ops["blocks.0.attn.attn"].any()
    kinds = [r.kind for r in summary.records]
    assert kinds.count(LayerKind.LAYERNORM) == 2 * 6 + 1
    assert kinds.count(LayerKind.ATTENTION) == 2


# ---------------------------------------------------------------------------------------
# SpikeBERT: the authors' key layout, outputs, tokenizer


def _authors_keys(depths: int, classifier: bool = True) -> set[str]:
    keys = {"emb.weight", "last_ln.weight", "last_ln.bias"}
    for i in range(depths):
        for mod in ("q_m", "k_m", "v_m", "last_m", "q_ln", "k_ln", "v_ln", "last_ln"):
            keys |= {f"blocks.{i}.attn.{mod}.weight", f"blocks.{i}.attn.{mod}.bias"}
        for mod in ("fc1", "ln1", "fc2", "ln2"):
            keys |= {f"blocks.{i}.mlp.{mod}.weight", f"blocks.{i}.mlp.{mod}.bias"}
        for mod in ("fc", "ln"):
            keys |= {f"transforms.{i}.{mod}.weight", f"transforms.{i}.{mod}.bias"}
    if classifier:
        keys |= {"classifier.weight", "classifier.bias"}
    return keys


def test_spikebert_state_dict_has_the_authors_key_layout() -> None:
    model = spikebert.SpikeBERT(depths=2, dim=32, heads=4, vocab_size=50, T=2)
    state = model.state_dict()
    assert set(state) == _authors_keys(2)
    assert state["blocks.1.mlp.fc1.weight"].shape == (128, 32)
    assert state["emb.weight"].shape == (50, 32)
    pre = spikebert.SpikeBERT(depths=1, dim=32, heads=4, vocab_size=50, mode="pre_distill")
    assert set(pre.state_dict()) == _authors_keys(1, classifier=False)


def test_spikebert_loads_and_rejects_checkpoints(tmp_path: Path) -> None:
    from prosparsity.models.checkpoint import CheckpointError, load_checkpoint

    source = spikebert.SpikeBERT(depths=1, dim=32, heads=4, vocab_size=50)
    path = tmp_path / "authors.pt"
    torch.save({"module." + k: v for k, v in source.state_dict().items()}, path)  # DataParallel
    target = spikebert.SpikeBERT(depths=1, dim=32, heads=4, vocab_size=50)
    load_checkpoint(target, path)
    assert torch.equal(target.blocks[0].attn.q_m.weight, source.blocks[0].attn.q_m.weight)
    deeper = spikebert.SpikeBERT(depths=2, dim=32, heads=4, vocab_size=50)
    with pytest.raises(CheckpointError, match=r"missing keys \(28\): blocks\.1\.attn"):
        load_checkpoint(deeper, path)


def test_spikebert_outputs() -> None:
    torch.manual_seed(0)
    model = spikebert.SpikeBERT(depths=2, dim=32, heads=4, vocab_size=50, T=3, num_classes=5)
    ids = torch.randint(0, 50, (2, 7))
    spikes = model.encode(ids)
    assert spikes.shape == (3, 2, 7, 32) and set(spikes.unique().tolist()) == {0.0, 1.0}
    functional.reset_net(model)
    logits = model(ids)
    functional.reset_net(model)
    reps, per_step = model.forward_features(ids)
    assert logits.shape == (2, 5) and per_step.shape == (2, 3, 5)
    assert [r.shape for r in reps] == [(2, 7, 32)] * 2
    torch.testing.assert_close(per_step.mean(1), logits)


def test_demo_tokenizer_is_local_and_word_piece() -> None:
    tok = spikebert.load_tokenizer()
    vocab = (spikebert.demo_vocab_dir() / "vocab.txt").read_text().split("\n")
    ids = spikebert.tokenize(["The scripts were GREAT !", "zebra"], seq_len=9, tokenizer=tok)
    want = ["[CLS]", "the", "script", "##s", "were", "great", "!", "[SEP]", "[PAD]"]
    assert ids[0].tolist() == [vocab.index(w) for w in want]
    assert ids[1].tolist()[:3] == [vocab.index("[CLS]"), vocab.index("[UNK]"), vocab.index("[SEP]")]
    assert TINY_SB.make_input(3, seed=1).shape == (3, 12)


def test_tokenizer_directory_without_vocab_is_an_error(tmp_path: Path) -> None:
    from prosparsity.core.errors import HarnessError

    with pytest.raises(HarnessError, match="no vocab.txt"):
        spikebert.load_tokenizer(tmp_path)


# ---------------------------------------------------------------------------------------
# digits-spikformer: the trained embedded transformer


def test_digits_spikformer_checkpoint_and_accuracy() -> None:
    from prosparsity.models.checkpoint import load_checkpoint, packaged_checkpoint

    entry = get_model("digits-spikformer")
    path = packaged_checkpoint(entry.checkpoint)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert path.stat().st_size < 3_000_000
    assert meta["test_accuracy"] > 0.85
    model = entry.build(time_steps=entry.time_steps)
    load_checkpoint(model, path)
    x_train, y_train, x_test, y_test = _training.digits_tensors()
    assert spikformer.evaluate(model, x_test, y_test) == pytest.approx(meta["test_accuracy"])


def test_capture_digits_spikformer(tmp_path: Path) -> None:
    from prosparsity.models.capture import capture_model

    result = capture_model("digits-spikformer", tmp_path / "d.h5", samples=4)
    assert result.info.weights == "trained"
    assert result.summary.skipped == ("stem.0.conv_bn.block.0", "head")  # analog in, rates
    with TraceReader(tmp_path / "d.h5") as reader:
        assert reader.info.weights == "trained" and reader.info.samples == 4
        names = [r.name for r in reader.gemm_layers]
        assert names[:2] == ["stem.1.conv_bn.block.0", "rpe.conv_bn.block.0"]
        for op in ("q", "k", "v", "attn"):
            data = reader.read(f"blocks.1.attn.{op}")
            assert data.shape == (4, 4, 16, 64)
            assert 0.0 < data.mean() < 0.6  # a trained network spikes, sparsely


@pytest.mark.parametrize(
    ("preset", "family", "variant", "operand", "axis", "dims"),
    [
        (TINY_SF, "spikformer", "spikformer", "q_tap", 1, (32, 4, 16)),
        (TINY_SDT, "sdt", "sdt", "q_tap", 1, (32, 4, 16)),
        (TINY_SB, "spikebert", "spikebert", "q_lif", 0, (32, 4, 12)),
    ],
)
def test_preset_entries_differ_only_where_their_families_do(
    preset: object, family: str, variant: str, operand: str, axis: int, dims: tuple[int, ...]
) -> None:
    entry = preset.entry()  # type: ignore[attr-defined]
    assert (entry.name, entry.family, entry.time_steps, entry.input_batch_axis) == (
        preset.name, family, preset.time_steps, axis,  # type: ignore[attr-defined]
    )
    assert list(entry.attentions) == ["blocks.0.attn", "blocks.1.attn"]
    dim, heads, seq_len = dims
    assert dict(entry.attentions["blocks.1.attn"]) == {
        "dim": dim, "seq_len": seq_len, "heads": heads, "variant": variant,
    }
    assert entry.attention_operands[f"blocks.1.attn.{operand}"] == ("blocks.1.attn", "q")
    assert len(entry.attention_operands) == 8
    assert entry.make_input == preset.make_input  # type: ignore[attr-defined]
