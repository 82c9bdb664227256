"""GEMM shapes of spiking layers (spec §1).

Every spiking layer that multiplies spikes by weights is one GEMM
``S (M x K, binary) x W (K x N) -> O (M x N)``:

* linear, input ``(T, B, L, K)``, ``(T, L, K)`` or ``(T, K)``: ``M = T * B * L`` (all rows
  but the feature axis), ``K = in_features``, ``N = out_features``, ``kernel = 1``.
* conv2d, input ``(T, [B,] C, H, W)``, kernel ``k``, stride ``s``, padding ``p``,
  dilation ``d``: ``H' = (H + 2p - d(k - 1) - 1) // s + 1`` (same for ``W'``),
  ``M = T * B * H' * W'``, ``K = (C / groups) * k * k``, ``N = out_channels / groups``.
* conv1d, input ``(T, [B,] C, L)``: as conv2d with one spatial axis, ``K = (C / groups) * k``.

For ``groups > 1`` the layer is ``groups`` independent GEMMs of that (per-group) shape;
:attr:`GemmShape.groups` says how many. Shapes come from the record's stored input shape
and layout when present, otherwise from its parameters (``time_steps``, ``batch``,
``seq_len``, ``input_hw``/``input_len``), so that workload records without data have a
GEMM shape too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = ["GemmShape", "attention_gemm_shapes", "conv_output_size", "gemm_shape"]


@dataclass(frozen=True)
class GemmShape:
    """The GEMM ``M x K`` spikes times ``K x N`` weights of one layer (per group).

    Attributes:
        m: rows (time steps x batch x tokens, or time steps x batch x output pixels).
        k: reduction length (input features, or in-channels x kernel area).
        n: output features / channels.
        kernel: convolution kernel size ``k`` (1 for linear layers); the authors' DRAM
            model divides the im2col spike traffic by ``kernel ** 2`` (spec §5).
        groups: independent GEMMs of this shape (grouped convolution), usually 1.
    """

    m: int
    k: int
    n: int
    kernel: int = 1
    groups: int = 1

    def __post_init__(self) -> None:
        for name in ("m", "k", "n", "kernel", "groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "m" else 1):
                raise ConfigError(f"GemmShape.{name}", f"must be a positive integer, got {value!r}")

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates ``groups * M * K * N``."""
        return self.groups * self.m * self.k * self.n


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution: ``(size + 2p - d(k - 1) - 1) // s + 1``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _int_param(
    record: LayerRecord, params: Mapping[str, Any], key: str, default: Any = None
) -> int:
    value = params.get(key, default)
    if value is None:
        raise ConfigError(
            f"{record.name}.params.{key}", f"missing (needed for a {record.kind} GEMM)"
        )
    if isinstance(value, tuple | list):
        if len(set(value)) != 1:
            raise ConfigError(
                f"{record.name}.params.{key}", f"non-square values {tuple(value)} are not supported"
            )
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{record.name}.params.{key}", f"must be an integer, got {value!r}")
    return value


def _axis(record: LayerRecord, name: str) -> int | None:
    axes = record.axes
    if record.shape and name in axes and len(axes) == len(record.shape):
        return record.shape[axes.index(name)]
    return None


def _outer_rows(record: LayerRecord, keep: tuple[str, ...]) -> int:
    """Product of the time and batch axes (from shape+layout, else from params)."""
    if record.shape and record.axes and len(record.axes) == len(record.shape):
        return math.prod(s for a, s in zip(record.axes, record.shape, strict=True) if a not in keep)
    params = record.params
    return _int_param(record, params, "time_steps", 1) * _int_param(record, params, "batch", 1)


