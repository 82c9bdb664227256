"""SpikeBERT (Lv et al., "SpikeBERT: A Language Spikformer Learned from BERT with
Knowledge Distillation") on spikingjelly neurons, in the state-dict key layout of the
authors' public code (github.com/Lvchangze/SpikeBERT, ``model/new_spikformer.py``).

Architecture: token embedding, repeated over T time steps and spike-encoded with a
Heaviside step (spikingjelly ``surrogate.ATan``, as the authors do); ``depths`` blocks of

* spiking self-attention: ``q/k/v = LIF(LayerNorm(Linear(x)))``,
  ``attn = LIF_{thr/2}((Q K^T) V * qk_scale)``, ``out = LIF(LayerNorm(Linear(attn)))``;
* MLP ``D -> 4D -> D``, each ``LIF(LayerNorm(Linear(.)))``;

with residual sums ``x + attn(x)``, ``x + mlp(x)``; then LayerNorm, mean over tokens,
and a linear classifier per time step.

State-dict keys supported (``i`` = block index)::

    emb.weight
    blocks.{i}.attn.{q_m,k_m,v_m,last_m}.{weight,bias}        Linear D -> D
    blocks.{i}.attn.{q_ln,k_ln,v_ln,last_ln}.{weight,bias}    LayerNorm D
    blocks.{i}.mlp.fc1.{weight,bias}  blocks.{i}.mlp.ln1.{weight,bias}   D -> 4D
    blocks.{i}.mlp.fc2.{weight,bias}  blocks.{i}.mlp.ln2.{weight,bias}   4D -> D
    last_ln.{weight,bias}
    transforms.{i}.fc.{weight,bias}  transforms.{i}.ln.{weight,bias}  (distillation heads)
    classifier.{weight,bias}          (absent in mode "pre_distill")

LIF neurons hold no parameters (their names, e.g. ``blocks.{i}.attn.q_lif``, appear in
traces only). Where the authors' code differs from what it evidently means, this module
follows the meaning: their MLP reshapes the hidden activation to width D before its LIF
(``reshape(T, B, L, D)`` on a 4D-wide tensor, which cannot run); here it keeps width 4D.

Internally tensors are time-first ``[T, B, L, D]`` (the authors transpose to
``[B, T, L, D]`` between blocks; the values are the same), and the Linear layers are
spikingjelly's multi-step ``layer.Linear`` (an ``nn.Linear`` with the same keys).

Values: block 0 reads binary spikes; each block adds its attention and MLP spike outputs
to its input, so later GEMM inputs are sums of spikes (up to ``1 + 2i`` in block ``i``),
recorded as they are.

Text: :func:`load_tokenizer` loads a BERT WordPiece tokenizer from a LOCAL directory with
``BertTokenizer.from_pretrained(dir)`` (never a download); the package ships a tiny demo
vocabulary in ``assets/spikebert-demo-vocab/`` (175 entries written for this harness:
special tokens, movie-review English, a few suffix pieces) used by the default input.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import torch
from spikingjelly.activation_based import layer, neuron, surrogate
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.listops import LISTOPS_DATASET, MAX_TOKENS
from prosparsity.models.listops import VOCAB as LISTOPS_VOCAB
from prosparsity.models.listops import encode as encode_listops
from prosparsity.models.registry import register_model
from prosparsity.models.releases import KeyMap, Release
from prosparsity.models.zoo._transformer import TransformerPreset

__all__ = [
    "DEMO_SENTENCES",
    "PRESETS",
    "SpikeBERT",
    "SpikeBertPreset",
    "build_listops_spikebert",
    "demo_vocab_dir",
    "load_tokenizer",
    "tokenize",
    "train_listops_spikebert",
]

log = logging.getLogger(__name__)

VARIANT = "spikebert"
BERT_BASE_CASED_VOCAB = 28996
"""Vocabulary size of bert-base-cased, the authors' teacher tokenizer."""


def _lif(tau: float, threshold: float) -> neuron.LIFNode:
    """The authors' neuron: LIF, multi-step, detached reset, ATan surrogate."""
    return neuron.LIFNode(
        tau=tau,
        v_threshold=threshold,
        detach_reset=True,
        surrogate_function=surrogate.ATan(),
        step_mode="m",
    )


