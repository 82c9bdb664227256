"""Studies: several workloads counted and priced together, and their reports.

* :func:`demo`: the embedded trained models, captured on their offline data, counted
  once per sample and priced by Prosperity, PTB and the GPU-equivalent model, with
  Figure 7's tile sweep of the first model;
* :func:`reproduce`: the paper's figures from the authors' per-workload spike dumps
  (every accelerator, Prosperity's ablations, Figure 7's sweep), beside the paper's and
  the authors' simulator's numbers;
* :func:`explore`: a design-space sweep (:mod:`prosparsity.sweep`) from a spec.

A :class:`Study` holds the simulations and builds the reports (Figures 7, 8, 11, Table
4, the per-layer breakdowns, the headline); :meth:`Study.write` writes them as CSV, JSON,
Markdown, PNG, ``summary.md`` and one self-contained ``report.html``. Nothing here
prints; progress goes to an optional callback.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import HarnessError
from prosparsity.engine import Progress, simulate
from prosparsity.longform import LongForm, titled_report
from prosparsity.paper.study import ABLATIONS, FIG8_NORMALISATION, HEADLINE_BASELINE, SUBJECT
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.results import Simulation

if TYPE_CHECKING:
    from prosparsity.reports.compare import ReferenceSource
    from prosparsity.reports.headline import Headline, Subject
    from prosparsity.reports.model import Report
    from prosparsity.reports.rows import AccelRow, SweepRow
    from prosparsity.results import AcceleratorResult
    from prosparsity.sweep.engine import SweepOutcome
    from prosparsity.sweep.spec import SweepSpec
    from prosparsity.sweep.summary import SweepSummary

__all__ = ["ABLATIONS", "Study", "SweepResult", "demo", "explore", "reproduce"]

#: The demo's accelerators and those of the per-layer tables and plots: the paper's
#: proposal and its headline's baseline (the demo adds the first GPU-equivalent model).
DEMO_ACCELERATORS = (SUBJECT, HEADLINE_BASELINE)
LAYER_ACCELERATORS = DEMO_ACCELERATORS


def _gpus(*, reported: bool) -> list[str]:
    """The registered GPUs, in the registry's order: the measured ones (``reported``)
    or the GPU-equivalent models."""
    from prosparsity.accel.registry import registry

    return [m.name for m in registry().values() if m.gpu and m.reported == reported]


def _quiet(_message: str) -> None:
    return None


@dataclass(frozen=True, repr=False)
class Study(LongForm):
    """Several workloads, each counted once and priced by several accelerators.

    Attributes:
        title: what the study is (``prosparsity demo``).
        simulations: one per workload, in order.
        ablations: workload -> Prosperity's ablation label -> its result.
        sweep: Figure 7's points (Prosperity at the paper's tile sizes).
        layers: the workloads whose per-layer breakdown is reported.
        references: the authors' simulator's outputs to compare with (beside the paper).
        skipped: parts that could not be produced, one line each.
        baseline: the accelerator speedup and energy efficiency are normalised to.
        headline: report the paper's headline (``reproduce``).
    """

    title: str
    simulations: tuple[Simulation, ...]
    ablations: Mapping[str, Mapping[str, AcceleratorResult]] = field(default_factory=dict)
    sweep: tuple[SweepRow, ...] = ()
    layers: tuple[str, ...] = ()
    references: ReferenceSource | None = None
    skipped: tuple[str, ...] = ()
    baseline: str = HEADLINE_BASELINE
    headline: bool = False

    def _rows(self) -> list[AccelRow]:
        rows: list[AccelRow] = []
        for sim in self.simulations:
            rows += sim.rows()
            rows += [r.row(label) for label, r in self.ablations.get(sim.workload, {}).items()]
        return rows

    def _display(self, name: str) -> str:
        from prosparsity.accel.registry import find

        model = find(name)
        return model.display if model is not None else name

    def named_reports(self) -> list[tuple[str, Report]]:
        """``(file stem, report)`` for every report the study allows, titled with its
        workloads' provenance: density (Figure 11), accelerators (Figure 8), throughput
        (Table 4), sweep (Figure 7), ``layers_<workload>``.

        Figure 11 is compared with the paper first; the others with the authors'
        simulator run on the same trace first, then the paper. Speedups are normalised
        to :attr:`baseline`, with the paper's Eyeriss and a GPU beside it.
        """
        from prosparsity.reports.build import (
            accelerator_report,
            density_report,
            layer_report,
            sweep_report,
            throughput_report,
        )
        from prosparsity.reports.paper import paper_reference

        official = [] if self.references is None else [self.references]
        paper_first: list[ReferenceSource] = [paper_reference, *official]
        references: list[ReferenceSource] = [*official, paper_reference]
        out: list[tuple[str, Report]] = []
        densities = [s.densities.row() for s in self.simulations if s.densities.samples[0]
                     .has_data]
        if densities:
            out.append(("density", density_report(densities, paper_first)))
        rows = self._rows()
        if rows:
            also = [self._display(a) for a in (FIG8_NORMALISATION, self._gpu(rows))
                    if a != self.baseline]
            out.append(("accelerators", accelerator_report(
                rows, baseline=self._display(self.baseline), also=also,
                references=references)))
            out.append(("throughput", throughput_report(rows)))
        if self.sweep:
            out.append(("sweep", sweep_report(self.sweep, references)))
        for sim in self.simulations:
            if sim.workload in self.layers:
                densities_of = sim.densities.layer_densities()
                layer_rows = [row for name in LAYER_ACCELERATORS
                              if sim.accelerators.get(name) is not None
                              for row in sim.accelerators[name].layer_rows(densities_of)]  # type: ignore[union-attr]
                if layer_rows:
                    out.append((f"layers_{sim.workload}", layer_report(layer_rows,
                                                                      references)))
        provenance = {s.workload: s.source.provenance for s in self.simulations
                      if s.source is not None}
        return [(stem, titled_report(report, provenance)) for stem, report in out]

    def reports(self) -> list[Report]:
        return [report for _, report in self.named_reports()]

    def _gpu(self, rows: Sequence[AccelRow]) -> str:
        """The GPU to show speedups over: the paper's measured GPU (the A100) where any
        workload has it, else the first GPU-equivalent model among the rows."""
        names = {r.accelerator.lower() for r in rows}
        measured = _gpus(reported=True)
        found = [g for g in measured if self._display(g).lower() in names]
        found += [g for g in _gpus(reported=False) if self._display(g).lower() in names]
        return found[0] if found else (measured[0] if measured else "")

    def the_headline(self) -> Headline | None:
        """The paper's headline beside ours (:func:`prosparsity.reports.headline.headline`)
        over the study's workloads (ablations left out), each named real or synthetic;
        with every priced accelerator whose registration declares a caveat or claims of
        its own publication (the plugins Phi and Bishop) beside Prosperity."""
        if not self.headline:
            return None
        from prosparsity.reports.headline import TraceKind, headline

        rows = [r for s in self.simulations for r in s.rows()]
        if not rows:
            return None
        kinds = {s.workload: TraceKind.SYNTHETIC if s.source is not None and
                 s.source.provenance.synthetic else TraceKind.REAL for s in self.simulations}
        return headline(rows, kinds, subjects=self._subjects())

    def _subjects(self) -> list[Subject]:
        """The priced accelerators with a caveat or claims, in the order the reports
        first show them."""
        from prosparsity.accel.registry import registry
        from prosparsity.reports.headline import Subject

        reg = registry()
        priced = dict.fromkeys(name for s in self.simulations
                               for name, r in s.accelerators.items() if r is not None)
        out = []
        for name in priced:
            model = reg[name]
            if not (model.label or model.claims):
                continue
            named = {(reg[c.baseline].display, c.comparison): c.value for c in model.claims
                     if c.baseline in reg}
            unnamed = {c.comparison: c.value for c in model.claims if not c.baseline}
            sources = dict.fromkeys(c.source for c in model.claims if c.source)
            out.append(Subject(model.display, model.label, named, unnamed,
                               "; ".join(sources)))
        return out

    def records(self, *, layers: bool = False) -> list[dict[str, Any]]:
        """Long form: every simulation's accelerators, per sample."""
        return [rec for s in self.simulations for rec in s.records(layers=layers)]

    def html_meta(self) -> dict[str, str]:
        """The study, its workloads, the baseline and each input's provenance."""
        meta = {"study": self.title,
                "workloads": ", ".join(s.workload for s in self.simulations),
                "baseline": self.baseline}
        for sim in self.simulations:
            if sim.source is not None:
                meta[f"input {sim.workload}"] = sim.source.describe(sim.workload)
        return meta

    def flagged(self) -> int:
        """How many values differ from their reference beyond tolerance."""
        return sum(len(r.flagged()) for r in self.reports())

    def write(self, out: str | Path, *, plots: bool = True,
              meta: Mapping[str, str] | None = None) -> list[Path]:
        """Write every report (CSV, JSON, Markdown, PNG), the headline, ``summary.md``
        and ``report.html`` into ``out``; returns the paths written.

        Raises:
            HarnessError: ``out`` cannot hold the exports (names the folder and why).
        """
        from prosparsity.reports.export import (
            atomic_write,
            export_headline,
            export_report,
            headline_markdown,
            to_markdown,
        )
        from prosparsity.reports.html import Figure, write_page

        out = check_out_dir(out)
        named = self.named_reports()
        head = self.the_headline()
        written: list[Path] = []
        try:
            sections = []
            if head is not None:
                written += export_headline(head, out)
                sections.append(headline_markdown(head))
            figures = []
            for stem, report in named:
                paths = export_report(report, out, stem=stem, plot=plots)
                written += paths
                figures += [Figure(report.title, p) for p in paths if p.suffix == ".png"]
            sections += [to_markdown(report) for _, report in named]
            if self.skipped:
                sections.append(
                    "Skipped:\n\n" + "\n".join(f"- {s}" for s in self.skipped) + "\n")
            written.append(atomic_write(out / "summary.md",
                                        f"# {self.title}\n\n" + "\n".join(sections)))
            written.append(write_page(
                out / "report.html", self.title, [r for _, r in named], figures,
                meta={**self.html_meta(), **(meta or {})},
                extra=[f"skipped: {s}" for s in self.skipped], headline=head))
        except OSError as exc:  # permission denied, disk full, ... (each file is atomic)
            raise HarnessError(f"--out {out}: cannot write the exports: "
                               f"{exc.strerror or exc}") from None
        return written


