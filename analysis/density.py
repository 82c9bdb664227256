"""Bit and product density of GEMMs, layers and models (spec §4), as frozen sums.

Counting only: every function here is a pure function of spike data and tile sizes and
returns frozen results that add up, tile -> GEMM -> layer -> model.

Weighting (spec §4): each (row tile, column tile) is processed once per output pass,
``nN = ceil(N / 128)``, so every count is multiplied by its GEMM's ``nN``::

    bit density     = Σ nN · nnz(S)        / Σ nN · M · K
    product density = Σ nN · nnz(residual) / Σ nN · M · K

Row classes (spec §3) are counted per (row, column tile) pair, with the same weight.
A multi-level layer is analysed as one binary GEMM per bit plane (``x = Σ 2^i b_i``);
each plane counts ``M · K`` elements, and the layer reports ``binary=False``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prosparsity.analysis.attention import OPERANDS, AttentionVariant, attention_gemms
from prosparsity.analysis.gemm import (
    ADDER_ARRAY_WIDTH,
    DEFAULT_BLOCK_BYTES,
    Gemm,
    SampleReader,
    gemms_of,
    sample_streamed_gemms,
)
from prosparsity.analysis.kernel import TileGrid, check_tile_sizes, prosparsity_stats
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.schema import LayerKind, LayerRecord

if TYPE_CHECKING:
    from prosparsity.traces.io import TraceReader

log = logging.getLogger(__name__)

__all__ = [
    "Counts",
    "GemmStats",
    "LayerSpread",
    "LayerStats",
    "ModelStats",
    "SampleStats",
    "Spread",
    "analyze_gemm",
    "analyze_layer",
    "analyze_records",
    "analyze_samples",
    "analyze_trace",
    "analysed_records",
    "layer_gemms",
    "trace_samples",
]


@dataclass(frozen=True)
class Counts:
    """Pass-weighted sums (every field is ``Σ nN · x``); ``+`` adds them up.

    Attributes:
        elements: ``Σ nN · M · K`` (bits of the operand, per plane).
        nnz: ones of ``S``.
        residual_nnz: ones left after ProSparsity.
        row_slices: (row, column tile) pairs, ``Σ nN · M · nKt``.
        zero_rows: all-zero row slices.
        em_rows: exact-match row slices.
        pm_rows: partial-match row slices.
        other_rows: the rest.
        ge2_rows: row slices with popcount >= 2.
    """

    elements: int = 0
    nnz: int = 0
    residual_nnz: int = 0
    row_slices: int = 0
    zero_rows: int = 0
    em_rows: int = 0
    pm_rows: int = 0
    other_rows: int = 0
    ge2_rows: int = 0

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, factor: int) -> Counts:
        """Every field times ``factor`` (the pass weight)."""
        return Counts(*(getattr(self, f.name) * factor for f in fields(self)))

    @staticmethod
    def of_grid(grid: TileGrid) -> Counts:
        """Unweighted totals of one tile grid."""
        return Counts(
            elements=grid.elements,
            nnz=grid.total("nnz"),
            residual_nnz=grid.total("residual_nnz"),
            row_slices=grid.m * grid.shape_tiles[1],
            zero_rows=grid.total("zero_rows"),
            em_rows=grid.total("em_rows"),
            pm_rows=grid.total("pm_rows"),
            other_rows=grid.total("other_rows"),
            ge2_rows=grid.total("ge2_rows"),
        )

    @property
    def bit_density(self) -> float:
        """``nnz / elements`` (0 for no elements)."""
        return self.nnz / self.elements if self.elements else 0.0

    @property
    def product_density(self) -> float:
        """``residual_nnz / elements`` (0 for no elements)."""
        return self.residual_nnz / self.elements if self.elements else 0.0

    def row_class_fractions(self) -> dict[str, float]:
        """Shares of zero / EM / PM / other row slices (they sum to 1)."""
        n = self.row_slices or 1
        return {
            "zero": self.zero_rows / n,
            "em": self.em_rows / n,
            "pm": self.pm_rows / n,
            "other": self.other_rows / n,
        }


@dataclass(frozen=True)
class GemmStats:
    """ProSparsity statistics of one binary GEMM (one bit plane of one GEMM).

    Attributes:
        name: the GEMM's name (authors' naming, e.g. ``conv2d_1_kernel5_fc``).
        layer: the trace record it belongs to.
        role: attention role (``kv``, ``qkv``, ``qk``, ``sv``) or ``""``.
        m: rows, k: columns, n: output columns of the GEMM.
        kernel: conv kernel size (1 for linear / attention).
        passes: ``nN = ceil(N / 128)``.
        plane: bit plane (0 for spikes).
        grid: the per-tile statistics (what the cost models consume).
        counts: pass-weighted totals of ``grid``.
    """

    name: str
    layer: str
    role: str
    m: int
    k: int
    n: int
    kernel: int
    passes: int
    plane: int
    grid: TileGrid
    counts: Counts

    @property
    def bit_density(self) -> float:
        return self.counts.bit_density

    @property
    def product_density(self) -> float:
        return self.counts.product_density


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one trace layer: the sum of its GEMMs.

    Attributes:
        name: record name.
        kind: record kind (``attention`` for an attention block's GEMMs).
        binary: False when the layer's input held multi-level values (decomposed into
            ``planes`` bit planes).
        planes: bit planes analysed per GEMM.
        gemms: per-GEMM (and per-plane) statistics, in the authors' order.
        counts: pass-weighted sum over ``gemms``.
    """

    name: str
    kind: str
    binary: bool
    planes: int
    gemms: tuple[GemmStats, ...]
    counts: Counts

    @property
    def m(self) -> int:
        """Rows of the layer's first GEMM (attention: of its first per-head GEMM)."""
        return self.gemms[0].m if self.gemms else 0

    @property
    def k(self) -> int:
        return self.gemms[0].k if self.gemms else 0

    @property
    def n(self) -> int:
        return self.gemms[0].n if self.gemms else 0

    @property
    def bit_density(self) -> float:
        return self.counts.bit_density

    @property
    def product_density(self) -> float:
        return self.counts.product_density


