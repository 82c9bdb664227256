"""The sweep's result tables (pyarrow): long form, one value per row.

``results.parquet`` (and ``results.csv``): one row per (trace, sample, accelerator,
tile, configuration, metric) with the columns

=================  ===========================================================
``trace``          the trace file
``trace_sha256``   its content hash (rows of different runs can be merged on it)
``workload``       the trace's workload (or model) name
``synthetic``      true for traces written by ``prosparsity trace synth``
``sample``         sample index; ``samples``: how many the trace holds
``accelerator``    registry name
``tile_m``         ``tile_k``: the tile (null for accelerators without tiles)
``config``         JSON of the full resolved configuration
``config_id``      12 hex digits naming (accelerator, config)
``metric``         ``total_cycles``, ``latency_s`` [s], ``energy_mj`` [mJ],
                   ``dram_bits`` [bit], ``gop_per_s`` [GOP/s], ``gop_per_j``
                   [GOP/J], ``bit_density``, ``product_density``, ``ops``; and the
                   component model's ``energy_component_mj`` [mJ] with its band
                   ``energy_low_mj`` / ``energy_high_mj``, ``power_mw`` [mW] with
                   ``power_low_mw`` / ``power_high_mw``, ``area_mm2`` [mm²], and its
                   breakdown ``energy_mj.<group>`` / ``area_mm2.<group>`` (Figure 10's
                   groups: ``adders``, ``detector``, ``buffers``, ``DRAM``, ...)
``value``          the number (null when the model has none: ``note`` says why)
``note``           why ``value`` is null, else null
``harness``        the harness version that computed it (cache key)
one per field      each swept config field, as configured (null where the
                   accelerator has no such field)
=================  ===========================================================

``energy_mj`` is the paper's model (the default design only; null with a note elsewhere); the
component model's rows are given wherever the accelerator has a design (every Prosperity and
baseline configuration; none for the GPU models and reported figures). ``product_density`` is given
on tiled rows only (it depends on the tile); both densities are the counting stage's (weighted by
``ceil(N/128)`` passes, docs/analysis.md). ``ops`` is the sample's operation count
(:func:`prosparsity.analysis.ops.operations_of`, the authors' ``compute_num_OPS``), shared by every
accelerator but Stellar (its paper counts its own operations); throughput and efficiency divide it
by the row's latency and energy::

    gop_per_s = ops / latency_s / 1e9            [GOP/s]
    gop_per_j = ops / (energy_mj * 1e-3) / 1e9   [GOP/J]   (null where energy is null)

``aggregate.parquet`` (and ``.csv``): the same keys without ``sample``, with
``mean``, ``std`` (sample standard deviation, ``ddof=1``; 0 for one sample) and ``n``
(samples with a value) over the samples of each trace. Files are written to a temporary
name and renamed, so none is ever half written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prosparsity.accel.registry import registry
from prosparsity.analysis.ops import gop_per_j, gop_per_s
from prosparsity.core.atomic import atomic_write_bytes
from prosparsity.sweep.configs import canonical, digest
from prosparsity.sweep.stages import (
    COUNT_METRICS,
    ENERGY_METRICS,
    PRICE_METRICS,
    CountSummary,
    Priced,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from prosparsity.sweep.engine import CountTask, Plan, PriceTask

__all__ = ["KEY_COLUMNS", "METRICS", "SweepTables", "build_tables", "write_tables"]

#: Throughput and energy efficiency, from the count's ``ops`` and the price.
RATE_METRICS = ("gop_per_s", "gop_per_j")
#: Every fixed metric, in table order (the per-group breakdown follows the component
#: model's metrics: ``energy_mj.<group>``, ``area_mm2.<group>``).
METRICS = (*PRICE_METRICS, *RATE_METRICS, *COUNT_METRICS, *ENERGY_METRICS)

#: Columns identifying a configuration (before the swept-field columns).
KEY_COLUMNS = ("trace", "trace_sha256", "workload", "synthetic", "sample", "samples",
               "accelerator", "tile_m", "tile_k", "config", "config_id")


@dataclass(frozen=True)
class SweepTables:
    """The two result tables.

    Attributes:
        results: one row per (trace, sample, accelerator, tile, configuration, metric).
        aggregate: mean / std / n over samples.
        swept: names of the swept-field columns.
    """

    results: pa.Table
    aggregate: pa.Table
    swept: tuple[str, ...]


def config_id(accelerator: str, config: Mapping[str, Any]) -> str:
    """Short stable name of an (accelerator, resolved config) pair."""
    return digest({"accelerator": accelerator, "config": dict(config)})[:12]


def _rows(task: PriceTask, summary: CountSummary, priced: Priced, swept: Sequence[str],
          harness: str) -> list[dict[str, Any]]:
    meta = task.count.trace
    config = task.config
    base: dict[str, Any] = {
        "trace": meta.path, "trace_sha256": meta.sha256, "workload": meta.workload,
        "synthetic": meta.synthetic, "sample": task.count.sample, "samples": meta.samples,
        "accelerator": task.accelerator,
        "tile_m": task.count.tile[0] if task.tiled else None,
        "tile_k": task.count.tile[1] if task.tiled else None,
        "config": task.config_text,
        "config_id": config_id(task.accelerator, config),
    }
    values: dict[str, tuple[float | None, str | None]] = {
        m: (v, priced.note) for m, v in priced.metrics().items()}
    ops, ops_note = summary.ops, summary.ops_note
    if not registry()[task.accelerator].op_count:
        ops, ops_note = None, (f"{task.accelerator} has no shared operation count (its "
                               "paper counts its own operations)")
    latency, energy = priced.latency_s, priced.energy_mj
    values["gop_per_s"] = ((gop_per_s(ops, latency), None) if ops is not None and latency
                           else (None, ops_note if ops is None else priced.note))
    values["gop_per_j"] = ((gop_per_j(ops, energy), None) if ops is not None and energy
                           else (None, ops_note if ops is None else priced.note))
    values["bit_density"] = (summary.bit_density, None)
    if task.tiled:
        values["product_density"] = (summary.product_density, None)
    values["ops"] = (ops, ops_note)
    for metric, value in priced.energy_metrics().items():
        values[metric] = (value, None if value is not None else
                          "no band: the component model runs with another factor than the "
                          "fitted one")
    base["harness"] = harness
    for name in swept:
        base[name] = config.get(name)
    return [{**base, "metric": metric, "value": None if value is None else float(value),
             "note": note if value is None else None}
            for metric, (value, note) in values.items()]


def _column_type(values: Sequence[Any]) -> Callable[[Any], Any] | None:
    """How a column's cells are stored: ``None`` as they are (booleans, integers, strings),
    else a conversion (numbers as floats, anything else as canonical JSON)."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool} or kinds <= {int} or kinds <= {str}:
        return None
    if kinds <= {int, float}:
        return lambda v: None if v is None else float(v)
    return lambda v: None if v is None else (v if isinstance(v, str) else canonical(v))


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> pa.Table:
    import pyarrow as pa

    data = {}
    for name in columns:
        values = [r.get(name) for r in rows]
        conv = _column_type(values)
        data[name] = values if conv is None else [conv(v) for v in values]
    schema_types = {"sample": pa.int64(), "samples": pa.int64(), "tile_m": pa.int64(),
                    "tile_k": pa.int64(), "value": pa.float64(), "mean": pa.float64(),
                    "std": pa.float64(), "n": pa.int64(), "synthetic": pa.bool_()}
    arrays = {}
    for name, values in data.items():
        if name in schema_types:
            arrays[name] = pa.array(values, type=schema_types[name])
        elif all(v is None for v in values):
            arrays[name] = pa.array(values, type=pa.string())
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def build_tables(plan: Plan, summaries: Mapping[CountTask, CountSummary],
                 prices: Mapping[PriceTask, Priced], harness: str) -> SweepTables:
    """The result tables of a finished sweep (every task of ``plan`` has a result)."""
    swept = plan.spec.swept_fields
    per_task = [_rows(task, summaries[task.count], prices[task], swept, harness)
                for task in plan.prices]
    rows = [row for task_rows in per_task for row in task_rows]
    result_columns = (*KEY_COLUMNS, "metric", "value", "note", "harness", *swept)
    results = _table(rows, result_columns)
    return SweepTables(results=results, aggregate=_aggregate(per_task, swept), swept=swept)