def check_out_dir(out: str | Path) -> Path:
    """``out`` as a folder of exports, checked before any work
    (:func:`prosparsity.core.atomic.check_output_dir`).

    Raises:
        WriteError: an empty name, a path into ``/dev``, or ``out`` or one of its parents
            exists and is not a folder.
    """
    from prosparsity.core.atomic import check_output_dir

    return check_output_dir(out, "--out")


# ----------------------------------------------------------------------------- parts
def ablations(sim: Simulation) -> dict[str, AcceleratorResult]:
    """Prosperity's ablations (bit sparsity, dense, issue type 1) of the published design,
    priced on the first sample's statistics (nothing is counted again), energy included
    as for any run: the bit-sparsity and dense modes run on the paper's chip, issue
    type 1 is other issue logic (energy withheld)."""
    from prosparsity.accel.registry import registry
    from prosparsity.accel.suite import Selection
    from prosparsity.engine import operations, price

    entry = registry()[SUBJECT]
    out: dict[str, AcceleratorResult] = {}
    for label, changes in ABLATIONS.items():
        sel = Selection(entry, dataclasses.replace(entry.default_config(), **changes))
        result = price(sim.stats[0], [sel], operations(sim.stats[0][0]))[entry.name]
        if result is not None:
            out[label] = result
    return out


