"""The parameter names and shapes of the authors' published checkpoints, written out from
their public model code (facts, independently of the harness's maps), and state dicts
with exactly those names and shapes and seeded values.

* Spikformer, github.com/ZK-Zhou/spikformer: ``cifar10/model.py`` (``cifar``),
  ``imagenet/model.py`` (``imagenet``), ``cifar10dvs/model.py`` (``dvs``);
* Spike-driven Transformer V1, github.com/BICLab/Spike-Driven-Transformer:
  ``model/spikeformer.py`` with ``module/sps.py`` and ``module/ms_conv.py``;
* SpikeBERT, github.com/Lvchangze/SpikeBERT: ``model/new_spikformer.py``;
* SpikingBERT, github.com/NeuroCompLab-psu/SpikingBERT:
  ``implicit_bert/models/snn_ide_bert_classi_4_spike.py`` and its modules.

Shapes are tuples; a BatchNorm contributes ``weight, bias, running_mean, running_var``
(its width) and ``num_batches_tracked`` (a scalar).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

Layout = dict[str, tuple[int, ...]]


def _bn(name: str, width: int) -> Layout:
    return {f"{name}.weight": (width,), f"{name}.bias": (width,),
            f"{name}.running_mean": (width,), f"{name}.running_var": (width,),
            f"{name}.num_batches_tracked": ()}


def _ln(name: str, width: int) -> Layout:
    return {f"{name}.weight": (width,), f"{name}.bias": (width,)}


def _lin(name: str, cin: int, cout: int, bias: bool = True, kernel: tuple[int, ...] = ()) -> Layout:
    out = {f"{name}.weight": (cout, cin, *kernel)}
    if bias:
        out[f"{name}.bias"] = (cout,)
    return out


def _sps(dim: int, in_channels: int) -> Layout:
    """``SPS`` / ``MS_SPS``: four conv (no bias) + BN stages and the rpe conv + BN."""
    out: Layout = {}
    widths = (dim // 8, dim // 4, dim // 2, dim)
    previous = in_channels
    for i, width in enumerate(widths):
        suffix = str(i) if i else ""
        out |= _lin(f"patch_embed.proj_conv{suffix}", previous, width, False, (3, 3))
        out |= _bn(f"patch_embed.proj_bn{suffix}", width)
        previous = width
    out |= _lin("patch_embed.rpe_conv", dim, dim, False, (3, 3))
    out |= _bn("patch_embed.rpe_bn", dim)
    return out


def zhou_spikformer(flavour: str, *, dim: int, depth: int, heads: int, classes: int,
                    in_channels: int, mlp_ratio: float = 4.0, patches: int = 64) -> Layout:
    """ZK-Zhou/spikformer's ``Spikformer`` of the ``cifar``, ``imagenet`` or ``dvs`` file."""
    del heads  # no parameter depends on the number of heads
    hidden = int(dim * mlp_ratio)
    out = _sps(dim, in_channels)
    if flavour == "dvs":
        out["pos_embed"] = (1, patches, dim)
    for i in range(depth):
        b = f"block.{i}"
        out |= _ln(f"{b}.norm1", dim)
        for n in ("q", "k", "v"):
            if flavour == "cifar":
                out |= _lin(f"{b}.attn.{n}_linear", dim, dim)
            else:
                out |= _lin(f"{b}.attn.{n}_conv", dim, dim, False, (1,))
            out |= _bn(f"{b}.attn.{n}_bn", dim)
        if flavour == "cifar":
            out |= _lin(f"{b}.attn.proj_linear", dim, dim)
        else:
            out |= _lin(f"{b}.attn.proj_conv", dim, dim, True, (1,))
        out |= _bn(f"{b}.attn.proj_bn", dim)
        out |= _ln(f"{b}.norm2", dim)
        for j, (cin, cout) in enumerate(((dim, hidden), (hidden, dim)), start=1):
            if flavour == "cifar":
                out |= _lin(f"{b}.mlp.fc{j}_linear", cin, cout)
            else:
                kernel = (1, 1) if flavour == "imagenet" else (1,)
                out |= _lin(f"{b}.mlp.fc{j}_conv", cin, cout, True, kernel)
            out |= _bn(f"{b}.mlp.fc{j}_bn", cout)
    if flavour == "dvs":
        out |= _ln("norm", dim)
    out |= _lin("head", dim, classes)
    return out


def biclab_sdt(*, dim: int, depth: int, heads: int, classes: int, in_channels: int,
               mlp_ratio: float = 4.0) -> Layout:
    """BICLab's ``SpikeDrivenTransformer`` (spike_mode ``lif``: neurons hold nothing)."""
    hidden = int(dim * mlp_ratio)
    out = _sps(dim, in_channels)
    for i in range(depth):
        a, m = f"block.{i}.attn", f"block.{i}.mlp"
        for n in ("q", "k", "v"):
            out |= _lin(f"{a}.{n}_conv", dim, dim, False, (1, 1))
            out |= _bn(f"{a}.{n}_bn", dim)
        out |= _lin(f"{a}.talking_heads", heads, heads, False, (1,))
        out |= _lin(f"{a}.proj_conv", dim, dim, True, (1, 1))
        out |= _bn(f"{a}.proj_bn", dim)
        out |= _lin(f"{m}.fc1_conv", dim, hidden, True, (1, 1))
        out |= _bn(f"{m}.fc1_bn", hidden)
        out |= _lin(f"{m}.fc2_conv", hidden, dim, True, (1, 1))
        out |= _bn(f"{m}.fc2_bn", dim)
    out |= _lin("head", dim, classes)
    return out


