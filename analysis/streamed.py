"""Spiking GEMM operands read from storage a piece at a time.

* :func:`sample_streamed_gemms`: the GEMMs of a layer stored sample-first, each row block
  fed by the samples it spans (memory bounded by a block's samples, not by the layer);
* :func:`operand_ones`: the ones and elements of a layer's operand ``S`` (after im2col)
  from slabs of its stored input, without building ``S`` (``prosparsity describe``'s
  operand bit density).

Both follow :mod:`prosparsity.analysis.gemm`'s row and column rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from prosparsity.analysis.gemm import (
    _LINEAR_AXES,
    Gemm,
    _axes,
    _conv_values,
    _to_values,
    gemms_of,
    planes_for,
)
from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import ConvParams
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import conv_output_size

__all__ = ["SampleReader", "operand_ones", "sample_streamed_gemms"]


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