def figure7(trace: Path, sim: Simulation, progress: Progress = _quiet) -> list[SweepRow]:
    """Prosperity at Figure 7's tile sizes (tile_m at the default tile_k, then tile_k at
    the default tile_m) on the first sample of ``trace``, normalised to Prosperity with
    bit sparsity at the default tile: the packaged ``figure7`` sweep spec, run by the
    sweep engine in this process. ``sim`` (that trace, counted and priced) answers its
    own tile, so each tile is counted once.

    Raises:
        ConfigError: the Prosperity model has no figure for this trace.
    """
    from prosparsity.core.errors import ConfigError
    from prosparsity.reports.rows import SweepRow
    from prosparsity.sweep.engine import run_sweep
    from prosparsity.sweep.spec import load_spec, packaged_spec

    spec = dataclasses.replace(load_spec(packaged_spec("figure7"), [str(trace)]), samples=1)
    progress(f"{sim.workload}: Prosperity at Figure 7's {len(spec.tiles)} tile sizes "
             "(sweep engine, in process)")
    outcome = run_sweep(spec, None, workers=0,
                        counted={(str(trace), 0, s.tile): s for s in sim.stats[0]})
    points = {(task.count.tile, task.settings["sparsity"]): (counted, priced)
              for task, counted, priced in outcome.points()}
    _, bit = points[(DEFAULT_TILE.tile_m, DEFAULT_TILE.tile_k), "bit"]
    rows = []
    for tile in spec.tiles:  # Figure 7's points, in the spec's order
        counted, product = points[tile, "product"]
        if product.latency_s is None or bit.latency_s is None or product.total_cycles is None:
            raise ConfigError("figure7", f"{sim.workload}: no Prosperity latency at tile "
                              f"{tile[0]}x{tile[1]}")
        rows.append(SweepRow(
            workload=sim.workload, tile_m=tile[0], tile_k=tile[1],
            latency_s=float(product.latency_s), bit_sparsity_latency_s=float(bit.latency_s),
            product_density=counted.product_density, bit_density=counted.bit_density,
            total_cycles=float(product.total_cycles)))
    return rows


