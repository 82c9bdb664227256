"""SATO baseline, as the Prosperity authors model it.

SATO (Liu et al., DAC 2022) spreads the spikes of the input rows over 128 PEs that each
accumulate one spike per cycle for all outputs of the layer. The authors model it as:

Counting (:func:`pe_loads`): the GEMM rows of one batch sample, in the authors' order
(time step major, token / output position minor), are dealt one by one to the PE with
the fewest spikes so far (ties: lowest PE index), each adding its spike count.

Pricing (cycles at 500 MHz):

* linear / conv GEMM: ``max(PE load) * N``;
* LIF: ``neurons * B * (log2(T) + 1)`` (a binary tree over time steps plus one leaf
  comparator); ``log2`` is evaluated in float32 as the authors' torch code does, so a
  ``T`` that is not a power of two gives a fractional cycle count, as in their outputs.

The network total is the sum of its layers; no DRAM traffic is modelled (0 bits).
Attention, LayerNorm and max-pool layers are not priced (the authors' SATO skips them).
Batch samples (batch 1 in all of the authors' runs) are scheduled one after another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs, require_network
from prosparsity.accel.registry import register
from prosparsity.analysis.counters import SATOLoads
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, layer_gemm, lif_neurons
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.traces.schema import LayerKind

NAME = "sato"


@dataclass(frozen=True)
class SATOConfig:
    """SATO as the Prosperity authors configure it.

    Attributes:
        pes: processing elements (128).
        lif_leaf_cycles: cycles of the leaf comparator added to ``log2(T)`` (1).
        clock_hz: clock frequency (500 MHz).
    """

    pes: int = 128
    lif_leaf_cycles: int = 1
    clock_hz: float = CLOCK_HZ

    def __post_init__(self) -> None:
        if self.pes < 1:
            raise ConfigError("sato.pes", "must be >= 1")
        if self.lif_leaf_cycles < 0:
            raise ConfigError("sato.lif_leaf_cycles", "must be >= 0")
        if self.clock_hz <= 0:
            raise ConfigError("sato.clock_hz", "must be > 0")

    @property
    def counter(self) -> SATOLoads:
        """The counter key of this config's PE loads."""
        return SATOLoads(pes=self.pes)


def lif_cycles(neurons: int, steps: int, samples: int, config: SATOConfig) -> float:
    """``neurons * B * (log2(T) + leaf)`` with a float32 ``log2`` (the authors' arithmetic)."""
    return neurons * samples * (float(np.log2(np.float32(steps))) + config.lif_leaf_cycles)


def needs(config: SATOConfig) -> Needs:
    """SATO prices its PE loads (a counter) and the layer shapes."""
    return Needs(spikes=True, counters=frozenset({config.counter}))


@register(NAME, config_type=SATOConfig, needs=needs, display="SATO", energy_key="SATO",
          description="SATO: 128 PEs, input rows dealt greedily by spike count")
def simulate(stats: ModelStats, config: SATOConfig | None = None) -> Breakdown:
    """SATO: 128 PEs, input rows dealt greedily by spike count."""
    config = config or SATOConfig()
    network = require_network(stats, NAME)
    loads_of = stats.counter(config.counter)
    layers: list[LayerBreakdown] = []
    try:
        for record in network.layers:
            if record.kind in WEIGHT_GEMM_KINDS:
                shape = layer_gemm(network, record)
                loads = loads_of[record.name]
                cycles = sum(loads) * shape.n
                layers.append(LayerBreakdown(
                    name=record.name, op="gemm", total_cycles=cycles, compute_cycles=cycles,
                    extra={"max_pe_spikes": float(max(loads, default=0))}))
            elif record.kind is LayerKind.LIF:
                cycles = lif_cycles(lif_neurons(record), network.time_steps_of(record),
                                    network.batch_of(record), config)
                layers.append(LayerBreakdown(name=record.name, op="lif", total_cycles=cycles,
                                             compute_cycles=cycles))
    except ConfigError as exc:
        raise network.error(exc) from None
    return Breakdown.of_layers(NAME, network.name, config.clock_hz, layers)
