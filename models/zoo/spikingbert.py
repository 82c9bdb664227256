"""SpikingBERT (Bal & Sengupta, "SpikingBERT: Distilling BERT to Train Spiking Language
Models Using Implicit Differentiation", AAAI 2024), as the authors' public code computes
its inference (github.com/NeuroCompLab-psu/SpikingBERT,
``implicit_bert/models/snn_ide_bert_classi_4_spike.py`` with the layers of
``implicit_bert/modules/snn_bert_modules.py`` and the spike loop of
``implicit_bert/modules/snn_modules.py``; facts read from them, code written here).

The network is BERT whose every layer output is fed to integrate-and-fire neurons:

* the embedding (word + position + token type, LayerNorm) is a constant input current to
  IF neurons for T time steps (rate coding);
* each of the encoder's layers has six spiking sub-layers, in this order, each a GEMM on
  the spikes of an earlier one followed by IF neurons: ``key`` and ``value`` (Linear on
  the layer's input spikes), the attention (``query`` is a Linear on the input spikes
  and stays analog; ``softmax(Q K^T / sqrt(d) + mask) V`` with K and V the key and value
  spikes), ``attn_out`` (``LayerNorm(Linear(attention spikes) + input spikes)``),
  ``ffn_in`` (``gelu(Linear(.))``, 768 -> 3072) and ``ffn_out``
  (``LayerNorm(Linear(ffn_in spikes) + attn_out spikes)``);
* the neurons are IF (the authors' ``leaky = 1``), threshold ``vth`` (1), reset by
  subtraction, membrane starting at 0: spikingjelly's ``IFNode(v_reset=None)``;
* the classifier reads ``relu`` of the last layer's average spike rate at token 0.

The authors step all layers inside one loop over time; every sub-layer depends only on
earlier sub-layers at the same step (their feedback layer is disabled), so computing
layer by layer over all T steps (spikingjelly's multi-step mode, as here) gives the same
spikes. Training (implicit differentiation at the equilibrium) is not part of inference.

Capture: every sub-layer's Linear is a GEMM on spikes except ``query``'s product with K
(analog Q) and the classifier (rates); the attention records are ``spikingbert``
attentions with the ``k`` and ``v`` operands (the paper's simulator reads no spiking q).

Checkpoints: the authors' ``pytorch_model.bin`` holds each weight up to three times (the
model registers its sub-networks as ``network_s1``... and again inside ``snn_func`` and
``snn_ide_conv``) plus a training copy; :func:`neurocomplab_release` maps it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from prosparsity.models.registry import ModelEntry, register_model
from prosparsity.models.releases import KeyMap, Release

__all__ = [
    "SUBLAYERS",
    "SpikingBERT",
    "SpikingBertLayer",
    "build_spikingbert",
    "neurocomplab_keymap",
    "neurocomplab_release",
]

VARIANT = "spikingbert"
SOURCE = ("github.com/NeuroCompLab-psu/SpikingBERT, "
          "implicit_bert/models/snn_ide_bert_classi_4_spike.py")
SUBLAYERS: tuple[str, ...] = ("key", "value", "attention", "attn_out", "ffn_in", "ffn_out")
"""The six spiking sub-layers of an encoder layer, in the authors' order."""


def _if(vth: float) -> neuron.IFNode:
    """IF neuron, threshold ``vth``, reset by subtraction (the authors' ``leaky = 1``)."""
    return neuron.IFNode(v_threshold=vth, v_reset=None, step_mode="m")


class SpikingBertEmbeddings(nn.Module):
    """BERT's embeddings: ``LayerNorm(word + position + token type)``."""

    def __init__(self, vocab_size: int, dim: int, max_positions: int, type_vocab: int) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Embedding(max_positions, dim)
        self.token_type = nn.Embedding(type_vocab, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, ids: torch.Tensor, token_types: torch.Tensor | None = None) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        types = torch.zeros_like(ids) if token_types is None else token_types
        return self.norm(self.word(ids) + self.position(positions) + self.token_type(types))