# ----------------------------------------------------------------------------- demo
def demo(out: str | Path | None = None, *, samples: int = 4, tile_sweep: bool = True,
         baseline: str = HEADLINE_BASELINE, progress: Progress = _quiet) -> Study:
    """The main job: capture every embedded trained model (``samples`` test inputs, one
    per forward pass, batch 1 as in the paper), count each sample once, price Prosperity,
    PTB and the GPU-equivalent model (and ``baseline``), and sweep the first model's tile
    sizes (Figure 7). Traces are kept in ``out/traces`` when ``out`` is given.

    Raises:
        HarnessError: no model could be captured, or a bad baseline.
    """
    from prosparsity.accel.registry import find, registry
    from prosparsity.core.logs import quiet_notices
    from prosparsity.inputs import open as open_input
    from prosparsity.models.capture import capture_model
    from prosparsity.models.registry import list_models

    base = find(baseline)
    if base is None:
        raise HarnessError(f"--baseline {baseline}: unknown accelerator (known: "
                           f"{', '.join(registry())})")
    skipped: list[str] = []
    names = [a for a in DEMO_ACCELERATORS if a in registry()]
    if base.name not in names:
        names.append(base.name)
    gpu = next(iter(_gpus(reported=False)), None)
    if gpu is None:
        skipped.append("no GPU-equivalent model ('gpu-*') is registered")
    else:
        names.append(gpu)
    entries = [e for e in list_models() if e.trained]
    if not entries:
        raise HarnessError("no embedded trained model found (the model registry lists "
                           "no entry with a packaged checkpoint)")
    sims: list[Simulation] = []
    sweep_rows: list[SweepRow] = []
    with tempfile.TemporaryDirectory(prefix="prosparsity-demo-") as tmp:
        folder = Path(tmp) if out is None else check_out_dir(out) / "traces"
        for entry in entries:
            def step(done: int, total: int, name: str = entry.name) -> None:
                progress(f"{name}: captured sample {done}/{total}")

            try:  # e.g. a packaged checkpoint missing from this build
                with quiet_notices():
                    trace = capture_model(entry.name, folder / f"{entry.name}.h5",
                                          samples=samples, batch_size=1, progress=step).path
            except HarnessError as exc:
                skipped.append(f"{entry.name}: {exc}")
                continue
            with open_input(trace) as opened:
                progress(f"{entry.name}: analysing and simulating {opened.samples} "
                         "sample(s)")
                sim = simulate(opened, names, baseline=base.name)
            sims.append(sim)
            if tile_sweep and not sweep_rows and sim.accelerators.get(SUBJECT):
                sweep_rows = figure7(Path(trace), sim, progress)
    if not sims:
        raise HarnessError("the demo produced nothing: " + "; ".join(skipped))
    return Study("prosparsity demo", tuple(sims), sweep=tuple(sweep_rows),
                 layers=(sims[0].workload,), skipped=tuple(skipped), baseline=base.name)


