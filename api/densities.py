"""The statistics of a counted trace: :class:`DensityResult`, what
:func:`prosparsity.count` returns (and ``analyze`` prints).

Bit and product density (after ProSparsity) of the GEMM operands of every sample at one
tile, with the row classes; the densities the counters asked for report beside them (a
plugin's pattern or bundle density, :mod:`prosparsity.analysis.counters.densities`); the
spreads over samples; the long form; and its two reports: the workload's line of Figure
11 (:meth:`DensityResult.reports`) and the per-layer table
(:meth:`DensityResult.layer_report`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prosparsity.core.jsonvalue import JSON
from prosparsity.core.measures import Spread, mean_or_none
from prosparsity.longform import LongForm, long_record, titled_report

if TYPE_CHECKING:
    from prosparsity.analysis.counters import CounterDensities
    from prosparsity.analysis.network import Network
    from prosparsity.analysis.stats import ModelStats, SampleStats
    from prosparsity.inputs import Source
    from prosparsity.reports.listings import Cell
    from prosparsity.reports.model import Report
    from prosparsity.reports.rows import DensityRow
    from prosparsity.traces.provenance import Provenance

__all__ = ["DENSITY_DOCS", "DensityResult"]

#: The docs section that explains the neuron spike rate and the GEMM-operand density.
DENSITY_DOCS = ("docs/capture.md#neuron-spike-rate-gemm-operand-density-and-neurobenchs-"
                "activationsparsity")


@dataclass(frozen=True, repr=False)
class DensityResult(LongForm):
    """The statistics of every sample of a workload at one tile (batch 1 each), or of
    the samples as one batch.

    Attributes:
        workload: the workload's name.
        samples: the statistics of each sample, in trace order.
        source: the input, when the run opened one.
        batched: the samples were counted as one batch.
        network: the whole workload's layer records (its neuron layers' spike rates),
            when the run had it; else the first sample's.
    """

    workload: str
    samples: tuple[ModelStats, ...]
    source: Source | None = None
    batched: bool = False
    network: Network | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def summary(self) -> SampleStats:
        """Per-sample statistics summarised: pooled sums, spreads per model and layer."""
        from prosparsity.analysis.stats import SampleStats

        return SampleStats.of(self.samples)

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def stats(self) -> ModelStats:
        """The statistics: one sample's, or the sum over the samples."""
        return self.samples[0] if self.n_samples == 1 else self.summary.pooled

    @property
    def tile(self) -> tuple[int, int]:
        return self.samples[0].tile

    @property
    def bit_density(self) -> Spread | None:
        """Bit density of the GEMM operands over the samples (``None``: a trace without
        any spiking GEMM has no density, not 0)."""
        return Spread.of_optional([s.bit_density for s in self.samples])

    @property
    def product_density(self) -> Spread | None:
        """Product density (after ProSparsity) over the samples (``None`` likewise)."""
        return Spread.of_optional([s.product_density for s in self.samples])

    @functools.cached_property
    def counter_densities(self) -> tuple[CounterDensities, ...]:
        """Per sample, the densities its counters report (empty without such counters)."""
        from prosparsity.analysis.counters import counter_densities

        return tuple(counter_densities(s) for s in self.samples)

    @property
    def density_names(self) -> tuple[str, ...]:
        """The names of the counters' densities, in the order they report them."""
        return tuple(dict.fromkeys(n for d in self.counter_densities for n in d.names))

    def counter_density(self, name: str) -> Spread | None:
        """One counter density of the model over the samples (``None``: not reported)."""
        values = [d.model.get(name) for d in self.counter_densities]
        known = [v for v in values if v is not None]
        return Spread.of(known) if known and len(known) == len(values) else None

    def _layer_counter_density(self, layer: str, name: str) -> Spread | None:
        values = [d.layers.get(layer, {}).get(name) for d in self.counter_densities]
        known = [v for v in values if v is not None]
        return Spread.of(known) if known and len(known) == len(values) else None

    def row(self) -> DensityRow:
        """The reports' row (Figure 11): means over samples, spreads with several."""
        from prosparsity.reports.rows import DensityRow

        shares = [s.counts.nonzero_shares() for s in self.samples]
        several = self.n_samples > 1
        bit, prod = self.bit_density, self.product_density
        tile_m, tile_k = self.tile
        return DensityRow(
            workload=self.workload, bit_density=None if bit is None else bit.mean,
            product_density=None if prod is None else prod.mean,
            em_share=mean_or_none([em for em, _ in shares]),
            pm_share=mean_or_none([pm for _, pm in shares]), n_samples=self.n_samples,
            bit_density_std=bit.std if several and bit is not None else None,
            product_density_std=prod.std if several and prod is not None else None,
            tile_m=tile_m, tile_k=tile_k,
        )  # fmt: skip

    def layer_densities(self) -> dict[str, tuple[float, float]]:
        """Layer name -> (bit, product) density of the first sample's analysed layers."""
        return {layer.name: (float(layer.bit_density), float(layer.product_density))
                for layer in self.samples[0].layers}

    def to_json(self) -> dict[str, JSON]:
        """The ``analyze --json`` data: the statistics document, with several samples
        pooled plus ``samples`` and the per-sample spreads (see
        :meth:`~prosparsity.analysis.stats.SampleStats.to_json`), then ``neuron_layers``:
        each neuron layer's ``name``, ``neurons``, ``spikes``, ``elements`` and
        ``spike_rate`` as captured (``None`` where not recorded)."""
        doc = self.samples[0].to_json() if self.n_samples == 1 else self.summary.to_json()
        doc["neuron_layers"] = self._neuron_layers()
        names = self.density_names
        if names:  # counters that report densities: the model's, and each layer's
            doc["counter_densities"] = {n: self._spread_json(self.counter_density(n))
                                        for n in names}
            for entry in doc["layers"]:
                entry["counter_densities"] = {
                    n: self._spread_json(self._layer_counter_density(entry["name"], n))
                    for n in names}
        failures = [f for d in self.counter_densities for f in d.failures]
        if failures:
            doc["counter_failures"] = list(dict.fromkeys(failures))
        return doc

    def _spread_json(self, spread: Spread | None) -> JSON:
        """A density: its value with one sample, else ``{mean, std}``."""
        if spread is None:
            return None
        if self.n_samples == 1:
            return spread.mean
        return {"mean": spread.mean, "std": spread.std}

    def _neuron_layers(self) -> list[JSON]:
        from prosparsity.traces.params import LifParams

        network = self.samples[0].network if self.network is None else self.network
        out: list[JSON] = []
        for record in network.layers if network is not None else ():
            p = record.parsed
            if isinstance(p, LifParams):
                out.append({"name": record.name, "neurons": p.neurons, "spikes": p.spikes,
                            "elements": p.elements, "spike_rate": p.spike_rate})
        return out

    def records(self, *, layers: bool = False) -> list[dict[str, Any]]:
        """Long form: bit and product density per sample (and per layer)."""
        config = f"M{self.tile[0]}_K{self.tile[1]}"
        out = []
        for i, s in enumerate(self.samples):
            extra = self.counter_densities[i]
            for metric in ("bit_density", "product_density"):
                value = getattr(s, metric)
                if value is not None:  # a trace without any spiking GEMM has none
                    out.append(long_record(self.workload, i, "", config, "", metric,
                                           float(value)))
            out += [long_record(self.workload, i, "", config, "", name, value)
                    for name, value in extra.model.items() if value is not None]
            if layers:
                for layer in s.layers:
                    for metric in ("bit_density", "product_density"):
                        out.append(long_record(self.workload, i, "", config, layer.name, metric,
                                           float(getattr(layer, metric))))
                    out += [long_record(self.workload, i, "", config, layer.name, name, value)
                            for name, value in extra.layers.get(layer.name, {}).items()
                            if value is not None]
        return out

    def reports(self) -> list[Report]:
        from prosparsity.reports.build import density_report

        return [titled_report(density_report([self.row()]), self._provenance())]

    def _provenance(self) -> dict[str, Provenance]:
        return {} if self.source is None else {self.workload: self.source.provenance}

    def layer_report(self) -> Report:
        """The per-layer table (``prosparsity analyze``), in execution order: a GEMM
        layer's shape (``M`` per sample), GEMMs, the bit and product density of its GEMM
        operand (after im2col) and its row classes; a neuron layer's spike rate as
        captured; then the total. With several samples (batch 1 each) the densities are
        mean ± sample standard deviation and the row classes sums over the samples."""
        from prosparsity.reports.listings import (
            BINARY,
            GEMMS,
            KIND,
            NEURON_SPIKE_RATE,
            OPERAND_BIT_DENSITY,
            OPERAND_PRODUCT_DENSITY,
            listing,
        )
        from prosparsity.reports.model import Column, ReportKind

        several = self.n_samples > 1
        stats = self.stats
        tile_m, tile_k = self.tile
        label = self.source.label if self.source is not None else self.workload
        title = f"{label}: ProSparsity at tile {tile_m}x{tile_k}"
        if several:
            title += f", {self.n_samples} samples, batch 1 each"
            weighting = ("mean ± sample std over samples, weighted by output passes nN = "
                         "ceil(N/128); M: rows per sample; row classes summed over samples")
        else:
            weighting = ("weighted by output passes nN = ceil(N/128); M: rows per sample; "
                         "row classes per (row, column tile)")
        notes = [f"bit and product density of the GEMM operand (im2col), {weighting}",
                 "neuron spike rate: spikes / outputs of the neuron layer as captured (all "
                 f"samples; — when not recorded); the two differ, see {DENSITY_DOCS}"]
        names = self.density_names
        extra = tuple(Column(n, n.replace("_", " ").capitalize(), ".4f", spread=f"{n}_std",
                             compare=False) for n in names)
        if names:
            notes.append(f"{', '.join(names)}: reported by the counters asked for, "
                         "weighted like bit density (docs/analysis.md, Counters)")
        notes += list(dict.fromkeys(f for d in self.counter_densities for f in d.failures))
        columns = (KIND, Column("m", "M (per sample)", ",d"), Column("k", "K", ",d"),
                   Column("n", "N", ",d"), GEMMS, NEURON_SPIKE_RATE, OPERAND_BIT_DENSITY,
                   OPERAND_PRODUCT_DENSITY, *extra, Column("em_rows", "EM rows", ",d"),
                   Column("pm_rows", "PM rows", ",d"), BINARY)
        if self.source is not None:  # the provenance rule: marks in the title, notes
            from prosparsity.traces.provenance import titled

            title, marked = titled(title, {label: self.source.provenance})
            notes += marked
        return listing(ReportKind.LAYER_DENSITY, title, columns,
                       self._layer_rows(stats, several), key="layer", key_header="Layer",
                       notes=notes)

    def _layer_rows(self, stats: ModelStats, several: bool
                    ) -> Iterator[tuple[str, Mapping[str, Cell]]]:
        from prosparsity.traces.params import LifParams

        spreads = {x.name: x for x in self.summary.layers} if several else {}
        by_name = {layer.name: layer for layer in stats.layers}
        network = self.samples[0].network if self.network is None else self.network
        records = network.layers if network is not None else ()
        for record in records:
            layer = by_name.get(record.name)
            if layer is not None:
                cells: dict[str, Cell] = {
                    "kind": layer.kind, "m": layer.m, "k": layer.k, "n": layer.n,
                    "em_rows": layer.counts.em_rows, "pm_rows": layer.counts.pm_rows,
                    "binary": "yes" if layer.binary else f"no ({layer.planes} planes)"}
                if several:
                    cells.update(_spread_cells(spreads[layer.name].bit_density,
                                               spreads[layer.name].product_density))
                else:
                    cells.update(n_gemms=layer.n_gemms, bit_density=float(layer.bit_density),
                                 product_density=float(layer.product_density))
                for name in self.density_names:
                    cells.update(_extra_cells(name, self._layer_counter_density(
                        layer.name, name), several))
                yield layer.name, cells
            elif isinstance(record.parsed, LifParams):
                yield record.name, {"kind": str(record.kind),
                                    "neuron_spike_rate": record.parsed.spike_rate}
        total: dict[str, Cell] = {"kind": "", "em_rows": stats.counts.em_rows,
                                  "pm_rows": stats.counts.pm_rows,
                                  "binary": "yes" if stats.binary else "no"}
        if several:
            total.update(_spread_cells(self.summary.bit_density, self.summary.product_density))
        else:  # a trace without any spiking GEMM has no density ("—"), not 0
            total.update(bit_density=stats.bit_density, product_density=stats.product_density)
        for name in self.density_names:
            total.update(_extra_cells(name, self.counter_density(name), several))
        yield "total", total


def _spread_cells(bit: Spread | None, product: Spread | None) -> dict[str, Cell]:
    return {"bit_density": None if bit is None else bit.mean,
            "bit_density_std": None if bit is None else bit.std,
            "product_density": None if product is None else product.mean,
            "product_density_std": None if product is None else product.std}


def _extra_cells(name: str, spread: Spread | None, several: bool) -> dict[str, Cell]:
    """A counter density's cells: its value (mean), and its spread with several samples."""
    if spread is None:
        return {name: None}
    return {name: spread.mean, **({f"{name}_std": spread.std} if several else {})}
