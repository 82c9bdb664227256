"""The statistics object: what counting produces once and every cost model prices.

One :class:`ModelStats` per (trace or sample, tile_m, tile_k) holds

* the typed layer metadata (:class:`~prosparsity.analysis.network.Network`): what the
  shape-only models (Eyeriss, GPU, reported figures, Prosperity's DRAM count) price;
* per analysed layer (linear, conv, attention block) its GEMMs with their ProSparsity
  tile grids (:class:`~prosparsity.analysis.grid.TileGrid`) and pass-weighted
  :class:`Counts`; GEMM names are decided here (the authors' ``NAME_kernelK_fc``);
* the per-accelerator *counters* (:mod:`prosparsity.analysis.counters`) that were asked
  for, keyed by the counting parameters they depend on.

A shapes-only paper workload gives statistics without grids (``has_data`` False).
Results are frozen and add up (tile -> GEMM -> layer -> model). A statistics object
serialises without pickle: a JSON document plus named arrays (``.npz`` written and read
with ``allow_pickle=False``), so that a cache can store it (:meth:`ModelStats.save`).

Weighting (docs/analysis.md): each (row tile, column tile) is processed once per output pass,
``nN = ceil(N / adders)``, so every count is multiplied by its GEMM's ``nN``::

    bit density     = Σ nN · nnz(S)        / Σ nN · M · K
    product density = Σ nN · nnz(residual) / Σ nN · M · K

``adders`` is the statistics' adder width (128, Prosperity's adder array); the
cost models re-weight the unweighted grids with their own config's width.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from prosparsity.analysis.counters import (
    Counter,
    CounterError,
    CounterFailure,
    counter_from_json,
)
from prosparsity.analysis.gemm import ADDER_ARRAY_WIDTH
from prosparsity.analysis.grid import TileGrid
from prosparsity.analysis.network import Network
from prosparsity.core.atomic import atomic_write_bytes
from prosparsity.core.errors import ConfigError
from prosparsity.core.measures import Spread
from prosparsity.traces.schema import LayerKind

__all__ = [
    "Counts",
    "GemmStats",
    "LayerSpread",
    "LayerStats",
    "ModelStats",
    "SampleStats",
]

#: Version of the serialised form (:meth:`ModelStats.serialise`).
STATS_FORMAT = 1


#: kinds whose records hold spiking GEMMs (an ``attention`` record: those of its operands)
_GEMM_KINDS = frozenset({LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D,
                         LayerKind.ATTENTION})

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

    @staticmethod
    def total(items: Iterable[Counts]) -> Counts:
        """The sum of ``items`` (empty: all zeros)."""
        out = Counts()
        for c in items:
            out = out + c
        return out

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

    def nonzero_shares(self) -> tuple[float | None, float | None]:
        """Exact-match and partial-match shares among non-zero row slices (Fig. 11's EM
        and PM shares), ``(None, None)`` without any non-zero row slice."""
        nonzero = self.em_rows + self.pm_rows + self.other_rows
        if not nonzero:
            return None, None
        return self.em_rows / nonzero, self.pm_rows / nonzero


class _Densities:
    """``bit_density`` and ``product_density`` of a result with pass-weighted ``counts``."""

    counts: Counts

    @property
    def bit_density(self) -> float:
        return self.counts.bit_density

    @property
    def product_density(self) -> float:
        return self.counts.product_density


@dataclass(frozen=True)
class GemmStats(_Densities):
    """ProSparsity statistics of one binary GEMM operand (one bit plane of one GEMM).

    Attributes:
        name: the GEMM's name (authors' naming, e.g. ``conv2d_1_kernel5_fc``; for an
            attention block ``<block>_<role>``).
        layer: the trace record it belongs to.
        role: attention role (``kv``, ``qkv``, ``qk``, ``sv``) or ``""``.
        m: rows, k: columns, n: output columns of the GEMM (of each copy).
        kernel: conv kernel size (1 for linear / attention).
        passes: ``nN = ceil(N / adders)``.
        plane: bit plane (0 for spikes).
        grid: the per-tile statistics (what the cost models consume). For ``copies > 1``
            the copies' grids stacked along the row tiles (copy ``c`` owns row tiles
            ``c*nMt .. (c+1)*nMt``); ``head_cost`` is zero there (only a network GEMM
            has an issue-type-1 head).
        counts: pass-weighted totals of ``grid``.
        copies: equal-shape GEMMs counted together (the ``T*B*H`` head slices of an
            attention role), 1 for a layer GEMM.
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
    copies: int = 1

    @property
    def row_tiles(self) -> int:
        """Row tiles of one copy, ``ceil(m / tile_m)``."""
        return -(-self.m // self.grid.tile_m)

    def per_copy(self, values: np.ndarray) -> np.ndarray:
        """Sum a per-tile array ``(copies * nMt, nKt)`` to one value per copy."""
        return values.reshape(self.copies, -1).sum(axis=1)


@dataclass(frozen=True)
class LayerStats(_Densities):
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
    def n_gemms(self) -> int:
        """Distinct GEMMs the layer stands for (groups, or the head slices of each
        attention role), bit planes not counted."""
        first: dict[str, int] = {}
        for g in self.gemms:
            first.setdefault(g.name, g.copies)
        return sum(first.values())

    @property
    def priced_name(self) -> str:
        """The name a cost model prices the layer under: its GEMM's name when the layer
        is one GEMM (one group, one plane), else the record's name."""
        return self.gemms[0].name if len(self.gemms) == 1 else self.name

    @property
    def spikes(self) -> int:
        """Ones of the layer's operand over every GEMM and plane, unweighted."""
        return sum(g.grid.total("nnz") for g in self.gemms)


@dataclass(frozen=True)
class ModelStats(_Densities):
    """Statistics of a whole trace (or one sample of it) at one tile size.

    Attributes:
        model: model (or workload) name.
        tile_m: rows per tile.
        tile_k: columns per tile.
        layers: per analysed layer (linear, conv, attention) statistics, in execution
            order; empty without data.
        counts: pass-weighted sum over ``layers``.
        network: the typed layer metadata the statistics were counted from (not part of
            equality: the same counts from two files are equal statistics).
        counters: counter key -> layer name -> value (see
            :mod:`prosparsity.analysis.counters`), for the counters asked for that
            counted.
        counter_failures: counter key -> why it has no value (a counter's error is its
            own: the grids and the other counters are whole).
        adders: the adder width of the pass weighting (``nN = ceil(N / adders)``).
        has_data: False for a shapes-only workload (no grids, no counters).
    """

    model: str
    tile_m: int
    tile_k: int
    layers: tuple[LayerStats, ...]
    counts: Counts
    network: Network | None = field(default=None, compare=False)
    counters: Mapping[Counter, Mapping[str, Any]] = field(default_factory=dict)
    counter_failures: Mapping[Counter, CounterFailure] = field(default_factory=dict)
    adders: int = ADDER_ARRAY_WIDTH
    has_data: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(
            self,
            "counters",
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.counters.items()}),
        )
        object.__setattr__(self, "counter_failures",
                           MappingProxyType(dict(self.counter_failures)))
        # name -> layer (the first of a name), for the cost models' per-record look-ups
        # (not a field)
        by_name: dict[str, LayerStats] = {}
        for layer in self.layers:
            by_name.setdefault(layer.name, layer)
        object.__setattr__(self, "_by_name", by_name)

    @staticmethod
    def shapes_only(network: Network, tile_m: int, tile_k: int) -> ModelStats:
        """Statistics of a network without spike data: metadata only."""
        return ModelStats(
            model=network.name, tile_m=tile_m, tile_k=tile_k, layers=(), counts=Counts(),
            network=network, has_data=False,
        )  # fmt: skip

    @property
    def tile(self) -> tuple[int, int]:
        """``(tile_m, tile_k)``."""
        return (self.tile_m, self.tile_k)

    @property
    def no_gemm(self) -> bool:
        """True when the network holds no spiking GEMM at all (a capture that recorded
        none): its densities and cycles are no figure (``None``, shown "—"), not 0."""
        if self.layers or self.network is None:
            return False
        return not any(r.kind in _GEMM_KINDS for r in self.network.layers)

    @property
    def bit_density(self) -> float | None:  # type: ignore[override]
        """Bit density; ``None`` without any spiking GEMM (:attr:`no_gemm`)."""
        return None if self.no_gemm else self.counts.bit_density

    @property
    def product_density(self) -> float | None:  # type: ignore[override]
        """Product density; ``None`` without any spiking GEMM (:attr:`no_gemm`)."""
        return None if self.no_gemm else self.counts.product_density

    @property
    def binary(self) -> bool:
        """True when every analysed layer was binary."""
        return all(layer.binary for layer in self.layers)

    @property
    def where(self) -> str:
        """Where the statistics came from, for messages."""
        return self.network.where if self.network is not None else self.model

    def densities(self, adders: int) -> tuple[float, float]:
        """``(bit, product)`` density with the passes weighted at another adder width,
        ``nN = ceil(N / adders)`` (docs/analysis.md); equal to the properties at ``self.adders``."""
        nnz = residual = elements = 0
        for layer in self.layers:
            for g in layer.gemms:
                passes = -(-g.n // adders)
                nnz += g.grid.total("nnz") * passes
                residual += g.grid.total("residual_nnz") * passes
                elements += g.grid.elements * passes
        if not elements:
            return 0.0, 0.0
        return nnz / elements, residual / elements

    def layer(self, name: str) -> LayerStats:
        """The statistics of layer ``name``."""
        found = self.find(name)
        if found is None:
            raise ConfigError("layer", f"no analysed layer named {name!r}")
        return found

    def find(self, name: str) -> LayerStats | None:
        """The statistics of layer ``name``, or ``None`` when it was not analysed."""
        return self._by_name.get(name)

    def counter(self, key: Counter) -> Mapping[str, Any]:
        """Layer name -> value of the counter ``key``.

        Raises:
            CounterError: the counter failed in the counting pass (its message names the
                counter, its package, the source and the layer).
            ConfigError: the statistics were counted without that counter.
        """
        failure = self.counter_failures.get(key)
        if failure is not None:
            raise CounterError(failure.message)
        try:
            return self.counters[key]
        except KeyError:
            have = ", ".join(repr(k) for k in self.counters) or "none"
            raise ConfigError(
                "stats.counters",
                f"{self.where}: counted without {key!r} (have: {have}); count with the "
                "counters the accelerator's config needs",
            ) from None

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
                    "gemms": layer.n_gemms,
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

    # -- serialisation (no pickle) -------------------------------------------------------

    def serialise(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """A JSON document and the named int64 arrays of the tile grids."""
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for i, layer in enumerate(self.layers):
            gemms = []
            for j, g in enumerate(layer.gemms):
                prefix = f"l{i}_g{j}_"
                grid = g.grid
                for name in ("rows", "cols", *TileGrid._PER_TILE):
                    arrays[prefix + name] = np.asarray(getattr(grid, name), dtype=np.int64)
                gemms.append({
                    "name": g.name, "layer": g.layer, "role": g.role, "m": g.m, "k": g.k,
                    "n": g.n, "kernel": g.kernel, "passes": g.passes, "plane": g.plane,
                    "copies": g.copies, "tile_m": grid.tile_m, "tile_k": grid.tile_k,
                    "counts": _counts_json(g.counts), "arrays": prefix,
                })  # fmt: skip
            layers.append({
                "name": layer.name, "kind": layer.kind, "binary": layer.binary,
                "planes": layer.planes, "counts": _counts_json(layer.counts), "gemms": gemms,
            })  # fmt: skip
        doc = {
            "format": STATS_FORMAT,
            "model": self.model,
            "tile_m": self.tile_m,
            "tile_k": self.tile_k,
            "adders": self.adders,
            "has_data": self.has_data,
            "counts": _counts_json(self.counts),
            "network": None if self.network is None else self.network.to_json(),
            "layers": layers,
            "counters": [
                {
                    "key": key.to_json(),
                    "layers": {name: key.value_to_json(v) for name, v in values.items()},
                }
                for key, values in self.counters.items()
            ],
            "counter_failures": [
                {"key": key.to_json(), "failure": failure.to_json()}
                for key, failure in self.counter_failures.items()
            ],
        }
        return doc, arrays

    @staticmethod
    def deserialise(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ModelStats:
        """The inverse of :meth:`serialise`.

        Raises:
            ConfigError: a document of another format version or missing arrays.
        """
        if doc.get("format") != STATS_FORMAT:
            raise ConfigError(
                "stats.format", f"unsupported format {doc.get('format')!r} (reads {STATS_FORMAT})"
            )
        try:
            layers = []
            for entry in doc["layers"]:
                gemms = []
                for g in entry["gemms"]:
                    prefix = g["arrays"]
                    grid = TileGrid(
                        tile_m=int(g["tile_m"]), tile_k=int(g["tile_k"]),
                        **{n: np.asarray(arrays[prefix + n])
                           for n in ("rows", "cols", *TileGrid._PER_TILE)},
                    )  # fmt: skip
                    gemms.append(GemmStats(
                        name=g["name"], layer=g["layer"], role=g["role"], m=int(g["m"]),
                        k=int(g["k"]), n=int(g["n"]), kernel=int(g["kernel"]),
                        passes=int(g["passes"]), plane=int(g["plane"]), grid=grid,
                        counts=Counts(**g["counts"]), copies=int(g["copies"]),
                    ))  # fmt: skip
                layers.append(LayerStats(
                    name=entry["name"], kind=entry["kind"], binary=bool(entry["binary"]),
                    planes=int(entry["planes"]), gemms=tuple(gemms),
                    counts=Counts(**entry["counts"]),
                ))  # fmt: skip
            counters: dict[Counter, dict[str, Any]] = {}
            for c in doc["counters"]:
                key = counter_from_json(c["key"])
                counters[key] = {n: key.value_from_json(v) for n, v in c["layers"].items()}
            failures = {counter_from_json(f["key"]): CounterFailure.from_json(f["failure"])
                        for f in doc.get("counter_failures", ())}
            network = doc["network"]
            return ModelStats(
                model=doc["model"], tile_m=int(doc["tile_m"]), tile_k=int(doc["tile_k"]),
                layers=tuple(layers), counts=Counts(**doc["counts"]),
                network=None if network is None else Network.from_json(network),
                counters=counters, counter_failures=failures, adders=int(doc["adders"]),
                has_data=bool(doc["has_data"]),
            )  # fmt: skip
        except KeyError as exc:
            raise ConfigError("stats", f"incomplete statistics document: missing {exc}") from None

    def save(self, stem: str | Path, what: str = "statistics") -> tuple[Path, Path]:
        """Write ``<stem>.npz`` then ``<stem>.json`` (each through a temporary file renamed
        on success, the folder created; the JSON last, so its presence means both are
        whole). Returns both paths.

        Raises:
            WriteError: a file cannot be written (path and reason; ``what`` names it).
        """
        stem = Path(stem)
        doc, arrays = self.serialise()
        npz_path = atomic_write_bytes(stem.with_suffix(".npz"), _npz_bytes(arrays), what)
        json_path = atomic_write_bytes(stem.with_suffix(".json"),
                                       json.dumps(doc, sort_keys=True).encode(), what)
        return json_path, npz_path

    @staticmethod
    def load(stem: str | Path) -> ModelStats:
        """Read what :meth:`save` wrote (``allow_pickle=False``)."""
        stem = Path(stem)
        doc = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz"), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return ModelStats.deserialise(doc, arrays)


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as an ``.npz`` (what ``np.savez_compressed`` writes: a zip of ``.npy``
    members), deflated at level 1: six times faster than numpy's level 6 on tile grids for
    files a quarter larger (a sweep writes one per count)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _counts_json(c: Counts) -> dict[str, int]:
    return {f.name: int(getattr(c, f.name)) for f in fields(c)}


# --------------------------------------------------------------------------------------
# several samples: batch 1 each
# --------------------------------------------------------------------------------------


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
        bit_density: mean and spread over samples of the model's bit density (``None``
            without any spiking GEMM).
        product_density: mean and spread over samples of the model's product density
            (``None`` likewise).
        layers: per-layer mean and spread, in execution order.
    """

    samples: tuple[ModelStats, ...]
    pooled: ModelStats
    bit_density: Spread | None
    product_density: Spread | None
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
                    counts=Counts.total(p.counts for p in per),
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
            counts=Counts.total(s.counts for s in samples),
            network=first.network,
            adders=first.adders,
        )
        return SampleStats(
            samples=tuple(samples),
            pooled=pooled,
            bit_density=Spread.of_optional([s.bit_density for s in samples]),
            product_density=Spread.of_optional([s.product_density for s in samples]),
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


def _add_spread(doc: dict, bit: Spread | None, product: Spread | None) -> None:
    doc["bit_density_mean"] = None if bit is None else bit.mean
    doc["bit_density_std"] = None if bit is None else bit.std
    doc["product_density_mean"] = None if product is None else product.mean
    doc["product_density_std"] = None if product is None else product.std
