"""The first-order frame both shipped plugins price in: Prosperity's chip, with its
weight-GEMM layers re-priced by another sparsity paradigm.

Neither Phi nor Bishop released a simulator, and only their abstracts could be read
(docs/phi-and-bishop.md), so their cost models keep everything the papers do not let us
model on the chip whose model the harness reproduces exactly: Prosperity's adder array
(``adders`` output columns per pass, one row item per cycle), its buffers (a
``tile_m x tile_k`` spike tile, a ``tile_k x adders`` weight tile), its memory interface,
clock, LIF units, LayerNorm and attention costs and its rule overlapping a LIF layer with
the layer before it. Those layers are priced by Prosperity's own registered model in its
*bit-sparsity* mode (Prosperity's ablation without product sparsity, so that no
paradigm borrows ProSparsity); only the weight GEMMs (linear, conv) are re-priced by the
plugin, each from its own statistics, with

    time      = max(compute, preprocess)                                  [cycles]
    init      = min(tile_k, K) * min(adders, N) * weight_bits + min(tile_k, K) * min(tile_m, M)
    mem_stall = init // B + max(0, (DRAM - init) // B - time)             (B bits/cycle)
    total     = time + mem_stall

(Prosperity's stall rule, spec §5, with the spike tile always counted as not on chip).
The DRAM traffic of a re-priced GEMM starts from Prosperity's for that layer (same
buffers) plus what the plugin adds. Nothing here is either paper's number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from prosparsity.accel.base import Breakdown, LayerBreakdown
from prosparsity.accel.registry import registry
from prosparsity.core.errors import ConfigError, TraceError

if TYPE_CHECKING:
    from prosparsity.analysis.network import Network
    from prosparsity.analysis.stats import GemmStats, LayerStats, ModelStats

__all__ = ["CHIP_FIELDS", "LABEL", "Chip", "GemmCost", "conv_kernel_area", "frame",
           "gemm_layers", "reprice", "transformers_only"]

#: The caveat both shipped plugins declare (their registration's ``label``): every report
#: title and ``--json`` entry carries it.
LABEL = "first-order model, no reference simulator"

#: The fields a plugin config shares with Prosperity's (same names, same defaults).
CHIP_FIELDS = ("tile_m", "tile_k", "adders", "weight_bits", "mem_bits_per_cycle", "clock_hz",
               "lif_units")

class Chip(Protocol):
    """The chip fields a plugin config shares with Prosperity's (:data:`CHIP_FIELDS`)."""

    tile_m: int
    tile_k: int
    adders: int
    weight_bits: int
    mem_bits_per_cycle: int
    clock_hz: float
    lif_units: int


#: Operator names of the weight GEMMs (``LayerBreakdown.op``).
_GEMM_OPS = frozenset({"linear", "conv1d", "conv2d"})


@dataclass(frozen=True)
class GemmCost:
    """What a plugin charges for one GEMM (one view: a channel group or a bit plane).

    Attributes:
        compute: cycles of work on the adder array.
        preprocess: cycles of the paradigm's front end (pattern matching, stratifier),
            overlapped with compute.
        extra_dram_bits: DRAM bits beyond Prosperity's for this GEMM (e.g. Phi's
            pattern-weight products).
        extra: model-specific counts, numbers only (summed over the layer's views).
    """

    compute: int
    preprocess: int = 0
    extra_dram_bits: int = 0
    extra: Mapping[str, float] = dataclasses.field(default_factory=dict)


def conv_kernel_area(kind: str, kernel: int) -> int:
    """Input reuse factor of im2col (spec §5's ``k*k``): ``kernel**2`` for conv2d,
    ``kernel`` for conv1d, 1 for linear."""
    if kind == "conv2d":
        return kernel * kernel
    return kernel if kind == "conv1d" else 1


def frame(stats: ModelStats, config: Chip) -> Breakdown:
    """Prosperity's breakdown of ``stats`` in bit-sparsity mode on the chip of
    ``config`` (its :data:`CHIP_FIELDS`)."""
    entry = registry()["prosperity"]
    base = entry.default_config()
    chip = {name: getattr(config, name) for name in CHIP_FIELDS if hasattr(base, name)}
    prosperity = dataclasses.replace(base, sparsity="bit", **chip)
    out = entry.simulate(stats, prosperity)
    assert out is not None
    return out


