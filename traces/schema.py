"""In-memory description of a trace (format v2; v1 still read): file attributes and layer
records.

These frozen records are the contract between capture (``prosparsity.models``), the
HDF5 reader and writer (``prosparsity.traces.reader``, ``prosparsity.traces.writer``),
the analysis and the cost models. The HDF5 layout itself is documented in
``prosparsity.traces.layout``.

A trace is an ordered list of :class:`LayerRecord` in execution order. GEMM layers
(linear, conv1d, conv2d, attention operands) carry spike data; the other records (LIF,
LayerNorm, attention shape, max-pool) carry only the parameters the cycle models need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from prosparsity.traces.params import LayerParams, parse_params

SCHEMA_NAME = "prosparsity-trace"
SCHEMA_VERSION = 2
#: schema versions this code reads (it writes only :data:`SCHEMA_VERSION`)
READABLE_VERSIONS = (1, 2)


class LayerKind(StrEnum):
    """What a layer record describes. GEMM kinds carry spike data."""

    LINEAR = "linear"
    CONV1D = "conv1d"
    CONV2D = "conv2d"
    ATTENTION_OPERAND = "attention_operand"  # a spike operand of attention (q, k, v, ...)
    LIF = "lif"
    LAYERNORM = "layernorm"
    ATTENTION = "attention"  # the attention block's shape (dim, seq, heads, variant)
    MAXPOOL2D = "maxpool2d"

    @property
    def is_gemm(self) -> bool:
        return self in _GEMM_KINDS


_GEMM_KINDS = frozenset(
    {LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D, LayerKind.ATTENTION_OPERAND}
)


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class LayerRecord:
    """One layer of a trace, in execution order.

    Attributes:
        name: unique layer name (for imported paper dumps, the authors' key, e.g. ``fc_0``).
        kind: what the layer is.
        params: the shape-defining parameters. By kind:
            linear: ``in_features, out_features`` (+ ``seq_len`` if the input has tokens);
            conv1d/conv2d: ``in_channels, out_channels, kernel, stride, padding,
            dilation, groups`` (+ ``input_hw`` for conv2d, ``input_len`` for conv1d);
            attention_operand: ``operand`` (q, k, v, attn, ...), ``dim, seq_len, heads``,
            ``attention`` (name of the attention record it belongs to);
            lif: ``neurons``; layernorm: ``dim, seq_len``;
            attention: ``dim, seq_len, heads, variant``;
            maxpool2d: ``input_hw, channels, kernel, stride, padding``.
            Every record may also hold ``time_steps`` and ``batch``.
        shape: shape of the stored input tensor (empty for records without data).
        layout: comma-separated axis names of ``shape``, e.g. ``"T,B,C,H,W"``.
        levels: the distinct values present in the data, sorted (``(0, 1)`` for spikes).
        in_network: False for a layer present in a dump but not part of the simulated
            network (e.g. LeNet-5's ``conv2d_0``, the encoded image).
        parsed: ``params`` parsed into the typed object of ``kind``
            (:mod:`prosparsity.traces.params`), once, on construction; what every stage
            reads. Construction raises ``ConfigError`` naming ``<layer>.params.<field>``
            for an invalid value.
    """

    name: str
    kind: LayerKind
    params: Mapping[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    layout: str = ""
    levels: tuple[int, ...] = ()
    in_network: bool = True
    parsed: LayerParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LayerKind(self.kind))
        object.__setattr__(self, "params", _freeze(self.params))
        object.__setattr__(self, "parsed", parse_params(self.name, self.kind, self.params))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "levels", tuple(int(v) for v in self.levels))

    @property
    def has_data(self) -> bool:
        return self.kind.is_gemm

    @property
    def binary(self) -> bool:
        """True when every stored value is 0 or 1."""
        return set(self.levels) <= {0, 1}

    @property
    def axes(self) -> tuple[str, ...]:
        return tuple(a for a in self.layout.split(",") if a)


@dataclass(frozen=True)
class TraceInfo:
    """File-level attributes of a trace.

    Attributes:
        model: model name (e.g. ``lenet5_mnist``, ``digits-cnn``).
        dataset: dataset / input description.
        time_steps: T.
        batch_size: samples per forward pass.
        samples: number of samples recorded.
        weights: ``"trained"``, ``"random"`` or ``"unknown"``.
        checkpoint: checkpoint path, or ``""``.
        checkpoint_sha256: its SHA-256, or ``""``.
        workload: paper workload preset attached at import (``""`` if none).
        tool_version: version of prosparsity-harness that wrote the file.
        created: ISO-8601 creation time (UTC).
        extra: any further string attributes.
    """

    model: str
    dataset: str = ""
    time_steps: int = 1
    batch_size: int = 1
    samples: int = 1
    weights: str = "unknown"
    checkpoint: str = ""
    checkpoint_sha256: str = ""
    workload: str = ""
    tool_version: str = ""
    created: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _freeze(self.extra))
