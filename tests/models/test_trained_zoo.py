"""The trained models of the embedded demo beyond digits-cnn and digits-spikformer:
digits-sdt (a Spike-driven Transformer on the digits) and listops-spikebert (a SpikeBERT on
generated ListOps); their stated accuracies recomputed from the packaged checkpoints, and
the ListOps generator checked on hand-computed expressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prosparsity.core.errors import HarnessError
from prosparsity.models.capture import capture_model
from prosparsity.models.checkpoint import load_checkpoint, packaged_checkpoint
from prosparsity.models.listops import (
    MAX_TOKENS,
    VOCAB,
    ListOpsSpec,
    encode,
    evaluate_expression,
    generate,
    listops_split,
)
from prosparsity.models.registry import get_model
from prosparsity.models.zoo import _training, spikebert
from prosparsity.traces.io import TraceReader


@pytest.mark.parametrize(("text", "value"), [
    ("[MAX 4 [MIN 7 2 ] 9 [SM 5 8 ] ]", 9),  # max(4, 2, 9, 13 % 10 = 3)
    ("[MED 1 5 2 8 ]", 3),  # median 3.5, truncated
    ("[MED 7 1 4 ]", 4),
    ("[SM 9 9 9 ]", 7),  # 27 % 10
    ("[MIN 3 [MED 4 6 ] ]", 3),  # min(3, 5)
    ("[MAX [SM 0 4 3 ] 1 0 ]", 7),
])
def test_listops_values(text: str, value: int) -> None:
    assert evaluate_expression(text.split()) == value


@pytest.mark.parametrize("text", ["[MAX 1", "]", "[MAX ]", "[MAX 1 2 ] 3", "[FIRST 1 2 ]", "7"])
def test_listops_malformed_expressions_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        evaluate_expression(text.split())


def _depth(tokens: list[str]) -> int:
    depth = deepest = 0
    for tok in tokens:
        depth += tok.startswith("[")
        depth -= tok == "]"
        deepest = max(deepest, depth)
    return deepest


def test_listops_generator_follows_its_parameters() -> None:
    spec = ListOpsSpec(300, seed=7, max_depth=2, max_args=3, max_tokens=20)
    texts, labels = generate(spec)
    assert (texts, labels) == generate(spec)  # a pure function of the spec
    assert texts != generate(ListOpsSpec(300, seed=8, max_depth=2, max_args=3))[0]
    for text, label in zip(texts, labels, strict=True):
        tokens = text.split()
        assert len(tokens) <= 20 and tokens[0] in ("[MAX", "[MIN", "[MED", "[SM")
        assert 1 <= _depth(tokens) <= 2
        assert evaluate_expression(tokens) == label
    assert {_depth(t.split()) for t in texts} == {1, 2}


def test_packaged_listops_split() -> None:
    split = listops_split()
    assert len(split.train_texts) == 6000 and len(split.test_texts) == 1000
    assert not set(split.train_texts) & set(split.test_texts)
    counts = torch.bincount(torch.tensor(split.test_labels), minlength=10)
    assert counts.min() > 50 and counts.max() / 1000 < 0.15  # chance is about 10 %
    ids = encode(split.test_texts[:3])
    assert ids.shape == (3, MAX_TOKENS) and ids.dtype == torch.long
    first = split.test_texts[0].split()
    assert ids[0, : len(first)].tolist() == [VOCAB.index(t) for t in first]
    assert not ids[0, len(first):].any()  # [PAD] = 0


def test_listops_encoding_limits() -> None:
    assert encode(["[MAX 1 x ]"], length=5)[0].tolist() == [2, 8, 1, 6, 0]  # x -> [UNK]
    with pytest.raises(HarnessError, match="a ListOps expression of 6 tokens exceeds 5"):
        encode(["[MAX 1 2 3 4 ]"], length=5)


def _meta(name: str) -> tuple[Path, dict]:
    path = packaged_checkpoint(get_model(name).checkpoint or "")
    return path, json.loads(path.with_suffix(".json").read_text())


@pytest.mark.parametrize(("name", "floor"), [("digits-sdt", 0.85), ("listops-spikebert", 0.3)])
def test_packaged_checkpoint_reaches_its_stated_accuracy(name: str, floor: float) -> None:
    """The accuracy in the checkpoint's JSON, recomputed on the whole test split; the file
    says how it was made and stays small."""
    path, meta = _meta(name)
    assert path.stat().st_size < 1_000_000 and meta["checkpoint_bytes"] == path.stat().st_size
    assert meta["command"].startswith(f"python -m prosparsity.models.train {name}")
    assert meta["seed"] == 0 and meta["torch"].startswith("2.")
    assert meta["test_accuracy"] > floor  # chance: 10 % on both
    entry = get_model(name)
    model = entry.build(time_steps=entry.time_steps)
    load_checkpoint(model, path)
    if name == "digits-sdt":
        _, _, x_test, y_test = _training.digits_tensors()
    else:
        _, _, x_test, y_test = spikebert.listops_tensors()
    assert _training.evaluate(model, x_test, y_test) == pytest.approx(meta["test_accuracy"])


def test_capture_listops_spikebert(tmp_path: Path) -> None:
    result = capture_model("listops-spikebert", tmp_path / "l.h5", samples=2)
    assert result.info.weights == "trained" and result.info.dataset.startswith("ListOps")
    assert result.summary.skipped == ("classifier",)  # token-averaged features
    with TraceReader(tmp_path / "l.h5") as reader:
        q = reader.read("blocks.1.attn.q")
        assert q.shape == (4, 2, MAX_TOKENS, 32) and 0.0 < q.mean() < 0.6
        assert [r.name for r in reader.gemm_layers][0] == "blocks.0.attn.q_m"
