"""Spikformer adapters: spikingjelly 2.0's Spikformer, the paper's configurations, and the
small trained ``digits-spikformer``.

Models are built by spikingjelly's own code (``spikformer_cifar10``, ``spikformer_ti``,
``spikformer_s``, the ``Spikformer`` class for the CIFAR10-DVS configuration) and then
given operand taps (:func:`add_operand_taps`): each ``SpikingSelfAttention`` is re-classed
to :class:`TappedSpikingSelfAttention`, which computes exactly the same function but
passes q, k, v and the spiking attention result through :class:`~._transformer.OperandTap`
modules, so the capture engine records them as ``[T, B, L, D]`` operands. Parameters,
buffers and state-dict keys are untouched (a spikingjelly checkpoint loads as is).

Paper configurations (the authors' ``simulator/configs.py``, docs/paper-numbers.md):

=========================  ====  =====  =====  =====  ===  ===========================
entry                      T     dim    heads  depth  L    stem
=========================  ====  =====  =====  =====  ===  ===========================
``spikformer-cifar10``     4     384    12     4      64   32x32x3, patch 4
``spikformer-cifar100``    4     384    12     4      64   as CIFAR-10, 100 classes
``spikformer-cifar10dvs``  16    256    16     2      64   128x128x2 events, patch 16
=========================  ====  =====  =====  =====  ===  ===========================

The first stem convolution (image -> ``dim/8`` channels) reads the analog image, is not a
spiking GEMM and is skipped by the capture; the paper does not simulate it either. Its
DVS counterpart reads binary events and IS recorded (an extra layer the paper omits).

Values: in spikingjelly's Spikformer the stem output is ``rpe + stem`` and every block
adds its attention and MLP outputs to its input, so the inputs of ``qkv_conv_bn`` and of
the first MLP layer are sums of spikes (0..2 in block 0, growing by up to 2 per block).
The capture records them as they are, with their levels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from spikingjelly.activation_based import functional, layer
from spikingjelly.activation_based.layer.attention import SpikingSelfAttention
from spikingjelly.activation_based.model import spikformer as sj_spikformer
from torch import nn

from prosparsity.models.data import DIGITS_DATASET
from prosparsity.models.registry import ModelEntry, register_model
from prosparsity.models.zoo import _training
from prosparsity.models.zoo._official_spikformer import zhou_release
from prosparsity.models.zoo._transformer import (
    ImageTransformerPreset,
    OperandTap,
    attention_maps,
    block_attentions,
    retag_attentions,
)

if TYPE_CHECKING:  # pragma: no cover
    from prosparsity.models.releases import Release

__all__ = [
    "DIGITS_SPIKFORMER",
    "PRESETS",
    "DigitsSpikformer",
    "SpikformerPreset",
    "TappedSpikingSelfAttention",
    "add_operand_taps",
    "build_digits_spikformer",
    "evaluate",
    "make_digits_input",
    "train_digits_spikformer",
]

log = logging.getLogger(__name__)

VARIANT = "spikformer"


class TappedSpikingSelfAttention(SpikingSelfAttention):
    """spikingjelly's Spiking Self-Attention with operand taps (same function).

    ``forward`` follows ``SpikingSelfAttention.forward`` step by step (its own
    ``_ssa_kernel_torch`` does the products); q, k and v leave ``qkv_lif`` as
    ``[T, B, 3C, L]`` and are split and routed through ``q_tap``, ``k_tap``, ``v_tap`` as
    ``[T, B, L, C]``; the ``attn_lif`` output goes through ``attn_tap`` likewise.
    Create it with :func:`add_operand_taps`, not directly.
    """

    q_tap: OperandTap
    k_tap: OperandTap
    v_tap: OperandTap
    attn_tap: OperandTap

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 4:
            raise ValueError(f"expected [T, N, C, L] input, got shape {tuple(x_seq.shape)}")
        t, n, c, length = x_seq.shape
        qkv = self.qkv_lif(self.qkv_conv_bn(x_seq))  # [T, N, 3C, L]
        if qkv.shape[2] != 3 * self.dim:
            raise ValueError("tensor-parallel Spikformer shards are not supported by the taps")
        taps = (self.q_tap, self.k_tap, self.v_tap)
        parts = qkv.chunk(3, dim=2)
        q, k, v = (tap(part.transpose(2, 3)) for tap, part in zip(taps, parts, strict=True))
        qkv = torch.stack((q, k, v), dim=2).transpose(-1, -2)  # [T, N, 3, C, L]
        qkv = qkv.reshape(t, n, 3, self.num_heads, self.head_dim, length)
        x_seq = self._ssa_kernel_torch(qkv, self.scale)
        x_seq = self.attn_lif(x_seq).reshape(t, n, c, length)
        x_seq = self.attn_tap(x_seq.transpose(2, 3)).transpose(2, 3)
        return self.proj_lif(self.proj_conv_bn(x_seq))


def add_operand_taps(model: nn.Module) -> list[str]:
    """Give every ``SpikingSelfAttention`` of ``model`` its operand taps, in place.

    Returns:
        The module names of the tapped attention layers, in ``named_modules`` order.
    """
    return retag_attentions(model, SpikingSelfAttention, TappedSpikingSelfAttention)


# ---------------------------------------------------------------------------------------
# spikingjelly builders and the paper's configurations


@dataclass(frozen=True)
class SpikformerPreset(ImageTransformerPreset):
    """One Spikformer configuration (spikingjelly's ``Spikformer`` arguments).

    Attributes:
        name: registry name.
        description: one line for ``prosparsity models``.
        time_steps: default T.
        in_channels: input channels (3 RGB, 2 DVS polarities).
        img_size: input height = width in pixels.
        patch_size: 4 (CIFAR stem: pooling in the last two stages) or 16 (pooling in all).
        num_classes: classifier outputs.
        embed_dims: model width D.
        num_heads: attention heads.
        depths: transformer blocks.
        mlp_ratio: MLP hidden width / D.
        events: the default input is binary DVS-like event frames, not an image.
        builder: name of the spikingjelly factory in ``model.spikformer`` to call
            (``None``: the ``Spikformer`` class with all the fields above).
        dataset: what the default input is.
        release: the authors' model file whose checkpoints this configuration also
            loads (``cifar``, ``imagenet``, ``dvs``: :mod:`._official_spikformer`), or
            ``None``.
    """

    name: str
    description: str
    time_steps: int = 4
    in_channels: int = 3
    img_size: int = 32
    patch_size: int = 4
    num_classes: int = 10
    embed_dims: int = 384
    num_heads: int = 12
    depths: int = 4
    mlp_ratio: float = 4.0
    events: bool = False
    builder: str | None = None
    dataset: str = field(default="", compare=False)
    release: str | None = field(default=None, compare=False)

    family: ClassVar[str] = "spikformer"
    variant: ClassVar[str] = VARIANT

    @property
    def seq_len(self) -> int:
        """Tokens per sample: ``(img_size / patch_size) ** 2``."""
        return (self.img_size // self.patch_size) ** 2

    def build(self, time_steps: int | None = None, **options: Any) -> nn.Module:
        """The model (random init, taps added). ``options`` override preset fields."""
        cfg = {
            "in_channels": self.in_channels,
            "img_size_h": self.img_size,
            "img_size_w": self.img_size,
            "patch_size": self.patch_size,
            "num_classes": self.num_classes,
            "embed_dims": self.embed_dims,
            "num_heads": self.num_heads,
            "depths": self.depths,
            "mlp_ratio": self.mlp_ratio,
        }
        unknown = set(options) - set(cfg)
        if unknown:
            raise TypeError(f"{self.name}: unknown build options {sorted(unknown)}")
        t = self._steps(time_steps)
        if self.builder is not None and not options:
            factory = getattr(sj_spikformer, self.builder)
            kwargs = {"num_classes": self.num_classes}
            if self.builder != "spikformer_cifar10":
                kwargs.update(
                    in_channels=self.in_channels, img_size_h=self.img_size, img_size_w=self.img_size
                )
            model = factory(T=t, **kwargs)
        else:
            model = sj_spikformer.Spikformer(T=t, **{**cfg, **options})
        add_operand_taps(model)
        return model

    def releases(self) -> tuple[Release, ...]:
        """The authors' release of :attr:`release`'s file at this configuration."""
        if self.release is None:
            return ()
        name = "zk-zhou-" + {"cifar": "cifar", "imagenet": "imagenet", "dvs": "cifar10dvs"}[
            self.release]
        return (zhou_release(
            name, self.release, time_steps=self.time_steps, in_channels=self.in_channels,
            num_classes=self.num_classes, embed_dims=self.embed_dims,
            num_heads=self.num_heads, depths=self.depths, seq_len=self.seq_len,
            mlp_ratio=self.mlp_ratio,
        ),)


_CIFAR = "random CIFAR-shaped images (3x32x32)"
_DVS = "random DVS-shaped events (2x128x128, p=0.05)"
_IMAGENET = "random ImageNet-shaped images (3x224x224)"

PRESETS: tuple[SpikformerPreset, ...] = (
    SpikformerPreset(
        "spikformer-cifar10",
        "Spikformer-4-384, CIFAR-10 (paper; spikingjelly spikformer_cifar10)",
        builder="spikformer_cifar10",
        dataset=_CIFAR,
        release="cifar",
    ),
    SpikformerPreset(
        "spikformer-cifar100",
        "Spikformer-4-384, CIFAR-100 (paper; spikingjelly spikformer_cifar10)",
        num_classes=100,
        builder="spikformer_cifar10",
        dataset=_CIFAR,
        release="cifar",
    ),
    SpikformerPreset(
        "spikformer-cifar10dvs",
        "Spikformer-2-256, CIFAR10-DVS (paper; spikingjelly Spikformer)",
        time_steps=16,
        in_channels=2,
        img_size=128,
        patch_size=16,
        embed_dims=256,
        num_heads=16,
        depths=2,
        events=True,
        dataset=_DVS,
        release="dvs",
    ),
    SpikformerPreset(
        "spikformer-ti",
        "Spikformer-4-256, ImageNet (spikingjelly spikformer_ti)",
        img_size=224,
        patch_size=16,
        num_classes=1000,
        embed_dims=256,
        num_heads=8,
        builder="spikformer_ti",
        dataset=_IMAGENET,
        release="imagenet",
    ),
    SpikformerPreset(
        "spikformer-s",
        "Spikformer-6-384, ImageNet (spikingjelly spikformer_s)",
        img_size=224,
        patch_size=16,
        num_classes=1000,
        embed_dims=384,
        num_heads=12,
        depths=6,
        builder="spikformer_s",
        dataset=_IMAGENET,
        release="imagenet",
    ),
    SpikformerPreset(
        "spikformer-8-512",
        "Spikformer-8-512, ImageNet (the authors' imagenet/model.py default; spikingjelly)",
        img_size=224,
        patch_size=16,
        num_classes=1000,
        embed_dims=512,
        num_heads=8,
        depths=8,
        dataset=_IMAGENET,
        release="imagenet",
    ),
)

for _preset in PRESETS:
    register_model(_preset.entry())


# ---------------------------------------------------------------------------------------
# digits-spikformer: a small Spikformer trained on scikit-learn's digits


class DigitsSpikformer(nn.Module):
    """A small Spikformer for 8x8 digit images, made of spikingjelly's Spikformer parts.

    Stem: ``SpikformerConv2dBNLIF`` 1 -> D/2 (8x8, reads the analog image), then
    D/2 -> D with max-pooling to 4x4 (16 tokens of 2x2 pixels), plus a relative position
    embedding ``x + SpikformerConv2dBNLIF(D -> D)(x)``, as in Spikformer's SPS. Then
    ``depths`` ``SpikformerBlock`` s (Spiking Self-Attention + MLP) and a linear classifier
    on the token-averaged features, averaged over time.

    Args:
        time_steps: T used for a static ``[N, 1, 8, 8]`` input.
        embed_dims: width D.
        num_heads: attention heads.
        depths: transformer blocks.
        mlp_ratio: MLP hidden width / D.
        num_classes: 10 digits.

    Input ``[T, N, 1, 8, 8]`` (or ``[N, 1, 8, 8]``, repeated over T), pixels in [0, 1];
    output logits ``[N, num_classes]``.
    """

    def __init__(
        self,
        time_steps: int = 4,
        embed_dims: int = 64,
        num_heads: int = 4,
        depths: int = 2,
        mlp_ratio: float = 2.0,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.T = time_steps
        conv_lif = sj_spikformer.SpikformerConv2dBNLIF
        self.stem = nn.Sequential(
            conv_lif(1, embed_dims // 2, 3, padding=1),
            conv_lif(embed_dims // 2, embed_dims, 3, padding=1, pool=True),
        )
        self.rpe = conv_lif(embed_dims, embed_dims, 3, padding=1)
        self.blocks = nn.ModuleList(
            sj_spikformer.SpikformerBlock(embed_dims, num_heads, mlp_ratio) for _ in range(depths)
        )
        self.head = layer.Linear(embed_dims, num_classes, step_mode="m")
        functional.set_step_mode(self, "m")
        add_operand_taps(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        if x.ndim != 5:
            raise ValueError(f"expected [T, N, 1, 8, 8] or [N, 1, 8, 8], got {tuple(x.shape)}")
        x = self.stem(x)
        x = x + self.rpe(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.flatten(3).mean(-1)).mean(0)


DIGITS_CONFIG: dict[str, Any] = {
    "embed_dims": 64,
    "num_heads": 4,
    "depths": 2,
    "mlp_ratio": 2.0,
}
DIGITS_TIME_STEPS = 4
DIGITS_SEQ_LEN = 16


def build_digits_spikformer(time_steps: int = DIGITS_TIME_STEPS, **options: Any) -> nn.Module:
    """The ``digits-spikformer`` network (random init); ``options`` override
    :data:`DIGITS_CONFIG`."""
    return DigitsSpikformer(time_steps=time_steps, **{**DIGITS_CONFIG, **options})


def make_digits_input(
    samples: int = 1, time_steps: int = DIGITS_TIME_STEPS, seed: int = 0
) -> torch.Tensor:
    """The first ``samples`` test-split digits, ``[T, N, 1, 8, 8]`` (``seed`` unused: the
    test split is fixed)."""
    return _training.make_digits_input(samples, time_steps, seed)


evaluate = _training.evaluate


def train_digits_spikformer(
    out_dir: str | Path, seed: int = 0, epochs: int = 4, batch_size: int = 64
) -> dict[str, Any]:
    """Train ``digits-spikformer`` on the digits train split; write
    ``digits-spikformer.safetensors``.

    Adam (lr 2e-3, cosine decay), cross-entropy on the time-averaged logits, surrogate
    gradients of spikingjelly's LIF neurons, BPTT over T = 4
    (:func:`~prosparsity.models.zoo._training.train_classifier`).

    Returns:
        ``test_accuracy``, ``train_accuracy``, ``epochs``, ``seed``, ``parameters``,
        ``train_seconds``.
    """
    return _training.train_classifier(
        "digits-spikformer", build_digits_spikformer, _training.digits_tensors, out_dir, seed,
        epochs=epochs, batch_size=batch_size,
    )


_DIGITS_OPERANDS, _DIGITS_ATTENTIONS = attention_maps(
    block_attentions(DIGITS_CONFIG["depths"]),
    dim=DIGITS_CONFIG["embed_dims"],
    seq_len=DIGITS_SEQ_LEN,
    heads=DIGITS_CONFIG["num_heads"],
    variant=VARIANT,
)

DIGITS_SPIKFORMER = register_model(
    ModelEntry(
        name="digits-spikformer",
        family="spikformer",
        description="small Spikformer (2 blocks, D=64, 16 tokens) trained on sklearn digits",
        build=build_digits_spikformer,
        make_input=make_digits_input,
        time_steps=DIGITS_TIME_STEPS,
        dataset=DIGITS_DATASET,
        checkpoint="digits-spikformer.safetensors",
        attention_operands=_DIGITS_OPERANDS,
        attentions=_DIGITS_ATTENTIONS,
        trainer=train_digits_spikformer,
    )
)
