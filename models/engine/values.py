"""Spike values of a tensor: levels checked once, bits packed by torch on the tensor's own
device, and only the packed bytes copied to the host.

A GEMM input is spikes when every value is a non-negative integer (0..255). The check
runs once per tensor, on the tensor as the layer saw it (:func:`check`): binary data
(the common case) becomes a ``bool`` tensor, sums of spikes a ``uint8`` tensor with their
value levels, anything else is analog (``None``). For float32 it takes no element-wise
comparison (slow on the CPU): an ``aminmax`` of the bits bounds the values, an ``aminmax``
of ``frac(x)`` says whether they are whole, and only levels between the smallest and the
largest value need looking for (:func:`present_levels`). The one-byte tensor is then arranged
time-first by the caller (a view, cheap) and handed to :func:`to_host`, which packs
binary data along the last axis exactly as ``numpy.packbits`` does (most significant bit
first, zero padding) with a handful of torch operations, and copies the packed bytes to
the host: an eighth of the bool tensor, a thirty-second of the float one.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's own spelling

__all__ = [
    "Checked",
    "Values",
    "check",
    "count_nonzero",
    "pack_bits",
    "present_levels",
    "to_host",
]

# Eight bytes holding 0/1, read as one little-endian int64 ``sum(b_i << 8 i)``, times this
# constant gather the bits into the top byte as ``sum(b_i << (7 - i))``: packbits' order.
_GATHER = 0x8040201008040201 - (1 << 64)
_LITTLE = sys.byteorder == "little"
_WEIGHTS: dict[torch.device, torch.Tensor] = {}


@dataclass(frozen=True)
class Checked:
    """A tensor found to be spikes.

    Attributes:
        data: ``bool`` (binary) or ``uint8`` (sums of spikes), same shape and device as
            the tensor checked.
        levels: the values present when multi-level; ``None`` for binary data.
    """

    data: torch.Tensor
    levels: frozenset[int] | None

    @property
    def binary(self) -> bool:
        return self.levels is None


@dataclass(frozen=True)
class Values:
    """Host bytes of one piece of a record: bit-packed along the last axis or uint8.

    Attributes:
        data: the stored bytes.
        packed: whether ``data`` is ``np.packbits(values, axis=-1)``.
        width: the last axis's length before packing.
        levels: values present (``{0, 1}`` assumed for packed data).
    """

    data: np.ndarray
    packed: bool
    width: int
    levels: frozenset[int]

    def unpacked(self) -> np.ndarray:
        """The values as uint8."""
        if self.packed:
            return np.unpackbits(self.data, axis=-1, count=self.width)
        return self.data


def check(x: torch.Tensor, multilevel: bool = False) -> Checked | None:
    """``x`` as spikes (see the module docstring), or ``None`` when it is analog.

    float32 (the common case) is decided without element-wise comparisons (slow on the
    CPU): one ``aminmax`` of its bits read as int32 says whether every value lies in
    ``[+0.0, 255.0]`` (bit patterns ``0 .. 0x437F0000``); there, the values are whole
    exactly when ``frac(x) = x - trunc(x)`` (exact in floating point) is +0.0 everywhere,
    which one more ``aminmax`` says. Whole values up to 1.0 (bit patterns up to
    ``0x3F800000``) are binary; above, the smallest and largest values are levels and
    :func:`present_levels` tests only those between. A negative bit pattern other than
    -0.0's (a negative value, or a NaN with the sign bit) is analog at once, and so are
    values above 255, infinities and NaN. Other dtypes, and float32 holding -0.0: ``x``
    cast to ``bool`` and back must give ``x`` (binary), else cast to ``uint8`` and back
    (sums of spikes). ``multilevel``: try the ``uint8`` reading first (the layer's last
    tensor held sums of spikes). (Under ``torch.set_flush_denormal(True)`` a denormal
    reads as 0, as it does in any floating-point comparison there.)
    """
    if x.dtype == torch.bool:
        return Checked(x, None)
    if x.numel() == 0:
        return Checked(x.to(torch.bool), None)
    if x.is_complex():
        return None
    if x.dtype == torch.float32:
        y = _memory_order(x)
        lo, hi = _host(*torch.aminmax(y.view(torch.int32)))
        if (lo < 0 and lo != _NEG_ZERO_F32) or hi > _255_F32:
            return None
        if lo >= 0:
            if int(torch.aminmax(torch.frac(y).view(torch.int32))[1]) != 0:
                return None
            if hi <= _ONE_F32:
                return Checked(x.to(torch.bool), None)
            # float -> int16 -> uint8 is exact for whole values in 0..255, and on the CPU
            # twice as fast as torch's direct float -> uint8 cast
            u = x.to(torch.int16).to(torch.uint8)
            return Checked(u, present_levels(u, (_whole(lo), _whole(hi))))
    if not multilevel:
        b = x.to(torch.bool)
        if torch.equal(b.to(x.dtype), x):
            return Checked(b, None)
    if x.dtype.is_signed and not x.dtype.is_floating_point and int(x.min()) < 0:
        return None  # an int8 -1 casts to 255 and back to -1: no spike count is negative
    u = x.to(torch.uint8)
    if not torch.equal(u.to(x.dtype), x):
        return None
    levels = present_levels(u)
    if levels <= {0, 1}:
        return Checked(u.view(torch.bool), None)
    return Checked(u, levels)


def present_levels(u: torch.Tensor, bounds: tuple[int, int] | None = None) -> frozenset[int]:
    """The values present in a uint8 tensor.

    ``bounds``: its smallest and largest values when known (else one ``aminmax``). A value
    between them is present when ``min(u ^ value)`` is 0; past ``_FEW_LEVELS`` such
    values, one histogram instead.
    """
    if u.numel() == 0:
        return frozenset()
    u = _memory_order(u)
    first, last = bounds if bounds is not None else _host(*torch.aminmax(u))
    inner = range(first + 1, last)
    if len(inner) > _FEW_LEVELS:
        counts = torch.bincount(u.reshape(-1), minlength=2)
        return frozenset(int(v) for v in torch.nonzero(counts).reshape(-1).tolist())
    levels = {first, last}
    if inner:
        scratch = torch.empty_like(u)
        mins = [torch.aminmax(torch.bitwise_xor(u, v, out=scratch))[0] for v in inner]
        levels.update(v for v, m in zip(inner, _host(*mins), strict=True) if m == 0)
    return frozenset(levels)


def _memory_order(t: torch.Tensor) -> torch.Tensor:
    """``t`` with its axes in memory order (falling strides), a view: torch reduces a
    transposed tensor several times slower than the same data in memory order."""
    if t.is_contiguous():
        return t
    return t.permute(sorted(range(t.ndim), key=lambda d: -t.stride(d)))


def _whole(bits: int) -> int:
    """The float32 value of int32 bits (a whole number), as an int."""
    return int(_F32.unpack(_I32.pack(bits))[0])


def _host(*values: torch.Tensor) -> list[int]:
    """0-d integer tensors of one dtype as Python ints, in one copy to the host."""
    return torch.stack(values).tolist()


_ONE_F32 = 0x3F800000  # the bits of 1.0 in float32
_255_F32 = 0x437F0000  # the bits of 255.0 in float32
_NEG_ZERO_F32 = -(1 << 31)  # the bits of -0.0 in float32, read as int32
_FEW_LEVELS = 8  # values tested one by one by present_levels (past that, a histogram)
_I32, _F32 = struct.Struct("<i"), struct.Struct("<f")


def pack_bits(b: torch.Tensor) -> torch.Tensor:
    """``np.packbits(b, axis=-1)`` of a ``bool`` tensor, computed by torch on its device."""
    u = b.contiguous().view(torch.uint8)
    pad = (-u.shape[-1]) % 8
    if pad:
        u = F.pad(u, (0, pad))
    if u.numel() == 0:
        return u.reshape(*u.shape[:-1], u.shape[-1] // 8)
    if _LITTLE:
        if u.storage_offset() % 8:
            u = u.clone()
        v = u.view(torch.int64)
        return ((v * _GATHER) >> 56).to(torch.uint8)
    weights = _WEIGHTS.get(u.device)  # pragma: no cover - big-endian hosts
    if weights is None:  # pragma: no cover
        weights = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8, device=u.device)
        _WEIGHTS[u.device] = weights
    grouped = u.reshape(*u.shape[:-1], -1, 8)  # pragma: no cover
    return (grouped * weights).sum(-1, dtype=torch.uint8)  # pragma: no cover


def to_host(data: torch.Tensor, levels: frozenset[int] | None) -> Values:
    """The host bytes of an arranged :class:`Checked` tensor (packed when binary)."""
    width = int(data.shape[-1]) if data.ndim else 1
    if levels is None:
        packed = pack_bits(data)
        return Values(_numpy(packed), True, width, frozenset((0, 1)))
    return Values(_numpy(data.contiguous()), False, width, levels)


def _numpy(t: torch.Tensor) -> np.ndarray:
    """A host numpy array of ``t`` (no copy on the CPU)."""
    return t.detach().cpu().numpy()


def count_nonzero(x: torch.Tensor) -> torch.Tensor:
    """Non-zero values of ``x`` as a 0-d tensor on its device (no host sync).

    (``torch.count_nonzero`` is several times slower on the CPU than a sum of the
    ``bool`` cast, and a 32-bit sum of that twice as fast as the default 64-bit one.)
    """
    b = x if x.dtype == torch.bool else x.to(torch.bool)
    return b.sum(dtype=torch.int32 if b.numel() < (1 << 31) else torch.int64)