class SpikingBertLayer(nn.Module):
    """One encoder layer: six spiking sub-layers (:data:`SUBLAYERS`) on ``[T, B, L, D]``."""

    def __init__(self, dim: int, heads: int, intermediate: int, vth: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} should be divided by heads {heads}")
        self.heads = heads
        self.key, self.key_if = nn.Linear(dim, dim), _if(vth)
        self.value, self.value_if = nn.Linear(dim, dim), _if(vth)
        self.query, self.attn_if = nn.Linear(dim, dim), _if(vth)
        self.attn_out, self.attn_norm = nn.Linear(dim, dim), nn.LayerNorm(dim, eps=1e-12)
        self.attn_out_if = _if(vth)
        self.ffn_in, self.ffn_in_if = nn.Linear(dim, intermediate), _if(vth)
        self.ffn_out, self.ffn_norm = nn.Linear(intermediate, dim), nn.LayerNorm(dim, eps=1e-12)
        self.ffn_out_if = _if(vth)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [T,B,L,D] -> [T,B,H,L,D/H]
        t, b, length, d = x.shape
        return x.reshape(t, b, length, self.heads, d // self.heads).transpose(2, 3)

    def forward(self, s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Input spikes ``s`` ``[T, B, L, D]``, additive mask ``[B, 1, 1, L]``."""
        k = self.key_if(self.key(s))
        v = self.value_if(self.value(s))
        q, kh, vh = self._heads(self.query(s)), self._heads(k), self._heads(v)
        scores = q @ kh.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
        ctx = scores.softmax(-1) @ vh  # [T,B,H,L,D/H]
        a = self.attn_if(ctx.transpose(2, 3).flatten(3))
        o = self.attn_out_if(self.attn_norm(self.attn_out(a) + s))
        h = self.ffn_in_if(nn.functional.gelu(self.ffn_in(o)))
        return self.ffn_out_if(self.ffn_norm(self.ffn_out(h) + o))


class SpikingBERT(nn.Module):
    """SpikingBERT's inference (see the module doc).

    Args:
        layers: encoder layers (the authors' released model: 4).
        dim: hidden size D; heads: attention heads; intermediate: FFN width.
        vocab_size, max_positions, type_vocab: BERT's embedding tables
            (bert-base-uncased: 30522, 512, 2).
        num_classes: classifier outputs.
        T: time steps (the authors' ``t_conv``; their default 100, the paper's workloads
            16).
        vth: the neurons' threshold (the authors' ``vth``, default 1).
        pad_id: the padding token, masked out of the attention as the authors' task
            script does with the tokenizer's mask.

    ``forward(ids)`` takes token ids ``[B, L]`` and returns logits ``[B, num_classes]``.
    """

    def __init__(
        self,
        layers: int = 4,
        dim: int = 768,
        heads: int = 12,
        intermediate: int = 3072,
        vocab_size: int = 30522,
        max_positions: int = 512,
        type_vocab: int = 2,
        num_classes: int = 2,
        T: int = 16,  # noqa: N803 - the usual name
        vth: float = 1.0,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        self.T, self.pad_id = T, pad_id
        self.embeddings = SpikingBertEmbeddings(vocab_size, dim, max_positions, type_vocab)
        self.embed_if = _if(vth)
        self.layers = nn.ModuleList(
            SpikingBertLayer(dim, heads, intermediate, vth) for _ in range(layers)
        )
        self.classifier = nn.Linear(dim, num_classes)
        for module in self.modules():  # BERT's initialisation
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2:
            raise ValueError(f"expected token ids [B, L], got shape {tuple(ids.shape)}")
        ids = ids.long()
        mask = (1.0 - (ids != self.pad_id).float())[:, None, None, :] * -10000.0
        current = self.embeddings(ids)
        s = self.embed_if(current.unsqueeze(0).repeat(self.T, 1, 1, 1))
        for layer in self.layers:
            s = layer(s, mask)
        rate = s.mean(0)  # the last layer's average spike rate [B, L, D]
        return self.classifier(torch.relu(rate[:, 0]))


def neurocomplab_keymap(layers: int) -> KeyMap:
    """The authors' classification checkpoint for ``layers`` encoder layers onto
    :class:`SpikingBERT`.

    Their sub-networks are ``network_s1`` ... ``network_s{6 L}`` (six per layer, in
    :data:`SUBLAYERS` order: ``dense`` Linears, ``query``, ``LayerNorm``), the embedding
    ``network_x``, a feedback ``network_s{6 L + 1}`` their forward leaves out, ``fit_dense``
    and ``pooler_layer`` (used in distillation only) and ``classification``. The module
    tree holds every sub-network again under ``snn_func.network_s_list`` /
    ``snn_func.network_x`` and ``snn_ide_conv.snn_func...`` (the same tensors: declared
    aliases, checked equal), and a training copy under ``snn_func_copy`` (unused).
    """
    rules: list[tuple[str, str]] = [
        ("network_x.word_embeddings.weight", "embeddings.word.weight"),
        ("network_x.position_embeddings.weight", "embeddings.position.weight"),
        ("network_x.token_type_embeddings.weight", "embeddings.token_type.weight"),
        ("network_x.LayerNorm.{p}", "embeddings.norm.{p}"),
        ("classification.{p}", "classifier.{p}"),
    ]
    parts = {
        1: (("dense", "key"),),
        2: (("dense", "value"),),
        3: (("query", "query"),),
        4: (("dense", "attn_out"), ("LayerNorm", "attn_norm")),
        5: (("dense", "ffn_in"),),
        6: (("dense", "ffn_out"), ("LayerNorm", "ffn_norm")),
    }
    for layer in range(layers):
        for j, names in parts.items():
            for theirs, ours in names:
                rules.append((f"network_s{6 * layer + j}.{theirs}.{{p}}",
                              f"layers.{layer}.{ours}.{{p}}"))
    feedback = 6 * layers + 1
    copy = "a copy of the weights for the implicit-differentiation backward pass"
    unused = [
        (f"network_s{feedback}.fc.weight", "the feedback layer, disabled in their forward"),
        ("fit_dense.{p}", "the distillation's transform of the hidden states"),
        ("pooler_layer.dense.{p}", "a pooler their classifier does not use"),
    ]
    aliases: list[tuple[str, str]] = []
    for prefix in ("snn_func", "snn_ide_conv.snn_func"):
        unused += [(f"{prefix}_copy.network_s_list.{{k}}.{{m}}.{{p}}", copy),
                   (f"{prefix}_copy.network_x.{{m}}.{{p}}", copy)]
        aliases.append((f"{prefix}.network_x.{{m}}.{{p}}", "network_x.{m}.{p}"))
        aliases += [(f"{prefix}.network_s_list.{n - 1}.{{m}}.{{p}}", f"network_s{n}.{{m}}.{{p}}")
                    for n in range(1, feedback + 1)]
    return KeyMap(rules=tuple(rules), unused=tuple(unused), aliases=tuple(aliases))


def neurocomplab_release(preset: SpikingBertPreset) -> Release:
    """The authors' classification checkpoint at ``preset``'s configuration."""
    return Release(
        "neurocomplab-spikingbert", SOURCE, neurocomplab_keymap(preset.layers),
        differences=("module names; each weight held up to three times plus a training copy",),
    )


class SpikingBertPreset:
    """A SpikingBERT configuration and its registry entry (the paper's: 4 layers of 768,
    12 heads, 128 tokens, T = 16)."""

    def __init__(self, name: str, description: str, *, time_steps: int = 16,
                 seq_len: int = 128, num_classes: int = 2, layers: int = 4, dim: int = 768,
                 heads: int = 12, intermediate: int = 3072, vocab_size: int = 30522,
                 dataset: str = "") -> None:
        self.name, self.description, self.dataset = name, description, dataset
        self.time_steps, self.seq_len, self.num_classes = time_steps, seq_len, num_classes
        self.layers, self.dim, self.heads = layers, dim, heads
        self.intermediate, self.vocab_size = intermediate, vocab_size

    def build(self, time_steps: int | None = None, **options: Any) -> SpikingBERT:
        """The network (random init); ``options`` are :class:`SpikingBERT` arguments."""
        cfg = {"layers": self.layers, "dim": self.dim, "heads": self.heads,
               "intermediate": self.intermediate, "vocab_size": self.vocab_size,
               "num_classes": self.num_classes}
        return SpikingBERT(T=self.time_steps if time_steps is None else int(time_steps),
                           **{**cfg, **options})

    def make_input(self, samples: int = 1, time_steps: int | None = None,
                   seed: int = 0) -> torch.Tensor:
        """Token ids ``[N, seq_len]`` of the demo sentences (cycled from ``seed``), with
        the packaged demo vocabulary (SpikeBERT's)."""
        from prosparsity.models.zoo.spikebert import DEMO_SENTENCES, tokenize

        del time_steps
        texts = [DEMO_SENTENCES[(seed + i) % len(DEMO_SENTENCES)] for i in range(samples)]
        return tokenize(texts, self.seq_len)

    def capture_maps(self) -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, Any]]]:
        """Each layer's ``k`` and ``v`` operands (the key and value IF outputs) under an
        attention record ``layers.{i}.attention``."""
        operands: dict[str, tuple[str, str]] = {}
        attentions: dict[str, dict[str, Any]] = {}
        for i in range(self.layers):
            name = f"layers.{i}.attention"
            operands[f"layers.{i}.key_if"] = (name, "k")
            operands[f"layers.{i}.value_if"] = (name, "v")
            attentions[name] = {"dim": self.dim, "seq_len": self.seq_len, "heads": self.heads,
                                "variant": VARIANT}
        return operands, attentions

    def entry(self) -> ModelEntry:
        """The registry entry."""
        operands, attentions = self.capture_maps()
        return ModelEntry(
            name=self.name, family="spikingbert", description=self.description,
            build=self.build, make_input=self.make_input, time_steps=self.time_steps,
            dataset=self.dataset, attention_operands=operands, attentions=attentions,
            input_batch_axis=0, releases=(neurocomplab_release(self),),
        )


def build_spikingbert(time_steps: int = 16, **options: Any) -> SpikingBERT:
    """SpikingBERT at the paper's configuration (random init)."""
    return PRESETS[0].build(time_steps, **options)


_TEXT = "demo sentences (packaged demo vocabulary)"

PRESETS: tuple[SpikingBertPreset, ...] = (
    SpikingBertPreset("spikingbert-sst2", "SpikingBERT 4-768, SST-2: 128 tokens, 2 classes, "
                      "T=16 (paper)", dataset=_TEXT),
    SpikingBertPreset("spikingbert-qqp", "SpikingBERT 4-768, QQP: 128 tokens, 2 classes, "
                      "T=16 (paper)", dataset=_TEXT),
    SpikingBertPreset("spikingbert-mnli", "SpikingBERT 4-768, MNLI: 128 tokens, 3 classes, "
                      "T=16 (paper)", num_classes=3, dataset=_TEXT),
)

for _preset in PRESETS:
    register_model(_preset.entry())
