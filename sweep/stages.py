"""The two stages a sweep runs as tasks: ``count`` once, ``price`` many.

This is the one module through which the sweep reaches the analysis and the cost models
(the "count once, price many" API of :mod:`prosparsity.analysis` and
:mod:`prosparsity.accel`):

* :func:`count` ``(trace, sample, tile, counters) -> ModelStats``: the statistics of
  one sample of a trace at one tile size, with every per-accelerator counter that the
  sweep's configurations at that tile need (:func:`needs`), in one counting pass
  (:func:`prosparsity.analysis.density.count`; the sample alone at batch 1, exactly as
  ``prosparsity simulate`` and ``analyze`` treat each sample of a multi-sample trace).
* :func:`price` ``(stats, accelerator, settings) -> Priced``: one configuration's
  cycles, latency, DRAM traffic and energy from those statistics, through
  :func:`prosparsity.accel.suite.price` (what ``prosparsity simulate`` runs after its
  count; so a sweep's numbers are ``simulate``'s by construction, the energy rule for
  configurations off the paper's design included), with the component model's energy,
  power, area, bands and breakdown at every design point. It never reads spike data.
* :func:`summarise` ``(stats) -> CountSummary``: what the result tables take from a
  count (densities, operation count), small enough for the cache's JSON.

Every function is pure (no global state, no printing); results are frozen dataclasses
with a JSON form for the result cache (the statistics themselves are cached with
:meth:`ModelStats.save` / :meth:`~ModelStats.load`: JSON and npz, no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.accel.base import Needs
from prosparsity.accel.energy.result import EnergyArea
from prosparsity.accel.registry import registry
from prosparsity.accel.suite import Selection, configure
from prosparsity.analysis.counters import Counter
from prosparsity.analysis.network import Workload
from prosparsity.analysis.ops import operations_of
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError, HarnessError, TraceError
from prosparsity.core.hashing import file_sha256
from prosparsity.sweep.configs import canonical, config_json
from prosparsity.traces.provenance import is_synthetic
from prosparsity.traces.reader import TraceReader

__all__ = [
    "CountSummary",
    "Priced",
    "TraceMeta",
    "count",
    "counters_json",
    "needs",
    "price",
    "resolve_config",
    "summarise",
    "trace_meta",
]

log = logging.getLogger(__name__)

#: The metrics :func:`price` gives, in table order.
PRICE_METRICS = ("total_cycles", "latency_s", "energy_mj", "dram_bits")
#: The component model's metrics (:attr:`Priced.energy`), in table order; the breakdown
#: follows as ``energy_mj.<group>`` and ``area_mm2.<group>`` (Figure 10's groups).
ENERGY_METRICS = ("energy_component_mj", "energy_low_mj", "energy_high_mj", "power_mw",
                  "power_low_mw", "power_high_mw", "area_mm2")
#: The metrics :func:`summarise` gives.
COUNT_METRICS = ("bit_density", "product_density", "ops")


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
    try:
        return file_sha256(path)
    except OSError as exc:
        raise TraceError(path, f"cannot read the trace: {exc.strerror or exc}") from None


def trace_meta(path: str | Path) -> TraceMeta:
    """Open a trace (attributes and records only) and hash it.

    Raises:
        TraceError: not a readable trace, or samples that disagree between layers.
    """
    path = Path(path)
    with TraceReader(path) as reader:
        info = reader.info
        samples = Workload.from_reader(reader).samples()
    return TraceMeta(path=str(path), sha256=_sha256(path),
                     workload=info.workload or info.model, samples=samples,
                     synthetic=is_synthetic(info))


@contextmanager
def open_sample(path: str | Path, sample: int, samples: int) -> Iterator[Workload]:
    """One sample of a trace at batch 1, the file open for the ``with`` (every read goes
    through one reader).

    A one-sample trace is :meth:`Workload.from_reader` itself (what ``simulate``
    prices); sample ``b`` of a trace of ``samples > 1`` is :meth:`Workload.sample`: index
    ``b`` of every data record's ``B`` axis, every ``batch`` 1.
    """
    with TraceReader(Path(path)) as reader:
        workload = Workload.from_reader(reader)
        yield workload if samples == 1 else workload.sample(sample)


# ------------------------------------------------------------------------------ configs


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


def config_document(accelerator: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The full resolved configuration as JSON (the result table's ``config``)."""
    return config_json(resolve_config(accelerator, settings))