@dataclass(frozen=True)
class ModelStats:
    """Statistics of a whole trace: the sum of its layers.

    Attributes:
        model: model (or workload) name.
        tile_m: rows per tile.
        tile_k: columns per tile.
        layers: per-layer statistics, in execution order.
        counts: pass-weighted sum over ``layers``.
    """

    model: str
    tile_m: int
    tile_k: int
    layers: tuple[LayerStats, ...]
    counts: Counts

    @property
    def bit_density(self) -> float:
        return self.counts.bit_density

    @property
    def product_density(self) -> float:
        return self.counts.product_density

    @property
    def binary(self) -> bool:
        """True when every analysed layer was binary."""
        return all(layer.binary for layer in self.layers)

    def layer(self, name: str) -> LayerStats:
        """The statistics of layer ``name``."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigError("layer", f"no analysed layer named {name!r}")

    def to_json(self) -> dict:
        """The ``prosparsity analyze --json`` document."""
        return {
            "model": self.model,
            "tile_m": self.tile_m,
            "tile_k": self.tile_k,
            "bit_density": self.bit_density,
            "product_density": self.product_density,
            "binary": self.binary,
            "row_classes": self.counts.row_class_fractions(),
            "layers": [
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "m": layer.m,
                    "k": layer.k,
                    "n": layer.n,
                    "gemms": len({g.name for g in layer.gemms}),
                    "passes": layer.gemms[0].passes if layer.gemms else 0,
                    "bit_density": layer.bit_density,
                    "product_density": layer.product_density,
                    "binary": layer.binary,
                    "planes": layer.planes,
                    "elements": layer.counts.elements,
                    "nnz": layer.counts.nnz,
                    "residual_nnz": layer.counts.residual_nnz,
                    "zero_rows": layer.counts.zero_rows,
                    "em_rows": layer.counts.em_rows,
                    "pm_rows": layer.counts.pm_rows,
                    "other_rows": layer.counts.other_rows,
                    "ge2_rows": layer.counts.ge2_rows,
                }
                for layer in self.layers
            ],
        }


def _sum(items: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in items:
        total = total + c
    return total


# --------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------


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
    rows = gemm.block_rows(tile_m, block_bytes)
    passes = gemm.passes(adder_array_width)
    out = []
    for plane in range(gemm.planes):
        grids = [
            prosparsity_stats(b, tile_m, tile_k, row_offset=i * rows, m_total=gemm.m)
            for i, b in enumerate(gemm.row_blocks(rows, plane))
        ]
        if not grids:
            grids = [prosparsity_stats(np.zeros((0, gemm.k), bool), tile_m, tile_k)]
        grid = grids[0] if len(grids) == 1 else TileGrid.vstack(grids)
        out.append(
            GemmStats(
                name=gemm.name,
                layer=gemm.layer,
                role=gemm.role,
                m=gemm.m,
                k=gemm.k,
                n=gemm.n,
                kernel=gemm.kernel,
                passes=passes,
                plane=plane,
                grid=grid,
                counts=Counts.of_grid(grid).scaled(passes),
            )
        )
    return tuple(out)


def analyze_layer(
    name: str,
    kind: str,
    gemms: Sequence[Gemm],
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> LayerStats:
    """Statistics of one layer from the GEMMs it stands for."""
    stats = tuple(s for g in gemms for s in analyze_gemm(g, tile_m, tile_k, block_bytes))
    planes = max((g.planes for g in gemms), default=1)
    return LayerStats(
        name=name,
        kind=str(kind),
        binary=planes == 1,
        planes=planes,
        gemms=stats,
        counts=_sum(s.counts for s in stats),
    )


def _operand_records(
    attention: LayerRecord, records: Sequence[LayerRecord]
) -> dict[str, LayerRecord]:
    found: dict[str, LayerRecord] = {}
    for rec in records:
        if rec.kind is not LayerKind.ATTENTION_OPERAND:
            continue
        owner = rec.params.get("attention")
        op = rec.params.get("operand")
        if owner == attention.name and op:
            found[str(op)] = rec
        elif owner is None and rec.name.startswith(attention.name + "_"):
            found[rec.name[len(attention.name) + 1 :]] = rec
    return found


#: Record kinds that stand for spiking GEMMs (attention blocks through their operands).
ANALYSED_KINDS = frozenset(
    {LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D, LayerKind.ATTENTION}
)


def analysed_records(
    records: Sequence[LayerRecord], network_only: bool = True
) -> tuple[LayerRecord, ...]:
    """The records :func:`layer_gemms` yields a layer for, in execution order."""
    return tuple(
        r for r in records if r.kind in ANALYSED_KINDS and (r.in_network or not network_only)
    )


def layer_gemms(
    records: Sequence[LayerRecord],
    loader: Callable[[str], np.ndarray],
    network_only: bool = True,
    sample_reader: Callable[[LayerRecord], SampleReader] | None = None,
) -> Iterator[tuple[LayerRecord, tuple[Gemm, ...]]]:
    """The spiking GEMMs of a trace, layer by layer, in execution order.

    Linear / conv records yield their own GEMMs; an attention record yields the GEMMs of
    its operands (records of kind ``attention_operand`` whose ``params.attention`` names
    it) as the authors model them; other records are skipped. Data is loaded lazily, one
    layer at a time, through ``loader(name)``.

    Args:
        records: the trace's records in execution order.
        loader: returns the stored input tensor of a data-carrying record.
        network_only: skip records marked ``in_network=False``.
        sample_reader: for linear / conv records stored sample-first (layout ``B,...``
            with several samples), returns a reader of sample ranges; the layer is then
            streamed by samples instead of loaded whole.
    """
    for rec in analysed_records(records, network_only):
        if rec.kind in (LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D):
            streamable = rec.axes[:1] == ("B",) and rec.shape and rec.shape[0] > 1
            if sample_reader is not None and streamable:
                yield rec, sample_streamed_gemms(rec, sample_reader(rec))
            else:
                yield rec, gemms_of(rec, loader(rec.name))
        elif rec.kind is LayerKind.ATTENTION:
            variant = rec.params.get("variant")
            if variant is None:
                raise ConfigError(f"{rec.name}.params.variant", "missing attention variant")
            try:
                need = OPERANDS[AttentionVariant(variant)]
            except ValueError:
                raise ConfigError(
                    f"{rec.name}.params.variant", f"unknown attention variant {variant!r}"
                ) from None
            if AttentionVariant(variant) is AttentionVariant.SDT:
                yield rec, ()
                continue
            ops = _operand_records(rec, records)
            missing = [op for op in need if op not in ops]
            if missing:
                raise ConfigError(
                    f"{rec.name}.operands",
                    f"no spike data for operand(s) {', '.join(missing)} of this {variant} block",
                )
            heads = rec.params.get("heads")
            if not isinstance(heads, int):
                raise ConfigError(f"{rec.name}.params.heads", f"must be an integer, got {heads!r}")
            gemms = attention_gemms(
                rec.name,
                variant,
                heads,
                {op: loader(ops[op].name) for op in need},
                {op: ops[op].layout for op in need},
            )
            yield rec, gemms


def analyze_records(
    model: str,
    records: Sequence[LayerRecord],
    loader: Callable[[str], np.ndarray],
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: Callable[[LayerStats], None] | None = None,
    sample_reader: Callable[[LayerRecord], SampleReader] | None = None,
) -> ModelStats:
    """Analyse the spiking GEMMs of a list of records (see :func:`layer_gemms`).

    Args:
        model: name carried into the result.
        records: records in execution order.
        loader: ``name -> stored input tensor``.
        tile_m: rows per tile.
        tile_k: columns per tile.
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each layer (progress reporting).
        sample_reader: see :func:`layer_gemms`.
    """
    check_tile_sizes(tile_m, tile_k)
    layers = []
    for rec, gemms in layer_gemms(records, loader, sample_reader=sample_reader):
        stats = analyze_layer(rec.name, rec.kind, gemms, tile_m, tile_k, block_bytes)
        if not stats.binary:
            log.info("layer %s is not binary: analysed as %d bit planes", rec.name, stats.planes)
        layers.append(stats)
        if on_layer is not None:
            on_layer(stats)
    return ModelStats(
        model=model,
        tile_m=int(tile_m),
        tile_k=int(tile_k),
        layers=tuple(layers),
        counts=_sum(layer.counts for layer in layers),
    )


def analyze_trace(
    trace: str | Path | TraceReader,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: Callable[[LayerStats], None] | None = None,
) -> ModelStats:
    """Bit / product density of a v1 trace, streamed one layer at a time.

    Args:
        trace: a path to a trace file or an open
            :class:`~prosparsity.traces.io.TraceReader`.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each analysed layer.

    Raises:
        TraceError: unreadable trace; ConfigError: bad tile sizes or layer parameters.
    """
    from prosparsity.traces.io import TraceReader

    check_tile_sizes(tile_m, tile_k)
    if isinstance(trace, TraceReader):
        return _analyze_reader(trace, tile_m, tile_k, block_bytes, on_layer)
    with TraceReader(Path(trace)) as reader:
        return _analyze_reader(reader, tile_m, tile_k, block_bytes, on_layer)


def _analyze_reader(
    reader: TraceReader,
    tile_m: int,
    tile_k: int,
    block_bytes: int,
    on_layer: Callable[[LayerStats], None] | None,
) -> ModelStats:
    model = reader.info.workload or reader.info.model

    def sample_reader(rec: LayerRecord) -> SampleReader:
        per_sample = max(1, int(np.prod(rec.shape[1:], dtype=np.int64)))
        return _ForwardSamples(reader, rec.name, max(1, block_bytes // per_sample))

    try:
        return analyze_records(
            model,
            reader.layers,
            reader.read,
            tile_m,
            tile_k,
            block_bytes,
            on_layer,
            sample_reader=sample_reader,
        )
    except ConfigError as exc:
        raise TraceError(reader.path, str(exc)) from None


class _ForwardSamples:
    """Sample ranges of a layer over the reader's forward stream of slabs.

    Keeps only the slabs that the current range touches; earlier slabs are dropped. A
    range before the held ones (the next bit plane starts over) restarts the stream.
    """

    def __init__(self, reader: TraceReader, name: str, chunk: int) -> None:
        self._reader, self._name, self._chunk = reader, name, chunk
        self._restart()

    def _restart(self) -> None:
        self._chunks = self._reader.iter_chunks(self._name, self._chunk)
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


# --------------------------------------------------------------------------------------
# several samples: batch 1 each
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (``ddof=1``; 0 for one sample) over samples."""

    mean: float
    std: float

    @staticmethod
    def of(values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        if not values:
            raise ConfigError("samples", "no samples to summarise")
        arr = np.asarray(values, dtype=np.float64)
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return Spread(mean=float(arr.mean()), std=std)


@dataclass(frozen=True)
class LayerSpread:
    """Per-sample densities of one layer, summarised.

    Attributes:
        name: record name.
        bit_density: mean and spread of the per-sample bit densities.
        product_density: mean and spread of the per-sample product densities.
    """

    name: str
    bit_density: Spread
    product_density: Spread


@dataclass(frozen=True)
class SampleStats:
    """A trace analysed one sample at a time (batch 1 each, the paper's setting).

    Attributes:
        samples: one :class:`ModelStats` per sample, in trace order.
        pooled: the sum over samples (counts add up; each layer's ``gemms`` are the
            concatenated per-sample GEMMs, so ``m`` is one sample's rows).
        bit_density: mean and spread over samples of the model's bit density.
        product_density: mean and spread over samples of the model's product density.
        layers: per-layer mean and spread, in execution order.
    """

    samples: tuple[ModelStats, ...]
    pooled: ModelStats
    bit_density: Spread
    product_density: Spread
    layers: tuple[LayerSpread, ...]

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @staticmethod
    def of(samples: Sequence[ModelStats]) -> SampleStats:
        """Summarise per-sample statistics of the same model (same layers, same tiles)."""
        if not samples:
            raise ConfigError("samples", "no samples to summarise")
        first = samples[0]
        names = [layer.name for layer in first.layers]
        for i, s in enumerate(samples[1:], 1):
            if [layer.name for layer in s.layers] != names or (s.tile_m, s.tile_k) != (
                first.tile_m,
                first.tile_k,
            ):
                raise ConfigError(f"samples[{i}]", "layers or tile sizes differ from sample 0")
        pooled_layers = []
        spreads = []
        for j, name in enumerate(names):
            per = [s.layers[j] for s in samples]
            pooled_layers.append(
                LayerStats(
                    name=name,
                    kind=per[0].kind,
                    binary=all(p.binary for p in per),
                    planes=max(p.planes for p in per),
                    gemms=tuple(g for p in per for g in p.gemms),
                    counts=_sum(p.counts for p in per),
                )
            )
            spreads.append(
                LayerSpread(
                    name=name,
                    bit_density=Spread.of([p.bit_density for p in per]),
                    product_density=Spread.of([p.product_density for p in per]),
                )
            )
        pooled = ModelStats(
            model=first.model,
            tile_m=first.tile_m,
            tile_k=first.tile_k,
            layers=tuple(pooled_layers),
            counts=_sum(s.counts for s in samples),
        )
        return SampleStats(
            samples=tuple(samples),
            pooled=pooled,
            bit_density=Spread.of([s.bit_density for s in samples]),
            product_density=Spread.of([s.product_density for s in samples]),
            layers=tuple(spreads),
        )

    def to_json(self) -> dict:
        """``prosparsity analyze --json`` on a multi-sample trace.

        Every key of :meth:`ModelStats.to_json` (densities and counts pooled over the
        samples), plus ``samples`` and ``{bit,product}_density_{mean,std}`` at top level
        and per layer.
        """
        doc = self.pooled.to_json()
        doc["samples"] = self.n_samples
        _add_spread(doc, self.bit_density, self.product_density)
        for entry, spread in zip(doc["layers"], self.layers, strict=True):
            entry["samples"] = self.n_samples
            _add_spread(entry, spread.bit_density, spread.product_density)
        return doc


def _add_spread(doc: dict, bit: Spread, product: Spread) -> None:
    doc["bit_density_mean"] = bit.mean
    doc["bit_density_std"] = bit.std
    doc["product_density_mean"] = product.mean
    doc["product_density_std"] = product.std


def trace_samples(reader: TraceReader) -> int:
    """Samples held by a trace: the length of the ``B`` axis of its analysed data.

    Records are considered when they feed an analysed GEMM (linear / conv records, and the
    operand records of attention blocks). 1 when no such record has a ``B`` axis.

    Raises:
        TraceError: when those records disagree on the length of ``B``.
    """
    sizes = {
        rec.name: rec.shape[rec.axes.index("B")]
        for rec in reader.layers
        if rec.has_data and "B" in rec.axes and len(rec.axes) == len(rec.shape)
    }
    distinct = sorted(set(sizes.values()))
    if len(distinct) > 1:
        detail = ", ".join(f"{n}: {b}" for n, b in sizes.items())
        raise TraceError(reader.path, f"layers disagree on the number of samples (B: {detail})")
    return distinct[0] if distinct else 1


def analyze_samples(
    trace: str | Path | TraceReader,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: Callable[[LayerStats], None] | None = None,
) -> SampleStats:
    """Analyse each sample of a trace on its own (batch 1), as the paper does.

    Sample ``b`` is the index ``b`` of every data record's ``B`` axis; each sample is
    analysed exactly as a one-sample trace holding only that index would be (its bit
    planes, too, come from that sample's values). Samples are read from the file one at
    a time, one layer at a time, so memory is bounded by one sample of one layer.
    A trace of one sample gives one :class:`ModelStats` equal to :func:`analyze_trace`.

    Args:
        trace: a path to a trace file or an open
            :class:`~prosparsity.traces.io.TraceReader`.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each analysed layer of each sample.

    Raises:
        TraceError: unreadable trace, samples that cannot be separated (a data record
            without a ``B`` axis in a multi-sample trace); ConfigError: bad tile sizes.
    """
    from prosparsity.traces.io import TraceReader

    check_tile_sizes(tile_m, tile_k)
    if isinstance(trace, TraceReader):
        return _analyze_samples(trace, tile_m, tile_k, block_bytes, on_layer)
    with TraceReader(Path(trace)) as reader:
        return _analyze_samples(reader, tile_m, tile_k, block_bytes, on_layer)


def _analyze_samples(
    reader: TraceReader,
    tile_m: int,
    tile_k: int,
    block_bytes: int,
    on_layer: Callable[[LayerStats], None] | None,
) -> SampleStats:
    n = trace_samples(reader)
    if n == 1:
        return SampleStats.of([_analyze_reader(reader, tile_m, tile_k, block_bytes, on_layer)])
    model = reader.info.workload or reader.info.model
    needed = {r.name for r in analysed_records(reader.layers)}
    needed |= {r.name for r in reader.layers if r.kind is LayerKind.ATTENTION_OPERAND}
    records = []
    for rec in reader.layers:
        if rec.has_data and rec.name in needed:
            if "B" not in rec.axes or len(rec.axes) != len(rec.shape):
                raise TraceError(
                    reader.path,
                    f"layout '{rec.layout}' has no B axis: cannot separate its {n} samples "
                    "(analyse the batch as one GEMM instead)",
                    rec.name,
                )
            shape = list(rec.shape)
            shape[rec.axes.index("B")] = 1
            rec = replace(rec, shape=tuple(shape))
        records.append(rec)
    axis = {r.name: r.axes.index("B") for r in records if r.has_data and r.name in needed}
    per_sample = []
    for b in range(n):

        def load(name: str, b: int = b) -> np.ndarray:
            return reader.read_range(name, axis[name], b, b + 1)

        try:
            per_sample.append(
                analyze_records(
                    model, records, load, tile_m, tile_k, block_bytes, on_layer=on_layer
                )
            )
        except ConfigError as exc:
            raise TraceError(reader.path, f"sample {b}: {exc}") from None
    return SampleStats.of(per_sample)
