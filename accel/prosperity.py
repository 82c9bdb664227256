"""Prosperity's cycle, DRAM and density model (spec §5), as the authors' simulator prices it.

Counting (which rows of a tile reuse which prefix) comes from the spike matrices; this
module *prices* those counts. Units: cycles at ``clock_hz``, DRAM traffic in bits.

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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
from prosparsity.accel.base import Breakdown, LayerBreakdown, register
from prosparsity.accel.workload import Workload
from prosparsity.traces.errors import ConfigError, TraceError
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = [
    "AttentionVariant",
    "ProsperityConfig",
    "Sparsity",
    "TileCounts",
    "simulate",
    "tile_counts",
]


class Sparsity(StrEnum):
    """Which zeros Prosperity skips."""

    PRODUCT = "product"  # product sparsity (ProSparsity), the paper's design
    BIT = "bit"  # bit sparsity only (ablation)
    DENSE = "dense"  # no sparsity (ablation)


class AttentionVariant(StrEnum):
    """The attention flavours of the paper's transformer workloads."""

    SPIKFORMER = "spikformer"
    SPIKEBERT = "spikebert"
    SDT = "sdt"
    SPIKINGBERT = "spikingbert"


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

    tile_m: int = 256
    tile_k: int = 16
    adders: int = 128
    lif_units: int = 32
    popcount_units: int = 8
    multipliers: int = 32
    exp_units: int = 8
    div_units: int = 1
    weight_bits: int = 8
    mem_bits_per_cycle: int = 1024
    clock_hz: float = 500e6
    issue_type: int = 2
    sparsity: Sparsity = Sparsity.PRODUCT
    paper_compat: bool = True

    def __post_init__(self) -> None:
        for name in ("tile_m", "tile_k", "adders", "lif_units", "popcount_units",
                     "multipliers", "exp_units", "div_units", "weight_bits",
                     "mem_bits_per_cycle"):
            _positive_int("prosperity", name, getattr(self, name))
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
# Counting: per-tile ProSparsity statistics of a spike matrix
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TileCounts:
    """ProSparsity statistics of a spike matrix cut into ``tile_m x tile_k`` tiles.

    Per-tile arrays have shape ``(n_row_tiles, n_col_tiles)``; per-row arrays
    ``(n_row_tiles, n_col_tiles, tile_m)`` (rows past the matrix are zero).

    Attributes:
        shape: ``(M, K)`` of the matrix.
        nnz: ones per tile.
        residual_nnz: ones left after subtracting each row's prefix.
        em_rows: exact-match rows (non-empty, residual empty).
        ge2_rows: rows with popcount >= 2 (those the detector searches).
        forest_depth: longest prefix chain (edges) per tile.
        rows: real rows per tile.
        cols: real columns per tile.
        row_residual: residual popcount of each (row, column tile).
        row_em: exact-match flag of each (row, column tile).
    """

    shape: tuple[int, int]
    nnz: np.ndarray
    residual_nnz: np.ndarray
    em_rows: np.ndarray
    ge2_rows: np.ndarray
    forest_depth: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    row_residual: np.ndarray = field(repr=False)
    row_em: np.ndarray = field(repr=False)


