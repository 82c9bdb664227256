"""What ``prosparsity trace info`` says about a trace's layers, without counting it.

:func:`layer_doc` describes one layer record of an open trace: its GEMM shapes (``M`` per
sample), the neuron spike rate capture recorded (``lif`` records), and the bit density of
the GEMM operand after im2col (what an accelerator multiplies) beside that of the raw
stored input, read with the reader's checks. Light: numpy and the trace reader, no
numba, no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prosparsity.core.jsonvalue import JSONObject
    from prosparsity.traces.io import TraceReader
    from prosparsity.traces.schema import LayerRecord

__all__ = ["LayerDoc", "layer_doc"]


@dataclass(frozen=True)
class LayerDoc:
    """One layer of ``trace info``: its GEMM shapes (M per sample), neuron spike rate
    (``lif`` records), GEMM-operand and raw-input bit density (``None``: no figure)."""

    name: str
    kind: str
    gemms: list[dict[str, int]]
    neuron_spike_rate: float | None
    operand_bit_density: float | None
    raw_bit_density: float | None
    levels: list[int]
    in_network: bool
    shape: list[int]
    layout: str

    def to_json(self) -> JSONObject:
        """The layer's entry of ``trace info --json`` (the field names)."""
        return asdict(self)


def layer_doc(reader: TraceReader, rec: LayerRecord) -> LayerDoc:
    """One layer's entry: GEMM shape (M per sample), neuron spike rate, GEMM-operand and
    raw-input bit density (read with a read's checks), as JSON values."""
    import numpy as np

    from prosparsity.analysis.gemm import operand_ones
    from prosparsity.core.errors import ConfigError
    from prosparsity.traces.params import LifParams
    from prosparsity.traces.schema import LayerKind
    from prosparsity.traces.shapes import attention_gemm_shapes, gemm_shape

    shapes: list[dict[str, int]] = []
    per_sample = _samples_in(rec)
    if rec.kind is LayerKind.ATTENTION:
        # its per-head GEMMs as the authors model them ("kv / q·kv" or "qk / sv")
        try:
            shapes = [{"m": g.m, "k": g.k, "n": g.n} for g in attention_gemm_shapes(rec)]
        except ConfigError:
            pass
    elif rec.kind.is_gemm and rec.kind is not LayerKind.ATTENTION_OPERAND:
        try:
            g = gemm_shape(rec)
            shapes = [{"m": g.m // per_sample, "k": g.k, "n": g.n}]
        except ConfigError:
            pass  # not enough metadata (e.g. imported without a workload)
    raw = operand = None
    size = 1
    for s in rec.shape:
        size *= s
    if rec.has_data and size:
        if rec.kind in (LayerKind.CONV2D, LayerKind.CONV1D):
            nnz = 0

            def counted(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
                nonlocal nnz  # the raw input's ones, from the same read as im2col's
                for chunk in chunks:
                    nnz += int(np.count_nonzero(chunk))
                    yield chunk

            try:
                ones, elements = operand_ones(rec, counted(reader.iter_chunks(rec.name, 64)))
                operand = ones / elements if elements else None
                raw = nnz / size
            except ConfigError:  # not enough metadata for im2col: count the input alone
                raw = reader.nnz(rec.name) / size
        else:
            raw = reader.nnz(rec.name) / size
            if rec.kind is LayerKind.LINEAR:
                operand = raw  # a linear layer's operand is its input
    p = rec.parsed
    rate = p.spike_rate if isinstance(p, LifParams) else None
    return LayerDoc(
        name=rec.name, kind=str(rec.kind), gemms=shapes, neuron_spike_rate=rate,
        operand_bit_density=operand, raw_bit_density=raw, levels=list(rec.levels),
        in_network=rec.in_network, shape=list(rec.shape), layout=rec.layout,
    )


def _samples_in(rec: LayerRecord) -> int:
    """Length of a record's B axis (1 without one): M is shown per sample."""
    axes = rec.axes
    if "B" in axes and len(axes) == len(rec.shape):
        return max(1, rec.shape[axes.index("B")])
    return 1
