"""Spikformer as its authors release it (github.com/ZK-Zhou/spikformer), and the name maps
of their checkpoints.

The authors publish one model file per setting, with the module names their checkpoints
carry: ``cifar10/model.py`` (CIFAR-10 and CIFAR-100), ``imagenet/model.py`` and
``cifar10dvs/model.py``. Their network differs from spikingjelly 2.0's Spikformer, which
the registry entries build by default, in ways that change the spikes, so a checkpoint of
theirs runs in :class:`ZhouSpikformer`, written here from those files (facts, not code):

* q, k and v are three projections, each followed by its own BatchNorm and LIF
  (spikingjelly fuses them into one convolution of 3D channels);
* the stem pools *after* each stage's LIF neuron, on spikes (spikingjelly pools the
  BatchNorm output, before the neuron); the CIFAR file pools after stages 3 and 4 only,
  the ImageNet and DVS files after all four;
* the attention is ``attn_lif((Q K^T) V * scale)`` with scale 0.125 (ImageNet, CIFAR) or
  0.25 (DVS), applied after the products, and ``attn_lif`` fires at 0.5;
* CIFAR projections are ``nn.Linear`` on ``[T*B, N, C]`` tokens with ``BatchNorm1d``;
  ImageNet and DVS use 1x1 ``Conv1d`` for q/k/v/proj, and 1x1 ``Conv2d`` (ImageNet) or
  ``Conv1d`` (DVS) for the MLP;
* every neuron is spikingjelly's multi-step LIF with tau 2, threshold 1, hard reset to 0,
  detached reset (``MultiStepLIFNode(tau=2.0, detach_reset=True)``), as here;
* residuals add spikes: ``x + attn(x)``, ``x + mlp(x)``; the stem adds the relative
  position embedding's spikes to the stem's output spikes;
* the classifier reads the time- and token-averaged spikes.

Module names are the authors' (``patch_embed.proj_conv``, ``block.0.attn.q_linear``,
...), so a trace names its layers as their code does, and each release's map is the
identity on the keys the forward reads. Keys their forward never reads are declared
unused: the ``norm1``/``norm2`` LayerNorms of every block (all files), and the DVS file's
``pos_embed`` and final ``norm``.

Input: time-first ``[T, B, C, H, W]`` as every registry entry (the authors' CIFAR and
ImageNet forward repeats a ``[B, C, H, W]`` image T times, which a 4-D input does here
too; their DVS forward takes ``[B, T, C, H, W]`` and transposes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from prosparsity.models.releases import KeyMap, Release
from prosparsity.models.zoo._transformer import OperandTap, add_taps, attention_maps

__all__ = ["FLAVOURS", "ZhouFlavour", "ZhouSpikformer", "zhou_release"]

SOURCE = "github.com/ZK-Zhou/spikformer"


@dataclass(frozen=True)
class ZhouFlavour:
    """What differs between the authors' three model files.

    Attributes:
        file: the model file of the repository.
        projection: ``linear`` (tokens ``[T, B, N, C]``, ``nn.Linear`` + ``BatchNorm1d``)
            or ``conv`` (``[T, B, C, N]``, 1x1 ``Conv1d`` + ``BatchNorm1d``).
        mlp: ``linear``, ``conv1d`` or ``conv2d`` (1x1 on the ``H x W`` grid).
        pool_all: the stem pools after all four stages (else after the last two).
        scale: the attention scale.
        extra_unused: further keys of the file's model that its forward never reads.
    """

    file: str
    projection: str
    mlp: str
    pool_all: bool
    scale: float
    extra_unused: tuple[tuple[str, str], ...] = ()


FLAVOURS: dict[str, ZhouFlavour] = {
    "cifar": ZhouFlavour("cifar10/model.py", "linear", "linear", False, 0.125),
    "imagenet": ZhouFlavour("imagenet/model.py", "conv", "conv2d", True, 0.125),
    "dvs": ZhouFlavour(
        "cifar10dvs/model.py", "conv", "conv1d", True, 0.25,
        extra_unused=(
            ("pos_embed", "a position embedding the DVS model creates but never adds"),
            ("norm.{p}", "a final LayerNorm the DVS model creates but never applies"),
        ),
    ),
}
"""The authors' model files by setting (CIFAR-10/100, ImageNet, CIFAR10-DVS)."""


