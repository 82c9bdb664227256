"""Counting: the statistics of a workload at one tile size, spike data read once.

:func:`count` is the one place spike data is turned into statistics. For every analysed
layer of a :class:`~prosparsity.analysis.network.Workload` (linear, conv, attention
block, in execution order) it builds the spiking GEMM operands
(:mod:`prosparsity.analysis.gemm`, :mod:`prosparsity.analysis.attention`), runs the
ProSparsity kernel once per operand and bit plane (attention: once per role, the head
slices stacked), and, in the same pass over the same rows, the per-accelerator counters
asked for (:mod:`prosparsity.analysis.counters`). The result is one
:class:`~prosparsity.analysis.stats.ModelStats`: what ``prosparsity analyze`` reports and
what every cost model prices.

Row classes (the paper's rank-one rule, docs/analysis.md) are counted per (row, column tile) pair
and weighted by the GEMM's output passes (docs/analysis.md, see :mod:`prosparsity.analysis.stats`).
A multi-level layer is analysed as one binary GEMM per bit plane (``x = Σ 2^i b_i``); each plane
counts ``M · K`` elements, and the layer reports ``binary=False``.

Operands are streamed by row blocks of ``block_bytes`` (whole row tiles), so memory stays
bounded; layers whose counters need a sample's whole operand (PTB's packing groups)
hold one layer's operand at a time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from prosparsity.analysis.attention import OPERANDS, AttentionVariant, attention_gemms, role_stacks
from prosparsity.analysis.counters import (
    Counter,
    CounterFailure,
    LayerSpikes,
    OperandSpikes,
    counter_package,
)
from prosparsity.analysis.gemm import (
    ADDER_ARRAY_WIDTH,
    DEFAULT_BLOCK_BYTES,
    Gemm,
    gemms_of,
    gemms_of_packed,
)
from prosparsity.analysis.grid import TileGrid, check_tile_sizes
from prosparsity.analysis.kernel import packed_stats, prosparsity_stats
from prosparsity.analysis.layers import WEIGHT_GEMM_KINDS, layer_gemm
from prosparsity.analysis.network import SpikeSource, Workload
from prosparsity.analysis.stats import Counts, GemmStats, LayerStats, ModelStats
from prosparsity.analysis.streamed import sample_streamed_gemms
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.params import AttentionParams
from prosparsity.traces.schema import LayerKind, LayerRecord

log = logging.getLogger(__name__)

__all__ = [
    "ANALYSED_KINDS",
    "analysed_records",
    "analyze_gemm",
    "analyze_layer",
    "count",
    "count_samples",
    "layer_gemms",
    "layer_spikes",
]

#: Record kinds that stand for spiking GEMMs (attention blocks through their operands).
ANALYSED_KINDS = frozenset(
    {LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D, LayerKind.ATTENTION}
)

LayerCallback = Callable[[LayerStats], None]


# --------------------------------------------------------------------------------------
# one GEMM, one layer
# --------------------------------------------------------------------------------------


def _passes(n: int, adders: int) -> int:
    return -(-n // adders)


def _grid_of_blocks(
    blocks: Iterable[np.ndarray], rows: int, k: int, m: int, tile_m: int, tile_k: int,
    row_nnz: np.ndarray | None = None,
) -> TileGrid:
    grids = [
        prosparsity_stats(b, tile_m, tile_k, row_offset=i * rows, m_total=m,
                          row_nnz=None if row_nnz is None else row_nnz[i * rows:
                                                                       i * rows + len(b)])
        for i, b in enumerate(blocks)
    ]
    if not grids:
        grids = [prosparsity_stats(np.zeros((0, k), bool), tile_m, tile_k)]
    return grids[0] if len(grids) == 1 else TileGrid.vstack(grids)


def _gemm_stats(gemm: Gemm, plane: int, grid: TileGrid, adders: int) -> GemmStats:
    passes = _passes(gemm.n, adders)
    return GemmStats(
        name=gemm.name, layer=gemm.layer, role=gemm.role, m=gemm.m, k=gemm.k, n=gemm.n,
        kernel=gemm.kernel, passes=passes, plane=plane, grid=grid,
        counts=Counts.of_grid(grid).scaled(passes),
    )  # fmt: skip


def analyze_gemm(
    gemm: Gemm,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    adder_array_width: int = ADDER_ARRAY_WIDTH,
) -> tuple[GemmStats, ...]:
    """ProSparsity statistics of one GEMM, one entry per bit plane, streamed by row blocks.

    Args:
        gemm: the GEMM operand (see :mod:`prosparsity.analysis.gemm`).
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        block_bytes: memory budget of one streamed block of ``S``.
        adder_array_width: output columns per pass (128 in the paper).
    """
    check_tile_sizes(tile_m, tile_k)
    if gemm.packed is not None and gemm.planes == 1:
        # the fused path: S read straight from the bit-packed layer input, no im2col
        return (_gemm_stats(gemm, 0, packed_stats(*gemm.packed(), tile_m, tile_k),
                            adder_array_width),)
    rows = gemm.block_rows(tile_m, block_bytes)
    return tuple(
        _gemm_stats(
            gemm, plane,
            _grid_of_blocks(gemm.row_blocks(rows, plane), rows, gemm.k, gemm.m, tile_m, tile_k),
            adder_array_width,
        )
        for plane in range(gemm.planes)
    )  # fmt: skip


def _layer(name: str, kind: str, planes: int, stats: Sequence[GemmStats]) -> LayerStats:
    return LayerStats(
        name=name, kind=str(kind), binary=planes == 1, planes=planes, gemms=tuple(stats),
        counts=Counts.total(s.counts for s in stats),
    )  # fmt: skip


def analyze_layer(
    name: str,
    kind: str,
    gemms: Sequence[Gemm],
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    adder_array_width: int = ADDER_ARRAY_WIDTH,
) -> LayerStats:
    """Statistics of one layer from the GEMMs it stands for (each GEMM on its own)."""
    stats = [
        s for g in gemms
        for s in analyze_gemm(g, tile_m, tile_k, block_bytes, adder_array_width)
    ]  # fmt: skip
    planes = max((g.planes for g in gemms), default=1)
    return _layer(name, kind, planes, stats)


def _stacked_grid(mats: np.ndarray, tile_m: int, tile_k: int) -> TileGrid:
    """One kernel call for equal-shape matrices: each is padded with zero rows to whole
    row tiles and the stack is counted at once. Zero rows are never prefixes, so every
    count but ``zero_rows`` is unchanged; the padding is taken off ``zero_rows`` and
    ``rows``, so copy ``c``'s row tiles equal the grid of ``mats[c]`` alone (bar
    ``head_cost``, left zero)."""
    n_mat, m, k = mats.shape
    n_tm = -(-m // tile_m)
    stacked = np.zeros((n_mat, n_tm * tile_m, k), dtype=bool)
    stacked[:, :m] = mats
    grid = prosparsity_stats(stacked.reshape(-1, k), tile_m, tile_k)
    rows_one = np.minimum(tile_m, m - np.arange(n_tm) * tile_m)
    rows = np.tile(rows_one, n_mat)
    return TileGrid(
        tile_m, tile_k, rows, grid.cols, grid.nnz, grid.residual_nnz,
        grid.zero_rows - (tile_m - rows)[:, None], grid.em_rows, grid.pm_rows,
        grid.other_rows, grid.ge2_rows, grid.forest_depth, np.zeros_like(grid.nnz),
    )  # fmt: skip


def _attention_layer(
    record: LayerRecord, gemms: Sequence[Gemm], tile_m: int, tile_k: int, adders: int
) -> LayerStats:
    """An attention block: one entry per role and plane, its head slices stacked."""
    stats = []
    for stack in role_stacks(gemms):
        passes = _passes(stack.n, adders)
        for plane in range(stack.planes):
            grid = _stacked_grid(stack.matrices(plane), tile_m, tile_k)
            stats.append(
                GemmStats(
                    name=stack.name, layer=record.name, role=stack.role, m=stack.m,
                    k=stack.k, n=stack.n, kernel=1, passes=passes, plane=plane, grid=grid,
                    counts=Counts.of_grid(grid).scaled(passes), copies=stack.copies,
                )
            )  # fmt: skip
    planes = max((g.planes for g in gemms), default=1)
    return _layer(record.name, record.kind, planes, stats)


def _layer_spikes(
    workload: Workload, record: LayerRecord, gemms: Sequence[Gemm], tile_m: int, tile_k: int,
    block_bytes: int, adders: int,
) -> tuple[LayerStats, LayerSpikes]:
    """A weight-GEMM layer counted for the counters too: each operand (group, bit plane)
    through the kernel once, which also sums its rows; the counters receive the grids,
    the row sums, the bit-packed operands and (built if a counter asks) the views."""
    lg = layer_gemm(workload, record)
    stats, operands = [], []
    for g in gemms:
        rows = g.block_rows(tile_m, block_bytes)
        fused = g.packed is not None and g.planes == 1
        for plane in range(g.planes):
            row_nnz = np.zeros(g.m, dtype=np.int64)
            if fused:
                packed = g.packed()  # type: ignore[misc]
                grid = packed_stats(*packed, tile_m, tile_k, row_nnz=row_nnz)
            else:
                packed = None
                grid = _grid_of_blocks(g.row_blocks(rows, plane), rows, g.k, g.m, tile_m,
                                       tile_k, row_nnz)
            stats.append(_gemm_stats(g, plane, grid, adders))
            operands.append(OperandSpikes(g, plane, grid, row_nnz, lg, packed))
    planes = max((g.planes for g in gemms), default=1)
    spikes = LayerSpikes(record, lg, (tile_m, tile_k), tuple(operands))
    return _layer(record.name, record.kind, planes, stats), spikes


def _run_counters(counters: Sequence[Counter], spikes: LayerSpikes, where: str,
                  values: dict[Counter, dict[str, Any]],
                  failures: dict[Counter, CounterFailure]) -> None:
    """Every counter not failed yet on one layer; a counter's exception becomes its
    failure (its later layers are skipped), never the pass's."""
    for c in counters:
        if c in failures:
            continue
        try:
            values[c][spikes.name] = c.count(spikes)
        except Exception as exc:  # a counter's error is its own (docs/analysis.md)
            problem = exc.problem if isinstance(exc, ConfigError) else str(exc)
            field = f"{exc.field}: " if isinstance(exc, ConfigError) else ""
            failures[c] = CounterFailure(
                kind=str(getattr(c, "kind", type(c).__name__)), package=counter_package(c),
                layer=spikes.name, error=f"{type(exc).__name__}: {field}{problem}",
                where=where)
            values.pop(c, None)
            log.warning("%s", failures[c].message)


