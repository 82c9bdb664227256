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
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.core.ids import AcceleratorId
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.accel.base import Breakdown
    from prosparsity.accel.suite import Selection, SuiteResult
    from prosparsity.analysis.network import Workload
    from prosparsity.analysis.stats import LayerStats, ModelStats, SampleStats
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

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
"""A value of a ``--json`` document."""


def _quiet(_message: str) -> None:
    return None


# ----------------------------------------------------------------------------- inputs
@contextmanager
def open_workload(target: str | Path, workload: str | None = None) -> Iterator[Workload]:
    """The workload a command argument names, open for the duration of the ``with``.

    ``target`` is a trace file (format v1), an ``.npz`` spike dump of one of the paper's
    workloads (keyed as the authors key it; the workload is ``workload`` or the file's
    stem), or the name of a paper workload (layer shapes only).

    Raises:
        HarnessError: nothing of that name, or an ``.npz`` without a paper workload.
    """
    from prosparsity.analysis.network import Workload
    from prosparsity.traces.workloads import WORKLOADS

    path = Path(target)
    text = str(target)
    if path.is_dir():
        raise TraceError(path, "is a directory, not a trace file")
    if path.is_file():
        if path.suffix == ".npz":
            with _open_npz(path, workload) as (name, arrays):
                yield Workload.from_paper(name, arrays=arrays)
            return
        with open_trace(path) as (opened, _info):
            yield opened
        return
    if text in WORKLOADS:
        yield Workload.from_paper(text)
        return
    if path.suffix in (".h5", ".hdf5", ".npz") or "/" in text:
        raise TraceError(path, "file not found")
    raise ConfigError("TRACE", f"{text!r} is neither a file nor a paper workload "
                      f"(known: {', '.join(WORKLOADS)})")


@contextmanager
def open_trace(path: str | Path) -> Iterator[tuple[Workload, TraceInfo]]:
    """A trace file as a workload (and its file attributes), open for the ``with``:
    the file is opened once and its metadata read once; every read goes through it."""
    from prosparsity.analysis.network import Workload
    from prosparsity.traces.io import TraceReader

    with TraceReader(Path(path)) as reader:
        yield Workload.from_reader(reader), reader.info


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


@dataclass(frozen=True)
class Simulation:
    """A ``simulate`` run: one :class:`SampleRun` per sample (batch 1 each), or one for
    the batch.

    Attributes:
        workload: the workload's name.
        runs: per sample, in trace order.
        skipped: accelerator -> why it was not run.
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

    def breakdowns(self, accelerator: AcceleratorId) -> list[Breakdown | None]:
        """One breakdown per sample (``None`` where a model has no figure)."""
        return [run.result.results.get(accelerator) for run in self.runs]

    def to_json(self) -> dict[str, JSONValue]:
        """The ``simulate --json`` document.

        One sample: ``{"accelerators": {NAME: {total_cycles, latency_s, energy_mj,
        dram_bits, layers} | null}}``. Several samples: the same keys holding the mean
        over the samples (per layer too), plus ``samples`` and ``total_cycles_std``,
        ``latency_s_std``, ``energy_mj_std`` (sample standard deviation) per accelerator,
        and ``samples`` at top level.
        """
        if self.n_samples == 1:
            return self.runs[0].result.to_json()
        from prosparsity.accel.suite import breakdown_json

        accelerators: dict[str, JSONValue] = {}
        for acc in self.accelerators:
            per = self.breakdowns(acc)
            if any(bd is None for bd in per):
                accelerators[str(acc)] = None
                continue
            docs = [breakdown_json(bd) for bd in per if bd is not None]
            entry = _mean_doc(docs)
            entry["samples"] = len(docs)
            for key in ("total_cycles", "latency_s", "energy_mj"):
                entry[f"{key}_std"] = _std([d[key] for d in docs])
            accelerators[str(acc)] = entry
        return {"accelerators": accelerators, "samples": self.n_samples}


def _mean(values: Sequence[JSONValue]) -> JSONValue:
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if len(nums) != len(values) or not nums:
        return None
    return sum(nums) / len(nums)


def _std(values: Sequence[JSONValue]) -> JSONValue:
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if len(nums) != len(values) or not nums:
        return None
    if len(nums) == 1:
        return 0.0
    mean = sum(nums) / len(nums)
    return math.sqrt(sum((v - mean) ** 2 for v in nums) / (len(nums) - 1))


def _mean_doc(docs: Sequence[Mapping[str, JSONValue]]) -> dict[str, JSONValue]:
    """Field-wise means of equal-shape ``breakdown_json`` documents (layers too)."""
    out: dict[str, JSONValue] = {k: _mean([d[k] for d in docs]) for k in docs[0]
                                 if k != "layers"}
    per_sample = [d["layers"] for d in docs]
    layers: list[JSONValue] = []
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
    return Simulation(workload.name, tuple(runs), skipped, unused)


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
    """Report rows gathered over all workloads of one ``demo`` or ``reproduce`` run."""

    density: list[DensityRow] = field(default_factory=list)
    accelerators: list[AccelRow] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    layers: dict[str, list[LayerRow]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

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
    """One row per accelerator of a run that has a figure."""
    from prosparsity.reports.rows import AccelRow

    return [AccelRow.of_breakdown(workload, acc, bd)
            for acc, bd in run.result.results.items() if bd is not None]


def ablations(run: SampleRun) -> dict[str, Breakdown]:
    """Prosperity's ablations (Fig. 9: bit sparsity, dense, issue type 1) of the paper
    configuration, priced on the run's statistics (nothing is counted again)."""
    from prosparsity.accel.base import registry
    from prosparsity.accel.suite import Selection, stats_for

    entry = registry()[AcceleratorId.PROSPERITY]
    out: dict[str, Breakdown] = {}
    for label, changes in ABLATIONS.items():
        sel = Selection(entry, dataclasses.replace(entry.default_config(), **changes))
        bd = entry.simulate(stats_for(sel, run.stats), sel.config)
        if bd is not None:
            out[label] = bd
    return out


def sweep_rows(workload: Workload, run: SampleRun, bit: Breakdown,
               progress: Progress = _quiet) -> list[SweepRow]:
    """Prosperity at Figure 7's tile sizes (tile_m at the default tile_k, then tile_k at
    the default tile_m), normalised to ``bit`` (its bit-sparsity run): one count per
    tile; the run's own statistics serve its tile."""
    from prosparsity.accel.base import registry
    from prosparsity.analysis.density import count
    from prosparsity.paper.fig7 import SWEEP_TILE_K, SWEEP_TILE_M
    from prosparsity.reports.rows import SweepRow

    entry = registry()[AcceleratorId.PROSPERITY]
    config = entry.default_config()
    default = run.result.results.get(AcceleratorId.PROSPERITY)
    tiles = [(m, DEFAULT_TILE.tile_k) for m in SWEEP_TILE_M]
    tiles += [(DEFAULT_TILE.tile_m, k) for k in SWEEP_TILE_K if k != DEFAULT_TILE.tile_k]
    rows = []
    for tile_m, tile_k in tiles:
        if (tile_m, tile_k) == run.main.tile and default is not None:
            stats, product = run.main, default
        else:
            progress(f"{workload.name}: Prosperity at tile {tile_m}x{tile_k}")
            stats = count(workload, tile_m, tile_k)
            product = entry.simulate(
                stats, dataclasses.replace(config, tile_m=tile_m, tile_k=tile_k))
        if product is None:
            raise ConfigError("prosperity", "the Prosperity model returned no figure")
        rows.append(SweepRow.of_runs(workload.name, stats, product, bit))
    return rows


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
