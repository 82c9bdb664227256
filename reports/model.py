"""The report model: long-form records plus how to lay them out as a table.

A :class:`Report` is what every renderer and exporter consumes: a tuple of
:class:`Record` (one per workload x accelerator x metric, optionally per layer or tile
configuration), the columns a wide table shows, and which record fields make a table row.
A record holds a number, or a text for a column of words (a layer's kind, a model's
description): every table a command prints is a report, drawn by the one renderer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from prosparsity.reports.compare import Reference, relative_difference
from prosparsity.reports.metrics import Tolerance, tolerance_of, unit_of


class ReportKind(StrEnum):
    """The reports the harness renders."""

    DENSITY = "density"  # Figure 11
    ACCELERATORS = "accelerators"  # Figure 8
    SWEEP = "sweep"  # Figure 7
    THROUGHPUT = "throughput"  # Table 4: GOP/s, GOP/J
    LAYERS = "layers"  # per-layer breakdown of one workload
    SWEEP_BEST = "sweep-best"  # a sweep's best configuration per workload and accelerator
    PARETO = "pareto"  # a sweep's Pareto front of latency against energy
    SWEEP_OBJECTIVES = "sweep-objectives"  # a sweep's best point per objective
    PARETO3 = "pareto3"  # a sweep's front over latency, energy and area
    AREA = "area"  # Figure 10: area and power by component group (component model)
    ENERGY = "energy"  # the component model against Figure 8's energies (calibration)
    ENERGY_MODES = "energy_modes"  # paper-mode against component-mode energies
    LAYER_DENSITY = "layer-density"  # `analyze`: densities and row classes per layer
    TRACE = "trace"  # `trace info`: a trace file's attributes
    TRACE_LAYERS = "trace-layers"  # `trace info`: one row per layer record
    CAPTURED = "captured"  # `capture`: the layers recorded
    ACCELERATOR_MODELS = "accelerator-models"  # `accelerators`: the registry
    MODELS = "models"  # `models`: what `capture` knows
    WORKLOADS = "workloads"  # `trace workloads`: the paper's workloads
    GPU_VALIDATION = "gpu-validation"  # `gpu-error`: the GPU model against measurements
    GPU_TIMING = "gpu-timing"  # `gpu-error --measure`: GEMMs timed on a GPU


@dataclass(frozen=True)
class Record:
    """One value of one metric (a row of the long-form CSV).

    Attributes:
        workload: workload name (``geomean`` for a geometric-mean summary).
        accelerator: accelerator name.
        metric: metric name (see :class:`~prosparsity.reports.metrics.Metric`).
        value: our value, ``None`` when not available.
        unit: unit of ``value`` (``s``, ``mJ``, ``cycles``, ``bits``, ``x``, ``""``).
        layer: layer name for per-layer records, else ``""``.
        config: tile configuration (``M256_K16``) where it matters, else ``""``.
        reference: the published value for the same thing, or ``None``.
        reference_source: where ``reference`` comes from.
        tolerance: how closely ``value`` must match ``reference``.
        text: the value of a column of words (:attr:`Column.text`), else ``""``.
    """

    workload: str
    accelerator: str
    metric: str
    value: float | None
    unit: str = ""
    layer: str = ""
    config: str = ""
    reference: float | None = None
    reference_source: str = ""
    tolerance: Tolerance = Tolerance.COST
    text: str = ""

    def __post_init__(self) -> None:
        if type(self.tolerance) is not Tolerance:  # a name read back from JSON or CSV
            object.__setattr__(self, "tolerance", Tolerance(self.tolerance))

    @classmethod
    def of(
        cls,
        workload: str,
        accelerator: str,
        metric: str,
        value: float | None,
        reference: Reference | None = None,
        layer: str = "",
        config: str = "",
    ) -> Record:
        """A record with the metric's unit and tolerance and an optional reference."""
        return cls(
            workload=workload,
            accelerator=accelerator,
            metric=str(metric),
            value=None if value is None else float(value),
            unit=unit_of(metric),
            layer=layer,
            config=config,
            reference=None if reference is None else float(reference.value),
            reference_source="" if reference is None else reference.source,
            tolerance=tolerance_of(metric),
        )

    @classmethod
    def word(cls, workload: str, accelerator: str, metric: str, text: str, layer: str = "",
             config: str = "") -> Record:
        """A record of text (a column of words), with no number and no reference."""
        return cls(workload=workload, accelerator=accelerator, metric=str(metric), value=None,
                   layer=layer, config=config, text=text)

    @property
    def rel_diff(self) -> float | None:
        """``(value - reference) / |reference|``, or ``None`` without both numbers."""
        if self.value is None or self.reference is None:
            return None
        return relative_difference(self.value, self.reference)

    @property
    def flagged(self) -> bool:
        """True when the relative difference exceeds the tolerance."""
        diff = self.rel_diff
        return diff is not None and (math.isnan(diff) or abs(diff) > self.tolerance.limit)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the fields plus ``rel_diff`` and ``flagged`` (``text`` only when
        there is one)."""
        out = asdict(self)
        if not self.text:
            del out["text"]
        out["tolerance"] = str(self.tolerance)
        out["rel_diff"] = self.rel_diff
        out["flagged"] = self.flagged
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of :meth:`to_dict` (derived fields are ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Column:
    """One metric column of the wide (terminal / Markdown) table.

    Attributes:
        metric: the metric shown.
        header: column header.
        fmt: Python format spec of the value (``.4f``, ``.3e``, ``,.0f``).
        spread: metric whose value is shown as ``± spread`` beside this one, if any.
        compare: show the reference and the relative difference beside the value in the
            wide table (every reference is in the CSV/JSON exports and the summary anyway).
        upper: metric of the upper end of a range whose lower end is ``metric``; the cell
            shows ``low–high`` (a GPU model's prediction band).
        text: a column of words: each cell is its record's :attr:`Record.text`, aligned
            left like the row keys (``fmt``, ``spread``, ``compare`` do not apply).
        keep: shown when some row has a record of it even if none has a figure (its "—"
            says "not recorded"); other columns without any figure are left out.
        align: ``"left"`` or ``"right"``; ``""``: words left, numbers right.
    """

    metric: str
    header: str
    fmt: str = ".4g"
    spread: str = ""
    compare: bool = True
    upper: str = ""
    text: bool = False
    keep: bool = False
    align: str = ""

    def __post_init__(self) -> None:
        if self.align not in ("", "left", "right"):
            raise ValueError(f"column {self.header!r}: align must be left or right, "
                             f"not {self.align!r}")

    @property
    def left(self) -> bool:
        """Whether the column's cells are aligned left."""
        return self.align == "left" or (self.text and self.align != "right")


RowKey = tuple[str, ...]


@dataclass(frozen=True, repr=False)
class Report:
    """A rendered-to-be report.

    Attributes:
        kind: which report.
        title: human title (names the paper figure it mirrors).
        columns: metric columns of the wide table, in order.
        records: every value, long form.
        row_keys: Record fields that identify one table row, e.g. ``("workload",
            "accelerator")``.
        notes: sentences printed under the table (normalisation, skipped parts, ...).
        key_headers: the headers of the row-key columns, where the record field's name
            says too little (``Model`` for a list of models keyed by ``workload``);
            empty: the renderers' defaults.
    """

    kind: ReportKind
    title: str
    columns: tuple[Column, ...]
    records: tuple[Record, ...]
    row_keys: tuple[str, ...] = ("workload",)
    notes: tuple[str, ...] = field(default_factory=tuple)
    key_headers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.key_headers and len(self.key_headers) != len(self.row_keys):
            raise ValueError(f"report {self.title!r}: {len(self.key_headers)} key headers "
                             f"for {len(self.row_keys)} row keys")

    @functools.cached_property
    def _table(self) -> dict[RowKey, dict[str, Record]]:
        table: dict[RowKey, dict[str, Record]] = {}
        for rec in self.records:
            key = tuple(str(getattr(rec, name)) for name in self.row_keys)
            table.setdefault(key, {})[rec.metric] = rec
        return table

    def rows(self) -> Iterator[tuple[RowKey, dict[str, Record]]]:
        """Table rows in first-seen order: (row key values, metric -> record)."""
        yield from self._table.items()

    @property
    def n_rows(self) -> int:
        """How many table rows :meth:`rows` gives."""
        return len(self._table)

    def compared(self) -> tuple[Record, ...]:
        """Records that have a reference value."""
        return tuple(r for r in self.records if r.reference is not None and r.value is not None)

    def flagged(self) -> tuple[Record, ...]:
        """Records that differ from their reference by more than their tolerance."""
        return tuple(r for r in self.records if r.flagged)

    def has_reference(self, metric: str) -> bool:
        """Whether any record of ``metric`` has a reference value."""
        return any(r.metric == metric and r.reference is not None for r in self.records)

    def __repr__(self) -> str:
        return f"<Report {self.kind}: {self.title!r}, {len(self.records)} records>"

    def __rich__(self) -> Any:
        """The terminal view (:func:`prosparsity.reports.render.render_report`)."""
        from prosparsity.reports.render import render_report

        return render_report(self)

    def _repr_html_(self) -> str:
        """The notebook view (:func:`prosparsity.reports.html.report_fragment`)."""
        from prosparsity.reports.html import report_fragment

        return report_fragment(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the whole report (``key_headers`` and a column's ``text``,
        ``keep`` and ``align`` only where set)."""
        out: dict[str, Any] = {
            "kind": str(self.kind),
            "title": self.title,
            "row_keys": list(self.row_keys),
            "columns": [_column_dict(c) for c in self.columns],
            "notes": list(self.notes),
            "records": [r.to_dict() for r in self.records],
        }
        if self.key_headers:
            out["key_headers"] = list(self.key_headers)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Inverse of :meth:`to_dict`."""
        return cls(
            kind=ReportKind(data["kind"]),
            title=data["title"],
            columns=tuple(Column(**c) for c in data["columns"]),
            records=tuple(Record.from_dict(r) for r in data["records"]),
            row_keys=tuple(data["row_keys"]),
            notes=tuple(data.get("notes", ())),
            key_headers=tuple(data.get("key_headers", ())),
        )


def _column_dict(column: Column) -> dict[str, Any]:
    out = asdict(column)
    for name in ("text", "keep", "align"):  # as JSON exports had them before these existed
        if not out[name]:
            del out[name]
    return out