# --------------------------------------------------------------------------------------
# a workload
# --------------------------------------------------------------------------------------


def analysed_records(
    records: Sequence[LayerRecord], network_only: bool = True
) -> tuple[LayerRecord, ...]:
    """The records :func:`layer_gemms` yields a layer for, in execution order."""
    return tuple(
        r for r in records if r.kind in ANALYSED_KINDS and (r.in_network or not network_only)
    )


def layer_gemms(
    workload: Workload, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> Iterator[tuple[LayerRecord, tuple[Gemm, ...]]]:
    """The spiking GEMMs of a workload, layer by layer, in execution order.

    Linear / conv records yield their own GEMMs; an attention record yields the GEMMs of
    its operands (:meth:`Network.operand_records`, else data keyed
    ``<attention>_<operand>``) as the authors model them; other records are skipped.
    Data is read lazily, one layer at a time; a layer stored sample-first (layout
    ``B,...`` with several samples) is streamed by samples instead of read whole.
    """
    for rec in analysed_records(workload.layers):
        if rec.kind in WEIGHT_GEMM_KINDS:
            streamable = rec.axes[:1] == ("B",) and rec.shape and rec.shape[0] > 1
            if streamable and workload.spikes is not None:
                per_sample = max(1, int(np.prod(rec.shape[1:], dtype=np.int64)))
                reader = _ForwardSamples(
                    workload.spikes, rec.name, max(1, block_bytes // per_sample)
                )
                yield rec, sample_streamed_gemms(rec, reader)
            else:
                packed = workload.packed(rec.name)
                if packed is not None:
                    yield rec, gemms_of_packed(rec, packed, rec.shape or None)
                else:
                    yield rec, gemms_of(rec, workload.data(rec.name))
            continue
        p = rec.parsed
        assert isinstance(p, AttentionParams)
        variant = p.require("variant", "an attention block")
        if variant is AttentionVariant.SDT:
            yield rec, ()
            continue
        need = OPERANDS[variant]
        ops = workload.operand_records(rec)
        heads = p.require("heads", "an attention block")
        operands: dict[str, np.ndarray] = {}
        for op in need:
            try:
                operands[op] = workload.attention_operand(rec, op)
            except TraceError:
                if op in ops:  # a record of the trace: its read errors are real errors
                    raise
                missing = [o for o in need if o not in ops]
                raise ConfigError(
                    f"{rec.name}.operands",
                    f"no spike data for operand(s) {', '.join(missing)} of this "
                    f"{variant} block",
                ) from None
        layouts = {op: ops[op].layout for op in need if op in ops}
        yield rec, attention_gemms(rec.name, variant, heads, operands, layouts)


def layer_spikes(
    workload: Workload,
    name: str,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> LayerSpikes:
    """What the counting pass hands every counter for the weight-GEMM layer ``name`` of
    ``workload`` (its operands counted by the kernel at ``tile_m x tile_k``): to try a
    counter on a hand-made layer, ``counter.count(layer_spikes(...))``.

    Raises:
        TraceError: no such layer; ConfigError: not a linear / conv layer, bad tiles.
    """
    check_tile_sizes(tile_m, tile_k)
    record = workload.layer(name)
    if record.kind not in WEIGHT_GEMM_KINDS:
        raise ConfigError(f"{name}.kind", f"counters count linear and conv layers, not "
                          f"{record.kind}")
    one = dataclasses.replace(workload, layers=(record,))
    for rec, gemms in layer_gemms(one, block_bytes):
        return _layer_spikes(workload, rec, gemms, tile_m, tile_k, block_bytes,
                             ADDER_ARRAY_WIDTH)[1]
    raise TraceError(workload.where, "not an analysed layer (in_network is false)", name)


def count(
    workload: Workload,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    counters: Iterable[Counter] = (),
    *,
    adders: int = ADDER_ARRAY_WIDTH,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: LayerCallback | None = None,
) -> ModelStats:
    """The statistics of ``workload`` at one tile size (see the module docstring).

    Args:
        workload: the network and its spike data (a shapes-only workload gives
            statistics without grids).
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        counters: the per-accelerator counters to count in the same pass.
        adders: adder width of the pass weighting (128, Prosperity's adder array).
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each analysed layer (progress reporting).

    Raises:
        TraceError: a layer the analysis cannot read, naming the source and the layer.
        ConfigError: bad tile sizes.
    """
    check_tile_sizes(tile_m, tile_k)
    if not workload.has_data:
        return ModelStats.shapes_only(workload.network, tile_m, tile_k)
    one = _Sample(workload, tuple(dict.fromkeys(counters)))
    stream = layer_gemms(workload, block_bytes)
    while (item := one.next_layer(stream, tile_m, tile_k, block_bytes, adders)) is not None:
        if on_layer is not None:
            on_layer(item[1])
    return one.result(tile_m, tile_k, adders)


class _Sample:
    """One workload's statistics, gathered one layer at a time (:func:`count`,
    :func:`count_samples`)."""

    def __init__(self, workload: Workload, wanted: tuple[Counter, ...]) -> None:
        self.workload = workload
        self.wanted = wanted
        self.values: dict[Counter, dict[str, Any]] = {c: {} for c in wanted}
        self.failures: dict[Counter, CounterFailure] = {}
        self.layers: list[LayerStats] = []

    def next_layer(
        self, stream: Iterator[tuple[LayerRecord, Sequence[Gemm]]], tile_m: int, tile_k: int,
        block_bytes: int, adders: int,
    ) -> tuple[LayerRecord, LayerStats] | None:
        """Count the next layer of ``stream`` (:func:`layer_gemms` of the workload);
        ``None`` past the last."""
        network = self.workload.network
        try:
            item = next(stream, None)
            if item is None:
                return None
            rec, gemms = item
            if rec.kind is LayerKind.ATTENTION:
                stats = _attention_layer(rec, gemms, tile_m, tile_k, adders)
            elif len(self.failures) < len(self.wanted):
                stats, spikes = _layer_spikes(
                    self.workload, rec, gemms, tile_m, tile_k, block_bytes, adders
                )
                _run_counters(self.wanted, spikes, network.where, self.values, self.failures)
            else:
                stats = analyze_layer(
                    rec.name, rec.kind, gemms, tile_m, tile_k, block_bytes, adders
                )
        except ConfigError as exc:
            raise network.error(exc) from None
        if not stats.binary:
            log.info("layer %s is not binary: analysed as %d bit planes", rec.name,
                     stats.planes)  # fmt: skip
        self.layers.append(stats)
        return rec, stats

    def result(self, tile_m: int, tile_k: int, adders: int) -> ModelStats:
        layers = self.layers
        return ModelStats(
            model=self.workload.name, tile_m=int(tile_m), tile_k=int(tile_k),
            layers=tuple(layers), counts=Counts.total(layer.counts for layer in layers),
            network=self.workload.network, counters=self.values,
            counter_failures=self.failures, adders=adders,
        )  # fmt: skip


def count_samples(
    workload: Workload,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    counters: Iterable[Counter] = (),
    *,
    adders: int = ADDER_ARRAY_WIDTH,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: LayerCallback | None = None,
    which: Sequence[int] | None = None,
) -> tuple[ModelStats, ...]:
    """:func:`count` of every sample of ``workload`` on its own (batch 1 each, the
    paper's setting): sample ``b`` is the index ``b`` of every data record's ``B`` axis,
    analysed exactly as a one-sample trace holding only that index would be. A workload
    of one sample gives one statistics object equal to :func:`count`. ``which``: only
    these samples, in this order (default: all).

    The samples are counted layer by layer: every sample's first layer, then every
    sample's second, and so on. A trace's chunks hold many samples, and the reader keeps
    the chunks of each layer it reads until told it is done with that layer (HDF5's
    chunk cache). So each layer's chunks are decompressed once for all samples, and
    released before the next layer (``release(name)`` of the spike source, where it has
    one). Counted sample by sample, every layer's chunks would stay cached at once.

    Raises:
        TraceError: samples that cannot be separated (a data record without a ``B``
            axis in a multi-sample workload), or what :func:`count` raises (naming the
            sample).
    """
    n = workload.samples()
    indices = list(range(n)) if which is None else [int(b) for b in which]
    if n == 1 and indices == [0]:
        return (count(workload, tile_m, tile_k, counters, adders=adders,
                      block_bytes=block_bytes, on_layer=on_layer),)  # fmt: skip
    check_tile_sizes(tile_m, tile_k)
    wanted = tuple(dict.fromkeys(counters))
    samples = [_Sample(workload.sample(b), wanted) for b in indices]
    streams = [layer_gemms(one.workload, block_bytes) for one in samples]
    release = getattr(workload.spikes, "release", None)
    while True:
        rec = None
        for b, one, stream in zip(indices, samples, streams, strict=True):
            try:
                item = one.next_layer(stream, tile_m, tile_k, block_bytes, adders)
            except TraceError as exc:
                raise TraceError(exc.path, f"sample {b}: {exc.problem}", exc.layer) from None
            if item is None:
                break
            rec, stats = item
            if on_layer is not None:
                on_layer(stats)
        if rec is None:
            break
        if release is not None:
            for name in _data_records(workload, rec):
                release(name)
    return tuple(one.result(tile_m, tile_k, adders) for one in samples)


def _data_records(workload: Workload, rec: LayerRecord) -> list[str]:
    """The records whose stored data counting ``rec`` reads: itself, or an attention
    block's operands."""
    if rec.kind is LayerKind.ATTENTION:
        return [r.name for r in workload.operand_records(rec).values() if r.has_data]
    return [rec.name] if rec.has_data else []


class _ForwardSamples:
    """Sample ranges of a layer over the source's forward stream of slabs.

    Keeps only the slabs that the current range touches; earlier slabs are dropped. A
    range before the held ones (the next bit plane starts over) restarts the stream.
    """

    def __init__(self, source: SpikeSource, name: str, chunk: int) -> None:
        self._source, self._name, self._chunk = source, name, chunk
        self._restart()

    def _restart(self) -> None:
        self._chunks = self._source.iter_chunks(self._name, self._chunk)
        self._slabs: list[np.ndarray] = []
        self._start = 0  # first sample held in _slabs
        self._end = 0  # one past the last sample held

    def __call__(self, b0: int, b1: int) -> np.ndarray:
        if b0 < self._start:
            self._restart()
        while self._end < b1:
            slab = next(self._chunks, None)
            if slab is None:
                break
            self._slabs.append(slab)
            self._end += slab.shape[0]
        while self._slabs and self._start + self._slabs[0].shape[0] <= b0:
            self._start += self._slabs.pop(0).shape[0]
        held = self._slabs[0] if len(self._slabs) == 1 else np.concatenate(self._slabs)
        return held[b0 - self._start : b1 - self._start]
