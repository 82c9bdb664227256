"""Pieces shared by the transformer adapters (Spikformer, SDT, SpikeBERT).

The capture engine records the OUTPUT of the modules named in
``ModelEntry.attention_operands``. spikingjelly's attention layers compute q, k and v
inside one module (Spikformer's single ``qkv_lif``) or in a channel-first image layout
(SDT's ``[T, B, C, H, W]``), so the adapters route each operand through an
:class:`OperandTap`: an identity module whose output is that operand in the layout every
trace uses for attention, ``[T, B, L, D]`` (tokens, then features with the heads
concatenated head-major: feature ``h * head_dim + j``), the layout of the authors' dumps
(``NAME_q`` etc. shaped ``(T, L, D)``).

Operands (``ModelEntry.attention_operands`` values):

* ``q``, ``k``, ``v``: the spike outputs of the query/key/value neurons;
* ``attn``: the spiking result of the attention, the spike tensor the projection layer
  consumes. Spikformer/SpikeBERT: ``attn_lif((Q K^T) V * scale)``; SDT:
  ``Q * attn_lif(sum_L(K * V))`` (the "attention-by-value product" in each model's own
  spike-driven form).

Taps have no parameters or buffers: a model's state dict is the same with and without them.

The family presets (``SpikformerPreset``, ``SDTPreset``, ``SpikeBertPreset``) derive from
:class:`TransformerPreset` (capture maps and registry entry of ``blocks.{i}.attn``) and,
for the vision models, :class:`ImageTransformerPreset` (random image / event input);
each family module keeps only its fields, ``build`` and what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from prosparsity.models.registry import ModelEntry

if TYPE_CHECKING:  # pragma: no cover
    from prosparsity.models.releases import Release

__all__ = [
    "OPERANDS",
    "ImageTransformerPreset",
    "OperandTap",
    "TransformerPreset",
    "add_taps",
    "attention_maps",
    "block_attentions",
    "retag_attentions",
    "tap_names",
]

OPERANDS: tuple[str, ...] = ("q", "k", "v", "attn")
"""The attention operands every transformer adapter exposes, in execution order."""


class OperandTap(nn.Identity):
    """An identity module marking an attention operand ``[T, B, L, D]`` for capture.

    Args:
        operand: which operand passes through it (one of :data:`OPERANDS`).
    """

    def __init__(self, operand: str) -> None:
        if operand not in OPERANDS:
            raise ValueError(f"OperandTap.operand: {operand!r} is not one of {OPERANDS}")
        super().__init__()
        self.operand = operand

    def extra_repr(self) -> str:
        return f"operand={self.operand}"


def add_taps(module: nn.Module) -> None:
    """Register the four :class:`OperandTap` s of an attention module as ``q_tap`` ...
    ``attn_tap``, in place."""
    for op in OPERANDS:
        module.add_module(f"{op}_tap", OperandTap(op))


def retag_attentions(model: nn.Module, base: type[nn.Module], tapped: type[nn.Module]) -> list[str]:
    """Re-class every ``base`` module of ``model`` to ``tapped`` and give it its taps, in place.

    ``tapped`` must subclass ``base`` without new parameters or buffers (the state dict is
    unchanged); modules already ``tapped`` are left as they are.

    Returns:
        The module names of the tapped attention layers, in ``named_modules`` order.
    """
    names = []
    for name, module in model.named_modules():
        if isinstance(module, base):
            if not isinstance(module, tapped):
                module.__class__ = tapped
                add_taps(module)
            names.append(name)
    return names


def block_attentions(depths: int) -> list[str]:
    """Module names of the attention layers of ``depths`` blocks: ``blocks.{i}.attn``."""
    return [f"blocks.{i}.attn" for i in range(depths)]


def tap_names(attention: str) -> dict[str, str]:
    """Module names of the four taps of the attention module called ``attention``."""
    return {op: f"{attention}.{op}_tap" for op in OPERANDS}


def attention_maps(
    attentions: Sequence[str],
    *,
    dim: int,
    seq_len: int,
    heads: int,
    variant: str,
    operand_modules: Mapping[str, str] | None = None,
) -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, Any]]]:
    """``(attention_operands, attentions)`` of a :class:`~prosparsity.models.registry.ModelEntry`.

    Args:
        attentions: module names of the attention layers, in execution order; each is
            also the name of its ``attention`` record.
        dim: model width (all heads).
        seq_len: tokens per sample.
        heads: attention heads.
        variant: attention flavour as the paper's simulator names it
            (``spikformer``, ``sdt``, ``spikebert``).
        operand_modules: operand -> module name relative to the attention module
            (default: the taps, ``q_tap`` ...).

    Returns:
        module name -> ``(attention, operand)``, and attention -> record parameters.
    """
    rel = dict(operand_modules or {op: f"{op}_tap" for op in OPERANDS})
    operands = {f"{a}.{rel[op]}": (a, op) for a in attentions for op in OPERANDS}
    params = {
        a: {"dim": dim, "seq_len": seq_len, "heads": heads, "variant": variant} for a in attentions
    }
    return operands, params


class TransformerPreset:
    """What the transformer presets (frozen dataclasses) share: the capture maps of their
    ``blocks.{i}.attn`` layers and their registry entry.

    A subclass is a dataclass with the fields below and sets :attr:`family`,
    :attr:`variant` and, where they differ from the defaults, :attr:`operand_modules` and
    :attr:`input_batch_axis`; it implements ``build``, ``make_input`` and
    :meth:`_attention_dims`.
    """

    family: ClassVar[str]
    """``ModelEntry.family``."""
    variant: ClassVar[str]
    """Attention flavour of the ``attention`` records (see :func:`attention_maps`)."""
    operand_modules: ClassVar[Mapping[str, str] | None] = None
    """Operand -> module relative to the attention module (default: the taps)."""
    input_batch_axis: ClassVar[int] = 1
    """``ModelEntry.input_batch_axis``."""

    # Dataclass fields every subclass has.
    name: str
    description: str
    time_steps: int
    depths: int
    dataset: str

    @property
    def seq_len(self) -> int:
        """Tokens per sample."""
        raise NotImplementedError

    def _attention_dims(self) -> tuple[int, int]:
        """``(dim, heads)``: model width (all heads) and attention heads."""
        raise NotImplementedError

    def _steps(self, time_steps: int | None) -> int:
        """``time_steps``, or the preset's default T when it is ``None``."""
        return self.time_steps if time_steps is None else int(time_steps)

    def build(self, time_steps: int | None = None, **options: Any) -> nn.Module:
        """The model (random init)."""
        raise NotImplementedError

    def make_input(
        self, samples: int = 1, time_steps: int | None = None, seed: int = 0
    ) -> torch.Tensor:
        """The default input of ``samples`` samples."""
        raise NotImplementedError

    def capture_maps(
        self,
    ) -> tuple[dict[str, tuple[str, str]], dict[str, dict[str, Any]]]:
        """``(attention_operands, attentions)`` of this configuration, as
        :class:`~prosparsity.models.capture.CaptureConfig` takes them (the operands of
        every block's attention, ``blocks.{i}.attn``)."""
        dim, heads = self._attention_dims()
        return attention_maps(
            block_attentions(self.depths),
            dim=dim,
            seq_len=self.seq_len,
            heads=heads,
            variant=self.variant,
            operand_modules=self.operand_modules,
        )

    def releases(self) -> tuple[Release, ...]:
        """The published checkpoint layouts this configuration loads besides its own
        (``ModelEntry.releases``); none unless the family says otherwise."""
        return ()

    def entry(self) -> ModelEntry:
        """The registry entry of this preset."""
        operands, attentions = self.capture_maps()
        return ModelEntry(
            name=self.name,
            family=self.family,
            description=self.description,
            build=self.build,
            make_input=self.make_input,
            time_steps=self.time_steps,
            dataset=self.dataset,
            attention_operands=operands,
            attentions=attentions,
            input_batch_axis=self.input_batch_axis,
            releases=self.releases(),
        )


class ImageTransformerPreset(TransformerPreset):
    """A :class:`TransformerPreset` of a vision transformer (Spikformer, SDT): fields
    ``in_channels``, ``img_size``, ``events``, ``embed_dims``, ``num_heads``; operand taps."""

    in_channels: int
    img_size: int
    events: bool
    embed_dims: int
    num_heads: int

    def _attention_dims(self) -> tuple[int, int]:
        return self.embed_dims, self.num_heads

    def make_input(
        self, samples: int = 1, time_steps: int | None = None, seed: int = 0
    ) -> torch.Tensor:
        """Random input ``[T, N, C, H, W]``: uniform pixels in [0, 1) repeated over T, or
        Bernoulli(0.05) event frames drawn per time step."""
        t = self._steps(time_steps)
        gen = torch.Generator().manual_seed(seed)
        shape = (samples, self.in_channels, self.img_size, self.img_size)
        if self.events:
            return (torch.rand((t, *shape), generator=gen) < 0.05).float()
        return torch.rand(shape, generator=gen).unsqueeze(0).repeat(t, 1, 1, 1, 1)
