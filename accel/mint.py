"""MINT baseline, as the Prosperity authors model it.

MINT (Yin et al., ASP-DAC 2024) is modelled as 128 PEs that each process one input spike
per cycle for up to 128 outputs (cycles at 500 MHz):

* linear / conv GEMM: ``nnz(S) * ceil(N / 128)`` (``S`` the layer's spiking GEMM matrix);
* LIF: as PTB, ``neurons * B * T * 3 // 16``.

The network total is the sum of its layers; no DRAM traffic is modelled (0 bits).
Attention, LayerNorm and max-pool layers are not priced (the authors' MINT skips them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prosparsity.accel._baseline import (
    WEIGHT_GEMM_KINDS,
    ceil_div,
    layer_gemm,
    lif_neurons,
    spike_views,
)
from prosparsity.accel.base import Breakdown, LayerBreakdown, register, sum_layers
from prosparsity.accel.workload import Workload
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


@register("mint", config_type=MINTConfig, needs_spikes=True, energy_key="MINT",
          description="MINT: 128 PEs, one input spike per cycle per 128 outputs")
def simulate(workload: Workload, config: MINTConfig | None = None) -> Breakdown:
    """MINT: 128 PEs, one input spike per cycle per 128 outputs."""
    config = config or MINTConfig()
    layers: list[LayerBreakdown] = []
    for record in workload.layers:
        if record.kind in WEIGHT_GEMM_KINDS:
            shape = layer_gemm(workload, record)
            nnz = sum(int(np.count_nonzero(v)) for v in spike_views(workload, record))
            cycles = gemm_cycles(nnz, shape.n, config)
            layers.append(LayerBreakdown(name=record.name, op="gemm", total_cycles=cycles,
                                         compute_cycles=cycles, extra={"spikes": float(nnz)}))
        elif record.kind is LayerKind.LIF:
            cycles = (lif_neurons(record) * workload.batch_of(record)
                      * workload.time_steps_of(record)
                      * config.lif_cycles_per_update // config.lif_units)
            layers.append(LayerBreakdown(name=record.name, op="lif", total_cycles=cycles,
                                         compute_cycles=cycles))
    return Breakdown(accelerator=NAME, workload=workload.name, clock_hz=config.clock_hz,
                     layers=tuple(layers), **sum_layers(layers))