def transformers_only(network: Network) -> str | None:
    """``None`` for a network with an attention block (a spiking transformer), else why
    a transformer accelerator does not price it (a registration's ``applies``)."""
    if any(record.kind == "attention" for record in network.layers):
        return None
    return "prices spiking transformers only (this network has no attention block)"


def gemm_layers(stats: ModelStats) -> list[LayerStats]:
    """The weight-GEMM layers of ``stats`` (every analysed layer but attention blocks)."""
    return [layer for layer in stats.layers if layer.kind != "attention"]


def _mem_stall(dram: int, init: int, time: int, bus: int) -> int:
    return init // bus + max(0, (dram - init) // bus - time)


def _price_layer(layer: LayerStats, costs: Sequence[GemmCost], base: LayerBreakdown,
                 config: Chip) -> LayerBreakdown:
    """One layer from the costs of its GEMMs; DRAM from Prosperity's layer."""
    if len(costs) != len(layer.gemms):
        raise ConfigError("plugin", f"{len(costs)} costs for the {len(layer.gemms)} GEMMs "
                          f"of layer {layer.name!r}")
    total = compute = stall = pre_stall = 0
    dram = int(base.dram_bits)
    extra: dict[str, float] = {}
    share = _split(int(base.dram_bits), len(costs))
    for g, cost, base_bits in zip(layer.gemms, costs, share, strict=True):
        time = max(cost.compute, cost.preprocess)
        bits = base_bits + cost.extra_dram_bits
        init = _init_bits(g, config)
        s = _mem_stall(bits, init, time, config.mem_bits_per_cycle)
        total += time + s
        compute += time
        stall += s
        pre_stall += max(0, cost.preprocess - cost.compute)
        dram += cost.extra_dram_bits
        for key, value in cost.extra.items():
            extra[key] = extra.get(key, 0.0) + float(value)
    return LayerBreakdown(name=base.name, op=base.op, total_cycles=total,
                          compute_cycles=compute, mem_stall_cycles=stall,
                          preprocess_stall_cycles=pre_stall, dram_bits=dram, extra=extra,
                          record=base.record)


def _split(bits: int, parts: int) -> list[int]:
    """``bits`` in ``parts`` near-equal integer shares (a layer's GEMMs have equal
    shapes: groups or bit planes)."""
    return [bits // parts + (1 if i < bits % parts else 0) for i in range(parts)]


def _init_bits(g: GemmStats, config: Chip) -> int:
    tile_k = min(config.tile_k, g.k)
    return tile_k * min(config.adders, g.n) * config.weight_bits + tile_k * min(config.tile_m, g.m)


def reprice(stats: ModelStats, config: Chip, accelerator: str,
            costs: Mapping[str, Sequence[GemmCost]], *, notes: Sequence[str] = (),
            extra: Mapping[str, float] | None = None) -> Breakdown:
    """The frame's breakdown with every weight-GEMM layer priced from ``costs`` (record
    name -> one :class:`GemmCost` per GEMM of the layer, in the statistics' order).

    Raises:
        TraceError: a weight-GEMM layer of the network without a cost.
    """
    base = frame(stats, config)
    by_record = {layer.name: layer for layer in gemm_layers(stats)}
    layers = []
    for lb in base.layers:
        if lb.op not in _GEMM_OPS:
            layers.append(lb)
            continue
        layer = by_record.get(lb.layer)
        if layer is None or lb.layer not in costs:
            where = stats.network.where if stats.network is not None else stats.model
            raise TraceError(where, f"{accelerator}: no statistics for this layer", lb.layer)
        layers.append(_price_layer(layer, costs[lb.layer], lb, config))
    return Breakdown.of_layers(accelerator, base.workload, base.clock_hz, layers,
                               notes=tuple(notes), extra=dict(extra or {}))
