"""Records being collected, and their parameters read from the modules that made them.

An :class:`Item` is one record of the trace in the making: its kind and parameters, and,
for a GEMM or an attention operand, the stored axis order and shape after ``T, B``. The
``describe_*`` functions turn a module and the per-sample shape of its tensor into the
parameters the trace format defines (:mod:`prosparsity.traces.params`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from prosparsity.models.engine.config import CaptureError
from prosparsity.models.engine.layout import Reading
from prosparsity.models.engine.values import Values
from prosparsity.traces.schema import LayerKind

__all__ = [
    "CORE_RANK",
    "Item",
    "conv_params",
    "describe_gemm",
    "describe_operand",
    "pair",
    "square",
]

OPERAND_AXES = {2: "L,D", 3: "H,L,D"}
CORE_RANK = {LayerKind.CONV2D: 3, LayerKind.CONV1D: 2}
"""Rank of one sample's input at one step, per GEMM kind (``None``: Linear, any rank)."""


@dataclass
class Item:
    """A record being collected.

    GEMM items hand each forward pass's data to the store; under per-step calls they
    first gather one packed piece per call (``steps``), stacked time-first when the
    forward returns. Neuron items count spikes and elements (``counts`` per call, summed
    when the forward returns).
    """

    key: str
    kind: LayerKind
    params: dict[str, Any]
    gemm: bool
    layout: str = ""
    tail: tuple[int, ...] = ()  # stored shape after T, B
    perm: tuple[int, ...] = ()  # axis order after T, B (attention operands)
    steps: list[Values] = field(default_factory=list)
    counts: list[tuple[torch.Tensor, int]] = field(default_factory=list)
    spikes: int = 0
    elements: int = 0
    forwards: int = 0  # forward passes that delivered data
    reading: Reading | None = None  # how its layer saw the tensor (observed)
    seen: str = ""  # the reading, in words
    multilevel: bool = False  # its last tensor held sums of spikes

    def arrange(self, x: torch.Tensor, time_first: bool) -> torch.Tensor:
        """``[T, b, ...]`` (or one step ``[b, ...]``) data in the stored axis order."""
        lead = 2 if time_first else 1
        if self.perm:
            x = x.permute(*range(lead), *(lead + p for p in self.perm))
        return x.reshape(*x.shape[:lead], *self.tail)  # merges token axes of Linear inputs


def pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def square(v: Sequence[int]) -> int | tuple[int, ...]:
    """An int for square sizes (the paper's convention), a tuple otherwise."""
    v = tuple(int(x) for x in v)
    return v[0] if len(set(v)) == 1 else v


def conv_params(mod: nn.Module, dims: int, key: str) -> dict[str, Any]:
    assert isinstance(mod, nn.Conv1d | nn.Conv2d)
    padding: Any = mod.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * dims
        else:  # "same": torch pads (dilation*(k-1))//2 on the left
            padding = tuple(
                d * (k - 1) // 2 for d, k in zip(mod.dilation, mod.kernel_size, strict=True)
            )
    one = (lambda v: int(v[0])) if dims == 1 else square
    if getattr(mod, "padding_mode", "zeros") != "zeros":
        raise CaptureError(key, f"padding_mode {mod.padding_mode!r} is not a zero padding")
    return {
        "in_channels": mod.in_channels,
        "out_channels": mod.out_channels,
        "kernel": one(mod.kernel_size),
        "stride": one(mod.stride),
        "padding": one(padding),
        "dilation": one(mod.dilation),
        "groups": mod.groups,
    }


def describe_gemm(key: str, kind: LayerKind, mod: nn.Module, tail: tuple[int, ...]) -> Item:
    """The record of a Linear / Conv1d / Conv2d input of per-sample shape ``tail``."""
    if kind is LayerKind.CONV2D:
        if len(tail) != 3:
            raise CaptureError(key, f"Conv2d input per sample {tail} is not C,H,W")
        params = {**conv_params(mod, 2, key), "input_hw": square(tail[1:3])}
        return Item(key, kind, params, True, "T,B,C,H,W", tail)
    if kind is LayerKind.CONV1D:
        if len(tail) != 2:
            raise CaptureError(key, f"Conv1d input per sample {tail} is not C,L")
        params = {**conv_params(mod, 1, key), "input_len": tail[1]}
        return Item(key, kind, params, True, "T,B,C,L", tail)
    assert isinstance(mod, nn.Linear)
    linear: dict[str, Any] = {"in_features": mod.in_features, "out_features": mod.out_features}
    if len(tail) == 1:
        return Item(key, kind, linear, True, "T,B,K", tail)
    tokens = math.prod(tail[:-1])
    linear["seq_len"] = tokens
    return Item(key, kind, linear, True, "T,B,L,K", (tokens, tail[-1]))


def describe_operand(
    key: str,
    tail: tuple[int, ...],
    spec: tuple[str, ...],
    declared: Mapping[str, Any] | None,
) -> Item:
    """The record of a declared attention operand (``spec``: ``(attention, operand[,
    axes])``) of per-sample shape ``tail``; ``declared``: its attention's record
    parameters, which override the shape's ``dim``, ``seq_len``, ``heads``."""
    attention, operand = spec[0], spec[1]
    axes = spec[2] if len(spec) > 2 else OPERAND_AXES.get(len(tail), "")
    names = [a.strip() for a in axes.split(",") if a.strip()]
    if len(names) != len(tail) or sorted(set(names)) not in (["D", "L"], ["D", "H", "L"]):
        raise CaptureError(
            key,
            f"attention operand of per-sample shape {tail}: axes {axes!r} must name "
            "L and D (and optionally H) once each",
        )
    order = [n for n in ("H", "L", "D") if n in names]
    size = dict(zip(names, tail, strict=True))
    heads = size.get("H", 1)
    params: dict[str, Any] = {
        "operand": operand,
        "attention": attention,
        "dim": heads * size["D"],
        "seq_len": size["L"],
        "heads": heads,
    }
    if declared is not None:
        params.update({k: declared[k] for k in ("dim", "seq_len", "heads") if k in declared})
    return Item(
        key,
        LayerKind.ATTENTION_OPERAND,
        params,
        True,
        "T,B," + ",".join(order),
        tuple(size[n] for n in order),
        tuple(names.index(n) for n in order),
    )