# ----------------------------------------------------------------------------- reproduce
def reproduce(dumps: Sequence[tuple[str, Path]], *, references: ReferenceSource | None = None,
              tile_sweep: bool = True, synthetic: Sequence[str] = (),
              baseline: str = HEADLINE_BASELINE, progress: Progress = _quiet) -> Study:
    """The paper's figures from the authors' per-workload spike dumps: each dump imported
    with its workload preset, counted once, priced by every registered accelerator and
    Prosperity's ablations, and (``tile_sweep``) Prosperity at Figure 7's tile sizes.

    Args:
        dumps: ``(paper workload, dump file)`` pairs (``.pkl`` or ``.npz``).
        references: the authors' simulator's outputs on the same dumps.
        tile_sweep: run Figure 7's tile sweep on each dump.
        synthetic: workloads whose dump holds synthetic spikes (reports say so).
        baseline: the accelerator speedups are normalised to.
        progress: receives one line per step.

    Raises:
        HarnessError: nothing could be reproduced.
    """
    from prosparsity.inputs import InputKind, Source
    from prosparsity.inputs import open as open_input
    from prosparsity.traces.importer import import_dump
    from prosparsity.traces.provenance import Provenance

    sims: list[Simulation] = []
    ablated: dict[str, dict[str, AcceleratorResult]] = {}
    sweep_rows: list[SweepRow] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="prosparsity-reproduce-") as tmp:
        for name, path in dumps:
            progress(f"{name}: importing {path}")
            try:  # one bad dump spoils no other
                trace = Path(import_dump(path, name, Path(tmp) / f"{name}.h5"))
                with open_input(trace) as opened:
                    progress(f"{name}: counting and simulating every registered accelerator")
                    sim = simulate(opened, baseline=baseline)
                sim = dataclasses.replace(sim, source=Source(
                    InputKind.DUMP, Path(path), name,
                    provenance=Provenance(synthetic=name in synthetic)))
                sims.append(sim)
                if sim.accelerators.get(SUBJECT) is None:
                    skipped.append(f"{name}: no Prosperity model registered: no ablations, "
                                   "no sweep")
                    continue
                ablated[name] = ablations(sim)
                if tile_sweep:
                    sweep_rows += figure7(trace, sim, progress)
            except HarnessError as exc:
                skipped.append(f"{name}: {exc}")
    if not sims:
        raise HarnessError("nothing reproduced: " + "; ".join(skipped))
    return Study("prosparsity reproduce", tuple(sims), ablated, tuple(sweep_rows),
                 layers=tuple(s.workload for s in sims), references=references,
                 skipped=tuple(skipped), baseline=baseline, headline=True)