def _lif(threshold: float = 1.0) -> neuron.LIFNode:
    """``MultiStepLIFNode(tau=2.0, detach_reset=True)`` of spikingjelly 0.0.0.0.12, as
    spikingjelly 2.0 spells it (same forward)."""
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, detach_reset=True, step_mode="m")


def _fold(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)


class ZhouSPS(nn.Module):
    """The spiking patch splitting stem: four conv-BN-LIF stages (D/8, D/4, D/2, D),
    max-pooling (3, 2, 1) of the spikes after the last two (CIFAR) or all four stages,
    then ``x + rpe_lif(rpe_bn(rpe_conv(x)))``. Output ``[T, B, D, H', W']`` spikes (sums
    of two spike maps after the position embedding)."""

    def __init__(self, in_channels: int, embed_dims: int, pool_all: bool) -> None:
        super().__init__()
        widths = (embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims)
        previous = in_channels
        self.pools = (pool_all, pool_all, True, True)
        for i, width in enumerate(widths):
            suffix = str(i) if i else ""
            conv = nn.Conv2d(previous, width, 3, padding=1, bias=False)
            if i == 0:
                conv.prosparsity_analog_input = True  # the image (CIFAR, ImageNet)
            self.add_module(f"proj_conv{suffix}", conv)
            self.add_module(f"proj_bn{suffix}", nn.BatchNorm2d(width))
            self.add_module(f"proj_lif{suffix}", _lif())
            if self.pools[i]:
                self.add_module(f"maxpool{suffix}", nn.MaxPool2d(3, 2, 1))
            previous = width
        self.rpe_conv = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(embed_dims)
        self.rpe_lif = _lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        x = _fold(x)
        for i, pool in enumerate(self.pools):
            suffix = str(i) if i else ""
            x = getattr(self, f"proj_bn{suffix}")(getattr(self, f"proj_conv{suffix}")(x))
            x = _fold(getattr(self, f"proj_lif{suffix}")(x.reshape(t, b, *x.shape[1:])))
            if pool:
                x = getattr(self, f"maxpool{suffix}")(x)
        feat = x
        x = self.rpe_bn(self.rpe_conv(x))
        x = self.rpe_lif(x.reshape(t, b, *x.shape[1:]))
        return x + feat.reshape(t, b, *feat.shape[1:])


