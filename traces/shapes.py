"""GEMM shapes of spiking layers (the paper's spiking GEMM, docs/analysis.md).

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
from dataclasses import dataclass

from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import AttentionParams, AttentionVariant, ConvParams, LinearParams
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
            model divides the im2col spike traffic by ``kernel ** 2`` (docs/prosperity-model.md).
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


def _axis(record: LayerRecord, name: str) -> int | None:
    axes = record.axes
    if record.shape and name in axes and len(axes) == len(record.shape):
        return record.shape[axes.index(name)]
    return None


def _outer_rows(record: LayerRecord, keep: tuple[str, ...]) -> int:
    """Product of the time and batch axes (from shape+layout, else from params)."""
    if record.shape and record.axes and len(record.axes) == len(record.shape):
        return math.prod(s for a, s in zip(record.axes, record.shape, strict=True) if a not in keep)
    return record.parsed.time_steps_or(1) * record.parsed.batch_or(1)


def gemm_shape(record: LayerRecord) -> GemmShape:
    """The GEMM shape of a linear, conv1d or conv2d record (the paper's spiking GEMM,
    docs/analysis.md).

    Raises:
        ConfigError: for other kinds, or missing / inconsistent parameters (the error
            names ``<layer>.params.<field>``).
    """
    if record.kind is LayerKind.LINEAR:
        p = record.parsed
        assert isinstance(p, LinearParams)
        k = p.require("in_features", f"a {record.kind} GEMM")
        n = p.require("out_features", f"a {record.kind} GEMM")
        if record.shape:
            if record.shape[-1] != k:
                raise ConfigError(
                    f"{record.name}.shape",
                    f"last axis {record.shape[-1]} differs from in_features {k}",
                )
            m = math.prod(record.shape[:-1])
        else:
            m = p.time_steps_or(1) * p.batch_or(1) * (p.seq_len or 1)
        return GemmShape(m=m, k=k, n=n, kernel=1)

    if record.kind in (LayerKind.CONV2D, LayerKind.CONV1D):
        c = record.parsed
        assert isinstance(c, ConvParams)
        two_d = record.kind is LayerKind.CONV2D
        need = f"a {record.kind} GEMM"
        cin = c.require("in_channels", need)
        cout = c.require("out_channels", need)
        ksz = c.require("kernel", need)
        if cin % c.groups or cout % c.groups:
            raise ConfigError(
                f"{record.name}.params.groups",
                f"{c.groups} does not divide in_channels {cin} and out_channels {cout}",
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
                h, w = c.require("input_hw", need)
            outs = [conv_output_size(x, ksz, c.stride, c.padding, c.dilation) for x in (h, w)]
            area = ksz * ksz
            keep: tuple[str, ...] = ("C", "H", "W")
        else:
            length = _axis(record, "L")
            if length is None:
                length = c.require("input_len", need)
            outs = [conv_output_size(length, ksz, c.stride, c.padding, c.dilation)]
            area = ksz
            keep = ("C", "L")
        if min(outs) < 1:
            raise ConfigError(f"{record.name}.params.kernel", "kernel larger than the padded input")
        spatial = math.prod(outs)
        rows = _outer_rows(record, keep)
        return GemmShape(
            m=rows * spatial,
            k=cin // c.groups * area,
            n=cout // c.groups,
            kernel=ksz,
            groups=c.groups,
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
    a = record.parsed
    assert isinstance(a, AttentionParams)
    need = "an attention block"
    dim = a.require("dim", need)
    heads = a.require("heads", need)
    seq = a.require("seq_len", need)
    if dim % heads:
        raise ConfigError(f"{record.name}.params.heads", f"{heads} does not divide dim {dim}")
    dh = dim // heads
    copies = a.time_steps_or(1) * a.batch_or(1) * heads
    variant = a.require("variant", need)
    if variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
        big, small = max(seq, dh), min(seq, dh)
        return (
            GemmShape(m=small, k=big, n=small, groups=copies),
            GemmShape(m=big, k=small, n=small, groups=copies),
        )
    if variant is AttentionVariant.SPIKINGBERT:
        return (
            GemmShape(m=seq, k=dh, n=seq, groups=copies),
            GemmShape(m=dh, k=seq, n=seq, groups=copies),
        )
    return ()  # sdt: masks and additions, no spiking GEMM
