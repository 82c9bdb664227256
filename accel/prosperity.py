"""Prosperity's cycle, DRAM and density model (spec §5), as the authors' simulator prices it.

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
variants and the rule overlapping a LIF layer with the layer before it follow the
authors' simulator; see the functions below. Known slips of that simulator are
reproduced when ``paper_compat`` is true (the default) and corrected otherwise:

* issue type 1 (forest-depth bound) slices the residual matrix with an index that
  multiplies by the number of row tiles, so only the first row-tile "slice" is priced
  by its residual and it is priced once per column tile;
* attention blocks add the compute and memory-stall cycles of their inner GEMMs twice
  (the block's ``total_cycles`` is right; its ``compute_cycles`` and
  ``mem_stall_cycles``, and so the network's sums of them, are inflated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ClassVar

import numpy as np

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs, require_network
from prosparsity.accel.registry import register
from prosparsity.analysis.gemm import ADDER_ARRAY_WIDTH, gemm_name
from prosparsity.analysis.grid import MAX_TILE_K, MAX_TILE_M, TileGrid
from prosparsity.analysis.layers import (
    WEIGHT_GEMM_KINDS,
    AttentionShape,
    attention_shape,
    layernorm_rows,
    lif_neurons,
)
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import GemmStats, LayerStats, ModelStats
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import gemm_shape

__all__ = [
    "AttentionVariant",
    "ProsperityConfig",
    "Sparsity",
    "dram_bits",
    "needs",
    "simulate",
]

#: Registry name.
NAME = "prosperity"


class Sparsity(StrEnum):
    """Which zeros Prosperity skips."""

    PRODUCT = "product"  # product sparsity (ProSparsity), the paper's design
    BIT = "bit"  # bit sparsity only (ablation)
    DENSE = "dense"  # no sparsity (ablation)


def _positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}.{name}", f"must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ProsperityConfig:
    """Prosperity's hardware and model knobs; the defaults are the paper's design.

    Attributes:
        tile_m: rows of a spike tile (ProSparsity search window).
        tile_k: columns of a spike tile.
        adders: width of the adder array (= output columns per pass).
        lif_units: LIF neuron units.
        popcount_units: popcount units of the detector (rows per cycle).
        multipliers: multipliers (LayerNorm, softmax).
        exp_units: exponent units (softmax).
        div_units: dividers (LayerNorm, softmax).
        weight_bits: bits per weight.
        mem_bits_per_cycle: DRAM interface width, bits per cycle.
        clock_hz: clock frequency, Hz.
        issue_type: 2 (default, sorted issue) or 1 (forest-depth bound).
        sparsity: product, bit or dense.
        paper_compat: reproduce the authors' simulator's slips (see module docstring).
    """

    tile_m: int = DEFAULT_TILE.tile_m
    tile_k: int = DEFAULT_TILE.tile_k
    adders: int = ADDER_ARRAY_WIDTH
    lif_units: int = 32
    popcount_units: int = 8
    multipliers: int = 32
    exp_units: int = 8
    div_units: int = 1
    weight_bits: int = 8
    mem_bits_per_cycle: int = 1024
    clock_hz: float = CLOCK_HZ
    issue_type: int = 2
    sparsity: Sparsity = Sparsity.PRODUCT
    paper_compat: bool = True

    #: Fields that leave the chip as it is: an operating mode (the bit-sparsity and dense
    #: ablations leave the detector idle) and the simulator-compatibility switch.
    SAME_HARDWARE_FIELDS: ClassVar[frozenset[str]] = frozenset({"sparsity", "paper_compat"})

    def __post_init__(self) -> None:
        for name in ("tile_m", "tile_k", "adders", "lif_units", "popcount_units",
                     "multipliers", "exp_units", "div_units", "weight_bits",
                     "mem_bits_per_cycle"):
            _positive_int("prosperity", name, getattr(self, name))
        if self.tile_m > MAX_TILE_M:
            raise ConfigError("prosperity.tile_m", f"must be <= {MAX_TILE_M} (the counting "
                              f"kernel's limit), got {self.tile_m}")
        if self.tile_k > MAX_TILE_K:
            raise ConfigError("prosperity.tile_k", f"must be <= {MAX_TILE_K} (the counting "
                              f"kernel's limit), got {self.tile_k}")
        if not (isinstance(self.clock_hz, int | float) and self.clock_hz > 0):
            raise ConfigError("prosperity.clock_hz", f"must be > 0, got {self.clock_hz!r}")
        if self.issue_type not in (1, 2):
            raise ConfigError("prosperity.issue_type", f"must be 1 or 2, got {self.issue_type!r}")
        try:
            object.__setattr__(self, "sparsity", Sparsity(self.sparsity))
        except ValueError:
            raise ConfigError("prosperity.sparsity", f"must be one of "
                              f"{[s.value for s in Sparsity]}, got {self.sparsity!r}") from None

    @property
    def act_buffer_bits(self) -> int:
        """Spike (activation) buffer: one tile, ``tile_m * tile_k`` bits."""
        return self.tile_m * self.tile_k

    @property
    def wgt_buffer_bits(self) -> int:
        """Weight buffer: one tile, ``tile_k * adders * weight_bits`` bits."""
        return self.tile_k * self.adders * self.weight_bits


PAPER = ProsperityConfig()
"""The paper's default configuration (tile 256x16, 128 adders, 32 LIF, 8 popcount,
8-bit weights, 1024-bit/cycle memory, 500 MHz, issue type 2, product sparsity)."""


# --------------------------------------------------------------------------------------
# Pricing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cost:
    """One layer's cost in the authors' terms (integers, cycles and bits)."""

    compute: int  # compute time: max(compute, preprocessing) for GEMMs
    mem_stall: int
    preprocess_stall: int
    dram_bits: int
    lif_latency: int = 0
    total_override: int | None = None  # attention blocks: see _attention_cost

    @property
    def total(self) -> int:
        if self.total_override is not None:
            return self.total_override
        return self.compute + self.mem_stall


def _mem_stall(dram_bits: int, init_bits: int, compute_time: int, bus: int) -> int:
    """``init // B + max(0, (DRAM - init) // B - time)``: the first tile is waited for,
    the rest streams under compute."""
    return init_bits // bus + max(0, (dram_bits - init_bits) // bus - compute_time)


def _tiled_dram_bits(m: int, k: int, n: int, kk: int, cfg: ProsperityConfig,
                     spikes_on_chip: bool, weights_on_chip: bool) -> int:
    """DRAM bits of a GEMM counted tile by tile with the buffer states (authors' CPU path).

    Spikes: a matrix that fits the activation buffer is read once, otherwise once per
    output pass (``nN``); each tile contributes ``rows*cols // kk``. Weights: read once
    when they fit the weight buffer or form a single column of tiles, otherwise once per
    row tile.
    """
    tm, tk, tn = cfg.tile_m, cfg.tile_k, cfg.adders
    n_tm, n_tk, n_tn = -(-m // tm), -(-k // tk), -(-n // tn)
    bits = 0
    if not spikes_on_chip:
        rows = [min(tm, m - i * tm) for i in range(n_tm)]
        cols = [min(tk, k - j * tk) for j in range(n_tk)]
        per_pass = sum((r * c) // kk for r in rows for c in cols)
        bits += per_pass * (1 if m * k <= cfg.act_buffer_bits else n_tn)
    if not weights_on_chip:
        w = k * n * cfg.weight_bits
        fits = w <= cfg.wgt_buffer_bits or tk * tn * cfg.weight_bits * n_tk <= cfg.wgt_buffer_bits
        bits += w * (1 if fits else n_tm)
    return bits


def _init_bits(m: int, k: int, n: int, cfg: ProsperityConfig, spikes_on_chip: bool,
               weights_on_chip: bool) -> int:
    bits = 0
    if not weights_on_chip:
        bits += min(cfg.tile_k, k) * min(cfg.adders, n) * cfg.weight_bits
    if not spikes_on_chip:
        bits += min(cfg.tile_k, k) * min(cfg.tile_m, m)
    return bits


def _issue1_network(grid: TileGrid, n_pass: int, paper_compat: bool) -> int:
    """Compute cycles of a network GEMM under issue type 1 (forest-depth bound).

    Per tile the issue bound is ``depth // 4 * tile_m`` cycles per pass. The authors'
    CUDA path compares it, for every column tile of row tile ``i``, with the residual
    cost of rows ``[i*nTM*tile_m, min((i+1)*nTM*tile_m, M))`` of the residual matrix
    viewed as ``(M*nTK, tile_k)`` rows: only ``i = 0`` is non-empty, and it covers the
    first ``M`` (row, column tile) pairs in row-major order (``TileGrid.head_cost``), so
    (``paper_compat``)::

        compute = sum_j max(I[0, j], H) + sum_{i>=1, j} I[i, j]
        I = depth // 4 * tile_m * nN,  H = nN * sum(head_cost)

    The corrected form is ``nN * sum over tiles of max(depth // 4 * rows, R + EM)``.
    """
    issue = grid.forest_depth // 4
    if not paper_compat:
        work = grid.residual_nnz + grid.em_rows
        return int(np.maximum(issue * grid.rows[:, None], work).sum()) * n_pass
    issue_cycles = issue * grid.tile_m * n_pass
    head = grid.total("head_cost") * n_pass
    total = int(np.maximum(issue_cycles[0], head).sum()) if len(issue_cycles) else 0
    return total + int(issue_cycles[1:].sum())


def _gemm_compute(counts: TileGrid | None, m: int, k: int, n_pass: int,
                  cfg: ProsperityConfig) -> tuple[int, int]:
    """``(compute, preprocess)`` cycles of one network GEMM in the configured sparsity
    mode (the authors' CUDA path: one ``M // popcount_units`` term per layer)."""
    if cfg.sparsity is Sparsity.DENSE:
        return m * k * n_pass, 0
    if counts is None:  # shapes-only pass (DRAM traffic only)
        return 0, 0
    if cfg.sparsity is Sparsity.BIT:
        return int(counts.nnz.sum()) * n_pass, 0
    pre = (int(counts.ge2_rows.sum()) + m // cfg.popcount_units) * n_pass
    if cfg.issue_type == 1:
        comp = _issue1_network(counts, n_pass, cfg.paper_compat)
    else:
        comp = int((counts.residual_nnz + counts.em_rows).sum()) * n_pass
    return comp, pre


def _tile_work(grid: TileGrid, cfg: ProsperityConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per tile, product sparsity on the tile-by-tile path: ``(work, preprocess)``
    cycles of one pass, ``R + EM`` (issue type 1: ``max(depth // 4 * rows, R + EM)``)
    and ``P + rows // popcount_units``."""
    rows = grid.rows[:, None]
    work = grid.residual_nnz + grid.em_rows
    if cfg.issue_type == 1:
        work = np.maximum(grid.forest_depth // 4 * rows, work)
    return work, grid.ge2_rows + rows // cfg.popcount_units


def _price_gemm(counts: TileGrid | None, m: int, k: int, n: int, kk: int,
                cfg: ProsperityConfig, spikes_on_chip: bool, weights_on_chip: bool) -> _Cost:
    """Cost of one network GEMM ``(M x K) x (K x N)``; see the module docstring for the
    equations."""
    n_pass = -(-n // cfg.adders)
    comp, pre = _gemm_compute(counts, m, k, n_pass, cfg)
    time = max(comp, pre)
    if cfg.sparsity is Sparsity.PRODUCT:
        # authors' CUDA path: closed form, spikes counted whether on chip or not
        dram = k * n * cfg.weight_bits * -(-m // cfg.tile_m) + (m * k * n_pass) // kk
    else:
        dram = _tiled_dram_bits(m, k, n, kk, cfg, spikes_on_chip, weights_on_chip)
    init = _init_bits(m, k, n, cfg, spikes_on_chip, weights_on_chip)
    return _Cost(compute=time, mem_stall=_mem_stall(dram, init, time, cfg.mem_bits_per_cycle),
                 preprocess_stall=max(0, pre - comp), dram_bits=dram)


def _lif_cost(neurons: int, batch: int, time_steps: int, cfg: ProsperityConfig,
              prev_tile_m: int = 256, prev_tile_n: int = 128) -> tuple[_Cost, bool]:
    """LIF layer: ``ceil(neurons*batch / lif_units) * T * 2`` cycles (add + multiply).

    Its overlap latency (what it adds after a GEMM) is the time to fire one output tile
    of the GEMM, ``ceil((prev_tile_m*prev_tile_n // T) / lif_units) * T * 2``, at most the
    full time; the authors fix the tile at 256 x 128 whatever ``tile_m``. The output spikes
    stay on chip when they fit the activation buffer, else they are written to DRAM
    (``neurons*batch*T`` bits) and stall only beyond the compute time.

    Returns:
        the cost and whether the output spikes stay on chip.
    """
    compute = -(-neurons * batch // cfg.lif_units) * time_steps * 2
    per_tile = prev_tile_m * prev_tile_n // time_steps
    latency = min(-(-per_tile // cfg.lif_units) * time_steps * 2, compute)
    size = batch * time_steps * neurons
    if size < cfg.act_buffer_bits:
        return _Cost(compute, 0, 0, 0, latency), True
    stall = max(0, size // cfg.mem_bits_per_cycle - compute)
    return _Cost(compute, stall, 0, size, latency), False


def _layernorm_cost(dim: int, rows: int, cfg: ProsperityConfig) -> _Cost:
    """LayerNorm over ``rows`` vectors of ``dim`` 8-bit values.

    Adders: three passes (sum, subtract mean, variance) of ``rows_tile*dim // adders``
    per row tile; the multiplier (squares) and divider (mean, reciprocal) work of one
    full tile only, the rest overlapping. DRAM: the values are written out and read
    back (``2 * rows*dim*8`` bits), not stalling.
    """
    adder = sum(3 * (min(cfg.tile_m, rows - i * cfg.tile_m) * dim // cfg.adders)
                for i in range(-(-rows // cfg.tile_m)))
    other = 2 * (cfg.tile_m // cfg.div_units) + cfg.tile_m * dim // cfg.multipliers
    return _Cost(adder + other, 0, 0, 2 * rows * dim * 8)


def _per_matrix_costs(entry: GemmStats | None, shape: tuple[int, int, int], n: int,
                      cfg: ProsperityConfig, spikes_on_chip: bool,
                      weights_on_chip: bool) -> list[_Cost]:
    """Costs of the small GEMMs of an attention block (tile-by-tile path), one per copy
    (head slice), each ``M x K`` spikes times ``K x N = n``. ``entry`` holds the copies'
    stacked tile grids (``None`` in a shapes-only or dense pass); ``shape`` is
    ``(copies, M, K)``.

    Per copy, issue type 2: ``compute = nN * Σ_tiles (R + EM)``, ``preprocess = nN *
    Σ_tiles (P + rows // popcount_units)`` (issue type 1: ``Σ max(depth // 4 * rows,
    R + EM)``; bit sparsity: ``nN * nnz``; dense: ``nN * M * K``) [cycles]; DRAM
    tile by tile with the buffer states (``_tiled_dram_bits``) [bits].
    """
    n_mat, m, k = shape
    n_pass = -(-n // cfg.adders)
    dram = _tiled_dram_bits(m, k, n, 1, cfg, spikes_on_chip, weights_on_chip)
    init = _init_bits(m, k, n, cfg, spikes_on_chip, weights_on_chip)
    if cfg.sparsity is Sparsity.DENSE:
        comp, pre = [m * k * n_pass] * n_mat, [0] * n_mat
    elif entry is None:  # shapes only (DRAM traffic only)
        comp, pre = [0] * n_mat, [0] * n_mat
    else:
        g = entry.grid
        if cfg.sparsity is Sparsity.BIT:
            comp, pre = list(entry.per_copy(g.nnz) * n_pass), [0] * n_mat
        else:
            work, tile_pre = _tile_work(g, cfg)
            comp = list(entry.per_copy(work) * n_pass)
            pre = list(entry.per_copy(tile_pre) * n_pass)
    costs = []
    for c, p in zip(comp, pre, strict=True):
        c, p = int(c), int(p)
        time = max(c, p)
        costs.append(_Cost(time, _mem_stall(dram, init, time, cfg.mem_bits_per_cycle),
                           max(0, p - c), dram))
    return costs


def _roles(layer: LayerStats | None, network: Network, record: LayerRecord,
           *roles: str) -> list[GemmStats | None]:
    """The entries of ``roles`` of an attention block (``None`` each without data).

    Raises:
        TraceError: the block's operands were not binary spikes.
    """
    if layer is None:
        return [None] * len(roles)
    if layer.planes != 1:
        raise TraceError(network.where, "attention operands must be binary spikes", record.name)
    by_role = {g.role: g for g in layer.gemms}
    return [by_role.get(r) for r in roles]


def _shape(entry: GemmStats | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    return default if entry is None else (entry.copies, entry.m, entry.k)


def _attention_cost(network: Network, record: LayerRecord, layer: LayerStats | None,
                    cfg: ProsperityConfig, spikes_on_chip: bool) -> tuple[_Cost, bool]:
    """One attention block; returns its cost and whether its output spikes stay on chip.

    Per variant, with ``n = T*B*H`` head slices, ``l = max(L, dh)``, ``d = min(L, dh)``:

    * spikformer / spikebert (linear attention): per slice a GEMM ``kv`` (``d x l``
      spikes times ``l x d``) then ``qkv`` (``l x d`` spikes times the ``d x d`` result),
      each priced tile by tile (see ``_per_matrix_costs``); the ``kv`` result stays in
      the weight buffer when ``d*d*8 < wgt_buffer_bits``, else ``l*d`` bits spill to
      DRAM per slice. ``total = sum of the GEMMs' totals`` [cycles]; the authors'
      compute and stall sums count each GEMM twice (``paper_compat``).
    * sdt (spike-driven, no GEMM): ``ops = T*B*H*dh*L``; ``compute = 2 * ops // adders
      + max(0, LIF(H*dh) - ops // adders)`` [cycles]; DRAM ``3*T*B*L*D`` bits of q, k, v
      unless on chip, plus ``ops`` bits of output when it overflows the spike buffer.
    * spikingbert (softmax attention, 8-bit q): per slice ``max(qk + sv + L*L // adders,
      L*L // exp + L // div + L*L // multipliers)`` [cycles], ``qk`` / ``sv`` the GEMMs'
      totals with operands on chip; DRAM ``T*B*L*D*(8+1+1)`` bits, no stall.
    """
    s: AttentionShape = attention_shape(network, record)
    bus = cfg.mem_bits_per_cycle
    n_heads = s.slices
    if s.variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
        # Linear attention: (K^T V) first, then Q (K^T V), per time step and head, with
        # the shorter of (seq, head_dim) as the inner size.
        long, short = max(s.seq_len, s.head_dim), min(s.seq_len, s.head_dim)
        kv_e, qkv_e = _roles(layer, network, record, "kv", "qkv")
        kv_out_bits = short * short * cfg.weight_bits
        kv_on_chip = kv_out_bits < cfg.wgt_buffer_bits
        kv = _per_matrix_costs(kv_e, _shape(kv_e, (n_heads, short, long)), short, cfg,
                               spikes_on_chip, spikes_on_chip)
        qkv = _per_matrix_costs(qkv_e, _shape(qkv_e, (n_heads, long, short)), short, cfg,
                                spikes_on_chip, kv_on_chip)
        spill = 0 if kv_on_chip else long * short * cfg.weight_bits // 8
        total = sum(c.total for c in kv + qkv)
        comp = sum(c.compute for c in kv + qkv)
        mem = sum(c.mem_stall for c in kv + qkv)
        factor = 2 if cfg.paper_compat else 1
        cost = _Cost(
            compute=comp * factor,
            mem_stall=mem * factor,
            preprocess_stall=sum(c.preprocess_stall for c in kv + qkv),
            dram_bits=sum(c.dram_bits for c in kv + qkv) + spill * len(kv),
        )
        # total_cycles stays the plain sum of the inner GEMMs' totals
        return replace(cost, total_override=total), False
    if s.variant is AttentionVariant.SDT:
        # Spike-driven self-attention: Hadamard products and a column sum on the adders,
        # a LIF on the (heads*head_dim) sums, shapes only.
        n_op = s.time_steps * s.batch * s.heads * s.head_dim * s.seq_len
        init = 0 if spikes_on_chip else s.seq_len * s.head_dim * 3
        dram = 0 if spikes_on_chip else s.time_steps * s.batch * s.seq_len * s.dim * 3
        compute = n_op // cfg.adders
        lif, _ = _lif_cost(s.head_dim * s.heads, s.batch, s.time_steps, cfg,
                           prev_tile_m=cfg.adders, prev_tile_n=1)
        compute += max(0, lif.total - compute)
        out_on_chip = n_op < cfg.act_buffer_bits
        if not out_on_chip:
            dram += n_op
        compute += n_op // cfg.adders
        return _Cost(compute, _mem_stall(dram, init, compute, bus), 0, dram), out_on_chip
    if s.variant is AttentionVariant.SPIKINGBERT:
        # Softmax attention with spiking K and V: S = Q K^T (K spikes), softmax on the
        # SFU/multipliers overlapping the two GEMMs, then S V (V spikes); Q (8-bit) and
        # K, V are read from DRAM; the GEMMs' operands sit on chip.
        qk_e, sv_e = _roles(layer, network, record, "qk", "sv")
        qk = _per_matrix_costs(qk_e, _shape(qk_e, (n_heads, s.seq_len, s.head_dim)),
                               s.seq_len, cfg, True, True)
        sv = _per_matrix_costs(sv_e, _shape(sv_e, (n_heads, s.head_dim, s.seq_len)),
                               s.seq_len, cfg, True, True)
        l2 = s.seq_len * s.seq_len
        sfu = l2 // cfg.exp_units + s.seq_len // cfg.div_units
        softmax = sfu + l2 // cfg.multipliers
        adder = l2 // cfg.adders
        compute = sum(max(a.total + b.total + adder, softmax) for a, b in zip(qk, sv, strict=True))
        dram = s.time_steps * s.batch * s.seq_len * s.dim * (8 + 1 + 1)
        return _Cost(compute, 0, 0, dram), False
    raise ConfigError("attention.variant", f"unsupported variant {s.variant!r}")


def _network_total(ops: Iterable[tuple[LayerRecord, _Cost]]) -> list[int]:
    """What each layer adds to the network's cycles (the authors' overlap rule).

    A LIF layer after a GEMM or LayerNorm adds only its latency (it fires the GEMM's
    output tiles as they complete). After an attention block it adds its latency when
    ``attention_total + latency >= lif_total``, else ``lif_total - attention_total``.
    Every other layer adds its total.
    """
    added: list[int] = []
    prev: tuple[LayerRecord, _Cost] | None = None
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


def _sum_costs(costs: list[_Cost]) -> _Cost:
    return _Cost(sum(c.compute for c in costs), sum(c.mem_stall for c in costs),
                 sum(c.preprocess_stall for c in costs), sum(c.dram_bits for c in costs))


def _gemm_layer(network: Network, record: LayerRecord, layer: LayerStats | None,
                cfg: ProsperityConfig, spikes_on_chip: bool) -> tuple[str, _Cost]:
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
        cost = _price_gemm(None, shape.m, shape.k, shape.n, kk, cfg, spikes_on_chip,
                           weights_on_chip=False)
        name = gemm_name(record, shape.kernel) if shape.groups == 1 else record.name
        return name, cost if shape.groups == 1 else _sum_costs([cost] * shape.groups)
    costs = []
    for g in layer.gemms:
        kk = g.kernel if record.kind is LayerKind.CONV1D else g.kernel * g.kernel
        grid = None if cfg.sparsity is Sparsity.DENSE else g.grid
        costs.append(_price_gemm(grid, g.m, g.k, g.n, kk, cfg, spikes_on_chip,
                                 weights_on_chip=False))
    return layer.priced_name, costs[0] if len(costs) == 1 else _sum_costs(costs)


def _priced(network: Network, stats: ModelStats | None, cfg: ProsperityConfig) -> Breakdown:
    """Prosperity on ``network``; ``stats`` None prices the shapes only."""
    spikes_on_chip = False
    priced: list[tuple[LayerRecord, _Cost]] = []
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
                cost, spikes_on_chip = _lif_cost(lif_neurons(record), network.batch_of(record),
                                                 network.time_steps_of(record), cfg)
            elif record.kind is LayerKind.ATTENTION:
                cost, spikes_on_chip = _attention_cost(network, record, analysed(record), cfg,
                                                       spikes_on_chip)
            elif record.kind is LayerKind.LAYERNORM:
                rows, dim = layernorm_rows(network, record)
                cost = _layernorm_cost(dim, rows, cfg)
            elif record.kind is LayerKind.MAXPOOL2D:
                cost = _Cost(0, 0, 0, 0)  # folded into the spike write-back
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