def gemm_shape(record: LayerRecord) -> GemmShape:
    """The GEMM shape of a linear, conv1d or conv2d record (spec §1).

    Raises:
        ConfigError: for other kinds, or missing / inconsistent parameters (the error
            names ``<layer>.params.<field>``).
    """
    p = record.params
    if record.kind is LayerKind.LINEAR:
        k = _int_param(record, p, "in_features")
        n = _int_param(record, p, "out_features")
        if record.shape:
            if record.shape[-1] != k:
                raise ConfigError(
                    f"{record.name}.shape",
                    f"last axis {record.shape[-1]} differs from in_features {k}",
                )
            m = math.prod(record.shape[:-1])
        else:
            m = (
                _int_param(record, p, "time_steps", 1)
                * _int_param(record, p, "batch", 1)
                * _int_param(record, p, "seq_len", 1)
            )
        return GemmShape(m=m, k=k, n=n, kernel=1)

    if record.kind in (LayerKind.CONV2D, LayerKind.CONV1D):
        two_d = record.kind is LayerKind.CONV2D
        cin = _int_param(record, p, "in_channels")
        cout = _int_param(record, p, "out_channels")
        ksz = _int_param(record, p, "kernel")
        stride = _int_param(record, p, "stride", 1)
        pad = _int_param(record, p, "padding", 0)
        dil = _int_param(record, p, "dilation", 1)
        groups = _int_param(record, p, "groups", 1)
        if cin % groups or cout % groups:
            raise ConfigError(
                f"{record.name}.params.groups",
                f"{groups} does not divide in_channels {cin} and out_channels {cout}",
            )
        c_axis = _axis(record, "C")
        if c_axis is not None and c_axis != cin:
            raise ConfigError(
                f"{record.name}.shape", f"channel axis {c_axis} differs from in_channels {cin}"
            )
        if two_d:
            h = _axis(record, "H")
            w = _axis(record, "W")
            if h is None or w is None:
                h = w = _int_param(record, p, "input_hw")
            outs = [conv_output_size(x, ksz, stride, pad, dil) for x in (h, w)]
            area = ksz * ksz
            keep: tuple[str, ...] = ("C", "H", "W")
        else:
            length = _axis(record, "L")
            if length is None:
                length = _int_param(record, p, "input_len")
            outs = [conv_output_size(length, ksz, stride, pad, dil)]
            area = ksz
            keep = ("C", "L")
        if min(outs) < 1:
            raise ConfigError(f"{record.name}.params.kernel", "kernel larger than the padded input")
        spatial = math.prod(outs)
        rows = _outer_rows(record, keep)
        return GemmShape(
            m=rows * spatial, k=cin // groups * area, n=cout // groups, kernel=ksz, groups=groups
        )

    hint = (
        " (attention blocks: use attention_gemm_shapes)"
        if record.kind
        in (
            LayerKind.ATTENTION,
            LayerKind.ATTENTION_OPERAND,
        )
        else ""
    )
    raise ConfigError(
        f"{record.name}.kind",
        f"no GEMM shape rule for kind '{record.kind}' (handled: linear, conv1d, conv2d){hint}",
    )


def attention_gemm_shapes(record: LayerRecord) -> tuple[GemmShape, ...]:
    """The spiking GEMMs of an attention record, as the Prosperity authors model them.

    One GEMM per time step, sample and head (``groups = T * B * heads`` of each shape),
    with ``dh = dim / heads`` (see :mod:`prosparsity.analysis.attention`):

    * ``spikformer`` / ``spikebert``: ``kv`` with ``M = min(L, dh)``, ``K = max(L, dh)``,
      ``N = min(L, dh)``, then ``qkv`` with ``M = max(L, dh)``, ``K = N = min(L, dh)``;
    * ``spikingbert``: ``qk`` (``M = L``, ``K = dh``, ``N = L``) and ``sv`` (``M = dh``,
      ``K = L``, ``N = L``);
    * ``sdt``: none (its attention uses masks and additions, no spiking GEMM).

    Raises:
        ConfigError: for a record that is not an attention block, or bad parameters.
    """
    if record.kind is not LayerKind.ATTENTION:
        raise ConfigError(f"{record.name}.kind", f"not an attention record: '{record.kind}'")
    p = record.params
    dim = _int_param(record, p, "dim")
    heads = _int_param(record, p, "heads")
    seq = _int_param(record, p, "seq_len")
    if heads < 1 or dim % heads:
        raise ConfigError(f"{record.name}.params.heads", f"{heads} does not divide dim {dim}")
    dh = dim // heads
    copies = _int_param(record, p, "time_steps", 1) * _int_param(record, p, "batch", 1) * heads
    variant = p.get("variant")
    if variant in ("spikformer", "spikebert"):
        big, small = max(seq, dh), min(seq, dh)
        return (
            GemmShape(m=small, k=big, n=small, groups=copies),
            GemmShape(m=big, k=small, n=small, groups=copies),
        )
    if variant == "spikingbert":
        return (
            GemmShape(m=seq, k=dh, n=seq, groups=copies),
            GemmShape(m=dh, k=seq, n=seq, groups=copies),
        )
    if variant == "sdt":
        return ()
    raise ConfigError(f"{record.name}.params.variant", f"unknown attention variant {variant!r}")
