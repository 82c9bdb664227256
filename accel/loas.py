"""LoAS baseline, with and without ProSparsity, as the Prosperity authors study it.

LoAS (Yin et al., MICRO 2024) runs all time steps of a neuron in parallel. The authors'
simulator uses it to show that ProSparsity also helps a temporal-parallel design; it
reports *densities* only (its LoAS run returns no cycles):

Counting (:func:`prosparsity.analysis.counters.loas.loas_rows`, done once by the analysis
under the counter key :class:`~prosparsity.analysis.counters.LoASGroups` of the config's
time groups and tile): per linear / conv layer and batch sample, ``T`` is padded
with silent steps to a power of two ``T'`` (at least 4) and cut into 4 groups of ``T'/4``
consecutive steps; a group's spikes are OR-ed, giving 4 rows per token / output position
(rows token-major, group-minor), ``4*L`` rows of ``K`` columns. Then

* ``pseudo_acc = nnz(rows) * N``                      (LoAS as published),
* ``pseudo_acc_pro = nnz(residual(rows)) * N``        (LoAS + ProSparsity, tiles 256x16),
* ``dense_acc = 4*L * K * N``,

and the model's bit / product densities are ``Σ pseudo_acc / Σ dense_acc`` and
``Σ pseudo_acc_pro / Σ dense_acc`` (in ``Breakdown.extra``).

Pricing (the harness's addition, not in the authors' simulator, so that LoAS has a
latency): a throughput bound at Prosperity's adder budget. One pseudo-accumulation
updates the ``T'/4`` time steps of its group in parallel, one adder each, so with 128
adders a layer takes ``ceil(pseudo_acc * (T'/4) / 128)`` cycles at 500 MHz;
``prosparsity=True`` prices ``pseudo_acc_pro`` instead. LIF, attention and
LayerNorm layers are not priced; no DRAM traffic is modelled; the paper gives no energy
constants for LoAS, so it has no energy.
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
from prosparsity.analysis.counters import LoASGroups, LoASLayer
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, layer_gemm
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.paper.tiles import DEFAULT_TILE

NAME = "loas"


@dataclass(frozen=True)
class LoASConfig:
    """LoAS as the Prosperity authors study it, plus the harness's throughput bound.

    Attributes:
        prosparsity: price the accumulations left after ProSparsity (LoAS + ProSparsity).
        time_groups: groups the time steps are OR-ed into (4).
        tile_m: ProSparsity tile rows (256).
        tile_k: ProSparsity tile columns (16).
        adders: adders of the throughput bound, one per time step of a group (128).
        clock_hz: clock frequency (500 MHz).
    """

    prosparsity: bool = False
    time_groups: int = 4
    tile_m: int = DEFAULT_TILE.tile_m
    tile_k: int = DEFAULT_TILE.tile_k
    adders: int = 128
    clock_hz: float = CLOCK_HZ

    def __post_init__(self) -> None:
        for name in ("time_groups", "tile_m", "tile_k", "adders"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"loas.{name}", "must be >= 1")
        if self.clock_hz <= 0:
            raise ConfigError("loas.clock_hz", "must be > 0")

    @property
    def counter(self) -> LoASGroups:
        """The counter key of this config's OR-ed rows."""
        return LoASGroups(time_groups=self.time_groups, tile_m=self.tile_m, tile_k=self.tile_k)


@dataclass(frozen=True)
class LoASCounts:
    """Accumulation counts of one layer (see the module docstring).

    Attributes:
        pseudo_acc: spikes of the OR-ed groups times ``N``.
        pseudo_acc_prosparsity: the same after ProSparsity.
        dense_acc: rows x columns x ``N``.
        steps_per_group: time steps one pseudo-accumulation covers (``T'/4``).
    """

    pseudo_acc: int
    pseudo_acc_prosparsity: int
    dense_acc: int
    steps_per_group: int = 1

    @staticmethod
    def of(layer: LoASLayer, n: int) -> LoASCounts:
        """The counts of a layer of ``N = n`` outputs from its counter value."""
        return LoASCounts(layer.ones * n, layer.residual_ones * n, layer.elements * n,
                          layer.steps_per_group)


def needs(config: LoASConfig) -> Needs:
    """LoAS prices its OR-ed rows' counts (a counter) and the layer shapes."""
    return Needs(spikes=True, counters=frozenset({config.counter}))


@register(NAME, config_type=LoASConfig, needs=needs, display="LoAS",
          description="LoAS: time-parallel PEs over 4 OR-ed time groups (+ProSparsity option)")
def simulate(stats: ModelStats, config: LoASConfig | None = None) -> Breakdown:
    """LoAS: time-parallel PEs over 4 OR-ed time groups (+ProSparsity option)."""
    config = config or LoASConfig()
    network = require_network(stats, NAME)
    counted = stats.counter(config.counter)
    layers: list[LayerBreakdown] = []
    acc = pro = dense = 0
    try:
        for record in network.layers:
            if record.kind not in WEIGHT_GEMM_KINDS:
                continue
            shape = layer_gemm(network, record)
            counts = LoASCounts.of(counted[record.name], shape.n)
            acc, pro, dense = (acc + counts.pseudo_acc, pro + counts.pseudo_acc_prosparsity,
                               dense + counts.dense_acc)
            work = counts.pseudo_acc_prosparsity if config.prosparsity else counts.pseudo_acc
            cycles = ceil_div(work * counts.steps_per_group, config.adders)
            layers.append(LayerBreakdown(
                name=record.name, op="gemm", total_cycles=cycles, compute_cycles=cycles,
                extra={"pseudo_acc": float(counts.pseudo_acc),
                       "pseudo_acc_prosparsity": float(counts.pseudo_acc_prosparsity),
                       "dense_acc": float(counts.dense_acc)}))
    except ConfigError as exc:
        raise network.error(exc) from None
    extra = {
        "bit_density": acc / dense if dense else 0.0,
        "product_density": pro / dense if dense else 0.0,
        "density_improvement": acc / pro if pro else 0.0,
    }
    return Breakdown.of_layers(
        NAME, network.name, config.clock_hz, layers, extra=extra,
        notes=("LoAS cycles are the harness's throughput bound; the authors report densities",),
    )
