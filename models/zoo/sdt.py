"""Spike-driven Transformer (SDT v1) adapters: spikingjelly 2.0's builder and the paper's
configurations.

Models are spikingjelly's ``SpikeDrivenTransformer`` (``sdt_8_384`` or the class with the
paper's arguments), with two changes of form, not of function:

* every ``SpikeDrivenSelfAttention`` is re-classed to :class:`TappedSpikeDrivenSelfAttention`,
  which passes q, k, v (the ``q_lif``/``k_lif``/``v_lif`` spikes) and the attention result
  ``Q * attn_lif(sum_L(K * V))`` through operand taps as ``[T, B, L, D]``;
* the model is re-classed to :class:`TappedSpikeDrivenTransformer`, whose classifier is
  applied to each time step's spikes and then averaged over T, instead of to the
  time-averaged spikes: ``mean_t(W s_t + b) == W mean_t(s_t) + b``, so the logits agree
  (to float rounding) while the classifier's input becomes a proper ``[T, B, D]`` spike
  tensor the capture can record (spikingjelly's form hands it ``[B, D]`` rates).

State-dict keys are unchanged: spikingjelly SDT checkpoints load as they are.

Paper configurations (the authors' ``simulator/configs.py``, docs/paper-numbers.md): D = 512, 8
heads, MLP ratio 4, 64 tokens; CIFAR-10/100: T = 4, 4 blocks, 32x32x3 input, stem pooling ``0011``;
CIFAR10-DVS: T = 10, 2 blocks, 128x128x2 events, pooling ``1111``.

In SDT every GEMM input is binary (membrane shortcuts: the residual stream is added to
membrane potentials, and each GEMM reads a LIF's output). The first stem convolution
reads the analog image and is skipped by the capture (the paper omits it too). Note
that SDT with random weights emits (almost) no spikes after its stem: random-weight
densities are meaningless.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from spikingjelly.activation_based.layer.attention import SpikeDrivenSelfAttention
from spikingjelly.activation_based.model import spike_driven_transformer as sj_sdt
from torch import nn

from prosparsity.models.data import DIGITS_DATASET
from prosparsity.models.registry import register_model
from prosparsity.models.zoo import _training
from prosparsity.models.zoo._official_sdt import biclab_release
from prosparsity.models.zoo._transformer import ImageTransformerPreset, OperandTap, retag_attentions

if TYPE_CHECKING:  # pragma: no cover
    from prosparsity.models.releases import Release

__all__ = [
    "DIGITS_SDT",
    "PRESETS",
    "ErodeSpikeDrivenSelfAttention",
    "SDTPreset",
    "TappedSpikeDrivenSelfAttention",
    "TappedSpikeDrivenTransformer",
    "add_operand_taps",
    "build_digits_sdt",
    "erode",
    "train_digits_sdt",
]

VARIANT = "sdt"


class TappedSpikeDrivenSelfAttention(SpikeDrivenSelfAttention):
    """spikingjelly's Spike-Driven Self-Attention with operand taps (same function).

    Create it with :func:`add_operand_taps`, not directly.
    """

    q_tap: OperandTap
    k_tap: OperandTap
    v_tap: OperandTap
    attn_tap: OperandTap

    @staticmethod
    def _tokens(value: torch.Tensor) -> torch.Tensor:
        """``[T, N, C, H, W]`` -> ``[T, N, L, C]``, ``L = H * W`` tokens."""
        return value.flatten(3).transpose(-1, -2)

    def _heads(self, value: torch.Tensor) -> torch.Tensor:
        """``[T, N, L, C]`` -> ``[T, N, heads, L, head_dim]``."""
        t, n, length = value.shape[:3]
        return value.reshape(t, n, length, self.num_heads, self.head_dim).permute(0, 1, 3, 2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected 5D input [T, N, C, H, W], but got {tuple(x.shape)}")
        t, n, c, h, w = x.shape
        length = h * w
        identity = x
        x = self.shortcut_lif(x)
        q = self.q_lif(self.q_bn(self.q_conv(x)))
        k = self.k_lif(self.k_bn(self.k_conv(x)))
        v = self.v_lif(self.v_bn(self.v_conv(x)))

        q = self._heads(self.q_tap(self._tokens(q)))
        k = self._heads(self.k_tap(self._tokens(k)))
        v = self._heads(self.v_tap(self._tokens(v)))
        kv = self.attn_lif((k * v).sum(dim=-2, keepdim=True))
        x = (q * kv).permute(0, 1, 3, 2, 4).reshape(t, n, length, c)
        x = self.attn_tap(x).transpose(2, 3).reshape(t, n, c, h, w)
        return self.proj_bn(self.proj_conv(x)) + identity


def erode(x: torch.Tensor) -> torch.Tensor:
    """The SDT authors' ``Erode`` of their DVS mode: ``MaxPool3d((1, 3, 3), stride 1,
    padding (0, 1, 1))`` of a 5-D tensor, i.e. a 3x3 max over its last two axes."""
    return nn.functional.max_pool3d(x, (1, 3, 3), stride=1, padding=(0, 1, 1))


class ErodeSpikeDrivenSelfAttention(TappedSpikeDrivenSelfAttention):
    """The tapped Spike-Driven Self-Attention with the authors' CIFAR10-DVS pooling
    (their ``dvs_mode``, :mod:`._official_sdt`): the k and v spikes, ``K * V`` and
    ``Q * attn`` max-pooled by :func:`erode`; the taps pass the pooled operands."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected 5D input [T, N, C, H, W], but got {tuple(x.shape)}")
        t, n, c, h, w = x.shape
        length = h * w
        identity = x
        x = self.shortcut_lif(x)
        q = self.q_lif(self.q_bn(self.q_conv(x)))
        k = erode(self.k_lif(self.k_bn(self.k_conv(x))))
        v = erode(self.v_lif(self.v_bn(self.v_conv(x))))

        q = self._heads(self.q_tap(self._tokens(q)))
        k = self._heads(self.k_tap(self._tokens(k)))
        v = self._heads(self.v_tap(self._tokens(v)))
        kv = self.attn_lif(erode(k * v).sum(dim=-2, keepdim=True))
        y = erode(q * kv).permute(0, 1, 3, 2, 4).reshape(t, n, length, c)
        y = self.attn_tap(y).transpose(2, 3).reshape(t, n, c, h, w)
        return self.proj_bn(self.proj_conv(y)) + identity


