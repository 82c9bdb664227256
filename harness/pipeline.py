"""The harness's pipeline, typed end to end: capture -> count -> simulate -> report rows.

Every command that analyses or simulates goes through here (``analyze``, ``simulate``,
``demo``, ``reproduce``); commands stay thin and never import each other.

* :func:`open_workload`: what a command was given (a trace file, an authors' ``.npz``
  dump, a paper workload name) as a :class:`~prosparsity.analysis.network.Workload`.
  A trace is opened once and its metadata read once; every read of the command goes
  through that one open reader.
* :func:`analyse`: the statistics at one tile, one sample at a time (batch 1, the
  paper's setting) or the samples as one batch.
* :func:`simulate`: count once per sample and tile for every selected accelerator,
  price them all (:mod:`prosparsity.accel.suite`); per sample like :func:`analyse`.
* :class:`Collector`: the report rows of ``demo`` and ``reproduce`` (density,
  accelerators, ablations, the Figure 7 tile sweep, per-layer breakdowns), built with
  the typed row builders of :mod:`prosparsity.reports.rows`.
* :func:`capture_samples`: the demo's captures, through
  :func:`prosparsity.models.capture.capture_model`.

Heavy imports (h5py, numba, torch) happen inside the functions, so importing this
module keeps ``prosparsity --help`` instant.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.core.ids import AcceleratorId
from prosparsity.core.jsonvalue import JSON
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.accel.base import Breakdown
    from prosparsity.accel.suite import Selection, SuiteResult
    from prosparsity.analysis.network import Workload
    from prosparsity.analysis.ops import OpCount
    from prosparsity.analysis.stats import LayerStats, ModelStats, SampleStats
    from prosparsity.harness.envelope import Source
    from prosparsity.models.registry import ModelEntry
    from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, SweepRow
    from prosparsity.traces.schema import TraceInfo

log = logging.getLogger(__name__)


#: Prosperity ablations of the paper (Fig. 9): label and the config changes selecting them.
ABLATIONS: Mapping[str, Mapping[str, object]] = {
    "bit": {"sparsity": "bit"},
    "dense": {"sparsity": "dense"},
    "issue1": {"issue_type": 1},
}

Progress = Callable[[str], None]
"""Receives one line of progress (``Output.info``)."""



def _quiet(_message: str) -> None:
    return None


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Opened:
    """What a command argument named, open for the duration of a ``with``.

    Attributes:
        workload: the network and its spike data.
        source: the input as the envelope and the report titles describe it (file,
            hash, synthetic spikes, layers skipped at capture).
    """

    workload: Workload
    source: Source


@contextmanager
def open_input(target: str | Path, workload: str | None = None) -> Iterator[Opened]:
    """The workload a command argument names, with its :class:`Source`, open for the
    duration of the ``with``.

    ``target`` is a trace file, an ``.npz`` spike dump of one of the paper's workloads
    (keyed as the authors key it; the workload is ``workload`` or the file's stem), or
    the name of a paper workload (layer shapes only).

    Raises:
        HarnessError: nothing of that name, or an ``.npz`` without a paper workload.
    """
    from prosparsity.analysis.network import Workload
    from prosparsity.harness.envelope import InputKind, Source
    from prosparsity.traces.workloads import WORKLOADS

    path = Path(target)
    text = str(target)
    if path.is_dir():
        raise TraceError(path, "is a directory, not a trace file")
    if path.is_file():
        if path.suffix == ".npz":
            with _open_npz(path, workload) as (name, arrays):
                yield Opened(Workload.from_paper(name, arrays=arrays),
                             Source(InputKind.DUMP, path, name))
            return
        from prosparsity.traces.io import TraceReader

        with TraceReader(path) as reader:
            warn_if_v1(path, reader.schema_version)
            opened = Workload.from_reader(reader)
            yield Opened(opened, trace_source(path, reader.info, opened.paper_workload,
                                              reader.schema_version))
        return
    if text in WORKLOADS:
        yield Opened(Workload.from_paper(text), Source(InputKind.WORKLOAD, None, text))
        return
    if path.suffix in (".h5", ".hdf5", ".npz") or "/" in text:
        raise TraceError(path, "file not found")
    raise ConfigError("TRACE", f"{text!r} is neither a file nor a paper workload "
                      f"(known: {', '.join(WORKLOADS)})")


def warn_if_v1(path: Path, schema_version: int) -> None:
    """One line on stderr for a trace of schema v1: it has no digest, so damage is found
    only as far as HDF5's own checks go (see docs/bad-input.md)."""
    if schema_version == 1:
        from prosparsity.harness.console import get_output

        get_output().warn(
            f"{path}: a schema v1 trace, without a digest: damage is caught only by "
            f"HDF5's own checks, and a damaged file can stall the reader; `prosparsity "
            f"trace upgrade {path}` rewrites it as v2"
        )


@contextmanager
def open_workload(target: str | Path, workload: str | None = None) -> Iterator[Workload]:
    """The workload a command argument names (see :func:`open_input`), open for the
    duration of the ``with``."""
    with open_input(target, workload) as opened:
        yield opened.workload


def trace_source(path: str | Path, info: TraceInfo, workload: str | None = None,
                 schema: int | None = None) -> Source:
    """The :class:`Source` of a trace file from its attributes.

    Raises:
        TraceError: capture's attributes (skipped layers) are not what capture writes.
    """
    from prosparsity.harness.envelope import InputKind, Source
    from prosparsity.traces.provenance import Provenance

    path = Path(path)
    return Source(InputKind.TRACE, path, workload or None, schema,
                  Provenance.of_info(info, str(path)))


def parse_baseline(name: str) -> AcceleratorId:
    """The accelerator ``--baseline`` names (registry name or the paper's spelling).

    Raises:
        ConfigError: not an accelerator.
    """
    acc = AcceleratorId.parse(name)
    if acc is None:
        raise ConfigError("--baseline", f"unknown accelerator {name!r} (known: "
                          f"{', '.join(str(a) for a in AcceleratorId)})")
    return acc


def refuse_shapes_only(workload: Workload, target: str | Path, verb: str) -> None:
    """Refuse a paper workload known by its shapes only where spikes are needed.

    Raises:
        ConfigError: ``workload`` has no spike data.
    """
    if not workload.has_data:
        raise ConfigError("TRACE", f"{str(target)!r} is a paper workload by name: layer "
                          f"shapes only, no spikes, so there is nothing to {verb}; pass a "
                          "trace or the workload's .npz spike dump (`prosparsity simulate "
                          "NAME` prices its shapes)")


def source_marks(source: Source) -> list[str]:
    """Short marks for a title: synthetic spikes, totals that leave layers out."""
    marks = []
    p = source.provenance
    if p.synthetic:
        marks.append("synthetic spikes")
    if p.skipped:
        n = len(p.skipped)
        marks.append(f"totals exclude {n} GEMM{'s' if n != 1 else ''} skipped at capture")
    if p.without_neuron:
        n = len(p.without_neuron)
        marks.append(f"LIF cost missing before {n} GEMM{'s' if n != 1 else ''}")
    return marks


def source_caption(source: Source) -> list[str]:
    """Sentences under a table that say what its marks mean, naming the layers."""
    lines = []
    p = source.provenance
    if p.synthetic:
        lines.append(f"{source.label}: synthetic spikes (random, at the workload's shapes), "
                     "not a network's activity")
    if p.skipped:
        lines.append(f"{source.label}: skipped at capture, in no total (input not spikes): "
                     f"{p.skipped_text()}")
    if p.without_neuron:
        lines.append(f"{source.label}: no recognised neuron before "
                     f"{', '.join(p.without_neuron)} (their LIF cost is missing)")
    return lines


@contextmanager
def _open_npz(path: Path, workload: str | None) -> Iterator[tuple[str, Mapping[str, object]]]:
    import zipfile

    import numpy as np

    from prosparsity.traces.workloads import WORKLOADS

    name = workload or path.stem
    if name not in WORKLOADS:
        raise TraceError(path, "an .npz dump needs --workload NAME (one of the "
                         f"paper's workloads: {', '.join(WORKLOADS)}), or import it "
                         "first with `prosparsity trace import`")
    if not zipfile.is_zipfile(path):  # np.load would call it "pickled data"
        raise TraceError(path, "cannot read .npz file: not a zip archive (empty, "
                         "truncated or another format)")
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise TraceError(path, f"not a readable .npz file ({exc})") from None
    with arrays:
        yield name, arrays


# ----------------------------------------------------------------------------- counting
def analyse(
    workload: Workload,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    *,
    batched: bool = False,
    on_layer: Callable[[LayerStats], None] | None = None,
) -> SampleStats:
    """The statistics of ``workload`` at one tile: per sample (batch 1 each) unless
    ``batched`` (all samples as one batched GEMM). One sample gives one entry either way.
    """
    from prosparsity.analysis.density import count, count_samples
    from prosparsity.analysis.stats import SampleStats

    if batched:
        return SampleStats.of([count(workload, tile_m, tile_k, on_layer=on_layer)])
    return SampleStats.of(count_samples(workload, tile_m, tile_k, on_layer=on_layer))


def samples_of(workload: Workload, batched: bool) -> list[Workload]:
    """The workloads a command counts: each sample alone, or the whole batch."""
    n = 1 if batched or not workload.has_data else workload.samples()
    return [workload] if n == 1 else [workload.sample(b) for b in range(n)]


# ----------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class SampleRun:
    """One sample (or the batch) counted and priced.

    Attributes:
        stats: the statistics counted, one per tile size (the first at the main tile).
        result: every selected accelerator's breakdown.
    """

    stats: tuple[ModelStats, ...]
    result: SuiteResult

    @property
    def main(self) -> ModelStats:
        """The statistics at the main tile (Prosperity's, else the default)."""
        return self.stats[0]

    @functools.cached_property
    def ops(self) -> OpCount | None:
        """The operation count of this sample (:func:`operation_count`), or ``None``
        for a workload without spike data (it needs ``nnz`` per layer)."""
        return operation_count(self.main)

    def gop_per_s(self, accelerator: AcceleratorId,
                  breakdown: Breakdown | None = None) -> float | None:
        """GOP/s of one accelerator (or of ``breakdown``, e.g. an ablation of it): ops /
        latency; ``None`` for Stellar (no shared op count), without a figure or without
        an op count."""
        bd = breakdown or self.result.results.get(accelerator)
        if bd is None or self.ops is None or not accelerator.shares_op_count:
            return None
        from prosparsity.analysis.ops import gop_per_s

        return gop_per_s(self.ops.total, bd.latency_s) if bd.latency_s > 0 else None

    def gop_per_j(self, accelerator: AcceleratorId,
                  breakdown: Breakdown | None = None) -> float | None:
        """GOP/J of one accelerator (or of ``breakdown``): ops / energy; ``None`` where
        :meth:`gop_per_s` is, or without an energy (none, or withheld)."""
        bd = breakdown or self.result.results.get(accelerator)
        if (bd is None or self.ops is None or not accelerator.shares_op_count
                or bd.energy_mj is None or not bd.energy_mj > 0):
            return None
        from prosparsity.analysis.ops import gop_per_j

        return gop_per_j(self.ops.total, bd.energy_mj)

    def entry(self, accelerator: AcceleratorId) -> dict[str, JSON] | None:
        """One accelerator's ``simulate --json`` entry: the breakdown
        (:func:`~prosparsity.accel.suite.breakdown_json`) plus ``gop_per_s`` and
        ``gop_per_j``; ``None`` without a figure."""
        from prosparsity.accel.suite import breakdown_json

        bd = self.result.results.get(accelerator)
        if bd is None:
            return None
        doc: dict[str, JSON] = dict(breakdown_json(bd, accelerator))
        layers = doc.pop("layers")
        doc["gop_per_s"] = self.gop_per_s(accelerator)
        doc["gop_per_j"] = self.gop_per_j(accelerator)
        doc["layers"] = layers
        return doc


def operation_count(stats: ModelStats) -> OpCount | None:
    """The workload's operation count (the authors' definition, :mod:`prosparsity.
    analysis.ops`) from the statistics' ``nnz`` per layer; ``None`` without spike data.

    Raises:
        TraceError: a layer whose parameters the count needs are missing (names the file).
    """
    from prosparsity.analysis.ops import operations_of

    network = stats.network
    if network is None or not stats.has_data:
        return None
    try:
        return operations_of(stats)
    except ConfigError as exc:
        raise network.error(exc) from None


@dataclass(frozen=True)
class Simulation:
    """A ``simulate`` run: one :class:`SampleRun` per sample (batch 1 each), or one for
    the batch.

    Attributes:
        workload: the workload's name.
        runs: per sample, in trace order.
        skipped: accelerator -> why it was not run (or why it is left out: no figure for
            this workload, when it was not asked for by name).
        unused_overrides: override names no selected config has.
    """

    workload: str
    runs: tuple[SampleRun, ...]
    skipped: Mapping[AcceleratorId, str] = field(default_factory=dict)
    unused_overrides: tuple[str, ...] = ()

    @property
    def n_samples(self) -> int:
        return len(self.runs)

    @property
    def accelerators(self) -> tuple[AcceleratorId, ...]:
        return tuple(self.runs[0].result.results) if self.runs else ()

    @property
    def tile(self) -> tuple[int, int]:
        """The tile of the main statistics (Prosperity's, else the paper's default)."""
        return self.runs[0].main.tile if self.runs else tuple(DEFAULT_TILE)  # type: ignore[return-value]

    def breakdowns(self, accelerator: AcceleratorId) -> list[Breakdown | None]:
        """One breakdown per sample (``None`` where a model has no figure)."""
        return [run.result.results.get(accelerator) for run in self.runs]

    def ops(self) -> int | float | None:
        """Operations per sample (the mean over samples), or ``None`` without data."""
        counts = [run.ops.total for run in self.runs if run.ops is not None]
        if not counts or len(counts) != len(self.runs):
            return None
        return counts[0] if len(counts) == 1 else sum(counts) / len(counts)

    def to_json(self) -> dict[str, JSON]:
        """The ``data`` of the ``simulate --json`` document.

        ``{"workload", "ops", "samples", "accelerators": {NAME: entry | null},
        "skipped": {NAME: why}}``. An entry is :meth:`SampleRun.entry` (``total_cycles``,
        ``clock_hz``, ``latency_s``, ``energy_mj``, ``dram_bits``, ``extra``,
        ``gop_per_s``, ``gop_per_j``, ``layers``); ``null`` for an accelerator asked for
        that has no figure for this workload. ``ops`` is the operation count per sample
        (``null`` without spike data). With several samples every number is the mean
        over the samples (per layer too), and each entry adds ``samples`` and
        ``total_cycles_std``, ``latency_s_std``, ``energy_mj_std`` (sample standard
        deviation).
        """
        accelerators: dict[str, JSON] = {}
        for acc in self.accelerators:
            per = [run.entry(acc) for run in self.runs]
            if any(doc is None for doc in per):
                accelerators[str(acc)] = None
                continue
            docs = [doc for doc in per if doc is not None]
            if len(docs) == 1:
                accelerators[str(acc)] = docs[0]
                continue
            entry = _mean_doc(docs)
            entry["samples"] = len(docs)
            for key in ("total_cycles", "latency_s", "energy_mj"):
                entry[f"{key}_std"] = _std([d[key] for d in docs])
            accelerators[str(acc)] = entry
        return {"workload": self.workload, "ops": self.ops(), "samples": self.n_samples,
                "accelerators": accelerators,
                "skipped": {str(k): v for k, v in self.skipped.items()}}


def _mean(values: Sequence[JSON]) -> JSON:
    if values and all(isinstance(v, dict) for v in values):
        dicts = [v for v in values if isinstance(v, dict)]
        return {k: _mean([d.get(k) for d in dicts]) for k in dicts[0]}
    if values and all(isinstance(v, str) and v == values[0] for v in values):
        return values[0]  # a note the samples share
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if len(nums) != len(values) or not nums:
        return None
    return sum(nums) / len(nums)


def _std(values: Sequence[JSON]) -> JSON:
    if values and all(isinstance(v, str) and v == values[0] for v in values):
        return values[0]  # a note the samples share
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if len(nums) != len(values) or not nums:
        return None
    if len(nums) == 1:
        return 0.0
    mean = sum(nums) / len(nums)
    return math.sqrt(sum((v - mean) ** 2 for v in nums) / (len(nums) - 1))


def _mean_doc(docs: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
    """Field-wise means of equal-shape entries (``extra`` and layers too)."""
    out: dict[str, JSON] = {k: _mean([d[k] for d in docs]) for k in docs[0]
                                 if k != "layers"}
    per_sample = [d["layers"] for d in docs]
    layers: list[JSON] = []
    if all(isinstance(ls, list) for ls in per_sample):
        lists = [ls for ls in per_sample if isinstance(ls, list)]
        for i, first in enumerate(lists[0]):
            same = [ls[i] for ls in lists]
            if isinstance(first, dict) and all(isinstance(x, dict) for x in same):
                rows = [x for x in same if isinstance(x, dict)]
                layers.append({k: v if k == "name" else _mean([r[k] for r in rows])
                               for k, v in first.items()})
    out["layers"] = layers
    return out


def simulate(
    workload: Workload,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    batched: bool = False,
    progress: Progress = _quiet,
) -> Simulation:
    """Count every sample (batch 1 each, unless ``batched``) once per tile for every
    selected accelerator, then price them all.

    Without ``names``, a reported figure (Stellar, the A100) that has no number for
    this workload is left out (listed in ``skipped``); named explicitly, it stays, as
    "no figure".

    Raises:
        ConfigError: unknown accelerator, a bad override, or an accelerator named
            explicitly that needs spike data on a shapes-only workload.
    """
    from prosparsity.accel.suite import select

    selections, skipped, unused = select(names, overrides, has_data=workload.has_data)
    runs = []
    parts = samples_of(workload, batched)
    for i, one in enumerate(parts):
        if len(parts) > 1:
            progress(f"{workload.name}: sample {i + 1}/{len(parts)}")
        runs.append(price_sample(one, selections, skipped, unused))
    skipped = dict(skipped)
    if names is None:
        for acc in list(runs[0].result.results) if runs else []:
            if all(run.result.results.get(acc) is None for run in runs):
                skipped[acc] = no_figure_reason(acc, workload)
                runs = [_without(run, acc) for run in runs]
    return Simulation(workload.name, tuple(runs), skipped, unused)


def no_figure_reason(accelerator: AcceleratorId, workload: Workload) -> str:
    """Why a reported figure has no number for ``workload`` (or why nothing has one: a
    trace without any spiking GEMM)."""
    from prosparsity.accel.base import registry
    from prosparsity.traces.schema import LayerKind

    gemm_kinds = (LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D, LayerKind.ATTENTION)
    if not any(r.kind in gemm_kinds for r in workload.network.layers):
        return "no spiking GEMM in this trace, nothing to price"

    config = registry()[accelerator].default_config()
    table = getattr(config, "latency_s", {})
    where = f" (reported for {', '.join(table)} only)" if table else ""
    what = (f"paper workload {workload.paper_workload}" if workload.paper_workload
            else "a trace that is not one of the paper's workloads")
    return f"no figure for {what}{where}"


def _without(run: SampleRun, accelerator: AcceleratorId) -> SampleRun:
    results = {k: v for k, v in run.result.results.items() if k != accelerator}
    return SampleRun(run.stats, dataclasses.replace(run.result, results=results))


def price_sample(
    workload: Workload,
    selections: Sequence[Selection],
    skipped: Mapping[AcceleratorId, str] | None = None,
    unused: tuple[str, ...] = (),
) -> SampleRun:
    """Count what ``selections`` need on one sample (or batch), then price them."""
    from prosparsity.accel.suite import SuiteResult, count_for, price

    if not selections:
        from prosparsity.analysis.stats import ModelStats

        stats = (ModelStats.shapes_only(workload.network, *DEFAULT_TILE),)
        return SampleRun(stats, SuiteResult(workload.name, {}, dict(skipped or {}), unused))
    stats = tuple(count_for(workload, selections))
    return SampleRun(stats, price(stats, selections, skipped=skipped, unused_overrides=unused))


# ----------------------------------------------------------------------------- rows
@dataclass
class Collector:
    """Report rows gathered over all workloads of one ``demo`` or ``reproduce`` run.

    ``sources`` says, per workload, where its spikes came from (synthetic, layers skipped
    at capture): the reports' titles and notes say so.
    """

    density: list[DensityRow] = field(default_factory=list)
    accelerators: list[AccelRow] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    layers: dict[str, list[LayerRow]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)

    def skip(self, message: str) -> None:
        """Record a part that could not be produced (shown under the reports)."""
        if message not in self.skipped:
            self.skipped.append(message)

    def add_layers(self, workload: str, run: SampleRun,
                   accelerators: Sequence[AcceleratorId]) -> None:
        """Per-layer rows of ``accelerators``, densities from the run's statistics."""
        from prosparsity.reports.rows import LayerRow, layer_densities

        densities = layer_densities(run.main)
        for acc in accelerators:
            bd = run.result.results.get(acc)
            if bd is not None:
                self.layers.setdefault(workload, []).extend(
                    LayerRow.of_breakdown(workload, acc, bd, densities))


def accel_rows(workload: str, run: SampleRun) -> list[AccelRow]:
    """One row per accelerator of a run that has a figure (with GOP/s and GOP/J)."""
    from prosparsity.reports.rows import AccelRow

    return [AccelRow.of_breakdown(workload, acc, bd, gop_per_s=run.gop_per_s(acc),
                                  gop_per_j=run.gop_per_j(acc))
            for acc, bd in run.result.results.items() if bd is not None]


def ablation_rows(workload: str, run: SampleRun,
                  variants: Mapping[str, Breakdown]) -> list[AccelRow]:
    """Rows of Prosperity's ablations (``Prosperity:bit`` ...), with GOP/s and GOP/J of
    the run's operation count."""
    from prosparsity.reports.rows import AccelRow

    acc = AcceleratorId.PROSPERITY
    return [AccelRow.of_breakdown(workload, acc, bd, label,
                                  gop_per_s=run.gop_per_s(acc, bd),
                                  gop_per_j=run.gop_per_j(acc, bd))
            for label, bd in variants.items()]


def ablations(run: SampleRun) -> dict[str, Breakdown]:
    """Prosperity's ablations (Fig. 9: bit sparsity, dense, issue type 1) of the paper
    configuration, priced on the run's statistics (nothing is counted again) like every
    other run, energy included: the bit-sparsity and dense modes run on the paper's chip
    (energy priced), issue type 1 is other issue logic (energy withheld, see
    :func:`prosparsity.accel.energy.energy_withheld`)."""
    from prosparsity.accel.base import registry
    from prosparsity.accel.suite import Selection, price

    entry = registry()[AcceleratorId.PROSPERITY]
    out: dict[str, Breakdown] = {}
    for label, changes in ABLATIONS.items():
        sel = Selection(entry, dataclasses.replace(entry.default_config(), **changes))
        bd = price(run.stats, [sel]).results[entry.id]
        if bd is not None:
            out[label] = bd
    return out


def sweep_rows(trace: Path, workload: str, run: SampleRun,
               progress: Progress = _quiet) -> list[SweepRow]:
    """Prosperity at Figure 7's tile sizes (tile_m at the default tile_k, then tile_k at
    the default tile_m) on the first sample of ``trace``, normalised to Prosperity with
    bit sparsity at the default tile: the packaged ``figure7`` sweep spec, run by the
    sweep engine in this process (no cluster). ``run`` (that sample, counted and
    priced) answers its own tile, so each tile is counted once.

    Raises:
        ConfigError: the Prosperity model has no figure for this trace.
    """
    from prosparsity.reports.rows import SweepRow
    from prosparsity.sweep.engine import run_sweep
    from prosparsity.sweep.spec import load_spec, packaged_spec

    spec = dataclasses.replace(load_spec(packaged_spec("figure7"), [str(trace)]), samples=1)
    progress(f"{workload}: Prosperity at Figure 7's {len(spec.tiles)} tile sizes "
             "(sweep engine, in process)")
    outcome = run_sweep(spec, None, workers=0,
                        counted={(str(trace), 0, stats.tile): stats for stats in run.stats})
    points = {(task.count.tile, task.settings["sparsity"]): (counted, priced)
              for task, counted, priced in outcome.points()}
    _, bit = points[(DEFAULT_TILE.tile_m, DEFAULT_TILE.tile_k), "bit"]
    return [SweepRow.of_point(workload, tile, *points[tile, "product"], bit)
            for tile in spec.tiles]  # Figure 7's points, in the spec's order


# ----------------------------------------------------------------------------- capture
def trained_models() -> list[ModelEntry]:
    """The registry's models that ship trained weights, in registry order."""
    from prosparsity.core.errors import HarnessError
    from prosparsity.models.registry import list_models

    entries = [e for e in list_models() if e.trained]
    if not entries:
        raise HarnessError("no embedded trained model found (the model registry lists "
                           "no entry with a packaged checkpoint)")
    return entries


def capture_samples(entry: ModelEntry, samples: int, out: Path,
                    progress: Progress = _quiet) -> Path:
    """One trace of ``samples`` samples of ``entry``'s offline input with its trained
    weights, one sample per forward pass (batch 1, as in the paper)."""
    from prosparsity.models.capture import capture_model

    def step(done: int, total: int) -> None:
        progress(f"{entry.name}: captured sample {done}/{total}")

    result = capture_model(entry.name, out, samples=samples, batch_size=1, progress=step)
    return result.path
