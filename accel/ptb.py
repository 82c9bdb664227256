"""PTB (parallel time batching) baseline, as the Prosperity authors model it.

PTB (Lee et al., HPCA 2022) is a 16 x 8 systolic array that processes a *time window*
of 4 time steps of one input at a time; its StSAP scheme packs two input rows whose
spike windows never overlap into one array pass. The authors' simulator models it as:

Counting (per batch sample, :func:`packed_rows`):

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

import numba
import numpy as np

from prosparsity.accel._baseline import (
    WEIGHT_GEMM_KINDS,
    LayerGemm,
    ceil_div,
    layer_gemm,
    lif_neurons,
    next_power_of_two,
    spike_views,
)
from prosparsity.accel.base import Breakdown, LayerBreakdown, register, sum_layers
from prosparsity.accel.workload import Workload
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


# ----------------------------------------------------------------------------- counting


@numba.njit(cache=True)
def _stsap_rows(patterns: np.ndarray, lanes: int) -> int:  # pragma: no cover - compiled
    """StSAP row count of each group (row of ``patterns``: one lane bit-mask per GEMM column).

    Greedy pairing as the authors do it, in O(K * 2**free_lanes) per group: rows are
    bucketed by lane pattern, and a per-pattern pointer walks each bucket once.
    """
    full_mask = (1 << lanes) - 1
    n_pat = 1 << lanes
    groups, cols = patterns.shape
    pos = np.empty(cols, np.int64)
    pat = np.empty(cols, np.int64)
    starts = np.zeros(n_pat + 1, np.int64)
    ptr = np.zeros(n_pat, np.int64)
    fill = np.zeros(n_pat, np.int64)
    taken = np.zeros(cols, np.bool_)
    total = 0
    for g in range(groups):
        n = 0
        full = 0
        starts[:] = 0
        for c in range(cols):
            v = patterns[g, c]
            if v == full_mask:
                full += 1
            elif v != 0:
                pat[n] = v
                starts[v + 1] += 1
                n += 1
        for q in range(n_pat):
            starts[q + 1] += starts[q]
        for q in range(n_pat):
            ptr[q] = starts[q]
            fill[q] = starts[q]
        for i in range(n):  # bucket positions, in increasing order
            q = pat[i]
            pos[fill[q]] = i
            fill[q] += 1
            taken[i] = False
        pairs = 0
        for i in range(n - 1):
            if taken[i]:
                continue
            comp = (~pat[i]) & full_mask
            best = n
            s = comp
            while s != 0:
                p = ptr[s]
                end = starts[s + 1]
                while p < end and (pos[p] <= i or taken[pos[p]]):
                    p += 1
                ptr[s] = p
                if p < end and pos[p] < best:
                    best = pos[p]
                s = (s - 1) & comp
            if best < n:
                taken[best] = True
                pairs += 1
        total += n - pairs + full
    return total


def window_spikes(view: np.ndarray, window: int) -> np.ndarray:
    """OR of the spikes over time windows: ``(L, T, K)`` -> ``(W, L, K)``.

    ``T`` is padded with silent steps to a power of two, and at least to one window.
    """
    positions, steps, cols = view.shape
    padded = max(next_power_of_two(steps), window)
    if padded % window:
        raise ConfigError("ptb.time_window_steps", f"{window} does not divide padded T={padded}")
    if padded != steps:
        view = np.concatenate(
            [view, np.zeros((positions, padded - steps, cols), dtype=bool)], axis=1
        )
    windows = view.reshape(positions, padded // window, window, cols).any(axis=2)
    return np.ascontiguousarray(windows.transpose(1, 0, 2))


def packed_rows(view: np.ndarray, *, one_token_linear: bool, config: PTBConfig) -> int:
    """Array rows PTB issues for one batch sample (see the module docstring).

    Args:
        view: spikes of one sample as ``(L, T, K)`` booleans (token, time step, column).
        one_token_linear: True for a linear layer with a single token (the authors'
            2-D path).
        config: the PTB configuration.
    """
    win = window_spikes(np.asarray(view, dtype=bool), config.time_window_steps)
    n_win, positions, cols = win.shape
    lanes = config.array_lanes
    if not config.paper_compatible:
        # corrected grouping: a group holds up to `lanes` windows of ONE token
        per_token = win.transpose(1, 0, 2)  # (L, W, K)
        rem = n_win % lanes
        if rem:
            pad = np.zeros((positions, lanes - rem, cols), dtype=bool)
            per_token = np.concatenate([per_token, pad], axis=1)
        grouped = per_token.reshape(positions, -1, lanes, cols)
        grouped = grouped.reshape(-1, lanes, cols).transpose(1, 0, 2)  # [lane, group, column]
    elif one_token_linear:
        if not config.stsap:
            return cols
        return int(win.any(axis=(0, 1)).sum())
    else:
        flat = win.reshape(n_win * positions, cols)
        rem = flat.shape[0] % lanes
        if rem:
            flat = np.concatenate([flat, np.zeros((lanes - rem, cols), dtype=bool)])
        grouped = flat.reshape(lanes, -1, cols)  # [lane, group, column]
    if not config.stsap:
        return grouped.shape[1] * cols
    weights = (1 << np.arange(lanes, dtype=np.int64))[:, None, None]
    patterns = (grouped.astype(np.int64) * weights).sum(axis=0)  # (groups, cols)
    return int(_stsap_rows(np.ascontiguousarray(patterns), lanes))


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
    if len(parts) == 1:
        return parts[0]
    totals = sum_layers(parts)
    rows = sum(p.extra.get("packed_rows", 0.0) for p in parts)
    return LayerBreakdown(name=name, op="gemm", extra={"packed_rows": rows}, **totals)


@register("ptb", config_type=PTBConfig, needs_spikes=True, energy_key="PTB",
          description="PTB: 16x8 systolic array over time windows of 4, StSAP row packing")
def simulate(workload: Workload, config: PTBConfig | None = None) -> Breakdown:
    """PTB: 16x8 systolic array over time windows of 4, StSAP row packing."""
    config = config or PTBConfig()
    layers: list[LayerBreakdown] = []
    for record in workload.layers:
        if record.kind in WEIGHT_GEMM_KINDS:
            shape = layer_gemm(workload, record)
            one_token = record.kind is LayerKind.LINEAR and shape.positions == 1
            parts = []
            for view in spike_views(workload, record):
                rows = sum(packed_rows(v, one_token_linear=one_token, config=config)
                           for v in view)
                parts.append(price_gemm(shape, rows, config))
            layers.append(_merge(record.name, parts))
        elif record.kind is LayerKind.LIF:
            layers.append(price_lif(record.name, lif_neurons(record),
                                    workload.time_steps_of(record), workload.batch_of(record),
                                    config))
    return Breakdown(accelerator=NAME, workload=workload.name, clock_hz=config.clock_hz,
                     layers=tuple(layers), **sum_layers(layers))
