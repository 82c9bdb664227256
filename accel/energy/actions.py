"""Actions: how often each component of a design acts on one run.

Counted from what the cost models already have: the statistics of the counting stage
(per GEMM, the ones, residual ones, row classes and rows searched), the breakdown
(latency, DRAM bits, PTB's packed rows, LoAS's accumulations) and the layer shapes (LIF
neurons, LayerNorm rows, attention sizes). Never from spike data. An :class:`Activity` is
one binary GEMM's counts; :func:`prosperity_actions` turns activities and shapes into
actions, so the paper-statistics path of the calibration (activities at the paper's
published densities) and the trace path share every formula.

Prosperity, per GEMM of ``N`` outputs in ``p = ceil(N / adders)`` output passes (each pass
sees every row slice of every tile once; ``R`` residual ones, ``P`` rows with popcount
>= 2, ``EM + PM`` rows with a prefix, ``Z`` all-zero row slices):

============================  ========================================================
adders ``add``                ``R * N`` (bit sparsity: ``nnz * N``; dense: ``M*K*N``)
weight buffer ``read``        ``p * R`` accesses of one row of ``adders`` weights
spike buffer ``read``         ``p * M*K / access bits`` (each tile into the detector)
tcam ``write_row``            ``p * row slices``; ``search``: ``p * P``
popcount ``add``              ``p * row slices * (tile_k - 1)``
pruner ``compare``            ``p * P * tile_m`` (one-bit slices)
forest ``write`` / ``read``   ``p * (EM + PM)`` each
dispatcher                    ``p * (row slices - Z)`` issues: a queue write and read,
                              and ``log2 tile_m`` sort compares (issue type 2) or a
                              depth count (issue type 1)
output buffers                one read and one write of a partial-sum row per
                              non-zero row slice and pass (``(acc - 8) / 8`` accesses
                              of output buffer 1)
DRAM ``bit``                  the breakdown's DRAM bits; they fill the weight buffer
                              (``K*N*w`` per network GEMM and row tile) and the spike
                              buffer (the rest)
LIF ``update``                ``neurons * B * T`` per LIF layer (output spikes written
                              to the spike buffer)
LayerNorm                     ``3 * rows * dim`` adds, ``rows * dim`` multiplies,
                              ``2 * rows`` divides
attention                     SDT: ``2 * T*B*H*dh*L`` adds and a LIF over ``H*dh``;
                              SpikingBERT softmax per head slice: ``L^2`` exponents,
                              multiplies and adds, ``L`` divides
============================  ========================================================

Baselines (consistent mode) count ``nnz * N`` accumulations (Eyeriss ``M*K*N``
multiply-accumulates; LoAS its cycles times its adders), a partial-sum register read and
write per accumulation, one weight-row fetch per input row (PTB per packed row), the
spike operand read once per output pass, each output's partial sum written and read
once, and LIF updates as above.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from prosparsity.accel.base import Breakdown, ceil_div
from prosparsity.accel.energy.components import bits_for
from prosparsity.accel.energy.designs import (
    EYERISS,
    EYERISS_LINEAR,
    LOAS,
    PTB,
    ComponentConfig,
    Design,
)
from prosparsity.analysis.layers import (
    WEIGHT_GEMM_KINDS,
    attention_shape,
    layer_gemm,
    layernorm_rows,
    lif_neurons,
)
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import GemmStats, ModelStats
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerKind

__all__ = ["Actions", "Activity", "ShapeWork", "baseline_actions", "network_gemm_shapes",
           "prosperity_actions", "shape_work", "trace_activities"]

#: component -> action -> count.
Actions = Mapping[str, Mapping[str, float]]


class Activity(NamedTuple):
    """Counts of one binary GEMM over all its copies (not weighted by passes).

    Attributes:
        m, k, n: the GEMM's shape (of one copy); ``copies``: equal-shape GEMMs counted.
        network: a network GEMM (weights from DRAM), not one inside an attention block.
        elements: ``M*K`` bits over the copies; nnz, residual: ones before and after
            ProSparsity; row_slices: (row, column tile) pairs; zero_rows, em_rows,
            pm_rows, ge2_rows: row slices that are all zero, exact matches, partial
            matches, of popcount >= 2.
    """

    m: int
    k: int
    n: int
    copies: int
    network: bool
    elements: float
    nnz: float
    residual: float
    row_slices: float
    zero_rows: float
    em_rows: float
    pm_rows: float
    ge2_rows: float

    @staticmethod
    def of(g: GemmStats, network: bool) -> Activity:
        """The counts of a counted GEMM (its pass-weighted counts divided back)."""
        c, p = g.counts, max(g.passes, 1)
        return Activity(g.m, g.k, g.n, g.copies, network, c.elements / p, c.nnz / p,
                        c.residual_nnz / p, c.row_slices / p, c.zero_rows / p,
                        c.em_rows / p, c.pm_rows / p, c.ge2_rows / p)

    @staticmethod
    def at_density(m: int, k: int, n: int, copies: int, network: bool, bit_density: float,
                   product_density: float, tile_k: int) -> Activity:
        """Counts a GEMM would have at published densities, spikes taken as independent
        Bernoulli bits (zero rows ``(1-p)^tile_k``, popcount >= 2 as the binomial tail);
        every row searched is taken to find a prefix (an upper bound)."""
        elements = float(m * k * copies)
        slices = float(m * ceil_div(k, tile_k) * copies)
        p = min(max(bit_density, 0.0), 1.0)
        zero = (1 - p) ** tile_k
        ge2 = max(0.0, 1 - zero - tile_k * p * (1 - p) ** (tile_k - 1))
        return Activity(m, k, n, copies, network, elements, p * elements,
                        product_density * elements, slices, zero * slices, 0.0,
                        ge2 * slices, ge2 * slices)

    @staticmethod
    def dense(m: int, k: int, n: int, copies: int, network: bool, tile_k: int) -> Activity:
        """A GEMM of shapes only (dense pricing: every bit costs)."""
        elements = float(m * k * copies)
        slices = float(m * ceil_div(k, tile_k) * copies)
        return Activity(m, k, n, copies, network, elements, elements, elements, slices,
                        0.0, 0.0, 0.0, slices)


@dataclass(frozen=True)
class ShapeWork:
    """The work a network's shapes fix, whatever its spikes.

    Attributes:
        lif_updates: LIF neuron updates (``neurons * B * T`` per LIF layer, SDT's too).
        adds: additions outside the GEMMs (LayerNorm, SDT attention, softmax sums).
        multiplies: multiplier operations (LayerNorm squares, softmax).
        exps: exponentials (softmax).
        divides: divisions (LayerNorm, softmax).
    """

    lif_updates: float = 0.0
    adds: float = 0.0
    multiplies: float = 0.0
    exps: float = 0.0
    divides: float = 0.0


def shape_work(network: Network) -> ShapeWork:
    """The shape-fixed work of ``network`` (see the module docstring)."""
    lif = adds = mul = exps = div = 0.0
    for record in network.ops():
        if record.kind is LayerKind.LIF:
            lif += (lif_neurons(record) * network.batch_of(record)
                    * network.time_steps_of(record))
        elif record.kind is LayerKind.LAYERNORM:
            rows, dim = layernorm_rows(network, record)
            adds += 3.0 * rows * dim
            mul += float(rows * dim)
            div += 2.0 * rows
        elif record.kind is LayerKind.ATTENTION:
            s = attention_shape(network, record)
            if s.variant is AttentionVariant.SDT:
                adds += 2.0 * s.time_steps * s.batch * s.heads * s.head_dim * s.seq_len
                lif += float(s.heads * s.head_dim * s.batch * s.time_steps)
            elif s.variant is AttentionVariant.SPIKINGBERT:
                square = float(s.seq_len * s.seq_len * s.slices)
                exps += square
                mul += square
                adds += square
                div += float(s.seq_len * s.slices)
    return ShapeWork(lif, adds, mul, exps, div)


def network_gemm_shapes(network: Network) -> Iterator[tuple[int, int, int, int, bool]]:
    """``(m, k, n, copies, network)`` of every binary GEMM Prosperity prices, from the
    shapes alone (weight layers per group; the GEMMs inside attention blocks per head
    slice, as :mod:`prosparsity.accel.prosperity` shapes them)."""
    for record in network.ops():
        if record.kind in WEIGHT_GEMM_KINDS:
            g = layer_gemm(network, record)
            yield g.m, g.k, g.n, g.groups, True
        elif record.kind is LayerKind.ATTENTION:
            s = attention_shape(network, record)
            if s.variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
                long, short = max(s.seq_len, s.head_dim), min(s.seq_len, s.head_dim)
                yield short, long, short, s.slices, False
                yield long, short, short, s.slices, False
            elif s.variant is AttentionVariant.SPIKINGBERT:
                yield s.seq_len, s.head_dim, s.seq_len, s.slices, False
                yield s.head_dim, s.seq_len, s.seq_len, s.slices, False


def trace_activities(stats: ModelStats, tile_k: int) -> list[Activity]:
    """The activities of every GEMM counted in ``stats`` (the weight layers' and the
    attention blocks', which Prosperity prices); from the shapes, priced dense, for a
    workload without data."""
    network = stats.network
    if network is None:
        return []
    if not stats.has_data:
        return [Activity.dense(m, k, n, c, net, tile_k)
                for m, k, n, c, net in network_gemm_shapes(network)]
    attention = str(LayerKind.ATTENTION)
    return [Activity.of(g, layer.kind != attention) for layer in stats.layers
            for g in layer.gemms]


def _add(acts: dict[str, dict[str, float]], component: str, action: str, count: float) -> None:
    if count:
        acts[component][action] += count


def prosperity_actions(config: Any, design: Design, activities: Iterable[Activity],
                       work: ShapeWork, dram_bits: float, options: ComponentConfig
                       ) -> dict[str, dict[str, float]]:
    """Prosperity's actions on one run (the module docstring's table)."""
    mode = str(config.sparsity)
    spike_bits = design.component("spike_buffer").access_bits
    out1_per_row = math.ceil((options.accumulator_bits - 8) / 8)
    adds = weight_reads = spike_reads = psum_rows = 0.0
    slices = searched = linked = issued = weight_fill = 0.0
    for a in activities:
        passes = -(-a.n // config.adders)
        if mode == "product":
            work_ones, rows = a.residual, a.row_slices - a.zero_rows
        elif mode == "bit":
            work_ones, rows = a.nnz, a.row_slices - a.zero_rows
        else:
            work_ones, rows = a.elements, a.row_slices
        adds += work_ones * a.n
        weight_reads += passes * work_ones
        spike_reads += passes * a.elements
        psum_rows += passes * rows
        slices += passes * a.row_slices
        searched += passes * a.ge2_rows
        linked += passes * (a.em_rows + a.pm_rows)
        issued += passes * rows
        if a.network:
            weight_fill += a.k * a.n * config.weight_bits * a.copies * -(-a.m // config.tile_m)
    acts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    _add(acts, "adders", "add", adds)
    _add(acts, "weight_buffer", "read", weight_reads)
    _add(acts, "spike_buffer", "read", spike_reads / spike_bits)
    for name, per_row in (("output_buffer_0", 1), ("output_buffer_1", out1_per_row)):
        _add(acts, name, "read", psum_rows * per_row)
        _add(acts, name, "write", psum_rows * per_row)
    if mode == "product":
        _add(acts, "tcam", "write_row", slices)
        _add(acts, "tcam", "search", searched)
        _add(acts, "popcount", "add", slices * max(config.tile_k - 1, 1))
        _add(acts, "pruner", "compare", searched * config.tile_m)
        _add(acts, "forest", "write", linked)
        _add(acts, "forest", "read", linked)
        _add(acts, "dispatcher", "write", issued)
        _add(acts, "dispatcher", "read", issued)
        if config.issue_type == 2:
            _add(acts, "dispatcher_sort", "compare", issued * bits_for(config.tile_m))
        else:
            _add(acts, "dispatcher_sort", "add", issued)
    _shared(acts, design, work, dram_bits, weight_fill, spike_bits)
    _add(acts, "multipliers", "multiply", work.multiplies)
    _add(acts, "exp_units", "multiply", work.exps)
    _add(acts, "dividers", "multiply", work.divides)
    return acts


def _shared(acts: dict[str, dict[str, float]], design: Design, work: ShapeWork,
            dram_bits: float, weight_fill: float, spike_bits: int) -> None:
    """DRAM traffic into the buffers, LIF updates and their output spikes, extra adds."""
    weight_bits = design.component("weight_buffer").access_bits
    fill_w = min(dram_bits, weight_fill)
    _add(acts, "dram", "bit", dram_bits)
    _add(acts, "weight_buffer", "write", fill_w / weight_bits)
    _add(acts, "spike_buffer", "write", (dram_bits - fill_w + work.lif_updates) / spike_bits)
    _add(acts, "lif", "update", work.lif_updates)
    _add(acts, "adders", "add", work.adds)


def _gemm_layers(network: Network, stats: ModelStats, breakdown: Breakdown
                 ) -> Iterator[tuple[Any, float, dict[str, float]]]:
    """``(LayerGemm, nnz, breakdown extra)`` of every weight layer a baseline priced."""
    extras = {layer.name: layer.extra for layer in breakdown.layers}
    for record in network.layers:
        if record.kind not in WEIGHT_GEMM_KINDS:
            continue
        g = layer_gemm(network, record)
        layer = stats.find(record.name) if stats.has_data else None
        nnz = float(layer.spikes) if layer is not None else float(g.m * g.k * g.groups)
        yield g, nnz, dict(extras.get(record.name, {}))


def baseline_actions(accelerator: str, config: Any, design: Design,
                     stats: ModelStats, breakdown: Breakdown, work: ShapeWork,
                     dram_bits: float, options: ComponentConfig
                     ) -> dict[str, dict[str, float]]:
    """A baseline's actions on one run (consistent mode; the module docstring)."""
    acts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    network = stats.network
    assert network is not None
    _add(acts, "dram", "bit", dram_bits)
    if accelerator in (EYERISS, EYERISS_LINEAR):
        glb = design.component("global_buffer").access_bits
        macs = 0.0
        for g, _, _ in _gemm_layers(network, stats, breakdown):
            macs += float(g.m * g.k * g.n * g.groups)
            _add(acts, "global_buffer", "read", (g.m * g.k + g.k * g.n) * g.groups * 16 / glb)
            _add(acts, "global_buffer", "write", g.m * g.n * g.groups * 16 / glb)
        pes = config.pe_rows * config.pe_cols
        macs += sum(layer.total_cycles * pes for layer in breakdown.layers
                    if layer.op in ("attention", "layernorm"))
        _add(acts, "macs", "multiply", macs)
        _add(acts, "mac_adders", "add", macs + 2 * work.lif_updates)
        _add(acts, "scratchpads", "read", 3 * macs)
        _add(acts, "scratchpads", "write", macs)
        return acts
    spike_bits = design.component("spike_buffer").access_bits
    weight_bits = design.component("weight_buffer").access_bits
    row_width = design.component("output_buffer_0").access_bits  # partial sums per access
    out1_per = math.ceil((options.accumulator_bits - 8) / 8)
    adds = 0.0
    for g, nnz, extra in _gemm_layers(network, stats, breakdown):
        weight_row = ceil_div(g.n * 8, weight_bits)
        if accelerator == PTB:
            fetches = extra.get("packed_rows", nnz) * ceil_div(g.n, config.array_rows)
            weight_row = ceil_div(config.array_rows * config.weight_bits, weight_bits)
            spike_passes = ceil_div(g.n, config.array_rows)
        elif accelerator == LOAS:
            key = "pseudo_acc_prosparsity" if config.prosparsity else "pseudo_acc"
            fetches = extra.get(key, nnz * g.n) / max(g.n, 1)
            spike_passes = 1
        else:
            fetches = nnz
            spike_passes = 1
        if accelerator != LOAS:
            adds += nnz * g.n
        _add(acts, "weight_buffer", "read", fetches * weight_row)
        _add(acts, "spike_buffer", "read", g.m * g.k * g.groups * spike_passes / spike_bits)
        outputs = g.m * g.n * g.groups / (row_width / 8)
        for name, per in (("output_buffer_0", 1), ("output_buffer_1", out1_per)):
            _add(acts, name, "read", outputs * per)
            _add(acts, name, "write", outputs * per)
        _add(acts, "weight_buffer", "write", g.k * g.n * g.groups * 8 / weight_bits)
    if accelerator == LOAS:
        adds = sum(layer.compute_cycles for layer in breakdown.layers) * config.adders
    _add(acts, "adders", "add", adds)
    _add(acts, "psum_registers", "read", adds)
    _add(acts, "psum_registers", "write", adds)
    if any(c.name == "lif" for c in design.components):  # LoAS's model prices no LIF
        _add(acts, "lif", "update", work.lif_updates)
        _add(acts, "spike_buffer", "write", work.lif_updates / spike_bits)
    return acts
