"""Prosperity's cycle, DRAM and density model (docs/prosperity-model.md), as the authors'
simulator prices it.

Counting (which rows of a tile reuse which prefix) happened once, in
:mod:`prosparsity.analysis` (the tile grids of :class:`~prosparsity.analysis.stats.ModelStats`);
this module *prices* those counts, a pure function of the statistics and a config.
Units: cycles at ``clock_hz``, DRAM traffic in bits.

GEMM layers (conv, FC) of the network, product sparsity ("issue type 2", default), with
per layer ``nN = ceil(N / adders)``, ``R`` the residual nnz, ``EM`` the exact-match
(row, column tile) pairs, ``P`` the pairs of popcount >= 2::

    compute     = nN * (R + EM)                                   [cycles]
    preprocess  = nN * (P + M // popcount_units)                  [cycles]
    time        = max(compute, preprocess)
    DRAM        = K*N*w*ceil(M/tile_m) + (M*K*nN) // (k*k)        [bits]
    init        = min(tile_k,K)*min(adders,N)*w (+ min(tile_k,K)*min(tile_m,M) if the
                  spikes are not on chip)
    mem_stall   = init // B + max(0, (DRAM - init) // B - time)   (B = bits per cycle)
    total       = time + mem_stall

Bit sparsity prices ``compute = nN * nnz`` and dense ``compute = nN * M * K`` (no
preprocessing), with the authors' tile-by-tile, buffer-aware DRAM count (their CPU path).
The GEMMs inside attention blocks always use that tile-by-tile path, whose preprocessing
is ``sum over tiles of (P_tile + rows_tile // popcount_units)`` per output pass.

LIF (``ceil(neurons*batch / lif_units) * T * 2`` cycles), LayerNorm, the attention
variants (:mod:`prosparsity.accel.prosperity_layers` prices each layer) and the rule
overlapping a LIF layer with the layer before it (:func:`_network_total`, below) follow
the authors' simulator; the knobs are :mod:`prosparsity.accel.prosperity_config`'s.
Known slips of that simulator are reproduced when ``paper_compat`` is true (the default)
and corrected otherwise:

* issue type 1 (forest-depth bound) slices the residual matrix with an index that
  multiplies by the number of row tiles, so only the first row-tile "slice" is priced
  by its residual and it is priced once per column tile;
* attention blocks add the compute and memory-stall cycles of their inner GEMMs twice
  (the block's ``total_cycles`` is right; its ``compute_cycles`` and
  ``mem_stall_cycles``, and so the network's sums of them, are inflated).
"""

from __future__ import annotations

from collections.abc import Iterable

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs, require_network
from prosparsity.accel.prosperity_config import PAPER, ProsperityConfig, Sparsity
from prosparsity.accel.prosperity_layers import (
    Cost,
    attention_cost,
    layernorm_cost,
    lif_cost,
    price_gemm,
)
from prosparsity.accel.registry import register
from prosparsity.analysis.gemm import gemm_name
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, layernorm_rows, lif_neurons
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import LayerStats, ModelStats
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import gemm_shape

__all__ = [
    "PAPER",
    "AttentionVariant",
    "ProsperityConfig",
    "Sparsity",
    "dram_bits",
    "needs",
    "simulate",
]

#: Registry name.
NAME = "prosperity"


def _network_total(ops: Iterable[tuple[LayerRecord, Cost]]) -> list[int]:
    """What each layer adds to the network's cycles (the authors' overlap rule).

    A LIF layer after a GEMM or LayerNorm adds only its latency (it fires the GEMM's
    output tiles as they complete). After an attention block it adds its latency when
    ``attention_total + latency >= lif_total``, else ``lif_total - attention_total``.
    Every other layer adds its total.
    """
    added: list[int] = []
    prev: tuple[LayerRecord, Cost] | None = None
    for record, cost in ops:
        if record.kind is LayerKind.LIF and prev is not None and prev[0].kind in (
            LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D, LayerKind.LAYERNORM
        ):
            added.append(cost.lif_latency)
        elif record.kind is LayerKind.LIF and prev is not None and (
            prev[0].kind is LayerKind.ATTENTION
        ):
            if prev[1].total + cost.lif_latency >= cost.total:
                added.append(cost.lif_latency)
            else:
                added.append(cost.total - prev[1].total)
        else:
            added.append(cost.total)
        prev = (record, cost)
    return added