def _bn_tokens(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """``BatchNorm1d`` over the channels of tokens ``[TB, N, C]``."""
    return bn(x.transpose(-1, -2)).transpose(-1, -2)


class ZhouSSA(nn.Module):
    """Spiking self-attention: ``q/k/v = LIF(BN(proj(x)))`` (three projections),
    ``attn_lif((Q K^T) V * scale)`` at threshold 0.5, ``proj_lif(proj_bn(proj(.)))``.

    Taps (``q_tap`` ... ``attn_tap``) pass the operands as ``[T, B, N, C]``.
    """

    q_tap: OperandTap
    k_tap: OperandTap
    v_tap: OperandTap
    attn_tap: OperandTap

    def __init__(self, dim: int, heads: int, flavour: ZhouFlavour) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} should be divided by num_heads {heads}")
        self.dim, self.heads, self.scale = dim, heads, flavour.scale
        self.tokens = flavour.projection == "linear"
        kind = "linear" if self.tokens else "conv"
        for name in ("q", "k", "v", "proj"):
            if self.tokens:
                proj: nn.Module = nn.Linear(dim, dim)
            else:
                proj = nn.Conv1d(dim, dim, 1, bias=name == "proj")
            self.add_module(f"{name}_{kind}", proj)
            self.add_module(f"{name}_bn", nn.BatchNorm1d(dim))
            if name != "proj":
                self.add_module(f"{name}_lif", _lif())
            if name == "v":
                self.attn_lif = _lif(0.5)
        self.proj_lif = _lif()
        add_taps(self)

    def _project(self, name: str, x: torch.Tensor, t: int, b: int) -> torch.Tensor:
        """``LIF(BN(proj(x)))`` as ``[T, B, N, C]`` spikes; ``x`` folded ``[TB, ...]``."""
        proj = getattr(self, f"{name}_linear" if self.tokens else f"{name}_conv")
        bn = getattr(self, f"{name}_bn")
        y = _bn_tokens(bn, proj(x)) if self.tokens else bn(proj(x)).transpose(-1, -2)
        return getattr(self, f"{name}_lif")(y.reshape(t, b, *y.shape[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, N, C]`` tokens (linear) or ``[T, B, C, N]`` channels (conv)."""
        t, b = x.shape[:2]
        n = x.shape[2] if self.tokens else x.shape[3]
        folded = _fold(x)
        heads, hd = self.heads, self.dim // self.heads

        def split(y: torch.Tensor) -> torch.Tensor:  # [T,B,N,C] -> [T,B,H,N,C/H]
            return y.reshape(t, b, n, heads, hd).permute(0, 1, 3, 2, 4)

        q = split(self.q_tap(self._project("q", folded, t, b)))
        k = split(self.k_tap(self._project("k", folded, t, b)))
        v = split(self.v_tap(self._project("v", folded, t, b)))
        y = (q @ k.transpose(-2, -1)) @ v * self.scale
        y = self.attn_tap(self.attn_lif(y.transpose(2, 3).reshape(t, b, n, self.dim)))
        if self.tokens:
            y = _bn_tokens(self.proj_bn, self.proj_linear(_fold(y)))
        else:
            y = self.proj_bn(self.proj_conv(_fold(y.transpose(-1, -2))))
        return self.proj_lif(y.reshape(t, b, *y.shape[1:]))


class ZhouMLP(nn.Module):
    """``fc2_lif(fc2_bn(fc2(fc1_lif(fc1_bn(fc1(x))))))`` on tokens (``nn.Linear``),
    channels ``[T, B, C, N]`` (1x1 ``Conv1d``) or a grid ``[T, B, C, H, W]`` (1x1
    ``Conv2d``)."""

    def __init__(self, dim: int, hidden: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        for i, (cin, cout) in enumerate(((dim, hidden), (hidden, dim)), start=1):
            if kind == "linear":
                fc, bn = nn.Linear(cin, cout), nn.BatchNorm1d(cout)
            elif kind == "conv1d":
                fc, bn = nn.Conv1d(cin, cout, 1), nn.BatchNorm1d(cout)
            else:
                fc, bn = nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout)
            self.add_module(f"fc{i}_{'linear' if kind == 'linear' else 'conv'}", fc)
            self.add_module(f"fc{i}_bn", bn)
            self.add_module(f"fc{i}_lif", _lif())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b = x.shape[:2]
        suffix = "linear" if self.kind == "linear" else "conv"
        for i in (1, 2):
            fc, bn = getattr(self, f"fc{i}_{suffix}"), getattr(self, f"fc{i}_bn")
            y = fc(_fold(x))
            y = _bn_tokens(bn, y) if self.kind == "linear" else bn(y)
            x = getattr(self, f"fc{i}_lif")(y.reshape(t, b, *y.shape[1:]))
        return x


class ZhouBlock(nn.Module):
    """``x + attn(x)``, then ``x + mlp(x)`` (residuals on spikes)."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, flavour: ZhouFlavour) -> None:
        super().__init__()
        self.attn = ZhouSSA(dim, heads, flavour)
        self.mlp = ZhouMLP(dim, int(dim * mlp_ratio), flavour.mlp)
        self.grid = flavour.mlp == "conv2d"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[T, B, N, C]`` (linear), ``[T, B, C, N]`` (conv1d) or
        ``[T, B, C, H, W]`` (conv2d: the attention reads it flattened)."""
        if self.grid:
            shape = x.shape
            x = x + self.attn(x.flatten(3)).reshape(shape)
        else:
            x = x + self.attn(x)
        return x + self.mlp(x)


class ZhouSpikformer(nn.Module):
    """Spikformer as one of the authors' model files builds it (see the module doc).

    Args:
        flavour: ``cifar``, ``imagenet`` or ``dvs`` (:data:`FLAVOURS`).
        time_steps: T for a 4-D (static image) input.
        in_channels, num_classes, embed_dims, num_heads, depths, mlp_ratio: as the
            authors' ``Spikformer`` arguments.

    Input ``[T, B, C, H, W]`` (or ``[B, C, H, W]``, repeated T times); output logits
    ``[B, num_classes]``.
    """

    def __init__(
        self,
        flavour: str,
        time_steps: int = 4,
        in_channels: int = 3,
        num_classes: int = 10,
        embed_dims: int = 384,
        num_heads: int = 12,
        depths: int = 4,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.flavour = FLAVOURS[flavour]
        self.T = time_steps
        self.patch_embed = ZhouSPS(in_channels, embed_dims, self.flavour.pool_all)
        if flavour == "dvs":
            self.patch_embed.proj_conv.prosparsity_analog_input = False  # binary events
        self.block = nn.ModuleList(
            ZhouBlock(embed_dims, num_heads, mlp_ratio, self.flavour) for _ in range(depths)
        )
        self.head = nn.Linear(embed_dims, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        if x.ndim != 5:
            raise ValueError(f"expected [T, B, C, H, W] or [B, C, H, W], got {tuple(x.shape)}")
        x = self.patch_embed(x)  # [T, B, D, H', W']
        if self.flavour.projection == "linear":
            x = x.flatten(3).transpose(-1, -2)  # tokens [T, B, N, D]
        elif self.flavour.mlp == "conv1d":
            x = x.flatten(3)  # [T, B, D, N]
        for blk in self.block:
            x = blk(x)
        if self.flavour.projection == "linear":
            feats = x.mean(2)
        else:
            feats = x.flatten(3).mean(3)
        return self.head(feats.mean(0))


def _unused(depths_pattern: str = "block.{i}") -> tuple[tuple[str, str], ...]:
    reason = "a LayerNorm every block creates but its forward never applies"
    return tuple((f"{depths_pattern}.{norm}.{{p}}", reason) for norm in ("norm1", "norm2"))


def zhou_keymap(flavour: str) -> KeyMap:
    """The map of a checkpoint of the authors' ``flavour`` file onto
    :class:`ZhouSpikformer`: the identity on every key its forward reads."""
    spec = FLAVOURS[flavour]
    proj = "linear" if spec.projection == "linear" else "conv"
    fc = "linear" if spec.mlp == "linear" else "conv"
    rules: list[str] = ["patch_embed.{m}.{p}", "head.{p}"]
    rules += [f"block.{{i}}.attn.{n}_{proj}.{{p}}" for n in ("q", "k", "v", "proj")]
    rules += [f"block.{{i}}.attn.{n}_bn.{{p}}" for n in ("q", "k", "v", "proj")]
    rules += [f"block.{{i}}.mlp.fc{j}_{fc}.{{p}}" for j in (1, 2)]
    rules += [f"block.{{i}}.mlp.fc{j}_bn.{{p}}" for j in (1, 2)]
    return KeyMap(rules=tuple((r, r) for r in rules),
                  unused=_unused() + spec.extra_unused)


DIFFERENCES: tuple[str, ...] = (
    "q, k and v: three projections with their own BatchNorm and LIF (spikingjelly: one "
    "fused convolution of 3D channels)",
    "stem: max-pooling after each stage's LIF, on spikes (spikingjelly: on the BatchNorm "
    "output, before the LIF)",
    "attention: attn_lif((Q K^T) V * scale) at threshold 0.5",
)


def zhou_release(
    name: str,
    flavour: str,
    *,
    time_steps: int,
    in_channels: int,
    num_classes: int,
    embed_dims: int,
    num_heads: int,
    depths: int,
    seq_len: int,
    mlp_ratio: float = 4.0,
) -> Release:
    """The release of the authors' ``flavour`` file for one configuration."""
    spec = FLAVOURS[flavour]

    def build(time_steps: int = time_steps, **options: Any) -> ZhouSpikformer:
        cfg = dict(in_channels=in_channels, num_classes=num_classes, embed_dims=embed_dims,
                   num_heads=num_heads, depths=depths, mlp_ratio=mlp_ratio)
        return ZhouSpikformer(flavour, time_steps, **{**cfg, **options})

    operands, attentions = attention_maps(
        [f"block.{i}.attn" for i in range(depths)], dim=embed_dims, seq_len=seq_len,
        heads=num_heads, variant="spikformer",
    )
    return Release(
        name=name,
        source=f"{SOURCE}, {spec.file}",
        keymap=zhou_keymap(flavour),
        build=build,
        attention_operands=operands,
        attentions=attentions,
        differences=DIFFERENCES + (f"attention scale {spec.scale}",),
    )
