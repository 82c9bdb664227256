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
                   [GOP/J], ``bit_density``, ``product_density``, ``ops``
``value``          the number (null when the model has none: ``note`` says why)
``note``           why ``value`` is null, else null
``harness``        the harness version that computed it (cache key)
one per field      each swept config field, as configured (null where the
                   accelerator has no such field)
=================  ===========================================================

``product_density`` is given on tiled rows only (it depends on the tile); both densities
are the counting stage's (spec §4, weighted by ``ceil(N/128)`` passes). ``ops`` is the
sample's operation count (:func:`prosparsity.analysis.ops.operations_of`, the authors'
``compute_num_OPS``), shared by every accelerator but Stellar (issue 11); throughput and
efficiency divide it by the row's latency and energy::

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
from prosparsity.sweep.stages import COUNT_METRICS, PRICE_METRICS, CountSummary, Priced

if TYPE_CHECKING:
    import pyarrow as pa

    from prosparsity.sweep.engine import CountTask, Plan, PriceTask

__all__ = ["KEY_COLUMNS", "METRICS", "SweepTables", "build_tables", "write_tables"]

#: Throughput and energy efficiency, from the count's ``ops`` and the price.
RATE_METRICS = ("gop_per_s", "gop_per_j")
#: Every metric, in table order.
METRICS = (*PRICE_METRICS, *RATE_METRICS, *COUNT_METRICS)

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
    out = []
    for metric, (value, note) in values.items():
        row = {**base, "metric": metric, "value": None if value is None else float(value),
               "note": note if value is None else None, "harness": harness}
        for name in swept:
            row[name] = config.get(name)
        out.append(row)
    return out


def _column_type(values: Sequence[Any]) -> Callable[[Any], Any]:
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return lambda v: v
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return lambda v: v
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return lambda v: None if v is None else float(v)
    return lambda v: None if v is None else (v if isinstance(v, str) else canonical(v))


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> pa.Table:
    import pyarrow as pa

    data = {}
    for name in columns:
        values = [r.get(name) for r in rows]
        conv = _column_type(values)
        data[name] = [conv(v) for v in values]
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
    rows: list[dict[str, Any]] = []
    for task in plan.prices:
        rows += _rows(task, summaries[task.count], prices[task], swept, harness)
    result_columns = (*KEY_COLUMNS, "metric", "value", "note", "harness", *swept)
    results = _table(rows, result_columns)
    return SweepTables(results=results, aggregate=_aggregate(rows, swept), swept=swept)


def _aggregate(rows: list[dict[str, Any]], swept: Sequence[str]) -> pa.Table:
    keys = [c for c in KEY_COLUMNS if c != "sample"] + ["metric", *swept]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(canonical(row[k]) for k in keys), []).append(row)
    out = []
    for members in groups.values():
        values = np.array([r["value"] for r in members if r["value"] is not None], dtype=float)
        first = members[0]
        agg = {k: first[k] for k in keys}
        agg["n"] = int(values.size)
        agg["mean"] = float(values.mean()) if values.size else None
        agg["std"] = (float(values.std(ddof=1)) if values.size > 1 else 0.0) if values.size \
            else None
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
