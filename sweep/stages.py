"""The two stages a sweep runs as Dask tasks: ``count`` and ``price``.

This is the one module through which the sweep reaches the analysis and the cost models,
so that it follows their API as it changes:

* :func:`count` ``(trace, sample, tile) -> CountStats``: the ProSparsity statistics of
  one sample of a trace at one tile size (``prosparsity.analysis``; the sample alone, at
  batch 1, exactly as ``prosparsity analyze`` treats each sample of a multi-sample trace).
* :func:`price` ``(stats, accelerator, settings) -> Priced``: one accelerator
  configuration's cycles, latency, DRAM traffic and energy, through
  ``prosparsity.accel.suite.run_suite``, the function behind ``prosparsity simulate``,
  so that a sweep's numbers are those of ``simulate`` by construction.

Today's cost models still read spike data, so :class:`CountStats` carries the trace's
path and sample and :func:`price` reopens the trace (only the layers a model reads).
When the analysis produces one statistics object per (trace, tile) that every model
prices (issue 9's "count once, price many"), ``count`` returns that object and ``price``
consumes it; the engine, the cache and the result tables do not change.

Both functions are pure functions of their arguments and the trace file (no global
state, no printing), and their results are small frozen dataclasses with a JSON form
(:meth:`CountStats.to_json`, :meth:`Priced.to_json`) for the result cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.accel.base import registry
from prosparsity.accel.suite import configure, run_suite
from prosparsity.analysis.density import analyze_records, analyze_trace, trace_samples
from prosparsity.analysis.network import Workload
from prosparsity.analysis.stats import Counts
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.sweep.configs import config_json
from prosparsity.sweep.energy import energy_withheld
from prosparsity.traces.io import TraceReader
from prosparsity.traces.schema import LayerRecord
from prosparsity.traces.synth import is_synthetic

__all__ = [
    "CountStats",
    "Priced",
    "TraceMeta",
    "count",
    "price",
    "resolve_config",
    "sample_workload",
    "trace_meta",
]

log = logging.getLogger(__name__)

#: The metrics :func:`price` gives, in table order.
PRICE_METRICS = ("total_cycles", "latency_s", "energy_mj", "dram_bits")
#: The metrics :func:`count` gives.
COUNT_METRICS = ("bit_density", "product_density")


# ------------------------------------------------------------------------------ traces


@dataclass(frozen=True)
class TraceMeta:
    """What the sweep needs to know about a trace before it plans the tasks.

    Attributes:
        path: the trace file (absolute).
        sha256: SHA-256 of the file's bytes (the cache's content address).
        workload: the workload's name (``workload`` attribute, else the model).
        samples: samples held (the length of the ``B`` axis, 1 without one).
        synthetic: written by ``prosparsity trace synth``.
    """

    path: str
    sha256: str
    workload: str
    samples: int
    synthetic: bool


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise TraceError(path, f"cannot read the trace: {exc.strerror or exc}") from None
    return h.hexdigest()


def trace_meta(path: str | Path) -> TraceMeta:
    """Open a trace (attributes and records only) and hash it.

    Raises:
        TraceError: not a readable v1 trace, or samples that disagree between layers.
    """
    path = Path(path)
    with TraceReader(path) as reader:
        info = reader.info
        samples = trace_samples(reader)
    return TraceMeta(path=str(path), sha256=_sha256(path),
                     workload=info.workload or info.model, samples=samples,
                     synthetic=is_synthetic(info.extra))


def _sample_records(records: tuple[LayerRecord, ...], path: Path,
                    sample: int) -> tuple[tuple[LayerRecord, ...], dict[str, int]]:
    """Records of one sample at batch 1: data records' ``B`` axis of length 1 and every
    record's ``batch`` parameter 1; and the ``B`` axis index of each data record."""
    out, axis = [], {}
    for rec in records:
        params = rec.params
        if "batch" in params:
            params = {**params, "batch": 1}
        if rec.has_data:
            if "B" not in rec.axes or len(rec.axes) != len(rec.shape):
                raise TraceError(path, f"layout '{rec.layout}' has no B axis: cannot separate "
                                 f"sample {sample} from the others", rec.name)
            shape = list(rec.shape)
            axis[rec.name] = rec.axes.index("B")
            shape[axis[rec.name]] = 1
            rec = replace(rec, shape=tuple(shape), params=params)
        elif params is not rec.params:
            rec = replace(rec, params=params)
        out.append(rec)
    return tuple(out), axis