def needs(accelerator: str, settings: Mapping[str, Any]) -> Needs:
    """What one configuration needs counted (the model's own ``needs(config)``)."""
    return needs_of(accelerator, resolve_config(accelerator, settings))


def needs_of(accelerator: str, config: Any) -> Needs:
    """:func:`needs` of a config already resolved (:func:`resolve_config`)."""
    return registry()[accelerator].needs(config)


def counters_json(counters: Iterable[Counter]) -> list[dict[str, Any]]:
    """Counter keys as sorted JSON objects (a count's cache-key input)."""
    return sorted((c.to_json() for c in counters), key=canonical)


# ------------------------------------------------------------------------------ count


def count(trace: str, sample: int, samples: int, tile_m: int, tile_k: int,
          counters: Iterable[Counter] = ()) -> ModelStats:
    """Count one sample of a trace at one tile size, with ``counters`` (a task).

    Args:
        trace: trace file path (workers read it: a shared filesystem).
        sample: sample index.
        samples: samples the trace holds (from :func:`trace_meta`).
        tile_m: rows per tile.
        tile_k: columns per tile.
        counters: the per-accelerator counters to count in the same pass.

    Raises:
        TraceError: unreadable trace (naming the sample of a multi-sample trace);
        ConfigError: bad tile sizes.
    """
    from prosparsity.engine import count as count_sample  # the kernel: where counts run

    with open_sample(trace, sample, samples) as workload:
        try:
            return count_sample(workload, (tile_m, tile_k), counters=tuple(counters)).stats
        except TraceError as exc:
            if samples == 1:
                raise
            raise TraceError(exc.path, f"sample {sample}: {exc.problem}", exc.layer) from None


def count_block(trace: str, which: Sequence[int], samples: int, tile_m: int, tile_k: int,
                counters: Iterable[Counter] = ()) -> tuple[ModelStats, ...]:
    """:func:`count` of several samples of one trace in one task: their statistics, in
    the order of ``which``, each equal to its own :func:`count`.

    The samples are counted layer by layer
    (:func:`~prosparsity.analysis.density.count_samples`): a trace's chunks hold many
    samples, and one task per sample would decompress each chunk once per sample.

    Raises:
        TraceError: unreadable trace (naming the sample of a multi-sample trace);
        ConfigError: bad tile sizes.
    """
    from prosparsity.analysis.density import count_samples

    if samples == 1:
        return tuple(count(trace, b, samples, tile_m, tile_k, counters) for b in which)
    with TraceReader(Path(trace)) as reader:
        workload = Workload.from_reader(reader)
        return count_samples(workload, tile_m, tile_k, tuple(counters), which=which)


@dataclass(frozen=True)
class CountSummary:
    """What the result tables take from one count.

    Attributes:
        bit_density: ``Σ nN·nnz / Σ nN·M·K`` (``nN = ceil(N/128)`` passes, docs/analysis.md).
        product_density: ``Σ nN·nnz(residual) / Σ nN·M·K`` at the count's tile.
        ops: the workload's operation count (:func:`prosparsity.analysis.ops.operations_of`,
            the authors' ``compute_num_OPS``), or ``None`` when a record cannot be
            counted (``ops_note`` says why).
        ops_note: why ``ops`` is ``None``.
    """

    bit_density: float
    product_density: float
    ops: int | None
    ops_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"bit_density": self.bit_density, "product_density": self.product_density,
                "ops": self.ops, "ops_note": self.ops_note}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> CountSummary:
        """Inverse of :meth:`to_json`.

        Raises:
            KeyError, TypeError, ValueError: not a document of this shape.
        """
        ops, note = doc["ops"], doc["ops_note"]
        if ops is not None and (isinstance(ops, bool) or not isinstance(ops, int)):
            raise TypeError(f"ops must be an integer, got {ops!r}")
        if note is not None and not isinstance(note, str):
            raise TypeError("ops_note must be a string")
        return CountSummary(float(doc["bit_density"]), float(doc["product_density"]), ops,
                            note)


