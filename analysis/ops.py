"""Operation count of a workload, as the Prosperity authors define it (the paper's GOP).

The throughput and energy-efficiency figures of the paper (GOP/s, GOP/J) divide one
operation count per workload by each accelerator's latency or energy. The count comes
from the authors' ``compute_num_OPS`` (``simulator/networks.py`` of their artifact); all
accelerators except Stellar share it. One operation is one addition (an accumulate, a
membrane update, a normalisation step). Per layer record, with ``T`` time steps, ``B``
samples, ``L`` tokens, ``H`` heads, ``dh = dim / H``:

=======================  ==============================================  ==============
record                   operations                                      rule
=======================  ==============================================  ==============
linear, conv1d, conv2d   ``nnz(S) * N``: every 1 of the spike matrix     ``nnz*N``
                         ``S`` (``M x K``, after im2col for a conv)
                         adds one weight row of width ``N``
lif                      ``B * T * neurons``                             ``B*T*neurons``
layernorm                ``2 * B * T * L * dim``                         ``2*B*T*L*dim``
attention, spikingbert   ``2*B*T*H*L*L*dh + 2*B*T*H*L*L``                ``authors``
attention, spikformer,   ``2*B*T*H*L*L*dh``                              ``eyeriss``
spikebert
attention, sdt           ``4*B*T*H*L*dh``                                ``eyeriss``
maxpool2d                0 (not counted by the authors)                  ``none``
=======================  ==============================================  ==============

The GEMM rule is the authors' ``int(M * K * N * density)`` with
``density = nnz(S) / (M * K)``, i.e. ``nnz(S) * N``; they evaluate it in floating point
and truncate, which can fall one operation short per layer. ``paper_compat=True`` (the
default) reproduces that expression bit for bit; ``paper_compat=False`` gives the exact
``nnz(S) * N``. A grouped convolution counts ``nnz`` over all groups times the
per-group ``N``; a multi-level (non-binary) input counts the ones of every bit plane,
since each plane is a binary GEMM of its own (the authors' inputs are all binary).

The authors' function covers SpikingBERT attention only and raises for every other
attention variant. For Spikformer, SpikeBERT and SDT attention we take the dense
operation counts the authors give those variants in their Eyeriss model
(``run_eyeriss_attention`` in ``simulator/baselines.py``): ``Q K^T`` and ``A V`` as
``L*L*dh`` operations each per head, step and sample, and SDT's linear, mask-and-add
attention as ``4*L*dh``. These rows are ours, not the paper's (marked ``eyeriss``).

The count is a pure function of the layer records (their shapes) and of ``nnz`` per GEMM
layer: the ones of its spike operand, which the counting stage already has
(:func:`nnz_by_layer` reads them off :class:`~prosparsity.analysis.density.ModelStats`).
For a workload without spike data, :func:`nnz_at_density` gives ``nnz`` at an assumed
bit density (an approximation: real layers differ in density).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from prosparsity.analysis.layers import attention_shape_at, layernorm_rows_at, lif_neurons
from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import (
    AttentionParams,
    AttentionVariant,
    LayerNormParams,
    LifParams,
)
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import gemm_shape

if TYPE_CHECKING:
    from prosparsity.analysis.stats import ModelStats

__all__ = [
    "LayerOps",
    "OpCount",
    "OpRule",
    "gop_per_j",
    "gop_per_s",
    "layer_ops",
    "nnz_at_density",
    "nnz_by_layer",
    "operation_count",
    "operations_of",
]

#: Record kinds whose operations are ``nnz(S) * N``.
GEMM_KINDS = frozenset({LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D})


class OpRule(StrEnum):
    """Which rule counted a layer's operations (see the module docstring)."""

    SPIKE_GEMM = "nnz*N"  # the authors' FC / conv rule
    NEURON = "B*T*neurons"  # the authors' LIF rule
    LAYERNORM = "2*B*T*L*dim"  # the authors' LayerNorm rule
    AUTHORS_ATTENTION = "authors"  # the authors' SpikingBERT attention rule
    EYERISS_ATTENTION = "eyeriss"  # ours: the authors' Eyeriss op count of that variant
    NONE = "none"  # not counted (max-pool)


