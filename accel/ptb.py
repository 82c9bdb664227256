"""PTB (parallel time batching) baseline, as the Prosperity authors model it.

PTB (Lee et al., HPCA 2022) is a 16 x 8 systolic array that processes a *time window*
of 4 time steps of one input at a time; its StSAP scheme packs two input rows whose
spike windows never overlap into one array pass. The authors' simulator models it as:

Counting (per batch sample, :func:`prosparsity.analysis.counters.ptb.packed_rows`, done
once by the analysis under the counter key :class:`~prosparsity.analysis.counters.PTBRows`
of the config's window, lanes, StSAP and grouping):

1. pad ``T`` with silent steps to a power of two ``T'``; OR the spikes of each window of
   ``w = 4`` steps: ``W = T'/w`` windows;
2. *linear layer with one token* (the authors' "2-D" tensor): one array row per GEMM
   column ``k`` that spikes at all: ``rows = #{k : any spike in column k}``;
3. otherwise (conv, or linear with tokens) the ``(W, L, K)`` window tensor is read as
   ``(8, X, K)`` in row-major order (``X = W*L/8``) and each of the ``X`` groups is a
   ``K x 8`` matrix (rows = GEMM columns, lanes = 8 entries). In each group, rows with no
   spike are dropped, rows spiking in all 8 lanes are kept alone, and StSAP walks the
   remaining rows in order, pairing each not-yet-taken row with the first later
   not-yet-taken row whose lanes are disjoint: ``rows = remaining - pairs + full``.

Pricing (:func:`price_gemm`, cycles at 500 MHz):

* ``compute = rows * ceil(N / 16) * w + L * 16 * 2`` (``w`` cycles per window; a cold
  start of 2 x 16 cycles per token / output position);
* ``DRAM bits = B*T*L*K`` (spikes, the im2col size for a conv) ``+ K*N*8`` (weights)
  ``+ B*T*L*N`` (output spikes);
* ``mem stall = init // 1024 + max(0, (DRAM - init) // 1024 - compute)``, with
  ``init = 16*8*(8+4)`` bits, the first array load;
* LIF: ``neurons * T * 3 // 16`` cycles (16 LIF units, 3 cycles per update).

The network total is the plain sum of its layers (no overlap). Attention, LayerNorm and
max-pool layers are not priced (the authors' PTB skips them).

Reproduced slips of the authors' simulator (documented, kept for paper compatibility):

* the "group of 8" in step 3 reshapes the ``(W, L, K)`` tensor, so when ``W != 8`` a
  group mixes windows and tokens rather than holding the 8 windows of one token;
* the one-token linear layer (step 2) is counted without any StSAP packing, one row per
  spiking column regardless of the window pattern.

``PTBConfig(paper_compatible=False)`` corrects both: every group holds the windows of one
token (``ceil(W/8)`` groups per token) and one-token linear layers are packed too.

Generalisations beyond the authors' runs (which had ``T >= 4`` and batch 1): ``T`` is
padded to at least one window; a flat row count that is not a multiple of 8 is padded
with silent rows; batch samples are processed one after another (counts add up).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from prosparsity.accel.base import (
    Breakdown,
    LayerBreakdown,
    Needs,
    ceil_div,
    require_network,
)
from prosparsity.accel.registry import register
from prosparsity.analysis.counters import PTBRows
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, LayerGemm, layer_gemm, lif_neurons
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.traces.schema import LayerKind

NAME = "ptb"


@dataclass(frozen=True)
class PTBConfig:
    """PTB as the Prosperity authors configure it (the defaults are the paper's).

    Attributes:
        time_window_steps: time steps per window (4).
        array_rows: systolic-array rows, output channels per pass (16).
        array_lanes: lanes of a StSAP group (8), also the ``8`` of the row grouping.
        stsap: pack rows with StSAP (the authors' runs); False counts every row.
        paper_compatible: group rows as the authors' simulator does (see "slips");
            False groups the windows of one token (up to ``array_lanes`` per group) and
            packs one-token linear layers with StSAP too.
        lif_units: LIF units (16).
        lif_cycles_per_update: pipeline cycles of one LIF update (3).
        cold_start_cycles_per_row: cycles per array row per token to fill the array (2).
        weight_bits: bits per weight (8).
        init_load_bits_per_pe: bits of the first array load per PE (8 weight + 4 state).
        mem_if_bits_per_cycle: DRAM interface width (1024 bits/cycle).
        clock_hz: clock frequency (500 MHz).
    """

    time_window_steps: int = 4
    array_rows: int = 16
    array_lanes: int = 8
    stsap: bool = True
    paper_compatible: bool = True
    lif_units: int = 16
    lif_cycles_per_update: int = 3
    cold_start_cycles_per_row: int = 2
    weight_bits: int = 8
    init_load_bits_per_pe: int = 12
    mem_if_bits_per_cycle: int = 1024
    clock_hz: float = CLOCK_HZ

    #: Fields that leave the chip as it is (the simulator-compatibility switch).
    SAME_HARDWARE_FIELDS: ClassVar[frozenset[str]] = frozenset({"paper_compatible"})

    def __post_init__(self) -> None:
        for name in ("time_window_steps", "array_rows", "array_lanes", "lif_units",
                     "lif_cycles_per_update", "weight_bits", "mem_if_bits_per_cycle"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"ptb.{name}", "must be >= 1")
        if self.array_lanes > 16:
            raise ConfigError("ptb.array_lanes", "at most 16 lanes are supported")
        if self.cold_start_cycles_per_row < 0 or self.init_load_bits_per_pe < 0:
            raise ConfigError("ptb", "cold_start_cycles_per_row and init_load_bits_per_pe >= 0")
        if self.clock_hz <= 0:
            raise ConfigError("ptb.clock_hz", "must be > 0")

    @property
    def counter(self) -> PTBRows:
        """The counter key of this config's packed rows."""
        return PTBRows(window=self.time_window_steps, lanes=self.array_lanes,
                       stsap=self.stsap, paper_grouping=self.paper_compatible)


# ----------------------------------------------------------------------------- pricing


def price_gemm(shape: LayerGemm, rows: int, config: PTBConfig) -> LayerBreakdown:
    """Cycles and DRAM traffic of one GEMM given its packed row count ``rows``.

    ``compute = rows * ceil(N/16) * w + B*L * 16 * 2``; DRAM bits
    ``B*T*L*K + K*N*8 + B*T*L*N``; stall ``init//1024 + max(0, (DRAM-init)//1024 - compute)``.
    """
    compute = rows * ceil_div(shape.n, config.array_rows) * config.time_window_steps
    compute += shape.batch * shape.positions * config.array_rows * config.cold_start_cycles_per_row
    spike_bits = shape.m * shape.k
    weight_bits = shape.k * shape.n * config.weight_bits
    out_bits = shape.m * shape.n
    dram = spike_bits + weight_bits + out_bits
    init = config.array_rows * config.array_lanes * config.init_load_bits_per_pe
    bw = config.mem_if_bits_per_cycle
    stall = init // bw + max(0, (dram - init) // bw - compute)
    return LayerBreakdown(
        name=shape.name, op="gemm", total_cycles=compute + stall, compute_cycles=compute,
        mem_stall_cycles=stall, dram_bits=dram, extra={"packed_rows": float(rows)},
    )


def price_lif(name: str, neurons: int, steps: int, samples: int,
              config: PTBConfig) -> LayerBreakdown:
    """``neurons * B * T * 3 // 16`` cycles of a LIF layer (no DRAM traffic)."""
    cycles = neurons * samples * steps * config.lif_cycles_per_update // config.lif_units
    return LayerBreakdown(name=name, op="lif", total_cycles=cycles, compute_cycles=cycles)


def _merge(name: str, parts: list[LayerBreakdown]) -> LayerBreakdown:
    """One layer from the GEMMs of its channel groups / bit planes (fields add up)."""
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def needs(config: PTBConfig) -> Needs:
    """PTB prices its packed rows (a counter) and the layer shapes."""
    return Needs(spikes=True, counters=frozenset({config.counter}))


@register(NAME, config_type=PTBConfig, needs=needs, display="PTB", dram=True, energy_key="PTB",
          description="PTB: 16x8 systolic array over time windows of 4, StSAP row packing")
def simulate(stats: ModelStats, config: PTBConfig | None = None) -> Breakdown:
    """PTB: 16x8 systolic array over time windows of 4, StSAP row packing."""
    config = config or PTBConfig()
    network = require_network(stats, "ptb")
    rows_of = stats.counter(config.counter)
    layers: list[LayerBreakdown] = []
    try:
        for record in network.layers:
            if record.kind in WEIGHT_GEMM_KINDS:
                shape = layer_gemm(network, record)
                parts = [price_gemm(shape, rows, config) for rows in rows_of[record.name]]
                layers.append(_merge(record.name, parts))
            elif record.kind is LayerKind.LIF:
                layers.append(price_lif(record.name, lif_neurons(record),
                                        network.time_steps_of(record),
                                        network.batch_of(record), config))
    except ConfigError as exc:
        raise network.error(exc) from None
    return Breakdown.of_layers(NAME, network.name, config.clock_hz, layers)