# ----------------------------------------------------------------------------- sweep
@dataclass(frozen=True, repr=False)
class SweepResult:
    """A sweep run: what was computed and written, and its summary.

    Attributes:
        outcome: the engine's outcome (plan, tables, files written, cache counts).
        summary: best configuration per workload and accelerator, speedups, Pareto fronts.
        spec: the spec that was run.
    """

    outcome: SweepOutcome
    summary: SweepSummary
    spec: SweepSpec | None = None

    def __repr__(self) -> str:
        return (f"<SweepResult {self.summary.name!r}, {len(self.summary.traces)} traces, "
                f"{self.outcome.plan.n_tasks} tasks>")

    def to_frame(self) -> Any:
        """The long-form results table (one row per trace, sample, accelerator,
        configuration, tile, metric) as a pandas DataFrame."""
        return self.outcome.tables.results.to_pandas()

    def to_arrow(self) -> Any:
        """The long-form results table as an Arrow table."""
        return self.outcome.tables.results

    def reports(self) -> list[Report]:
        return self.summary.reports()

    def __rich__(self) -> Any:
        from rich.console import Group

        from prosparsity.reports.render import render_report

        return Group(*(render_report(r) for r in self.reports()))

    def _repr_html_(self) -> str:
        from prosparsity.reports.html import report_fragment

        return "\n".join(report_fragment(r) for r in self.reports())

    def html_meta(self) -> dict[str, str]:
        """The spec, the baseline, the tasks, and each trace with its provenance."""
        outcome = self.outcome
        meta = {"sweep": self.summary.name if self.spec is None else
                f"{self.spec.name} ({self.spec.path})",
                "baseline": self.summary.baseline or "none (no speedups)",
                "tasks": f"{outcome.plan.n_tasks}: {outcome.computed} computed, "
                         f"{outcome.cached} from cache"}
        for trace in self.summary.traces:
            meta[f"input {trace.label}"] = (
                f"trace: {trace.trace}, {trace.samples} sample(s)"
                + (" (synthetic spikes: prosparsity trace synth)" if trace.synthetic else ""))
        return meta

    def write(self, out: str | Path, *, plots: bool = True) -> list[Path]:
        """Draw every plot into ``out/plots`` (``plots``) and write ``out/report.html``:
        the summary's reports, those plots, the spec and each trace's provenance, and the
        tool's version; returns the paths written.

        Raises:
            WriteError: a file cannot be written (names it and why).
        """
        from prosparsity.reports.html import Figure, write_page

        out = Path(out)
        drawn = self.summary.plot(out / "plots") if plots else []
        reports = self.reports()
        title = f"prosparsity sweep: {self.summary.name}"
        page = write_page(out / "report.html", title, reports,
                          [Figure(p.stem.replace("_", " "), p) for p in drawn],
                          meta=self.html_meta())
        return [*drawn, page]


def explore(spec: Any, out: str | Path | None = None, *, traces: Sequence[str] = (),
            baseline: str | None = None, **options: Any) -> SweepResult:
    """Run a design-space sweep: ``spec`` is a spec file, a packaged spec's name
    (``figure7``) or a :class:`~prosparsity.sweep.spec.SweepSpec`; ``options`` are
    :func:`prosparsity.sweep.engine.run_sweep`'s (``workers=0`` runs in this process,
    ``scheduler=`` a Dask scheduler's address, ``cache_dir``, ``observer``, ...).

    Raises:
        HarnessError: a bad spec (one line naming the file and the key), an unreadable
            trace, a failed task.
    """
    from prosparsity.accel.registry import find
    from prosparsity.sweep.engine import run_sweep
    from prosparsity.sweep.spec import SweepSpec, load_spec, packaged_spec
    from prosparsity.sweep.summary import summarise

    if not isinstance(spec, SweepSpec):
        path = Path(spec)
        if not path.exists() and path.suffix != ".toml" and "/" not in str(spec):
            path = packaged_spec(str(spec))
        spec = load_spec(path, traces)
    outcome = run_sweep(spec, out, **options)
    base = spec.baseline
    if baseline is not None:
        model = find(baseline)
        if model is None:
            raise HarnessError(f"--baseline {baseline}: unknown accelerator")
        base = model.name
    tables = outcome.tables
    return SweepResult(outcome, summarise(tables.aggregate, spec.name, base, tables.swept),
                       spec)