@dataclass(frozen=True)
class LayerOps:
    """Operations of one layer record.

    Attributes:
        name: the record's name.
        kind: the record's kind.
        ops: operations (additions) of one inference.
        rule: the rule that counted them.
    """

    name: str
    kind: str
    ops: int
    rule: OpRule


@dataclass(frozen=True)
class OpCount:
    """Operation count of a workload: the sum of its layers' (``+`` concatenates).

    Attributes:
        layers: per-record counts, in execution order.
    """

    layers: tuple[LayerOps, ...] = ()

    def __add__(self, other: OpCount) -> OpCount:
        if not isinstance(other, OpCount):
            return NotImplemented
        return OpCount(self.layers + other.layers)

    @property
    def total(self) -> int:
        """All operations (the authors' ``total_ops``)."""
        return sum(layer.ops for layer in self.layers)

    @property
    def gemm(self) -> int:
        """Operations of the linear and convolution layers (the authors' ``FC_ops``)."""
        return sum(layer.ops for layer in self.layers if layer.rule is OpRule.SPIKE_GEMM)

    @property
    def neuron(self) -> int:
        """Operations of the LIF layers (the authors' ``LIF_ops``)."""
        return sum(layer.ops for layer in self.layers if layer.rule is OpRule.NEURON)

    @property
    def gop(self) -> float:
        """``total / 1e9``."""
        return self.total / 1e9

    @property
    def paper_rules_only(self) -> bool:
        """False when a layer was counted by a rule of ours (Spikformer/SDT attention)."""
        return all(layer.rule is not OpRule.EYERISS_ATTENTION for layer in self.layers)

    def to_json(self) -> dict[str, Any]:
        """JSON form: totals and the per-layer counts."""
        return {
            "total": self.total,
            "gemm": self.gemm,
            "neuron": self.neuron,
            "paper_rules_only": self.paper_rules_only,
            "layers": [
                {"name": layer.name, "kind": layer.kind, "ops": layer.ops, "rule": str(layer.rule)}
                for layer in self.layers
            ],
        }


def _spike_gemm_ops(record: LayerRecord, nnz: int, paper_compat: bool) -> int:
    shape = gemm_shape(record)
    elements = shape.m * shape.k * shape.groups
    if nnz < 0:
        raise ConfigError(f"{record.name}.nnz", f"must be >= 0, got {nnz}")
    if not paper_compat or shape.groups > 1:
        return nnz * shape.n
    # the authors' int(M * K * N * density), density = nnz / numel, in floating point
    return int(shape.m * shape.k * shape.n * (nnz / elements)) if elements else 0


def layer_ops(
    record: LayerRecord,
    nnz: int | None = None,
    *,
    time_steps: int = 1,
    batch: int = 1,
    paper_compat: bool = True,
) -> LayerOps:
    """Operations of one layer record (rules in the module docstring).

    Args:
        record: the layer.
        nnz: ones of the layer's spike operand (linear / conv layers only; all groups
            and bit planes together).
        time_steps: ``T`` when the record has no ``time_steps`` parameter.
        batch: ``B`` when the record has no ``batch`` parameter.
        paper_compat: reproduce the authors' floating-point truncation of ``nnz * N``.

    Raises:
        ConfigError: a missing or bad parameter, a GEMM layer without ``nnz``, an
            unknown attention variant (the message names the layer and the field).
    """
    kind = record.kind
    p = record.parsed
    t = p.time_steps_or(time_steps)
    b = p.batch_or(batch)
    if kind in GEMM_KINDS:
        if nnz is None:
            raise ConfigError(f"{record.name}.nnz",
                              "no spike count for this layer: its operations are nnz(S) * N")
        return LayerOps(record.name, str(kind), _spike_gemm_ops(record, int(nnz), paper_compat),
                        OpRule.SPIKE_GEMM)
    if isinstance(p, LifParams):
        return LayerOps(record.name, str(kind), b * t * lif_neurons(record), OpRule.NEURON)
    if isinstance(p, LayerNormParams):
        rows, dim = layernorm_rows_at(record, t, b)
        return LayerOps(record.name, str(kind), 2 * rows * dim, OpRule.LAYERNORM)
    if isinstance(p, AttentionParams):
        shape = attention_shape_at(record, t, b)
        seq, dh, variant = shape.seq_len, shape.head_dim, shape.variant
        per = shape.slices  # one (sample, step, head)
        if variant is AttentionVariant.SPIKINGBERT:
            return LayerOps(record.name, str(kind), 2 * per * seq * seq * dh + 2 * per * seq * seq,
                            OpRule.AUTHORS_ATTENTION)
        if variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
            return LayerOps(record.name, str(kind), 2 * per * seq * seq * dh,
                            OpRule.EYERISS_ATTENTION)
        return LayerOps(record.name, str(kind), 4 * per * seq * dh, OpRule.EYERISS_ATTENTION)
    return LayerOps(record.name, str(kind), 0, OpRule.NONE)


