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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

__all__ = ["OPERANDS", "OperandTap", "attention_maps", "tap_names"]

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
