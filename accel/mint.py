"""MINT baseline, as the Prosperity authors model it.

MINT (Yin et al., ASP-DAC 2024) is modelled as 128 PEs that each process one input spike
per cycle for up to 128 outputs (cycles at 500 MHz):

* linear / conv GEMM: ``nnz(S) * ceil(N / 128)`` (``S`` the layer's spiking GEMM matrix;
  ``nnz`` is the tile grids' count, any tile: MINT needs no counter of its own);
* LIF: as PTB, ``neurons * B * T * 3 // 16``.

The network total is the sum of its layers; no DRAM traffic is modelled (0 bits).
Attention, LayerNorm and max-pool layers are not priced (the authors' MINT skips them).
"""

from __future__ import annotations

from dataclasses import dataclass

from prosparsity.accel.base import (
    Breakdown,
    LayerBreakdown,
    Needs,
    ceil_div,
    require_network,
)
from prosparsity.accel.registry import register
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, layer_gemm, lif_neurons
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.traces.schema import LayerKind

NAME = "mint"


@dataclass(frozen=True)
class MINTConfig:
    """MINT as the Prosperity authors configure it.

    Attributes:
        pes: processing elements, outputs per pass (128).
        lif_units: LIF units (16, the authors reuse PTB's LIF model).
        lif_cycles_per_update: cycles of one LIF update (3).
        clock_hz: clock frequency (500 MHz).
    """

    pes: int = 128
    lif_units: int = 16
    lif_cycles_per_update: int = 3
    clock_hz: float = CLOCK_HZ

    def __post_init__(self) -> None:
        for name in ("pes", "lif_units", "lif_cycles_per_update"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"mint.{name}", "must be >= 1")
        if self.clock_hz <= 0:
            raise ConfigError("mint.clock_hz", "must be > 0")


def gemm_cycles(spikes: int, n: int, config: MINTConfig) -> int:
    """``spikes * ceil(N / pes)``: one cycle per input spike and pass over the outputs."""
    return spikes * ceil_div(n, config.pes)


def needs(config: MINTConfig) -> Needs:
    """MINT prices the layers' spike counts (any tile's grids hold them)."""
    return Needs(spikes=True)


@register(NAME, config_type=MINTConfig, needs=needs, display="MINT", energy_key="MINT",
          description="MINT: 128 PEs, one input spike per cycle per 128 outputs")
def simulate(stats: ModelStats, config: MINTConfig | None = None) -> Breakdown:
    """MINT: 128 PEs, one input spike per cycle per 128 outputs."""
    config = config or MINTConfig()
    network = require_network(stats, NAME)
    layers: list[LayerBreakdown] = []
    try:
        for record in network.layers:
            if record.kind in WEIGHT_GEMM_KINDS:
                shape = layer_gemm(network, record)
                nnz = stats.layer(record.name).spikes
                cycles = gemm_cycles(nnz, shape.n, config)
                layers.append(LayerBreakdown(name=record.name, op="gemm", total_cycles=cycles,
                                             compute_cycles=cycles, extra={"spikes": float(nnz)}))
            elif record.kind is LayerKind.LIF:
                cycles = (lif_neurons(record) * network.batch_of(record)
                          * network.time_steps_of(record)
                          * config.lif_cycles_per_update // config.lif_units)
                layers.append(LayerBreakdown(name=record.name, op="lif", total_cycles=cycles,
                                             compute_cycles=cycles))
    except ConfigError as exc:
        raise network.error(exc) from None
    return Breakdown.of_layers(NAME, network.name, config.clock_hz, layers)