def _sum_costs(costs: list[Cost]) -> Cost:
    return Cost(sum(c.compute for c in costs), sum(c.mem_stall for c in costs),
                 sum(c.preprocess_stall for c in costs), sum(c.dram_bits for c in costs))


def _gemm_layer(network: Network, record: LayerRecord, layer: LayerStats | None,
                cfg: ProsperityConfig, spikes_on_chip: bool) -> tuple[str, Cost]:
    """A conv/linear layer: its priced name and cost.

    A layer is usually one GEMM; a grouped conv is one per group and a multi-level input
    one per bit plane: each is priced as its own GEMM and the costs add up. Without
    statistics (``layer`` None: a shapes-only pass) the GEMM comes from the layer's
    shape and only its DRAM traffic is meaningful.
    """
    if layer is None:
        try:
            shape = gemm_shape(record)
        except ConfigError as exc:
            raise network.error(exc) from None
        kk = shape.kernel if record.kind is LayerKind.CONV1D else shape.kernel ** 2
        cost = price_gemm(None, shape.m, shape.k, shape.n, kk, cfg, spikes_on_chip,
                           weights_on_chip=False)
        name = gemm_name(record, shape.kernel) if shape.groups == 1 else record.name
        return name, cost if shape.groups == 1 else _sum_costs([cost] * shape.groups)
    costs = []
    for g in layer.gemms:
        kk = g.kernel if record.kind is LayerKind.CONV1D else g.kernel * g.kernel
        grid = None if cfg.sparsity is Sparsity.DENSE else g.grid
        costs.append(price_gemm(grid, g.m, g.k, g.n, kk, cfg, spikes_on_chip,
                                 weights_on_chip=False))
    return layer.priced_name, costs[0] if len(costs) == 1 else _sum_costs(costs)


def _priced(network: Network, stats: ModelStats | None, cfg: ProsperityConfig) -> Breakdown:
    """Prosperity on ``network``; ``stats`` None prices the shapes only."""
    spikes_on_chip = False
    priced: list[tuple[LayerRecord, Cost]] = []
    names: list[str] = []

    def analysed(record: LayerRecord) -> LayerStats | None:
        if stats is None:
            return None
        layer = stats.find(record.name)
        if layer is None:
            raise TraceError(network.where, "no statistics for this layer (counted from "
                             "another network?)", record.name)
        return layer

    try:
        for record in network.ops():
            name = record.name
            if record.kind in WEIGHT_GEMM_KINDS:
                name, cost = _gemm_layer(network, record, analysed(record), cfg,
                                         spikes_on_chip)
            elif record.kind is LayerKind.LIF:
                cost, spikes_on_chip = lif_cost(lif_neurons(record), network.batch_of(record),
                                                 network.time_steps_of(record), cfg)
            elif record.kind is LayerKind.ATTENTION:
                cost, spikes_on_chip = attention_cost(network, record, analysed(record), cfg,
                                                       spikes_on_chip)
            elif record.kind is LayerKind.LAYERNORM:
                rows, dim = layernorm_rows(network, record)
                cost = layernorm_cost(dim, rows, cfg)
            elif record.kind is LayerKind.MAXPOOL2D:
                cost = Cost(0, 0, 0, 0)  # folded into the spike write-back
            else:  # an attention operand without its attention record
                raise TraceError(network.where, "attention operand without an attention "
                                 "record", layer=record.name)
            priced.append((record, cost))
            names.append(name)
    except ConfigError as exc:
        raise network.error(exc) from None

    added = _network_total(priced)
    layers = tuple(
        LayerBreakdown(
            name=name, op=str(record.kind), total_cycles=cost.total,
            compute_cycles=cost.compute, mem_stall_cycles=cost.mem_stall,
            preprocess_stall_cycles=cost.preprocess_stall, dram_bits=cost.dram_bits,
            added_cycles=add, extra={"lif_latency": cost.lif_latency},
            record="" if name == record.name else record.name,
        )
        for (record, cost), add, name in zip(priced, added, names, strict=True)
    )
    extra: dict[str, float] = {}
    if stats is not None and cfg.sparsity is Sparsity.PRODUCT and stats.counts.elements:
        # the run's densities as the authors' simulator reports them (its adder width)
        bit, product = stats.densities(cfg.adders)
        extra = {"bit_density": bit, "product_density": product}
    return Breakdown(
        accelerator=NAME, workload=network.name,
        total_cycles=sum(added),
        compute_cycles=sum(c.compute for _, c in priced),
        mem_stall_cycles=sum(c.mem_stall for _, c in priced),
        preprocess_stall_cycles=sum(c.preprocess_stall for _, c in priced),
        dram_bits=sum(c.dram_bits for _, c in priced),
        clock_hz=cfg.clock_hz, layers=layers, extra=extra,
        notes=(f"tile {cfg.tile_m}x{cfg.tile_k}, issue type {cfg.issue_type}, "
               f"{cfg.sparsity.value} sparsity",),
    )


