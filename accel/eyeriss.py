"""Eyeriss and Eyeriss-linear baselines, as the Prosperity authors model them.

Eyeriss (Chen et al., ISSCC 2016) is a 14 x 12 = 168-PE dense array; the authors treat it
as weight stationary and blind to sparsity, so its latency depends on layer shapes only
(docs/baselines.md: the paper's Figure 8 Eyeriss row follows from ``workloads.json`` alone).

Cycles per layer (500 MHz), with ``M = B*T*L`` GEMM rows, ``K`` columns, ``N`` outputs:

* linear / conv GEMM: ``ceil(N / 12) * ((K * M) // 14)``;
* LIF: ``((T // 12) * neurons * B) // 14``.

``eyeriss-linear`` also prices the transformer blocks on all 168 PEs:

* attention, ``ops // 168`` with ``dh = dim / heads`` and
  spikformer / spikebert: ``ops = 2 * L^2 * B * H * dh * T``;
  sdt: ``ops = 4 * L * dh * B * T * H``;
  spikingbert: ``ops = 2 * L^2 * B * H * dh * T + 2 * L^2 * B * H * T + L * B * H * T``;
* LayerNorm, ``ops // 168`` with ``ops = 3 * S + 2 * (S // dim)`` where ``S`` is the
  size of its activation tensor.

The network total is the sum of its layers; no DRAM traffic is modelled (0 bits), as in
the authors' simulator. Max-pool layers are free.

Reproduced slips of the authors' simulator (``paper_compatible=True``, the default):

* ``T // 12`` in the LIF formula truncates: every LIF layer with ``T < 12`` costs 0;
* the LayerNorm tensor size ``S`` is counted in *bits* of its 8-bit values
  (``S = 8 * B*T*L*dim``). ``paper_compatible=False`` uses ``ceil(T / 12)`` and the
  element count instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prosparsity.accel.base import Breakdown, LayerBreakdown, ceil_div, require_network
from prosparsity.accel.registry import register
from prosparsity.analysis.layers import (
    WEIGHT_GEMM_KINDS,
    attention_shape,
    layer_gemm,
    layernorm_elements,
    lif_neurons,
)
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerKind, LayerRecord

NAME = "eyeriss"
NAME_LINEAR = "eyeriss-linear"


@dataclass(frozen=True)
class EyerissConfig:
    """Eyeriss as the Prosperity authors configure it.

    Attributes:
        pe_rows: rows of the PE array, the ``// 14`` of the formulas (14).
        pe_cols: columns, output features per pass (12).
        price_transformer_ops: also price attention and LayerNorm (``eyeriss-linear``).
        paper_compatible: reproduce the authors' slips (see the module docstring).
        activation_bits: bits of a LayerNorm activation value (8).
        clock_hz: clock frequency (500 MHz).
    """

    pe_rows: int = 14
    pe_cols: int = 12
    price_transformer_ops: bool = False
    paper_compatible: bool = True
    activation_bits: int = 8
    clock_hz: float = CLOCK_HZ

    #: Fields that leave the chip as it is: what the model counts, and the
    #: simulator-compatibility switch.
    SAME_HARDWARE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"paper_compatible", "price_transformer_ops"})

    def __post_init__(self) -> None:
        for name in ("pe_rows", "pe_cols", "activation_bits"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"eyeriss.{name}", "must be >= 1")
        if self.clock_hz <= 0:
            raise ConfigError("eyeriss.clock_hz", "must be > 0")

    @property
    def pes(self) -> int:
        return self.pe_rows * self.pe_cols


@dataclass(frozen=True)
class EyerissLinearConfig(EyerissConfig):
    """Eyeriss-linear: :class:`EyerissConfig` that also prices attention and LayerNorm."""

    price_transformer_ops: bool = True


def _lif_cycles(network: Network, record: LayerRecord, config: EyerissConfig) -> int:
    steps = network.time_steps_of(record)
    groups = steps // config.pe_cols if config.paper_compatible else ceil_div(steps, config.pe_cols)
    return groups * lif_neurons(record) * network.batch_of(record) // config.pe_rows


def _attention_ops(network: Network, record: LayerRecord) -> int:
    a = attention_shape(network, record)
    per_pair = a.seq_len * a.batch * a.heads * a.time_steps
    if a.variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
        return 2 * a.seq_len * per_pair * a.head_dim
    if a.variant is AttentionVariant.SDT:
        return 4 * per_pair * a.head_dim
    # spikingbert
    return 2 * a.seq_len * per_pair * a.head_dim + 2 * a.seq_len * per_pair + per_pair


def _layernorm_ops(network: Network, record: LayerRecord, config: EyerissConfig) -> int:
    elements, dim = layernorm_elements(network, record)
    size = elements * config.activation_bits if config.paper_compatible else elements
    return 3 * size + 2 * (size // dim)


def layer_cycles(network: Network, record: LayerRecord, config: EyerissConfig) -> int | None:
    """Cycles of one layer, or None where Eyeriss (in this variant) does not price it."""
    if record.kind in WEIGHT_GEMM_KINDS:
        s = layer_gemm(network, record)
        return s.groups * ceil_div(s.n, config.pe_cols) * (s.k * s.m // config.pe_rows)
    if record.kind is LayerKind.LIF:
        return _lif_cycles(network, record, config)
    if config.price_transformer_ops:
        if record.kind is LayerKind.ATTENTION:
            return _attention_ops(network, record) // config.pes
        if record.kind is LayerKind.LAYERNORM:
            return _layernorm_ops(network, record, config) // config.pes
    return None


def _simulate(network: Network, config: EyerissConfig, name: str) -> Breakdown:
    layers = []
    try:
        for record in network.layers:
            cycles = layer_cycles(network, record, config)
            if cycles is None:
                continue
            op = "gemm" if record.kind in WEIGHT_GEMM_KINDS else str(record.kind)
            layers.append(LayerBreakdown(name=record.name, op=op, total_cycles=cycles,
                                         compute_cycles=cycles))
    except ConfigError as exc:
        raise network.error(exc) from None
    return Breakdown.of_layers(name, network.name, config.clock_hz, layers)


@register(NAME, config_type=EyerissConfig, display="Eyeriss", energy_key="Eyeriss",
          description="Eyeriss: dense 14x12 PE array, shapes only")
def simulate(stats: ModelStats, config: EyerissConfig | None = None) -> Breakdown:
    """Eyeriss: dense 14x12 PE array, shapes only (GEMM and LIF layers)."""
    return _simulate(require_network(stats, NAME), config or EyerissConfig(), NAME)


@register(NAME_LINEAR, config_type=EyerissLinearConfig, display="Eyeriss_linear",
          energy_key="Eyeriss",
          description="Eyeriss-linear: Eyeriss that also prices attention and LayerNorm")
def simulate_linear(stats: ModelStats, config: EyerissConfig | None = None) -> Breakdown:
    """Eyeriss-linear: Eyeriss that also prices attention and LayerNorm."""
    return _simulate(require_network(stats, NAME_LINEAR), config or EyerissLinearConfig(),
                     NAME_LINEAR)