_SCALARS = (str, int, float, bool, type(None))


def _key(value: Any) -> Any:
    """A grouping key of one cell: the value with its type for a scalar (``1``, ``1.0`` and
    ``True`` stay apart), its canonical JSON otherwise."""
    return (type(value), value) if isinstance(value, _SCALARS) else canonical(value)


def _aggregate(per_task: list[list[dict[str, Any]]], swept: Sequence[str]) -> pa.Table:
    """Mean, spread and count over the samples of each (configuration, metric); the rows
    of one price task share every key column but ``metric`` (keyed once per task)."""
    shared = [c for c in KEY_COLUMNS if c != "sample"] + list(swept)
    keys = [c for c in KEY_COLUMNS if c != "sample"] + ["metric", *swept]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for task_rows in per_task:
        if not task_rows:
            continue
        task_key = tuple(_key(task_rows[0][k]) for k in shared)
        for row in task_rows:
            groups.setdefault((task_key, row["metric"]), []).append(row)
    out = []
    for members in groups.values():
        present = [r["value"] for r in members if r["value"] is not None]
        first = members[0]
        agg = {k: first[k] for k in keys}
        agg["n"] = len(present)
        if len(present) == 1:  # one sample: its value, no spread (numpy's answer too)
            agg["mean"], agg["std"] = float(present[0]), 0.0
        elif present:
            values = np.array(present, dtype=float)
            agg["mean"], agg["std"] = float(values.mean()), float(values.std(ddof=1))
        else:
            agg["mean"] = agg["std"] = None
        agg["note"] = next((r["note"] for r in members if r["note"] is not None), None)
        agg["harness"] = first["harness"]
        out.append(agg)
    ids = [c for c in KEY_COLUMNS if c != "sample"]
    return _table(out, (*ids, "metric", "mean", "std", "n", "note", "harness", *swept))


def write_tables(tables: SweepTables, out: str | Path) -> dict[str, Path]:
    """Write ``results`` and ``aggregate`` as Parquet and CSV into ``out`` (atomically).

    Raises:
        WriteError: a file cannot be written (path and reason).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out)
    files = {}
    for name, table in (("results", tables.results), ("aggregate", tables.aggregate)):
        for key, suffix, write in ((name, "parquet", pq.write_table),
                                   (f"{name}_csv", "csv", pacsv.write_csv)):
            sink = pa.BufferOutputStream()
            write(table, sink)
            files[key] = atomic_write_bytes(out / f"{name}.{suffix}",
                                            sink.getvalue().to_pybytes(), "result table")
    return files