def dram_bits(network: Network, config: ProsperityConfig | None = None) -> int:
    """Prosperity's DRAM traffic on a network, bits: a function of layer shapes only, so
    it needs no spike data (the energy model's ``D`` for traces outside the paper's
    table)."""
    return int(_priced(network, None, PAPER if config is None else config).dram_bits)


def needs(config: ProsperityConfig) -> Needs:
    """Product sparsity prices the tile grids at the config's tile; bit sparsity needs
    spike counts at any tile; dense mode needs the shapes only (the GEMMs' statistics
    when there is data, for its bit planes and groups)."""
    if config.sparsity is Sparsity.PRODUCT:
        return Needs(spikes=True, tile=(config.tile_m, config.tile_k))
    return Needs(spikes=config.sparsity is Sparsity.BIT)


@register(NAME, config_type=ProsperityConfig, needs=needs, display="Prosperity", dram=True,
          energy_key="Prosperity",
          description="Prosperity (HPCA 2025): product-sparsity SNN accelerator")
def simulate(stats: ModelStats, config: ProsperityConfig | None = None) -> Breakdown:
    """Prosperity (HPCA 2025): per-layer and network cycles, DRAM traffic and densities.

    Args:
        stats: the workload's statistics; product sparsity needs them counted at the
            config's tile, bit sparsity at any tile; dense mode also prices a
            shapes-only workload.
        config: hardware and model knobs; the paper's default when ``None``.

    Returns:
        A :class:`Breakdown`; ``extra`` holds the run's ``bit_density`` and
        ``product_density`` (product sparsity only, weighted by ``ceil(N / adders)``).
        Network ``compute_cycles`` is the sum of every layer's compute (LIF and
        attention included) as the authors sum it; ``total_cycles`` applies the LIF
        overlap rule.

    Raises:
        TraceError: spike statistics needed but absent (a shapes-only workload).
        ConfigError: statistics counted at another tile than product sparsity needs.
    """
    cfg = PAPER if config is None else config
    network = require_network(stats, "prosperity")
    if not stats.has_data:
        if cfg.sparsity is not Sparsity.DENSE:
            raise TraceError(network.where,
                             "Prosperity needs spike data (dense mode and DRAM traffic "
                             "excepted); this workload has layer shapes only")
        return _priced(network, None, cfg)
    if cfg.sparsity is Sparsity.PRODUCT and stats.tile != (cfg.tile_m, cfg.tile_k):
        raise ConfigError("prosperity.tile_m", f"statistics counted at tile "
                          f"{stats.tile_m}x{stats.tile_k}, the config prices "
                          f"{cfg.tile_m}x{cfg.tile_k}")
    return _priced(network, stats, cfg)