def lvchangze_spikebert(*, dim: int, depth: int, vocab: int, classes: int | None) -> Layout:
    """Lvchangze's ``new_spikformer``; ``classes=None``: mode ``pre_distill``."""
    out: Layout = {"emb.weight": (vocab, dim)}
    for i in range(depth):
        a, m = f"blocks.{i}.attn", f"blocks.{i}.mlp"
        for n in ("q", "k", "v"):
            out |= _lin(f"{a}.{n}_m", dim, dim) | _ln(f"{a}.{n}_ln", dim)
        out |= _lin(f"{a}.last_m", dim, dim) | _ln(f"{a}.last_ln", dim)
        out |= _lin(f"{m}.fc1", dim, 4 * dim) | _ln(f"{m}.ln1", 4 * dim)
        out |= _lin(f"{m}.fc2", 4 * dim, dim) | _ln(f"{m}.ln2", dim)
    out |= _ln("last_ln", dim)
    for i in range(depth):
        out |= _lin(f"transforms.{i}.fc", dim, dim) | _ln(f"transforms.{i}.ln", dim)
    if classes is not None:
        out |= _lin("classifier", dim, classes)
    return out


def _subnetworks(layers: int, dim: int, inter: int) -> list[Layout]:
    """``network_s1`` ... ``network_s{6L+1}`` of SpikingBERT, each relative to itself."""
    nets: list[Layout] = []
    for _ in range(layers):
        nets.append(_lin("dense", dim, dim))  # BertFC (key)
        nets.append(_lin("dense", dim, dim))  # BertFC (value)
        nets.append(_lin("query", dim, dim))  # BertSelfAttentionSplit
        nets.append(_lin("dense", dim, dim) | _ln("LayerNorm", dim))  # BertSelfOutput
        nets.append(_lin("dense", dim, inter))  # BertIntermediate
        nets.append(_lin("dense", inter, dim) | _ln("LayerNorm", dim))  # BertOutput
    nets.append({"fc.weight": (dim, dim)})  # SNNFC feedback, no bias
    return nets


def neurocomplab_spikingbert(*, layers: int, dim: int, inter: int, vocab: int,
                             positions: int, classes: int) -> tuple[Layout, dict[str, str]]:
    """NeuroCompLab's ``SNNIDESTUDENTBERT4SpikeClassification`` (``layers`` = 4 there).

    Returns:
        the layout, and alias key -> original key for the keys that hold the same tensor
        (the sub-networks registered again under ``snn_func`` and ``snn_ide_conv``).
    """
    embed = {"word_embeddings.weight": (vocab, dim), "position_embeddings.weight": (positions, dim),
             "token_type_embeddings.weight": (2, dim)} | _ln("LayerNorm", dim)
    nets = _subnetworks(layers, dim, inter)
    out: Layout = {f"network_x.{k}": v for k, v in embed.items()}
    for n, net in enumerate(nets, start=1):
        out |= {f"network_s{n}.{k}": v for k, v in net.items()}
    aliases: dict[str, str] = {}
    for prefix in ("snn_func", "snn_ide_conv.snn_func"):
        for copy in ("", "_copy"):
            for k, v in embed.items():
                out[f"{prefix}{copy}.network_x.{k}"] = v
                if not copy:
                    aliases[f"{prefix}.network_x.{k}"] = f"network_x.{k}"
            for n, net in enumerate(nets, start=1):
                for k, v in net.items():
                    out[f"{prefix}{copy}.network_s_list.{n - 1}.{k}"] = v
                    if not copy:
                        aliases[f"{prefix}.network_s_list.{n - 1}.{k}"] = f"network_s{n}.{k}"
    out |= _lin("fit_dense", dim, dim) | _lin("pooler_layer.dense", dim, dim)
    out |= _lin("classification", dim, classes)
    return out, aliases


def seeded_state(layout: Layout, seed: int = 0,
                 aliases: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """A state dict of ``layout`` with seeded values: weights ~ N(0, 1/fan_in) scaled so
    that neurons fire, BatchNorm statistics with positive variances, counters 0; each
    alias the same tensor as its original."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, shape in layout.items():
        if aliases and name in aliases:
            continue
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=gen) * 0.5 + 0.5
        elif name.endswith("running_mean"):
            state[name] = torch.randn(shape, generator=gen) * 0.1
        elif len(shape) == 1 and name.endswith("weight"):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        elif len(shape) == 1:
            state[name] = torch.randn(shape, generator=gen) * 0.3 + 0.3
        else:
            fan_in = max(1, int(torch.tensor(shape[1:]).prod())) if len(shape) > 1 else 1
            state[name] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
    for alias, original in (aliases or {}).items():
        state[alias] = state[original]
    return state


def keys_of(*layouts: Iterable[str]) -> set[str]:
    """The union of the key sets."""
    return {k for layout in layouts for k in layout}