class TappedSpikeDrivenTransformer(sj_sdt.SpikeDrivenTransformer):
    """spikingjelly's SDT with the classifier applied per time step (see module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(self._to_sequence(x))
        for block in self.blocks:
            x = block(x)
        spikes = self.head_lif(x.flatten(3).mean(-1))  # [T, N, D]
        return self.head(spikes).mean(0)


def add_operand_taps(model: nn.Module) -> list[str]:
    """Give every ``SpikeDrivenSelfAttention`` of ``model`` its operand taps, in place, and
    re-class a ``SpikeDrivenTransformer`` to :class:`TappedSpikeDrivenTransformer`.

    Returns:
        The module names of the tapped attention layers, in ``named_modules`` order.
    """
    if type(model) is sj_sdt.SpikeDrivenTransformer:
        model.__class__ = TappedSpikeDrivenTransformer
    return retag_attentions(model, SpikeDrivenSelfAttention, TappedSpikeDrivenSelfAttention)


def _pooled_size(size: int, pooling_stat: str) -> int:
    """Feature-map size after the stem: each '1' is a MaxPool2d(3, 2, 1) halving (ceil)."""
    for flag in pooling_stat:
        if flag == "1":
            size = (size + 2 - 3) // 2 + 1
    return size


@dataclass(frozen=True)
class SDTPreset(ImageTransformerPreset):
    """One SDT configuration (spikingjelly's ``SpikeDrivenTransformer`` arguments).

    Attributes:
        name: registry name.
        description: one line for ``prosparsity models``.
        time_steps: default T.
        in_channels: 3 RGB, 2 DVS polarities.
        img_size: input height = width.
        num_classes: classifier outputs.
        embed_dims: width D.
        num_heads: attention heads.
        depths: transformer blocks.
        mlp_ratio: MLP hidden width / D.
        pooling_stat: max-pooling switch of the four stem stages.
        events: the default input is binary event frames, not an image.
        builder: spikingjelly factory to call (``"sdt_8_384"``) or ``None`` for the class.
        dataset: what the default input is.
        release: the authors' checkpoints this configuration also loads: ``images``
            (their model onto spikingjelly's, :mod:`._official_sdt`), ``dvs`` (the same in
            their CIFAR10-DVS mode), or ``None``.
    """

    name: str
    description: str
    time_steps: int = 4
    in_channels: int = 3
    img_size: int = 32
    num_classes: int = 10
    embed_dims: int = 512
    num_heads: int = 8
    depths: int = 4
    mlp_ratio: float = 4.0
    pooling_stat: str = "0011"
    events: bool = False
    builder: str | None = None
    dataset: str = field(default="", compare=False)
    release: str | None = field(default=None, compare=False)

    family: ClassVar[str] = "sdt"
    variant: ClassVar[str] = VARIANT

    @property
    def seq_len(self) -> int:
        """Tokens per sample after the stem's pooling."""
        return _pooled_size(self.img_size, self.pooling_stat) ** 2

    def build(self, time_steps: int | None = None, **options: Any) -> nn.Module:
        """The model (random init, taps added). ``options`` override preset fields."""
        cfg = {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "embed_dims": self.embed_dims,
            "num_heads": self.num_heads,
            "depths": self.depths,
            "mlp_ratio": self.mlp_ratio,
            "pooling_stat": self.pooling_stat,
        }
        unknown = set(options) - set(cfg)
        if unknown:
            raise TypeError(f"{self.name}: unknown build options {sorted(unknown)}")
        t = self._steps(time_steps)
        if self.builder is not None and not options:
            model = getattr(sj_sdt, self.builder)(
                T=t, in_channels=self.in_channels, num_classes=self.num_classes
            )
        else:
            model = sj_sdt.SpikeDrivenTransformer(T=t, **{**cfg, **options})
        add_operand_taps(model)
        return model

    def build_dvs_mode(self, time_steps: int | None = None, **options: Any) -> nn.Module:
        """The network with the authors' CIFAR10-DVS attention
        (:class:`ErodeSpikeDrivenSelfAttention`)."""
        model = self.build(time_steps, **options)
        for module in model.modules():
            if type(module) is TappedSpikeDrivenSelfAttention:
                module.__class__ = ErodeSpikeDrivenSelfAttention
        return model

    def releases(self) -> tuple[Release, ...]:
        """The authors' release (BICLab) at this configuration, if :attr:`release`."""
        if self.release is None:
            return ()
        if self.release == "dvs":
            return (biclab_release("biclab-sdt-dvs", dvs_build=self.build_dvs_mode),)
        return (biclab_release("biclab-sdt"),)


_CIFAR = "random CIFAR-shaped images (3x32x32)"
_DVS = "random DVS-shaped events (2x128x128, p=0.05)"
_IMAGENET = "random ImageNet-shaped images (3x224x224)"

PRESETS: tuple[SDTPreset, ...] = (
    SDTPreset(
        "sdt-cifar10",
        "Spike-driven Transformer 4-512, CIFAR-10 (paper; spikingjelly)",
        dataset=_CIFAR,
        release="images",
    ),
    SDTPreset(
        "sdt-cifar100",
        "Spike-driven Transformer 4-512, CIFAR-100 (paper; spikingjelly)",
        num_classes=100,
        dataset=_CIFAR,
        release="images",
    ),
    SDTPreset(
        "sdt-cifar10dvs",
        "Spike-driven Transformer 2-512, CIFAR10-DVS (paper; spikingjelly)",
        time_steps=10,
        in_channels=2,
        img_size=128,
        depths=2,
        pooling_stat="1111",
        events=True,
        dataset=_DVS,
        release="dvs",
    ),
    SDTPreset(
        "sdt-8-384",
        "Spike-driven Transformer 8-384, ImageNet (spikingjelly sdt_8_384)",
        img_size=224,
        num_classes=1000,
        embed_dims=384,
        depths=8,
        pooling_stat="1111",
        builder="sdt_8_384",
        dataset=_IMAGENET,
        release="images",
    ),
    *(
        SDTPreset(
            f"sdt-{depth}-{dim}",
            f"Spike-driven Transformer {depth}-{dim}, ImageNet (a published checkpoint; "
            "spikingjelly)",
            img_size=224,
            num_classes=1000,
            embed_dims=dim,
            depths=depth,
            pooling_stat="1111",
            dataset=_IMAGENET,
            release="images",
        )
        for depth, dim in ((6, 512), (8, 512), (10, 512), (8, 768))
    ),
)

for _preset in PRESETS:
    register_model(_preset.entry())


# ---------------------------------------------------------------------------------------
# digits-sdt: a small Spike-driven Transformer trained on scikit-learn's digits

DIGITS_SDT = SDTPreset(
    "digits-sdt",
    "small SDT (2 blocks, D=64, 16 tokens) trained on sklearn digits",
    in_channels=1,
    img_size=8,
    embed_dims=64,
    num_heads=4,
    depths=2,
    mlp_ratio=2.0,
    pooling_stat="0010",
    dataset=DIGITS_DATASET,
)
"""spikingjelly's ``SpikeDrivenTransformer`` at digits size: 1 -> 8 -> 16 -> 32 -> 64
channels in the stem, one max-pool (8x8 -> 4x4: 16 tokens of 2x2 pixels), 2 blocks of
D = 64 with 4 heads and MLP ratio 2, T = 4."""


def build_digits_sdt(time_steps: int = DIGITS_SDT.time_steps, **options: Any) -> nn.Module:
    """The ``digits-sdt`` network (random init, taps added)."""
    return DIGITS_SDT.build(time_steps, **options)


def train_digits_sdt(
    out_dir: str | Path, seed: int = 0, epochs: int = 6, batch_size: int = 64
) -> dict[str, Any]:
    """Train ``digits-sdt`` on the digits train split; write ``digits-sdt.safetensors``
    (:func:`~prosparsity.models.zoo._training.train_classifier`: Adam lr 2e-3 with cosine
    decay, BPTT over T = 4 through spikingjelly's surrogate gradients)."""
    return _training.train_classifier(
        "digits-sdt", build_digits_sdt, _training.digits_tensors, out_dir, seed,
        epochs=epochs, batch_size=batch_size,
    )


register_model(
    dataclasses.replace(
        DIGITS_SDT.entry(),
        build=build_digits_sdt,
        make_input=_training.make_digits_input,
        checkpoint="digits-sdt.safetensors",
        trainer=train_digits_sdt,
    )
)
