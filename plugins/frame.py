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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs
from prosparsity.accel.registry import registry
from prosparsity.core.errors import ConfigError, TraceError

if TYPE_CHECKING:
    from prosparsity.analysis.network import Network
    from prosparsity.analysis.stats import GemmStats, LayerStats, ModelStats

__all__ = ["CHIP_FIELDS", "LABEL", "Chip", "GemmCost", "conv_kernel_area", "frame",
           "gemm_layers", "layer_costs", "positive_int", "reprice", "transformers_only"]

#: The caveat both shipped plugins declare (their registration's ``label``): every report
#: title and ``--json`` entry carries it.
LABEL = "first-order model, no reference simulator"

#: The fields a plugin config shares with Prosperity's (same names, same defaults).
CHIP_FIELDS = ("tile_m", "tile_k", "adders", "weight_bits", "mem_bits_per_cycle", "clock_hz",
               "lif_units")


def positive_int(field: str, value: object) -> None:
    """Raise a :class:`ConfigError` naming ``field`` unless ``value`` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, f"must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Chip:
    """The chip a plugin's config prices on: Prosperity's paper design (256 x 16 spike
    tile, 128 adders, 8-bit weights, 1024 DRAM bits per cycle, 500 MHz, 32 LIF units;
    docs/prosperity-model.md), the fields :data:`CHIP_FIELDS` of the same names. A
    plugin config subclasses it and calls :meth:`check` from its ``__post_init__``."""

    tile_m: int = 256
    tile_k: int = 16
    adders: int = 128
    weight_bits: int = 8
    mem_bits_per_cycle: int = 1024
    clock_hz: float = 500e6
    lif_units: int = 32

    def check(self, owner: str, positive: Sequence[str] = ()) -> None:
        """The chip's fields and the ``positive`` fields of the config are positive
        integers, the clock > 0; errors name ``owner.field``."""
        for name in (*positive, *(f for f in CHIP_FIELDS if f != "clock_hz")):
            positive_int(f"{owner}.{name}", getattr(self, name))
        clock = self.clock_hz
        if isinstance(clock, bool) or not isinstance(clock, int | float) or not clock > 0:
            raise ConfigError(f"{owner}.clock_hz", f"must be > 0, got {clock!r}")

    @property
    def counter(self) -> Any:
        """The counter key the config's model prices (a subclass defines it)."""
        raise NotImplementedError

    def needs(self) -> Needs:
        """What the config needs counted: spike statistics at any tile (the frame is
        tile-independent) and its :attr:`counter`."""
        return Needs(spikes=True, counters=frozenset({self.counter}))


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


def layer_costs(stats: ModelStats, counts: Mapping[str, Sequence[Any]],
                cost: Callable[[GemmStats, Any, Any], GemmCost],
                config: Any) -> dict[str, list[GemmCost]]:
    """Record name -> the :class:`GemmCost` of each GEMM of every weight-GEMM layer,
    ``cost(gemm, its counts, config)`` with ``counts`` one value per GEMM (view)."""
    return {layer.name: [cost(g, c, config)
                         for g, c in zip(layer.gemms, counts[layer.name], strict=True)]
            for layer in gemm_layers(stats)}


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