class _TraceFile:
    """A trace's layers read by path, the file opened for each read (a task holds no
    open file between reads)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self, name: str) -> np.ndarray:
        with TraceReader(self._path) as reader:
            return np.asarray(reader.read(name))

    def read_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        with TraceReader(self._path) as reader:
            return np.asarray(reader.read_range(name, axis, start, stop))

    def iter_chunks(self, name: str, axis0_chunk: int) -> Iterator[np.ndarray]:
        with TraceReader(self._path) as reader:
            yield from reader.iter_chunks(name, axis0_chunk)


def sample_workload(path: str | Path, sample: int, samples: int) -> Workload:
    """The workload of one sample of a trace, at batch 1.

    A one-sample trace is exactly :meth:`Workload.from_reader` (what ``simulate``
    prices). For a trace of ``samples > 1``, sample ``b`` is index ``b`` of every data
    record's ``B`` axis, with every record's ``batch`` set to 1 (:meth:`Workload.sample`):
    the network as a one-sample trace holding only that sample would describe it.
    """
    path = Path(path)
    with TraceReader(path) as reader:
        workload = replace(Workload.from_reader(reader), spikes=_TraceFile(path))
    return workload if samples == 1 else workload.sample(sample)


# ------------------------------------------------------------------------------ count


@dataclass(frozen=True)
class CountStats:
    """The counting stage's result for one (trace, sample, tile).

    Attributes:
        trace: the trace file.
        sample: sample index (0 for a one-sample trace).
        samples: samples the trace holds.
        tile_m: rows per tile.
        tile_k: columns per tile.
        counts: the pass-weighted counts of :class:`prosparsity.analysis.density.Counts`
            (``elements``, ``nnz``, ``residual_nnz``, row classes), summed over the
            trace's analysed GEMMs.
    """

    trace: str
    sample: int
    samples: int
    tile_m: int
    tile_k: int
    counts: Mapping[str, int]

    @property
    def bit_density(self) -> float:
        """``Σ nN·nnz / Σ nN·M·K`` (spec §4)."""
        return Counts(**self.counts).bit_density

    @property
    def product_density(self) -> float:
        """``Σ nN·nnz(residual) / Σ nN·M·K`` (spec §4)."""
        return Counts(**self.counts).product_density

    def metrics(self) -> dict[str, float]:
        return {"bit_density": self.bit_density, "product_density": self.product_density}

    def to_json(self) -> dict[str, Any]:
        return {"trace": self.trace, "sample": self.sample, "samples": self.samples,
                "tile_m": self.tile_m, "tile_k": self.tile_k, "counts": dict(self.counts)}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> CountStats:
        """Inverse of :meth:`to_json`.

        Raises:
            KeyError, TypeError, ValueError: not a document of this shape.
        """
        counts = {f.name: int(doc["counts"][f.name]) for f in dataclasses.fields(Counts)}
        return CountStats(trace=str(doc["trace"]), sample=int(doc["sample"]),
                          samples=int(doc["samples"]), tile_m=int(doc["tile_m"]),
                          tile_k=int(doc["tile_k"]), counts=counts)


def count(trace: str, sample: int, samples: int, tile_m: int, tile_k: int) -> CountStats:
    """Count one sample of a trace at one tile size (a Dask task).

    Args:
        trace: trace file path (workers read it: a shared filesystem).
        sample: sample index.
        samples: samples the trace holds (from :func:`trace_meta`).
        tile_m: rows per tile.
        tile_k: columns per tile.

    Raises:
        TraceError: unreadable trace; ConfigError: bad tile sizes.
    """
    path = Path(trace)
    if samples == 1:
        stats = analyze_trace(path, tile_m, tile_k)
    else:
        with TraceReader(path) as reader:
            network = tuple(r for r in reader.layers if r.in_network)
            records, axis = _sample_records(network, path, sample)
            model = reader.info.workload or reader.info.model

            def load(name: str) -> np.ndarray:
                return reader.read_range(name, axis[name], sample, sample + 1)

            try:
                stats = analyze_records(model, records, load, tile_m, tile_k)
            except ConfigError as exc:
                raise TraceError(path, f"sample {sample}: {exc}") from None
    return CountStats(trace=str(trace), sample=sample, samples=samples, tile_m=tile_m,
                      tile_k=tile_k, counts=dataclasses.asdict(stats.counts))


# ------------------------------------------------------------------------------ price


@dataclass(frozen=True)
class Priced:
    """The pricing stage's result for one accelerator configuration on one sample.

    Attributes:
        total_cycles: end-to-end cycles (``None``: the model has no figure here).
        latency_s: end-to-end latency, s.
        energy_mj: energy, mJ (``None`` when not reported; ``note`` says why).
        dram_bits: DRAM traffic, bits.
        note: why a value is missing, or ``None``.
    """

    total_cycles: float | None
    latency_s: float | None
    energy_mj: float | None
    dram_bits: float | None
    note: str | None = None

    def metrics(self) -> dict[str, float | None]:
        return {m: getattr(self, m) for m in PRICE_METRICS}

    def to_json(self) -> dict[str, Any]:
        return {**self.metrics(), "note": self.note}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> Priced:
        """Inverse of :meth:`to_json`.

        Raises:
            KeyError, TypeError, ValueError: not a document of this shape.
        """
        def num(v: Any) -> float | None:
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TypeError(f"not a number: {v!r}")
            return v

        note = doc["note"]
        if note is not None and not isinstance(note, str):
            raise TypeError("note must be a string")
        return Priced(*(num(doc[m]) for m in PRICE_METRICS), note=note)


def resolve_config(accelerator: str, settings: Mapping[str, Any]) -> Any:
    """The accelerator's config with ``settings`` applied (the config ``price`` uses).

    Raises:
        ConfigError: unknown accelerator or a value the config rejects.
    """
    reg = registry()
    if accelerator not in reg:
        raise ConfigError("accelerator", f"unknown accelerator {accelerator!r}")
    config, _ = configure(reg[accelerator], settings)
    return config


def price(stats: CountStats, accelerator: str, settings: Mapping[str, Any]) -> Priced:
    """Price one accelerator configuration on the sample ``stats`` counts (a Dask task).

    The breakdown and its energy are ``run_suite``'s (``prosparsity simulate``). The
    energy is withheld when ``settings`` move a hardware field off the paper's design
    (:func:`prosparsity.sweep.energy.energy_withheld`).

    Args:
        stats: the counting result of the sample (trace path, sample, tile).
        accelerator: registry name.
        settings: config fields to set (the tile included for tiled models).

    Raises:
        HarnessError: the trace cannot be priced by this model (names file and layer).
    """
    reg = registry()
    entry = reg[accelerator]
    workload = sample_workload(stats.trace, stats.sample, stats.samples)
    result = run_suite(workload, [accelerator], overrides=dict(settings))
    bd = result.results[accelerator]
    if bd is None:
        return Priced(None, None, None, None,
                      note=f"{accelerator} has no figure for workload {workload.name}")
    config, _ = configure(entry, settings)
    energy, note = bd.energy_mj, None
    if energy is None:
        note = f"{accelerator} has no energy model"
    else:
        withheld = energy_withheld(accelerator, config, entry.default_config())
        if withheld is not None:
            energy, note = None, withheld
    # a model without a DRAM model has no DRAM figure (as simulate --json), not 0
    dram = _num(bd.dram_bits) if entry.id.models_dram else None
    return Priced(total_cycles=_num(bd.total_cycles), latency_s=_num(bd.latency_s),
                  energy_mj=_num(energy), dram_bits=dram, note=note)


def _num(value: Any) -> float | None:
    """A plain Python number (numpy scalars converted), as ``simulate --json`` writes it."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


def config_document(accelerator: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The full resolved configuration as JSON (the result table's ``config``)."""
    return config_json(resolve_config(accelerator, settings))

