"""One layer of Prosperity priced, as the authors' simulator prices it: a GEMM of the
network (:func:`price_gemm`, the formulas of :mod:`prosparsity.accel.prosperity`), a
LIF layer (:func:`lif_cost`), a LayerNorm (:func:`layernorm_cost`) and an attention block
(:func:`attention_cost`, its small GEMMs priced tile by tile). Each returns a
:class:`Cost` in the authors' integer terms (cycles and bits); the network walk and the
overlap rule are :mod:`prosparsity.accel.prosperity`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from prosparsity.accel.prosperity_config import ProsperityConfig, Sparsity
from prosparsity.analysis.grid import TileGrid
from prosparsity.analysis.layers import AttentionShape, attention_shape
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import GemmStats, LayerStats
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerRecord

__all__ = ["Cost", "attention_cost", "layernorm_cost", "lif_cost", "price_gemm"]


@dataclass(frozen=True)
class Cost:
    """One layer's cost in the authors' terms (integers, cycles and bits)."""

    compute: int  # compute time: max(compute, preprocessing) for GEMMs
    mem_stall: int
    preprocess_stall: int
    dram_bits: int
    lif_latency: int = 0
    total_override: int | None = None  # attention blocks: see attention_cost

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


def price_gemm(counts: TileGrid | None, m: int, k: int, n: int, kk: int,
                cfg: ProsperityConfig, spikes_on_chip: bool, weights_on_chip: bool) -> Cost:
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
    return Cost(compute=time, mem_stall=_mem_stall(dram, init, time, cfg.mem_bits_per_cycle),
                 preprocess_stall=max(0, pre - comp), dram_bits=dram)


def lif_cost(neurons: int, batch: int, time_steps: int, cfg: ProsperityConfig,
              prev_tile_m: int = 256, prev_tile_n: int = 128) -> tuple[Cost, bool]:
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
        return Cost(compute, 0, 0, 0, latency), True
    stall = max(0, size // cfg.mem_bits_per_cycle - compute)
    return Cost(compute, stall, 0, size, latency), False


def layernorm_cost(dim: int, rows: int, cfg: ProsperityConfig) -> Cost:
    """LayerNorm over ``rows`` vectors of ``dim`` 8-bit values.

    Adders: three passes (sum, subtract mean, variance) of ``rows_tile*dim // adders``
    per row tile; the multiplier (squares) and divider (mean, reciprocal) work of one
    full tile only, the rest overlapping. DRAM: the values are written out and read
    back (``2 * rows*dim*8`` bits), not stalling.
    """
    adder = sum(3 * (min(cfg.tile_m, rows - i * cfg.tile_m) * dim // cfg.adders)
                for i in range(-(-rows // cfg.tile_m)))
    other = 2 * (cfg.tile_m // cfg.div_units) + cfg.tile_m * dim // cfg.multipliers
    return Cost(adder + other, 0, 0, 2 * rows * dim * 8)


def _per_matrix_costs(entry: GemmStats | None, shape: tuple[int, int, int], n: int,
                      cfg: ProsperityConfig, spikes_on_chip: bool,
                      weights_on_chip: bool) -> list[Cost]:
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
        costs.append(Cost(time, _mem_stall(dram, init, time, cfg.mem_bits_per_cycle),
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


def attention_cost(network: Network, record: LayerRecord, layer: LayerStats | None,
                    cfg: ProsperityConfig, spikes_on_chip: bool) -> tuple[Cost, bool]:
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
        cost = Cost(
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
        lif, _ = lif_cost(s.head_dim * s.heads, s.batch, s.time_steps, cfg,
                           prev_tile_m=cfg.adders, prev_tile_n=1)
        compute += max(0, lif.total - compute)
        out_on_chip = n_op < cfg.act_buffer_bits
        if not out_on_chip:
            dram += n_op
        compute += n_op // cfg.adders
        return Cost(compute, _mem_stall(dram, init, compute, bus), 0, dram), out_on_chip
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
        return Cost(compute, 0, 0, dram), False
    raise ConfigError("attention.variant", f"unsupported variant {s.variant!r}")