def _pack_rows(tiles: np.ndarray) -> np.ndarray:
    """``(..., tile_k)`` bool -> ``(..., words)`` uint64 bit patterns."""
    tile_k = tiles.shape[-1]
    n_bytes = -(-tile_k // 64) * 8
    packed = np.packbits(tiles, axis=-1, bitorder="little")
    if packed.shape[-1] < n_bytes:
        pad = [(0, 0)] * (packed.ndim - 1) + [(0, n_bytes - packed.shape[-1])]
        packed = np.pad(packed, pad)
    return np.ascontiguousarray(packed).view(np.uint64)


def tile_counts(matrix: np.ndarray, tile_m: int, tile_k: int) -> TileCounts:
    """ProSparsity statistics of a binary matrix (spec §3), tile by tile.

    Prefix rule: for a row ``r`` with ``|r| >= 2``, the candidates are the other rows
    ``s`` of the tile with ``s ⊆ r`` and ``|s| >= 1`` (an identical row only if its index
    is smaller); the prefix is the candidate of largest popcount, ties to the smallest
    index. The residual is ``r - prefix``.

    Args:
        matrix: ``(M, K)`` array, non-zero = spike.
        tile_m: rows per tile.
        tile_k: columns per tile.
    """
    s = np.asarray(matrix) != 0
    if s.ndim != 2:
        raise ValueError(f"expected a 2-D spike matrix, got shape {s.shape}")
    m, k = s.shape
    n_tm, n_tk = -(-m // tile_m), -(-k // tile_k)
    padded = np.zeros((n_tm * tile_m, n_tk * tile_k), dtype=bool)
    padded[:m, :k] = s
    tiles = padded.reshape(n_tm, tile_m, n_tk, tile_k).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(n_tm * n_tk, tile_m, tile_k)
    words = _pack_rows(tiles)  # (n_tiles, tile_m, w)
    pop = tiles.sum(-1, dtype=np.int64)  # (n_tiles, tile_m)

    n_tiles = n_tm * n_tk
    residual = pop.copy()
    em = np.zeros_like(pop, dtype=bool)
    depth_tile = np.zeros(n_tiles, dtype=np.int64)
    idx = np.arange(tile_m)
    earlier = idx[None, :] < idx[:, None]  # [i, j]: j < i
    chunk = max(1, (1 << 22) // (tile_m * tile_m))
    for start in range(0, n_tiles, chunk):
        stop = min(n_tiles, start + chunk)
        w = words[start:stop]
        p = pop[start:stop]
        # subset[t, i, j]: row j ⊆ row i
        subset = np.ones((stop - start, tile_m, tile_m), dtype=bool)
        for word in range(w.shape[-1]):
            wi = w[:, :, None, word]
            wj = w[:, None, :, word]
            subset &= (wj & ~wi) == 0
        pi, pj = p[:, :, None], p[:, None, :]
        cand = subset & (pj > 0) & ((pj < pi) | ((pj == pi) & earlier[None]))
        cand &= (pi >= 2)
        score = np.where(cand, pj * (tile_m + 1) + (tile_m - idx[None, None, :]), -1)
        best = score.argmax(-1)  # (chunk, tile_m)
        has = cand.any(-1)
        prefix_pop = np.take_along_axis(p, best, axis=-1)
        res = np.where(has, p - prefix_pop, p)
        residual[start:stop] = res
        em[start:stop] = has & (res == 0)
        # forest depth: relax depth[row] = depth[prefix] + 1 until stable
        depth = np.zeros_like(p)
        for _ in range(tile_k + 2):
            new = np.where(has, np.take_along_axis(depth, best, axis=-1) + 1, 0)
            if np.array_equal(new, depth):
                break
            depth = new
        depth_tile[start:stop] = depth.max(-1)

    shape2 = (n_tm, n_tk)
    rows = np.minimum(tile_m, m - np.arange(n_tm) * tile_m)
    cols = np.minimum(tile_k, k - np.arange(n_tk) * tile_k)
    return TileCounts(
        shape=(m, k),
        nnz=pop.sum(-1).reshape(shape2),
        residual_nnz=residual.sum(-1).reshape(shape2),
        em_rows=em.sum(-1).reshape(shape2),
        ge2_rows=(pop >= 2).sum(-1).reshape(shape2),
        forest_depth=depth_tile.reshape(shape2),
        rows=np.broadcast_to(rows[:, None], shape2).astype(np.int64),
        cols=np.broadcast_to(cols[None, :], shape2).astype(np.int64),
        row_residual=residual.reshape(n_tm, n_tk, tile_m),
        row_em=em.reshape(n_tm, n_tk, tile_m),
    )


# --------------------------------------------------------------------------------------
# GEMM matrices of trace records
# --------------------------------------------------------------------------------------


def _param(record: LayerRecord, *names: str, default: object = None) -> object:
    for name in names:
        if name in record.params:
            return record.params[name]
    if default is not None:
        return default
    raise TraceError("workload", f"missing parameter {names[0]!r}", layer=record.name)


def _kernel_area(record: LayerRecord) -> int:
    """``k*k`` of a conv2d (``k`` for conv1d, 1 for FC): the on-chip im2col expansion."""
    if record.kind is LayerKind.LINEAR or record.kind is LayerKind.ATTENTION_OPERAND:
        return 1
    kernel = _param(record, "kernel", "kernel_size")
    if isinstance(kernel, list | tuple):
        return int(np.prod([int(x) for x in kernel]))
    return int(kernel) ** (2 if record.kind is LayerKind.CONV2D else 1)


def _out_features(record: LayerRecord) -> int:
    if record.kind is LayerKind.LINEAR:
        return int(_param(record, "out_features"))
    return int(_param(record, "out_channels"))


def gemm_of(workload: Workload, record: LayerRecord) -> np.ndarray:
    """The spike matrix ``S (M, K)`` of a GEMM record, rows token-major, time-minor."""
    data = np.asarray(workload.data(record.name)) != 0
    t = workload.time_steps_of(record)
    if record.kind is LayerKind.CONV2D:
        k = int(_param(record, "kernel"))
        st = int(_param(record, "stride", default=1))
        pad = int(_param(record, "padding", default=0)) if "padding" in record.params else 0
        x = data.reshape(t, -1, data.shape[-2], data.shape[-1])
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::st, ::st]
        # (T, C, H', W', k, k) -> (H', W', T, C, k, k)
        win = win.transpose(2, 3, 0, 1, 4, 5)
        return win.reshape(win.shape[0] * win.shape[1] * t, -1)
    k_in = data.shape[-1]
    x = data.reshape(t, -1, k_in).transpose(1, 0, 2)
    return x.reshape(-1, k_in)


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


@dataclass
class _Density:
    """Running sums for the bit/product densities (weighted by output passes)."""

    nnz: int = 0
    residual: int = 0
    elements: int = 0

    def add(self, counts: TileCounts, n_pass: int, elements: int | None = None) -> None:
        """Add a matrix's counts; ``elements`` overrides ``M*K`` (zero-padded stacks)."""
        self.nnz += int(counts.nnz.sum()) * n_pass
        self.residual += int(counts.residual_nnz.sum()) * n_pass
        size = counts.shape[0] * counts.shape[1] if elements is None else elements
        self.elements += size * n_pass


def _issue1_network(counts: TileCounts, n_pass: int, tile_m: int, paper_compat: bool) -> int:
    """Compute cycles of a network GEMM under issue type 1 (forest-depth bound).

    Per tile the issue bound is ``depth // 4 * tile_m`` cycles per pass. The authors'
    CUDA path compares it, for every column tile of row tile ``i``, with the residual
    cost of rows ``[i*nTM*tile_m, min((i+1)*nTM*tile_m, M))`` of the residual matrix
    viewed as ``(M*nTK, tile_k)`` rows: only ``i = 0`` is non-empty, and it covers the
    first ``M`` (row, column tile) pairs in row-major order (``paper_compat``). The
    corrected form is ``sum over tiles of max(depth // 4 * rows, R_tile + EM_tile)``.
    """
    n_tm, n_tk = counts.nnz.shape
    issue = counts.forest_depth // 4
    if not paper_compat:
        work = counts.residual_nnz + counts.em_rows
        return int(np.maximum(issue * counts.rows, work).sum()) * n_pass
    m = counts.shape[0]
    issue_cycles = issue * tile_m * n_pass
    # (row, column tile) pairs in row-major order, as the (M*nTK, tile_k) view lists them
    per_pair = (counts.row_residual + counts.row_em).transpose(0, 2, 1).reshape(-1, n_tk)
    first = int(per_pair.reshape(-1)[:m].sum()) * n_pass
    total = sum(max(int(issue_cycles[0, j]), first) for j in range(n_tk))
    total += int(issue_cycles[1:].sum())
    return total


def _gemm_compute(counts: TileCounts | None, m: int, k: int, n_pass: int,
                  cfg: ProsperityConfig, network_path: bool) -> tuple[int, int]:
    """``(compute, preprocess)`` cycles of one GEMM in the configured sparsity mode."""
    if cfg.sparsity is Sparsity.DENSE:
        return m * k * n_pass, 0
    assert counts is not None
    if cfg.sparsity is Sparsity.BIT:
        return int(counts.nnz.sum()) * n_pass, 0
    if network_path:  # authors' CUDA path: one M // popcount term per layer
        pre = (int(counts.ge2_rows.sum()) + m // cfg.popcount_units) * n_pass
        if cfg.issue_type == 1:
            comp = _issue1_network(counts, n_pass, cfg.tile_m, cfg.paper_compat)
        else:
            comp = int((counts.residual_nnz + counts.em_rows).sum()) * n_pass
        return comp, pre
    # tile-by-tile path: rows // popcount per tile
    pre = int((counts.ge2_rows + counts.rows // cfg.popcount_units).sum()) * n_pass
    work = counts.residual_nnz + counts.em_rows
    if cfg.issue_type == 1:
        work = np.maximum(counts.forest_depth // 4 * counts.rows, work)
    return int(work.sum()) * n_pass, pre


def _price_gemm(counts: TileCounts | None, m: int, k: int, n: int, kk: int,
                cfg: ProsperityConfig, spikes_on_chip: bool, weights_on_chip: bool,
                network_path: bool) -> _Cost:
    """Cost of one GEMM ``(M x K) x (K x N)``; see the module docstring for the equations."""
    n_pass = -(-n // cfg.adders)
    comp, pre = _gemm_compute(counts, m, k, n_pass, cfg, network_path)
    time = max(comp, pre)
    if network_path and cfg.sparsity is Sparsity.PRODUCT:
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


@dataclass(frozen=True)
class _AttentionShape:
    dim: int
    seq: int
    heads: int
    batch: int
    time_steps: int
    variant: AttentionVariant

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


def _head_matrices(x: np.ndarray, shape: _AttentionShape, seq: int, head_dim: int,
                   name: str) -> np.ndarray:
    """The authors' view of an operand: reshape to ``(T, B, seq, H, head_dim)`` (C order,
    even when ``seq``/``head_dim`` were swapped) and return ``(T*B*H, seq, head_dim)``."""
    s = shape
    x = np.asarray(x) != 0
    want = s.time_steps * s.batch * seq * s.heads * head_dim
    if x.size != want:
        raise TraceError("workload", f"attention operand has {x.size} values, expected "
                         f"T*B*L*dim = {want}", layer=name)
    x = x.reshape(s.time_steps, s.batch, seq, s.heads, head_dim).transpose(0, 1, 3, 2, 4)
    return x.reshape(-1, seq, head_dim)


def _stacked_counts(mats: np.ndarray, cfg: ProsperityConfig) -> TileCounts:
    """Tile statistics of equal-shape matrices at once: each is padded with zero rows to
    a whole number of row tiles (zero rows are never prefixes, so counts are unchanged)."""
    n_mat, m, k = mats.shape
    m_pad = -(-m // cfg.tile_m) * cfg.tile_m
    stacked = np.zeros((n_mat, m_pad, k), dtype=bool)
    stacked[:, :m] = mats
    return tile_counts(stacked.reshape(n_mat * m_pad, k), cfg.tile_m, cfg.tile_k)


def _per_matrix_costs(mats: np.ndarray, n: int, cfg: ProsperityConfig, spikes_on_chip: bool,
                      weights_on_chip: bool, density: _Density | None) -> list[_Cost]:
    """Costs of the small GEMMs of an attention block (tile-by-tile path), one per matrix."""
    n_mat, m, k = mats.shape
    n_pass = -(-n // cfg.adders)
    n_tm = -(-m // cfg.tile_m)
    counts = None
    if cfg.sparsity is not Sparsity.DENSE:
        counts = _stacked_counts(mats, cfg)
        if density is not None and cfg.sparsity is Sparsity.PRODUCT:
            density.add(counts, n_pass, elements=n_mat * m * k)
    costs = []
    dram = _tiled_dram_bits(m, k, n, 1, cfg, spikes_on_chip, weights_on_chip)
    init = _init_bits(m, k, n, cfg, spikes_on_chip, weights_on_chip)
    for i in range(n_mat):
        sub = None
        if counts is not None:
            sl = slice(i * n_tm, (i + 1) * n_tm)
            rows = np.minimum(cfg.tile_m, m - np.arange(n_tm) * cfg.tile_m)
            sub = TileCounts(
                shape=(m, k), nnz=counts.nnz[sl], residual_nnz=counts.residual_nnz[sl],
                em_rows=counts.em_rows[sl], ge2_rows=counts.ge2_rows[sl],
                forest_depth=counts.forest_depth[sl],
                rows=np.broadcast_to(rows[:, None], counts.nnz[sl].shape),
                cols=counts.cols[sl], row_residual=counts.row_residual[sl],
                row_em=counts.row_em[sl])
        comp, pre = _gemm_compute(sub, m, k, n_pass, cfg, network_path=False)
        time = max(comp, pre)
        costs.append(_Cost(time, _mem_stall(dram, init, time, cfg.mem_bits_per_cycle),
                           max(0, pre - comp), dram))
    return costs


def _attention_cost(workload: Workload, record: LayerRecord, shape: _AttentionShape,
                    cfg: ProsperityConfig, spikes_on_chip: bool,
                    density: _Density | None) -> tuple[_Cost, bool]:
    """One attention block; returns its cost and whether its output spikes stay on chip."""
    s = shape
    bus = cfg.mem_bits_per_cycle
    if s.variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
        # Linear attention: (K^T V) first, then Q (K^T V), per time step and head, with
        # the shorter of (seq, head_dim) as the inner size.
        long, short = max(s.seq, s.head_dim), min(s.seq, s.head_dim)
        names = ("k", "v", "q") if s.seq > s.head_dim else ("k", "q", "v")
        first, second, third = (
            _head_matrices(workload.attention_operand(record, o), s, long, short,
                           f"{record.name}_{o}") for o in names)
        kv_mats = first.transpose(0, 2, 1)  # (n, short, long)
        _ = second  # the "weights" of the first GEMM: only their shape is priced
        kv_out_bits = short * short * cfg.weight_bits
        kv_on_chip = kv_out_bits < cfg.wgt_buffer_bits
        kv = _per_matrix_costs(kv_mats, short, cfg, spikes_on_chip, spikes_on_chip, density)
        qkv = _per_matrix_costs(third, short, cfg, spikes_on_chip, kv_on_chip, density)
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
        n_op = s.time_steps * s.batch * s.heads * s.head_dim * s.seq
        init = 0 if spikes_on_chip else s.seq * s.head_dim * 3
        dram = 0 if spikes_on_chip else s.time_steps * s.batch * s.seq * s.dim * 3
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
        k_mats = _head_matrices(workload.attention_operand(record, "k"), s, s.seq,
                                s.head_dim, f"{record.name}_k")
        v_mats = _head_matrices(workload.attention_operand(record, "v"), s, s.seq,
                                s.head_dim, f"{record.name}_v").transpose(0, 2, 1)
        qk = _per_matrix_costs(k_mats, s.seq, cfg, True, True, density)
        sv = _per_matrix_costs(v_mats, s.seq, cfg, True, True, density)
        l2 = s.seq * s.seq
        sfu = l2 // cfg.exp_units + s.seq // cfg.div_units
        softmax = sfu + l2 // cfg.multipliers
        adder = l2 // cfg.adders
        compute = sum(max(a.total + b.total + adder, softmax) for a, b in zip(qk, sv, strict=True))
        dram = s.time_steps * s.batch * s.seq * s.dim * (8 + 1 + 1)
        return _Cost(compute, 0, 0, dram), False
    raise ConfigError("attention.variant", f"unsupported variant {s.variant!r}")


def _attention_shape(workload: Workload, record: LayerRecord) -> _AttentionShape:
    variant = str(_param(record, "variant", "attention_type"))
    try:
        v = AttentionVariant(variant.lower())
    except ValueError:
        raise TraceError(workload.source or workload.name,
                         f"unknown attention variant {variant!r} (known: "
                         f"{[a.value for a in AttentionVariant]})", layer=record.name) from None
    return _AttentionShape(
        dim=int(_param(record, "dim")),
        seq=int(_param(record, "seq_len", "sequence_length")),
        heads=int(_param(record, "heads", "num_heads")),
        batch=workload.batch_of(record),
        time_steps=workload.time_steps_of(record),
        variant=v,
    )


def _layer_name(record: LayerRecord) -> str:
    """The authors' name of a layer's priced GEMM (``conv2d_1_kernel5_fc`` for a conv)."""
    if record.kind is LayerKind.CONV2D:
        kernel = _param(record, "kernel", "kernel_size")
        k = kernel[0] if isinstance(kernel, list | tuple) else kernel
        return f"{record.name}_kernel{int(k)}_fc"
    return record.name


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


def _gemm_layer(workload: Workload, record: LayerRecord, cfg: ProsperityConfig,
                spikes_on_chip: bool, density: _Density | None,
                counter: Callable[[np.ndarray, int, int], TileCounts]) -> _Cost:
    s = gemm_of(workload, record)
    m, k = s.shape
    n = _out_features(record)
    counts = None if cfg.sparsity is Sparsity.DENSE else counter(s, cfg.tile_m, cfg.tile_k)
    n_pass = -(-n // cfg.adders)
    if density is not None and cfg.sparsity is Sparsity.PRODUCT and counts is not None:
        density.add(counts, n_pass)
    return _price_gemm(counts, m, k, n, _kernel_area(record), cfg, spikes_on_chip,
                       weights_on_chip=False, network_path=True)


def simulate_layers(workload: Workload, config: ProsperityConfig | None = None,
                    counter: Callable[[np.ndarray, int, int], TileCounts] = tile_counts,
                    ) -> Breakdown:
    """Prosperity on a workload with spike data: per-layer and network cost.

    Args:
        workload: the network (needs spike data for its GEMM and attention layers).
        config: hardware and model knobs; the paper's default when ``None``.
        counter: the tile-statistics function (for tests and faster kernels).

    Returns:
        A :class:`Breakdown`; ``extra`` holds ``bit_density`` and ``product_density``
        (product sparsity only). Network ``compute_cycles`` is the sum of every layer's
        compute (LIF and attention included) as the authors sum it; ``total_cycles``
        applies the LIF overlap rule.
    """
    cfg = PAPER if config is None else config
    if not workload.has_data:
        raise TraceError(workload.source or workload.name,
                         "Prosperity needs spike data; this workload has shapes only")
    density = _Density() if cfg.sparsity is Sparsity.PRODUCT else None
    spikes_on_chip = False
    priced: list[tuple[LayerRecord, _Cost]] = []
    for record in workload.ops():
        if record.kind in (LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D):
            cost = _gemm_layer(workload, record, cfg, spikes_on_chip, density, counter)
        elif record.kind is LayerKind.LIF:
            cost, spikes_on_chip = _lif_cost(int(_param(record, "neurons")),
                                             workload.batch_of(record),
                                             workload.time_steps_of(record), cfg)
        elif record.kind is LayerKind.ATTENTION:
            cost, spikes_on_chip = _attention_cost(
                workload, record, _attention_shape(workload, record), cfg, spikes_on_chip,
                density)
        elif record.kind is LayerKind.LAYERNORM:
            rows = (workload.batch_of(record) * workload.time_steps_of(record)
                    * int(_param(record, "seq_len", "sequence_length", default=1)))
            cost = _layernorm_cost(int(_param(record, "dim")), rows, cfg)
        elif record.kind is LayerKind.MAXPOOL2D:
            cost = _Cost(0, 0, 0, 0)  # folded into the spike write-back
        else:  # an attention operand without its attention record
            raise TraceError(workload.source or workload.name,
                             "attention operand without an attention record",
                             layer=record.name)
        priced.append((record, cost))

    added = _network_total(priced)
    layers = tuple(
        LayerBreakdown(
            name=_layer_name(record), op=str(record.kind), total_cycles=cost.total,
            compute_cycles=cost.compute, mem_stall_cycles=cost.mem_stall,
            preprocess_stall_cycles=cost.preprocess_stall, dram_bits=cost.dram_bits,
            added_cycles=add, extra={"lif_latency": cost.lif_latency},
        )
        for (record, cost), add in zip(priced, added, strict=True)
    )
    extra: dict[str, float] = {}
    if density is not None and density.elements:
        extra = {"bit_density": density.nnz / density.elements,
                 "product_density": density.residual / density.elements}
    return Breakdown(
        accelerator="prosperity", workload=workload.name,
        total_cycles=sum(added),
        compute_cycles=sum(c.compute for _, c in priced),
        mem_stall_cycles=sum(c.mem_stall for _, c in priced),
        preprocess_stall_cycles=sum(c.preprocess_stall for _, c in priced),
        dram_bits=sum(c.dram_bits for _, c in priced),
        clock_hz=cfg.clock_hz, layers=layers, extra=extra,
        notes=(f"tile {cfg.tile_m}x{cfg.tile_k}, issue type {cfg.issue_type}, "
               f"{cfg.sparsity.value} sparsity",),
    )


@register("prosperity", config_type=ProsperityConfig, needs_spikes=True,
          energy_key="Prosperity",
          description="Prosperity (HPCA 2025): product-sparsity SNN accelerator")
def simulate(workload: Workload, config: ProsperityConfig | None = None) -> Breakdown:
    """Prosperity's cycles, DRAM traffic and densities on a workload with spike data."""
    return simulate_layers(workload, config)

