"""Spiking GEMM operands of trace layers (the paper's spiking GEMM, docs/analysis.md), streamed by
row blocks.

Every spiking layer multiplies a spike matrix ``S`` (``M x K``) by weights (``K x N``).
This module builds ``S`` from a layer's stored input tensor:

* **linear**, input ``(T, B, L, K)``, ``(T, L, K)`` or ``(T, K)``: row
  ``m = (b*L + l)*T + t`` (token-major, time-minor), column = feature.
* **conv2d** (kernel ``k``, stride ``s``, padding ``p``, dilation ``d``), input
  ``(T, [B,] C, H, W)``: im2col per time step, output positions in row-major order,
  columns ``c*k*k + i*k + j`` (channel, kernel row, kernel column: the order of
  ``torch.nn.functional.unfold``); row ``m = ((b*H' + y)*W' + x)*T + t``. A grouped conv
  is ``groups`` GEMMs, one per channel group.
* **conv1d**: the same with one spatial axis, columns ``c*k + j``.
* **attention operands**: see :mod:`prosparsity.analysis.attention`.

im2col multiplies the data by ``k*k``, so ``S`` is never materialised whole by the
analysis: :meth:`Gemm.row_blocks` yields consecutive blocks of rows, computed from the
(un-expanded) layer input on demand, and memory stays bounded by one block.

Multi-level inputs (small non-negative integers such as sums of spikes) are decomposed
exactly into binary bit planes ``x = sum_i 2^i b_i``; each plane is a binary GEMM
(:attr:`Gemm.planes`, the ``plane`` argument of :meth:`Gemm.row_blocks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import ConvParams, LinearParams
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import conv_output_size

#: Width of Prosperity's adder array: the output dimension is processed in
#: ``ceil(N / 128)`` passes (the paper's tiles, docs/analysis.md).
ADDER_ARRAY_WIDTH = 128

#: Default budget of one streamed row block, in bytes of the uint8 ``S`` block.
DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024

@dataclass(frozen=True)
class PackedGemm:
    """A GEMM operand read straight from a bit-packed layer input (the fused path).

    The input is ``(T, U, C, H, W)`` in canonical order, stored with ``np.packbits``
    along ``W``: ``U`` units (samples of a convolution; tokens of a linear layer) whose
    rows are consecutive in ``S``. Row ``m = (u*H'*W' + y*W' + x)*T + t``, column
    ``c*kh*kw + i*kw + j`` (channels ``c_off .. c_off + channels_used`` of the input, one
    channel group), exactly the rows and columns of :mod:`prosparsity.analysis.gemm`'s
    im2col. A linear layer is the case ``C = H = 1``, ``kw = K``.

    Attributes:
        steps: ``T``.
        units: ``U`` of the whole operand.
        channels: ``C`` of the stored input.
        height: ``H``.
        width: ``W`` (bits of a stored row).
        kernel: ``(kh, kw)``.
        stride: ``(sh, sw)``.
        padding: ``(ph, pw)`` zeros on each side.
        dilation: ``(dh, dw)``.
        c_off: first input channel of this GEMM (its channel group).
        channels_used: input channels of this GEMM.
    """

    steps: int
    units: int
    channels: int
    height: int
    width: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    c_off: int = 0
    channels_used: int = 0

    def __post_init__(self) -> None:
        if not self.channels_used:
            object.__setattr__(self, "channels_used", self.channels - self.c_off)

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output positions ``(H', W')``."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        (ph, pw), (dh, dw) = self.padding, self.dilation
        return (conv_output_size(self.height, kh, sh, ph, dh),
                conv_output_size(self.width, kw, sw, pw, dw))

    @property
    def unit_rows(self) -> int:
        """Rows of ``S`` per unit (``H' * W' * T``)."""
        oh, ow = self.out_hw
        return oh * ow * self.steps

    @property
    def m(self) -> int:
        """Rows of ``S``."""
        return self.units * self.unit_rows

    @property
    def k(self) -> int:
        """Columns of ``S``."""
        return self.channels_used * self.kernel[0] * self.kernel[1]


RowSource = Callable[[int, int], np.ndarray]
"""``source(r0, r1)`` returns rows ``r0..r1`` of the GEMM operand as integer values."""

PackedOperand = tuple[np.ndarray, PackedGemm]
"""``(P, geometry)``: a layer input as ``(T, U, C, H, ceil(W/8))`` uint8 (``np.packbits``
along ``W``) and the :class:`PackedGemm` reading a GEMM operand ``S`` from it."""

PackedSource = Callable[[], PackedOperand]
"""``packed()`` returns the :data:`PackedOperand` of a GEMM (computed once)."""


@dataclass(frozen=True)
class Gemm:
    """One spiking GEMM ``S (M x K) x W (K x N)`` a layer stands for.

    Attributes:
        name: the GEMM's name, as the authors' simulator names it (``fc_0``,
            ``conv2d_1_kernel5_fc``, ``attention_enc_0_t0_b0_h0_kv``, ...).
        layer: name of the trace record the GEMM belongs to.
        m: rows of ``S``.
        k: columns of ``S`` (reduction length).
        n: columns of the output (weights' output dimension).
        kernel: convolution kernel size (1 for linear and attention GEMMs); the authors'
            DRAM model divides spike traffic by ``kernel**2`` (on-chip im2col).
        planes: binary bit planes of the operand (1 for spikes; ``ceil(log2(max+1))``
            for multi-level inputs).
        role: ``""`` for layer GEMMs; for attention GEMMs the authors' suffix
            (``kv``, ``qkv``, ``qk``, ``sv``).
        group: channel group of a grouped convolution (0 otherwise).
        source: ``source(r0, r1)``: rows of ``S`` as values (im2col on demand).
        packed: for a binary linear / conv operand, ``packed()`` gives the layer input
            bit-packed in canonical order and the geometry the fused kernel reads ``S``
            from (:func:`prosparsity.analysis.kernel.packed_stats`), without im2col.
    """

    name: str
    layer: str
    m: int
    k: int
    n: int
    kernel: int = 1
    planes: int = 1
    role: str = ""
    group: int = 0
    source: RowSource | None = field(default=None, repr=False, compare=False)
    packed: PackedSource | None = field(default=None, repr=False, compare=False)

    @property
    def binary(self) -> bool:
        """True when the operand holds only 0/1 values (a single plane)."""
        return self.planes == 1

    def passes(self, adder_array_width: int = ADDER_ARRAY_WIDTH) -> int:
        """Passes over the output dimension, ``nN = ceil(N / adder_array_width)``."""
        return -(-self.n // adder_array_width)

    def rows(self, r0: int, r1: int, plane: int | None = None) -> np.ndarray:
        """Rows ``r0..r1`` of ``S``: values (``plane=None``) or one bit plane (bool)."""
        if self.source is None:
            raise ConfigError(f"{self.layer}.data", "this GEMM has no spike data (shapes only)")
        r0, r1 = max(0, r0), min(self.m, r1)
        block = self.source(r0, r1)
        if plane is None:
            return block
        if not 0 <= plane < self.planes:
            raise ConfigError("plane", f"must be in 0..{self.planes - 1}, got {plane}")
        if self.planes == 1 and block.dtype in (np.uint8, np.bool_):
            return block.view(np.bool_)  # 0/1 bytes: no copy
        return ((block >> plane) & 1).astype(bool)

    def row_blocks(
        self,
        rows_per_block: int,
        plane: int | None = None,
    ) -> Iterator[np.ndarray]:
        """Consecutive blocks of ``rows_per_block`` rows (the last may be shorter)."""
        if rows_per_block < 1:
            raise ConfigError("rows_per_block", f"must be >= 1, got {rows_per_block}")
        if plane is None and self.planes == 1:
            plane = 0
        for r0 in range(0, self.m, rows_per_block):
            yield self.rows(r0, r0 + rows_per_block, plane)

    def block_rows(self, tile_m: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
        """A block height: a whole number of row tiles within ``block_bytes`` of ``S``."""
        tiles = max(1, block_bytes // max(1, tile_m * self.k))
        return tile_m * tiles

    def matrix(self, plane: int | None = None) -> np.ndarray:
        """The whole operand ``S`` (bool for a binary operand or a chosen plane)."""
        if plane is None and self.planes == 1:
            plane = 0
        return self.rows(0, self.m, plane)


def gemm_name(record: LayerRecord, kernel: int = 1, group: int = 0, groups: int = 1) -> str:
    """The name of a layer's GEMM, as the authors' simulator names it, decided here once.

    A conv layer's GEMM is ``<layer>_kernel<k>_fc`` (``_g<group>`` appended per channel
    group of a grouped conv); a linear layer's GEMM is the layer's name.
    """
    if record.kind not in (LayerKind.CONV1D, LayerKind.CONV2D):
        return record.name
    name = f"{record.name}_kernel{kernel}_fc"
    return f"{name}_g{group}" if groups > 1 else name


# --------------------------------------------------------------------------------------
# data checks and axis handling
# --------------------------------------------------------------------------------------


def planes_for(record: LayerRecord, data: np.ndarray) -> int:
    """Bit planes needed for ``data``: 1 for spikes, ``bit_length(max)`` otherwise.

    Raises:
        ConfigError: for negative or non-integer values.
    """
    if data.dtype == np.bool_:
        return 1
    if not np.issubdtype(data.dtype, np.integer):
        raise ConfigError(
            f"{record.name}.data", f"spike data must be bool or integer, got dtype {data.dtype}"
        )
    if data.size == 0:
        return 1
    lo, hi = int(data.min()), int(data.max())
    if lo < 0:
        raise ConfigError(
            f"{record.name}.data", f"negative value {lo}: only non-negative levels are supported"
        )
    return max(1, int(hi).bit_length())


def _axes(record: LayerRecord, shape: tuple[int, ...], default: dict[int, str]) -> tuple[str, ...]:
    axes = record.axes
    if axes and len(axes) == len(shape):
        return axes
    if axes:
        raise ConfigError(
            f"{record.name}.layout",
            f"'{record.layout}' names {len(axes)} axes but the data has shape {shape}",
        )
    if len(shape) not in default:
        raise ConfigError(
            f"{record.name}.shape",
            f"cannot infer the axes of a {len(shape)}-D {record.kind} input {shape}; "
            "give the record a layout",
        )
    return tuple(default[len(shape)].split(","))


def _to_values(data: np.ndarray) -> np.ndarray:
    return data.view(np.uint8) if data.dtype == np.bool_ else data


class _Input:
    """A layer's stored input, held as values or as its bit-packed bytes (``np.packbits``
    along the last axis, as traces store binary layers); each form is made from the
    other once, on first use."""

    def __init__(self, shape: tuple[int, ...], values: np.ndarray | None = None,
                 packed: np.ndarray | None = None) -> None:
        self.shape = tuple(int(s) for s in shape)
        self._values = values
        self._packed = packed

    def values(self) -> np.ndarray:
        """The input as integer values (uint8 for spikes)."""
        if self._values is None:
            assert self._packed is not None
            self._values = np.unpackbits(self._packed, axis=-1, count=self.shape[-1])
        return self._values

    def packed(self) -> np.ndarray:
        """The bit-packed bytes (binary inputs only)."""
        if self._packed is None:
            self._packed = np.packbits(self.values(), axis=-1)
        return self._packed


def _memo(make: Callable[[], object]) -> Callable[[], object]:
    """``make()`` computed once, on the first call."""
    held: list[object] = []

    def get() -> object:
        if not held:
            held.append(make())
        return held[0]

    return get


# --------------------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------------------

_LINEAR_AXES = {1: "K", 2: "T,K", 3: "T,L,K", 4: "T,B,L,K"}


def _linear(record: LayerRecord, inp: _Input, planes: int) -> Gemm:
    shape = inp.shape
    axes = _axes(record, shape, _LINEAR_AXES)
    k = shape[-1]
    p = record.parsed
    assert isinstance(p, LinearParams)
    if p.in_features is not None and p.in_features != k:
        raise ConfigError(
            f"{record.name}.shape", f"last axis {k} differs from in_features {p.in_features}"
        )
    n = p.require("out_features", f"a {record.kind} GEMM")
    has_t = "T" in axes[:-1]
    t = shape[axes.index("T")] if has_t else 1
    tokens = math.prod(shape[:-1]) // t
    m = tokens * t

    def canonical(x: np.ndarray) -> np.ndarray:
        # (T, tokens, last): time axis first, every other non-feature axis is a token axis
        x = np.moveaxis(x, axes.index("T"), 0) if has_t else x[None]
        return x.reshape(t, tokens, x.shape[-1])

    values = _memo(lambda: canonical(_to_values(inp.values())))

    def source(r0: int, r1: int) -> np.ndarray:
        tok0, tok1 = r0 // t, -(-r1 // t)
        block = values()[:, tok0:tok1, :].transpose(1, 0, 2).reshape(-1, k)  # type: ignore[index]
        return block[r0 - tok0 * t : r1 - tok0 * t]

    geometry = PackedGemm(steps=t, units=tokens, channels=1, height=1, width=k, kernel=(1, k))
    packed = None
    if planes == 1:
        packed = _memo(lambda: (canonical(inp.packed())[:, :, None, None, :], geometry))
    return Gemm(record.name, record.name, m, k, n, 1, planes, source=source,
                packed=packed)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# convolutions (im2col on demand)
# --------------------------------------------------------------------------------------

_CONV2D_AXES = {3: "C,H,W", 4: "T,C,H,W", 5: "T,B,C,H,W"}
_CONV1D_AXES = {2: "C,L", 3: "T,C,L", 4: "T,B,C,L"}


def _conv_layout(record: LayerRecord, shape: tuple[int, ...], spatial: int,
                 ) -> tuple[tuple[str, ...], list[int], ConvParams]:
    """A conv record's axes, the order of its canonical ``(T, B, C, *spatial)`` axes in the
    stored input of ``shape``, and its params, checked against the record (axes,
    channels, groups)."""
    two_d = spatial == 2
    axes = _axes(record, shape, _CONV2D_AXES if two_d else _CONV1D_AXES)
    sp_names = ("H", "W") if two_d else ("L",)
    for a in ("C", *sp_names):
        if a not in axes:
            raise ConfigError(f"{record.name}.layout", f"'{record.layout}' lacks axis {a}")
    c = record.parsed
    assert isinstance(c, ConvParams)
    need = f"a {record.kind} GEMM"
    cin = c.require("in_channels", need)
    cout = c.require("out_channels", need)
    c.require("kernel", need)
    groups = c.groups
    if cin % groups or cout % groups:
        raise ConfigError(
            f"{record.name}.params.groups",
            f"{groups} does not divide in_channels {cin} and out_channels {cout}",
        )
    if shape[axes.index("C")] != cin:
        raise ConfigError(
            f"{record.name}.shape",
            f"channel axis {shape[axes.index('C')]} differs from in_channels {cin}",
        )
    order = [axes.index(a) for a in ("T", "B") if a in axes]
    order += [axes.index("C")] + [axes.index(a) for a in sp_names]
    extra = [i for i in range(len(shape)) if i not in order]
    if extra:
        raise ConfigError(
            f"{record.name}.layout", f"unexpected axes in '{record.layout}' for a {record.kind}"
        )
    return axes, order, c


def _conv_canonical(axes: tuple[str, ...], order: list[int], x: np.ndarray) -> np.ndarray:
    """``x`` (stored axes) as ``(T, B, C, *spatial)``, a view (length-1 T / B added)."""
    x = x.transpose(order)
    if "T" not in axes:
        x = x[None]
    if "B" not in axes:
        x = x[:, None]
    return x


def _conv_values(record: LayerRecord, data: np.ndarray, spatial: int,
                 ) -> tuple[np.ndarray, ConvParams]:
    """A conv record's input as ``(T, B, C, *spatial)`` values (a view) and its params,
    checked against the record (axes, channels, groups)."""
    axes, order, c = _conv_layout(record, data.shape, spatial)
    return _conv_canonical(axes, order, data), c


def _conv(record: LayerRecord, inp: _Input, planes: int, spatial: int) -> list[Gemm]:
    two_d = spatial == 2
    shape = inp.shape
    axes, order, c = _conv_layout(record, shape, spatial)
    sp_names = ("H", "W") if two_d else ("L",)
    cin, cout, ksz = c.in_channels or 0, c.out_channels or 0, c.kernel or 0
    stride, pad, dil, groups = c.stride, c.padding, c.dilation, c.groups
    t = shape[axes.index("T")] if "T" in axes else 1
    b = shape[axes.index("B")] if "B" in axes else 1
    sizes = tuple(shape[axes.index(a)] for a in sp_names)
    span = dil * (ksz - 1) + 1  # the window one output position reads
    out = tuple(conv_output_size(s, ksz, stride, pad, dil) for s in sizes)
    if min(out) < 1:
        raise ConfigError(f"{record.name}.params.kernel", "kernel larger than the padded input")
    npix = math.prod(out)
    m = b * npix * t
    cg = cin // groups
    k = cg * ksz**spatial

    def canonical(x: np.ndarray) -> np.ndarray:
        return _conv_canonical(axes, order, x)

    def windows() -> np.ndarray:
        values = canonical(_to_values(inp.values()))
        if pad:
            values = np.pad(values, [(0, 0)] * 3 + [(pad, pad)] * spatial)
        win = np.lib.stride_tricks.sliding_window_view(
            values, (span,) * spatial, axis=tuple(range(3, 3 + spatial))
        )
        # (T, B, C, *out, *kernel) view, no copy
        sl = (slice(None),) * 3 + (slice(None, None, stride),) * spatial
        sl += (slice(None, None, dil),) * spatial
        win = win[sl]
        return win[(slice(None),) * 3 + tuple(slice(0, o) for o in out)]

    win = _memo(windows)

    def packed_input() -> np.ndarray:
        if axes[-1] == sp_names[-1]:  # stored packed along the last spatial axis
            x = canonical(inp.packed())
        else:
            x = np.packbits(canonical(_to_values(inp.values())), axis=-1)
        return x if two_d else x[:, :, :, None, :]

    packed_in = _memo(packed_input)
    gemms = []
    for g in range(groups):

        def source(r0: int, r1: int, g: int = g) -> np.ndarray:
            wg = win()[:, :, g * cg : (g + 1) * cg]  # type: ignore[index]
            tok = np.arange(r0 // t, -(-r1 // t))
            bi, pix = np.divmod(tok, npix)
            if two_d:
                oy, ox = np.divmod(pix, out[1])
                # advanced indices separated by a slice: they go first -> (tok, T, C, k, k)
                block = wg[:, bi, :, oy, ox]
            else:
                block = wg[:, bi, :, pix]
            block = np.ascontiguousarray(block).reshape(-1, k)
            off = (r0 // t) * t
            return block[r0 - off : r1 - off]

        packed = None
        if planes == 1:
            if two_d:
                h, w = sizes
                geo = PackedGemm(t, b, cin, h, w, (ksz, ksz), (stride, stride), (pad, pad),
                                 (dil, dil), g * cg, cg)
            else:
                geo = PackedGemm(t, b, cin, 1, sizes[0], (1, ksz), (1, stride), (0, pad),
                                 (1, dil), g * cg, cg)
            assert (geo.m, geo.k) == (m, k)

            def packed(geo: PackedGemm = geo) -> tuple[np.ndarray, PackedGemm]:
                return packed_in(), geo  # type: ignore[return-value]

        name = gemm_name(record, ksz, g, groups)
        gemms.append(Gemm(name, record.name, m, k, cout // groups, ksz, planes, "", g, source,
                          packed))
    return gemms


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def _gemms(record: LayerRecord, inp: _Input, planes: int) -> tuple[Gemm, ...]:
    if record.kind is LayerKind.LINEAR:
        return (_linear(record, inp, planes),)
    if record.kind is LayerKind.CONV2D:
        return tuple(_conv(record, inp, planes, 2))
    if record.kind is LayerKind.CONV1D:
        return tuple(_conv(record, inp, planes, 1))
    raise ConfigError(
        f"{record.name}.kind",
        f"no GEMM rule for kind '{record.kind}' here (linear, conv1d, conv2d)",
    )


def gemms_of(record: LayerRecord, data: np.ndarray) -> tuple[Gemm, ...]:
    """The GEMM(s) a linear / conv1d / conv2d record stands for, fed from ``data``.

    Attention operands belong to their attention block; use
    :func:`prosparsity.analysis.attention.attention_gemms`.

    Raises:
        ConfigError: naming ``<layer>.params.<field>`` / ``<layer>.shape`` for bad input.
    """
    data = np.asarray(data)
    planes = planes_for(record, data)
    return _gemms(record, _Input(data.shape, values=data), planes)


def gemms_of_packed(
    record: LayerRecord, packed: np.ndarray, shape: tuple[int, ...] | None = None
) -> tuple[Gemm, ...]:
    """:func:`gemms_of` of a binary input given as its stored bytes, ``np.packbits`` of the
    values along the last axis (how a trace stores a binary layer). The fused kernel
    reads the operands from these bytes (``Gemm.packed``); values are unpacked only if
    rows are asked for (``Gemm.rows``).

    Args:
        record: the layer record.
        packed: the packed bytes.
        shape: the values' shape (default: ``record.shape``).

    Raises:
        ConfigError: as :func:`gemms_of`, or bytes that do not pack ``shape``.
    """
    shape = tuple(record.shape if shape is None else shape)
    if not shape or tuple(packed.shape) != (*shape[:-1], -(-shape[-1] // 8)):
        raise ConfigError(f"{record.name}.shape",
                          f"packed bytes of shape {packed.shape} do not hold values {shape}")
    return _gemms(record, _Input(shape, packed=packed), 1)


def operand_ones(record: LayerRecord, chunks: Iterable[np.ndarray]) -> tuple[int, int]:
    """Ones and elements of a linear / conv record's GEMM operand ``S`` (after im2col;
    every group and bit plane), from its stored input in consecutive slabs of axis 0,
    without building ``S``: each input value counts once per kernel position covering it.

    ``ones / elements`` is the layer's bit density as the analysis measures it (the
    GEMM-operand density; see :mod:`prosparsity.analysis.density`), while
    ``nnz / size`` of the stored tensor is the raw input's.

    Raises:
        ConfigError: a record of another kind, or data that does not fit the record.
    """
    spatial = {LayerKind.CONV2D: 2, LayerKind.CONV1D: 1}.get(record.kind)
    if spatial is None and record.kind is not LayerKind.LINEAR:
        raise ConfigError(f"{record.name}.kind",
                          f"no GEMM rule for kind '{record.kind}' here (linear, conv1d, conv2d)")
    ones = 0
    top = 0
    size = 0
    counts: np.ndarray | None = None  # conv: ones per (C, *spatial) over T and B
    for chunk in chunks:
        chunk = np.asarray(chunk)
        planes = planes_for(record, chunk)  # checks dtype and signs
        top = max(top, planes)
        values = _to_values(chunk)
        bits = (values != 0 if planes == 1 else
                sum(((values >> p) & 1) for p in range(planes))).astype(np.int64)
        if spatial is None:
            _axes(record, chunk.shape, _LINEAR_AXES)
            ones += int(bits.sum())
            size += bits.size
            continue
        canon, _ = _conv_values(record, bits, spatial)
        size += canon.shape[0] * canon.shape[1]  # rows (T x B) of this slab
        part = canon.sum(axis=(0, 1))
        counts = part if counts is None else counts + part
    if spatial is None:
        return ones, size * max(top, 1)
    if counts is None:
        return 0, 0
    c = record.parsed
    assert isinstance(c, ConvParams)
    ksz = c.kernel or 0
    covers = []
    for length in counts.shape[1:]:
        out = conv_output_size(length, ksz, c.stride, c.padding, c.dilation)
        if out < 1:
            raise ConfigError(f"{record.name}.params.kernel", "kernel larger than the padded input")
        cover = np.zeros(length, dtype=np.int64)
        for ky in range(ksz):
            idx = np.arange(out) * c.stride - c.padding + ky * c.dilation
            np.add.at(cover, idx[(idx >= 0) & (idx < length)], 1)
        covers.append((cover, out))
    weights = covers[0][0]
    for cover, _ in covers[1:]:
        weights = np.multiply.outer(weights, cover)
    ones = int((counts * weights).sum())
    npix = math.prod(out for _, out in covers)
    cin = counts.shape[0]
    return ones, size * npix * cin * ksz**spatial * max(top, 1)


SampleReader = Callable[[int, int], np.ndarray]
"""``read(b0, b1)``: samples ``b0..b1`` of a layer input stored sample-first (``B, ...``)."""


def sample_streamed_gemms(
    record: LayerRecord, read: SampleReader, planes: int | None = None
) -> tuple[Gemm, ...]:
    """The GEMM(s) of a linear / conv record whose input is stored sample-first.

    For a layout starting with ``B`` the rows of sample ``b`` are the contiguous range
    ``[b*R, (b+1)*R)`` of every GEMM (``m = (b*L + l)*T + t``, or pixels for convs), so a
    row block only needs the samples it spans: they are read through ``read`` and
    expanded (im2col) on demand. Memory stays bounded by a block's samples, not by the
    layer. Reads are expected in ascending order (the analysis streams forward).

    Args:
        record: the layer record (layout starting with ``B``, ``shape`` set).
        read: returns samples ``b0..b1`` as an array in the record's layout.
        planes: bit planes of the data (default: from ``record.levels``).
    """
    axes = record.axes
    if not axes or axes[0] != "B" or not record.shape:
        raise ConfigError(f"{record.name}.layout", "sample streaming needs a 'B,...' layout")
    n_samples = record.shape[0]
    if planes is None:
        top = max(record.levels, default=1)
        planes = max(1, int(top).bit_length())
    probe = gemms_of(record, read(0, 1))  # shapes of one sample
    cache: dict[str, object] = {"range": (-1, -1), "gemms": None}

    def sample_gemms(b0: int, b1: int) -> tuple[Gemm, ...]:
        if cache["range"] != (b0, b1):
            cache["range"] = (b0, b1)
            cache["gemms"] = gemms_of(record, read(b0, b1))
        return cache["gemms"]  # type: ignore[return-value]

    out = []
    for g in probe:
        per = g.m  # rows of one sample

        def source(r0: int, r1: int, group: int = g.group, per: int = per) -> np.ndarray:
            b0, b1 = r0 // per, -(-r1 // per)
            sub = sample_gemms(b0, b1)[group]
            return sub.rows(r0 - b0 * per, r1 - b0 * per)

        out.append(
            Gemm(
                g.name,
                g.layer,
                per * n_samples,
                g.k,
                g.n,
                g.kernel,
                planes,
                g.role,
                g.group,
                source,
            )
        )
    return tuple(out)


def _single(record: LayerRecord, data: np.ndarray) -> Gemm:
    gemms = gemms_of(record, data)
    if len(gemms) != 1:
        raise ConfigError(
            f"{record.name}.params.groups", "a grouped conv is several GEMMs; use gemms_of()"
        )
    return gemms[0]


def gemm_matrix(record: LayerRecord, data: np.ndarray, plane: int | None = None) -> np.ndarray:
    """The whole spike matrix ``S`` (``M x K``, bool) of a linear / conv record.

    Args:
        record: the layer record.
        data: its stored input tensor.
        plane: bit plane to return for a multi-level input (required then).
    """
    g = _single(record, data)
    if plane is None and not g.binary:
        raise ConfigError(
            f"{record.name}.data",
            f"holds {2**g.planes - 1 if g.planes < 8 else 'many'}-level values, not spikes: "
            "choose a bit plane",
        )
    return g.matrix(plane)


def iter_row_tiles(
    record: LayerRecord, data: np.ndarray, tile_m: int, plane: int | None = None
) -> Iterator[np.ndarray]:
    """Stream ``S`` of a linear / conv record by row tiles of ``tile_m`` rows (bool)."""
    g = _single(record, data)
    if plane is None and not g.binary:
        raise ConfigError(f"{record.name}.data", "multi-level input: choose a bit plane")
    return g.row_blocks(tile_m, plane)