def summarise(stats: ModelStats) -> CountSummary:
    """The densities and the operation count of counted statistics."""
    try:
        ops: int | None = operations_of(stats).total
        note = None
    except ConfigError as exc:
        ops, note = None, f"no operation count: {exc}"
    return CountSummary(float(stats.bit_density), float(stats.product_density), ops, note)


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
        energy: the component model's energy, power and area (every design point;
            ``None`` for a model without a design: the GPU models, reported figures).
    """

    total_cycles: float | None
    latency_s: float | None
    energy_mj: float | None
    dram_bits: float | None
    note: str | None = None
    energy: EnergyArea | None = None

    def metrics(self) -> dict[str, float | None]:
        return {m: getattr(self, m) for m in PRICE_METRICS}

    def energy_metrics(self) -> dict[str, float | None]:
        """:data:`ENERGY_METRICS` and the per-group breakdown (empty without a design)."""
        e = self.energy
        if e is None:
            return {}
        out: dict[str, float | None] = {
            "energy_component_mj": e.energy_mj, "energy_low_mj": e.energy_low_mj,
            "energy_high_mj": e.energy_high_mj, "power_mw": e.power_mw,
            "power_low_mw": e.power_low_mw, "power_high_mw": e.power_high_mw,
            "area_mm2": e.area_mm2}
        out.update({f"energy_mj.{g}": v for g, v in e.by_group("energy_mj").items()})
        out.update({f"area_mm2.{g}": v for g, v in e.by_group("area_mm2").items()
                    if g != "DRAM"})
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.metrics(), "note": self.note,
                "energy_area": None if self.energy is None else self.energy.to_json()}

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
        energy = doc["energy_area"]
        return Priced(*(num(doc[m]) for m in PRICE_METRICS), note=note,
                      energy=None if energy is None else EnergyArea.from_json(energy))


def price(stats: ModelStats, accelerator: str, settings: Mapping[str, Any],
          energy: bool = True) -> Priced:
    """Price one accelerator configuration on counted statistics (a task).

    The breakdown and its energy are :func:`prosparsity.accel.suite.price`'s (what
    ``prosparsity simulate`` prints): the paper's energy is withheld, with a note, for a
    configuration off the paper's design (:func:`prosparsity.accel.energy.energy_withheld`);
    the component model prices every design point (:attr:`Priced.energy`).

    Args:
        stats: the sample's statistics at the configuration's tile, with the counters
            it needs.
        accelerator: registry name.
        settings: config fields to set (the tile included for tiled models).
        energy: run the component model (``False``: ``Priced.energy`` is ``None``; what
            ``bench/bench_energy.py`` times the sweep without).

    Raises:
        HarnessError: the statistics cannot be priced by this model (names the trace
            and the layer, or the missing counter), or a plugin's pricing raised (names
            the plugin and its package): the task fails, as for a counter's failure.
    """
    from prosparsity.accel.registry import PricingFailure
    from prosparsity.engine import price as price_selection

    entry = registry()[accelerator]
    selection = Selection(entry, resolve_config(accelerator, settings))
    result = price_selection(stats, [selection], energy=energy)[entry.name]
    if isinstance(result, PricingFailure):
        raise HarnessError(result.message)
    if result is None:
        return Priced(None, None, None, None,
                      note=f"{accelerator} has no figure for workload {stats.model}")
    report = result.runs[0].energy_area
    # a figure the model lacks (cycles of a GPU, DRAM of a model counting none) is None
    return Priced(total_cycles=_num(result.total_cycles), latency_s=_num(result.latency_s),
                  energy_mj=_num(result.energy_mj), dram_bits=_num(result.dram_bits),
                  note=result.energy_note,
                  energy=None if report is None else report.component)


def _num(value: Any) -> float | None:
    """A plain Python number (numpy scalars converted), as ``simulate --json`` writes it."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)