def counted_records(records: Iterable[LayerRecord]) -> tuple[LayerRecord, ...]:
    """The records an operation count covers: in-network, attention operands excluded
    (an attention block is counted once, by its ``attention`` record)."""
    return tuple(r for r in records
                 if r.in_network and r.kind is not LayerKind.ATTENTION_OPERAND)


def operation_count(
    records: Sequence[LayerRecord],
    nnz: Mapping[str, int],
    *,
    time_steps: int = 1,
    batch: int = 1,
    paper_compat: bool = True,
) -> OpCount:
    """Operation count of a network (the authors' ``compute_num_OPS``, extended).

    Args:
        records: the workload's layer records in execution order (records marked
            ``in_network=False`` and attention operands are skipped).
        nnz: layer name -> ones of its spike operand, for every linear / conv layer
            (:func:`nnz_by_layer` of the counting stage's statistics, or
            :func:`nnz_at_density`).
        time_steps: ``T`` for records without a ``time_steps`` parameter.
        batch: ``B`` for records without a ``batch`` parameter.
        paper_compat: reproduce the authors' floating-point truncation (see module).

    Raises:
        ConfigError: a linear / conv layer missing from ``nnz``, or a bad record.
    """
    return OpCount(tuple(
        layer_ops(r, nnz.get(r.name), time_steps=time_steps, batch=batch,
                  paper_compat=paper_compat)
        for r in counted_records(records)
    ))


def nnz_by_layer(stats: ModelStats) -> dict[str, int]:
    """Ones of each linear / conv layer's spike operand, from the counting stage.

    The unweighted ones of the layer's tile grids (``LayerStats.spikes``: bit planes
    and groups add up).
    """
    kinds = {str(k) for k in GEMM_KINDS}
    return {layer.name: layer.spikes for layer in stats.layers if layer.kind in kinds}


def operations_of(stats: ModelStats, *, paper_compat: bool = True) -> OpCount:
    """The operation count of counted statistics: their network's records with each
    linear / conv layer's ``nnz`` from the counting (:func:`nnz_by_layer`), ``T`` and
    ``B`` from the network (a sample counted alone has ``B = 1``).

    Raises:
        ConfigError: statistics without layer metadata, or a record the count cannot
            price (the message names the layer and the field).
    """
    if stats.network is None:
        raise ConfigError("ops", f"{stats.where}: statistics without layer metadata")
    network = stats.network
    return operation_count(network.layers, nnz_by_layer(stats), time_steps=network.time_steps,
                           batch=network.batch, paper_compat=paper_compat)


def gop_per_s(ops: int, latency_s: float) -> float:
    """Throughput, GOP/s: ``ops / latency_s / 1e9`` (the paper's Table 4)."""
    return ops / latency_s / 1e9


def gop_per_j(ops: int, energy_mj: float) -> float:
    """Energy efficiency, GOP/J: ``ops / (energy_mj * 1e-3) / 1e9`` (the paper's Table 4)."""
    return ops / (energy_mj * 1e-3) / 1e9


def nnz_at_density(records: Iterable[LayerRecord], density: float) -> dict[str, int]:
    """``nnz`` of every linear / conv record at one assumed bit density.

    ``round(density * M * K)`` per layer (all groups): for workloads known by their
    shapes only (e.g. a paper workload at its published Fig. 11 bit density). Real
    layers differ in density, so the result approximates the operation count of a trace.

    Raises:
        ConfigError: ``density`` outside [0, 1], or a record without a GEMM shape.
    """
    if not 0.0 <= density <= 1.0:
        raise ConfigError("density", f"must be in [0, 1], got {density}")
    out: dict[str, int] = {}
    for record in counted_records(records):
        if record.kind in GEMM_KINDS:
            shape = gemm_shape(record)
            out[record.name] = round(density * shape.m * shape.k * shape.groups)
    return out