class SpikeBertSelfAttention(nn.Module):
    """Spiking self-attention of SpikeBERT; ``[T, B, L, D] -> [T, B, L, D]`` spikes.

    ``q_lif``, ``k_lif``, ``v_lif`` output the q, k, v operands and ``attn_lif`` the
    spiking attention result, all ``[T, B, L, D]`` (heads concatenated head-major).
    """

    def __init__(
        self, dim: int, heads: int, tau: float, common_thr: float, qk_scale: float
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} should be divided by heads {heads}")
        self.dim, self.heads, self.qk_scale = dim, heads, qk_scale
        for name in ("q", "k", "v"):
            self.add_module(f"{name}_m", layer.Linear(dim, dim, step_mode="m"))
            self.add_module(f"{name}_ln", nn.LayerNorm(dim))
            self.add_module(f"{name}_lif", _lif(tau, common_thr))
        self.attn_lif = _lif(tau, common_thr / 2)
        self.last_m = layer.Linear(dim, dim, step_mode="m")
        self.last_ln = nn.LayerNorm(dim)
        self.last_lif = _lif(tau, common_thr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, length, d = x.shape

        def project(name: str) -> torch.Tensor:  # -> [T, B, heads, L, D/heads]
            m, ln, lif = (getattr(self, f"{name}_{s}") for s in ("m", "ln", "lif"))
            spikes = lif(ln(m(x)))
            return spikes.reshape(t, b, length, self.heads, d // self.heads).transpose(2, 3)

        q, k, v = project("q"), project("k"), project("v")
        x = (q @ k.transpose(-2, -1)) @ v * self.qk_scale
        x = self.attn_lif(x.transpose(2, 3).reshape(t, b, length, d))
        return self.last_lif(self.last_ln(self.last_m(x)))


class SpikeBertMLP(nn.Module):
    """SpikeBERT's MLP ``D -> hidden -> D``, each ``LIF(LayerNorm(Linear(.)))``."""

    def __init__(self, dim: int, hidden: int, tau: float, common_thr: float) -> None:
        super().__init__()
        self.fc1 = layer.Linear(dim, hidden, step_mode="m")
        self.ln1 = nn.LayerNorm(hidden)
        self.lif1 = _lif(tau, common_thr)
        self.fc2 = layer.Linear(hidden, dim, step_mode="m")
        self.ln2 = nn.LayerNorm(dim)
        self.lif2 = _lif(tau, common_thr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif1(self.ln1(self.fc1(x)))
        return self.lif2(self.ln2(self.fc2(x)))


class SpikeBertBlock(nn.Module):
    """``x + attn(x)``, then ``x + mlp(x)``."""

    def __init__(
        self, dim: int, heads: int, tau: float, common_thr: float, qk_scale: float, mlp_ratio: int
    ) -> None:
        super().__init__()
        self.attn = SpikeBertSelfAttention(dim, heads, tau, common_thr, qk_scale)
        self.mlp = SpikeBertMLP(dim, dim * mlp_ratio, tau, common_thr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class SpikeBertTransform(nn.Module):
    """Distillation head of one block: ``LayerNorm(Linear(x))`` (keys ``fc``, ``ln``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.ln = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.fc(x))


class SpikeBERT(nn.Module):
    """SpikeBERT on spikingjelly neurons (see the module doc for the key layout).

    Args:
        depths: blocks.
        length: sequence length the model was trained for (informative; any length runs).
        tau: LIF time constant (authors' default 10).
        common_thr: LIF threshold (authors' default 1; attention LIF uses half).
        dim: width D.
        T: time steps.
        vocab_size: embedding rows (authors: ``len(tokenizer)`` of bert-base-cased).
        num_classes: classifier outputs.
        heads: attention heads.
        qk_scale: attention scale (authors' blocks use 0.125).
        mode: ``"train"``, ``"distill"`` or ``"pre_distill"`` (no classifier).
        mlp_ratio: MLP hidden width / D (4).
        positions: learned position embeddings (``pos_emb``, added to the token
            embedding before the spike encoding) for sequences up to this length; 0 (the
            authors' model) for none.

    ``forward(ids)`` takes token ids ``[B, L]`` and returns class logits averaged over
    time, ``[B, num_classes]``; :meth:`forward_features` returns what the authors'
    forward returns.
    """

    def __init__(
        self,
        depths: int = 12,
        length: int = 128,
        tau: float = 10.0,
        common_thr: float = 1.0,
        dim: int = 768,
        T: int = 4,  # noqa: N803 - the authors' argument name
        vocab_size: int = BERT_BASE_CASED_VOCAB,
        num_classes: int = 2,
        heads: int = 8,
        qk_scale: float = 0.125,
        mode: str = "train",
        mlp_ratio: int = 4,
        positions: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("train", "distill", "pre_distill"):
            raise ValueError(f"SpikeBERT.mode: {mode!r} is not train, distill or pre_distill")
        self.T, self.length, self.mode = T, length, mode
        self.atan = surrogate.ATan()
        self.emb = nn.Embedding(vocab_size, dim)
        if positions:
            self.pos_emb = nn.Embedding(positions, dim)
        self.blocks = nn.ModuleList(
            SpikeBertBlock(dim, heads, tau, common_thr, qk_scale, mlp_ratio) for _ in range(depths)
        )
        self.last_ln = nn.LayerNorm(dim)
        self.transforms = nn.ModuleList(SpikeBertTransform(dim) for _ in range(depths))
        if mode != "pre_distill":
            self.classifier = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids ``[B, L]`` -> input spikes ``[T, B, L, D]`` (Heaviside of the embedding)."""
        if ids.ndim != 2:
            raise ValueError(f"expected token ids [B, L], got shape {tuple(ids.shape)}")
        x = self.emb(ids.long())
        if hasattr(self, "pos_emb"):
            x = x + self.pos_emb.weight[: ids.shape[1]]
        return self.atan(x.unsqueeze(0).repeat(self.T, 1, 1, 1))

    def _blocks(self, ids: torch.Tensor, keep: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.encode(ids)
        reps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if keep:
                reps.append(self.transforms[i](x.mean(0)))
        return self.last_ln(x).mean(2), reps  # [T, B, D]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        feats, _ = self._blocks(ids, keep=False)
        if self.mode == "pre_distill":
            return feats.mean(0)
        return self.classifier(feats).mean(0)

    def forward_features(self, ids: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The authors' outputs: per-block distillation representations ``[B, L, D]`` and
        per-step logits ``[B, T, num_classes]`` (features ``[B, T, D]`` in pre_distill)."""
        feats, reps = self._blocks(ids, keep=True)
        out = feats if self.mode == "pre_distill" else self.classifier(feats)
        return reps, out.transpose(0, 1)


# ---------------------------------------------------------------------------------------
# tokenizer and default text input

DEMO_SENTENCES: tuple[str, ...] = (
    "a gripping , funny and deeply moving film .",
    "the plot is thin and the acting is even worse .",
    "one of the best movies of the year , with a great cast .",
    "i did not like this movie at all ; it was slow and boring .",
    "a charming story told with wit and warmth .",
    "the director never finds the heart of the story .",
    "beautiful music , beautiful images , but a dull script .",
    "it is a mess , but a fun and lively one .",
)
"""Short review-style sentences for the default input (written for this harness)."""


def demo_vocab_dir() -> Path:
    """The packaged tiny WordPiece vocabulary directory (``vocab.txt`` + tokenizer config)."""
    return Path(str(resources.files("prosparsity.models") / "assets" / "spikebert-demo-vocab"))


def load_tokenizer(directory: str | Path | None = None) -> Any:
    """A BERT WordPiece tokenizer from a LOCAL directory (default: the demo vocabulary).

    Uses ``BertTokenizer.from_pretrained(dir)``; in transformers 5.x
    ``BertTokenizer(vocab_file=...)`` silently ignores the file, so it is never used here.

    Raises:
        HarnessError: the directory has no ``vocab.txt``.
    """
    from transformers import BertTokenizer

    path = demo_vocab_dir() if directory is None else Path(directory)
    if not (path / "vocab.txt").is_file():
        raise HarnessError(f"{path}: no vocab.txt (a tokenizer directory needs one)")
    return BertTokenizer.from_pretrained(str(path), local_files_only=True)


def tokenize(
    texts: list[str] | tuple[str, ...], seq_len: int, tokenizer: Any = None
) -> torch.Tensor:
    """Token ids ``[len(texts), seq_len]``, padded / truncated to ``seq_len``."""
    tok = load_tokenizer() if tokenizer is None else tokenizer
    enc = tok(
        list(texts), padding="max_length", truncation=True, max_length=seq_len, return_tensors="pt"
    )
    return enc["input_ids"]


@dataclass(frozen=True)
class SpikeBertPreset(TransformerPreset):
    """One SpikeBERT configuration.

    Attributes:
        name: registry name.
        description: one line.
        time_steps: T.
        seq_len: tokens per sample (padding to this length).
        num_classes: classifier outputs.
        dim: width D.
        depths: blocks.
        heads: attention heads.
        vocab_size: embedding rows.
        dataset: what the default input is.
    """

    name: str
    description: str
    time_steps: int = 4
    seq_len: int = 128
    num_classes: int = 2
    dim: int = 768
    depths: int = 12
    heads: int = 8
    vocab_size: int = BERT_BASE_CASED_VOCAB
    dataset: str = field(default="", compare=False)

    family: ClassVar[str] = "spikebert"
    variant: ClassVar[str] = VARIANT
    operand_modules: ClassVar[dict[str, str]] = {
        "q": "q_lif",
        "k": "k_lif",
        "v": "v_lif",
        "attn": "attn_lif",
    }
    """q/k/v/attn are the outputs of the ``q_lif``, ``k_lif``, ``v_lif`` and ``attn_lif``
    neurons (already ``[T, B, L, D]``): SpikeBERT needs no taps."""
    input_batch_axis: ClassVar[int] = 0

    def build(self, time_steps: int | None = None, **options: Any) -> SpikeBERT:
        """The model (random init); ``options`` are :class:`SpikeBERT` arguments."""
        cfg: dict[str, Any] = {
            "depths": self.depths,
            "length": self.seq_len,
            "dim": self.dim,
            "vocab_size": self.vocab_size,
            "num_classes": self.num_classes,
            "heads": self.heads,
        }
        t = self._steps(time_steps)
        return SpikeBERT(T=t, **{**cfg, **options})

    def make_input(
        self, samples: int = 1, time_steps: int | None = None, seed: int = 0
    ) -> torch.Tensor:
        """Token ids ``[N, seq_len]`` of the demo sentences (cycled from ``seed``),
        tokenized with the packaged demo vocabulary."""
        texts = [DEMO_SENTENCES[(seed + i) % len(DEMO_SENTENCES)] for i in range(samples)]
        return tokenize(texts, self.seq_len)

    def _attention_dims(self) -> tuple[int, int]:
        return self.dim, self.heads

    def releases(self) -> tuple[Release, ...]:
        """The authors' two checkpoint kinds (:func:`lvchangze_releases`)."""
        return lvchangze_releases(self.build)


def lvchangze_keymap(classifier: bool) -> KeyMap:
    """The authors' keys (``model/new_spikformer.py``) onto :class:`SpikeBERT`: the same
    names (this module follows their layout), ``classifier`` absent before distillation."""
    rules = ["emb.weight", "last_ln.{p}", "transforms.{i}.fc.{p}", "transforms.{i}.ln.{p}"]
    rules += [f"blocks.{{i}}.attn.{m}.{{p}}" for m in
              ("q_m", "q_ln", "k_m", "k_ln", "v_m", "v_ln", "last_m", "last_ln")]
    rules += [f"blocks.{{i}}.mlp.{m}.{{p}}" for m in ("fc1", "ln1", "fc2", "ln2")]
    if classifier:
        rules.append("classifier.{p}")
    return KeyMap(rules=tuple((r, r) for r in rules))


LVCHANGZE_SOURCE = "github.com/Lvchangze/SpikeBERT, model/new_spikformer.py"
DISTILL_TAU = 2.0
"""LIF tau of the authors' task-distillation script (``new_distill_spikformer.sh``); the
pre-distillation script keeps the code's default, 10."""


def lvchangze_releases(build: Callable[..., SpikeBERT]) -> tuple[Release, ...]:
    """The authors' checkpoints for a configuration built by ``build``: a distilled task
    model (with ``classifier``; LIF tau 2 as their distillation script trains it) and a
    pre-distilled encoder (``mode="pre_distill"``, no classifier; tau 10)."""

    def distilled(time_steps: int, **options: Any) -> SpikeBERT:
        return build(time_steps, **{"tau": DISTILL_TAU, **options})

    def predistilled(time_steps: int, **options: Any) -> SpikeBERT:
        return build(time_steps, **{"mode": "pre_distill", **options})

    return (
        Release("lvchangze-spikebert", LVCHANGZE_SOURCE, lvchangze_keymap(True),
                build=distilled,
                differences=("LIF tau 2.0, as the authors' distillation script passes it "
                             "(a state dict does not hold tau)",)),
        Release("lvchangze-spikebert-predistill", LVCHANGZE_SOURCE, lvchangze_keymap(False),
                build=predistilled,
                differences=("no classifier (mode pre_distill); LIF tau 10, the code's "
                             "default",)),
    )


_TEXT = "demo sentences (packaged demo vocabulary)"

PRESETS: tuple[SpikeBertPreset, ...] = (
    SpikeBertPreset(
        "spikebert-sst2",
        "SpikeBERT 12-768, SST-2: 128 tokens, 2 classes (paper)",
        dataset=_TEXT,
    ),
    SpikeBertPreset(
        "spikebert-sst5",
        "SpikeBERT 12-768, SST-5: 128 tokens, 5 classes (paper)",
        num_classes=5,
        dataset=_TEXT,
    ),
    SpikeBertPreset(
        "spikebert-mr",
        "SpikeBERT 12-768, MR: 256 tokens, 2 classes (paper)",
        seq_len=256,
        dataset=_TEXT,
    ),
)

for _preset in PRESETS:
    register_model(_preset.entry())


# ---------------------------------------------------------------------------------------
# listops-spikebert: a small SpikeBERT trained on generated ListOps

LISTOPS_CONFIG: dict[str, Any] = {
    "depths": 2,
    "dim": 32,
    "heads": 4,
    "tau": 2.0,
    "num_classes": 10,
    "positions": MAX_TOKENS,
}
"""``listops-spikebert``: 2 blocks of D = 64 with 4 heads, LIF tau 2 (the authors'
training script), 10 classes, learned positions (ListOps values depend on the nesting)."""
LISTOPS_TIME_STEPS = 4


def build_listops_spikebert(time_steps: int = LISTOPS_TIME_STEPS, **options: Any) -> SpikeBERT:
    """The ``listops-spikebert`` network (random init)."""
    cfg = {**LISTOPS_CONFIG, "length": MAX_TOKENS, "vocab_size": len(LISTOPS_VOCAB)}
    return SpikeBERT(T=time_steps, **{**cfg, **options})


def make_listops_input(
    samples: int = 1, time_steps: int = LISTOPS_TIME_STEPS, seed: int = 0
) -> torch.Tensor:
    """Token ids ``[N, MAX_TOKENS]`` of the first ``samples`` test expressions (``seed`` and
    ``time_steps`` unused: the test split is fixed, the model repeats over T)."""
    from prosparsity.models.listops import listops_split

    del time_steps, seed
    test = listops_split().test_texts
    if not 1 <= samples <= len(test):
        raise HarnessError(f"samples: must be in 1..{len(test)} (the ListOps test split)")
    return encode_listops(test[:samples])


def listops_tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_test, y_test)`` of the packaged ListOps split (token ids)."""
    from prosparsity.models.listops import listops_split

    split = listops_split()
    return (
        encode_listops(split.train_texts),
        torch.tensor(split.train_labels, dtype=torch.long),
        encode_listops(split.test_texts),
        torch.tensor(split.test_labels, dtype=torch.long),
    )


def train_listops_spikebert(
    out_dir: str | Path, seed: int = 0, epochs: int = 25, batch_size: int = 64,
    lr: float = 3e-3,
) -> dict[str, Any]:
    """Train ``listops-spikebert`` on the ListOps training split; write
    ``listops-spikebert.safetensors``
    (:func:`~prosparsity.models.zoo._training.train_classifier`: Adam with cosine decay,
    BPTT over T = 4 through the ATan surrogate)."""
    from prosparsity.models.zoo import _training

    return _training.train_classifier(
        "listops-spikebert", build_listops_spikebert, listops_tensors, out_dir, seed,
        epochs=epochs, batch_size=batch_size, lr=lr,
    )


_LISTOPS = SpikeBertPreset(
    "listops-spikebert",
    "small SpikeBERT (2 blocks, D=32, 24 tokens) trained on generated ListOps",
    time_steps=LISTOPS_TIME_STEPS,
    seq_len=MAX_TOKENS,
    num_classes=10,
    dim=LISTOPS_CONFIG["dim"],
    depths=LISTOPS_CONFIG["depths"],
    heads=LISTOPS_CONFIG["heads"],
    vocab_size=len(LISTOPS_VOCAB),
    dataset=LISTOPS_DATASET,
)

register_model(
    dataclasses.replace(
        _LISTOPS.entry(),
        build=build_listops_spikebert,
        make_input=make_listops_input,
        checkpoint="listops-spikebert.safetensors",
        trainer=train_listops_spikebert,
        releases=(),  # its own model: learned positions, no published checkpoint
    )
)
