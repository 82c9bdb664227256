"""The last stage of ``demo`` and ``reproduce``: reports from the collected rows, printed
and written (CSV, JSON, Markdown, PNG, ``summary.md``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.errors import HarnessError
from prosparsity.core.ids import AcceleratorId

if TYPE_CHECKING:
    from prosparsity.harness.console import Output
    from prosparsity.harness.envelope import Source
    from prosparsity.harness.pipeline import Collector
    from prosparsity.reports.compare import ReferenceSource
    from prosparsity.reports.headline import Headline
    from prosparsity.reports.model import Report
    from prosparsity.reports.rows import AccelRow


def check_out_dir(out: str | Path) -> Path:
    """Fail before any work when ``--out`` cannot become a folder of exports
    (:func:`prosparsity.core.atomic.check_output_dir`); returns it as a Path.

    Raises:
        WriteError: an empty name, a path into ``/dev``, or ``out`` or one of its parents
            exists and is not a folder.
    """
    from prosparsity.core.atomic import check_output_dir

    return check_output_dir(out, "--out")


#: The GPU-equivalent models, in the order a GPU baseline is chosen among them.
GPU_MODELS = (AcceleratorId.GPU_A100, AcceleratorId.GPU_H100)

#: The accelerators of the per-layer tables and plots (demo and reproduce).
LAYER_ACCELERATORS = (AcceleratorId.PROSPERITY, AcceleratorId.PTB)


def gpu_baseline(rows: Sequence[AccelRow]) -> AcceleratorId:
    """The GPU to show speedups over: the paper's measured A100 where any workload has it,
    else the first GPU-equivalent model among the rows (else the A100)."""
    ids = [AcceleratorId.parse(r.accelerator) for r in rows]
    if AcceleratorId.A100 in ids:
        return AcceleratorId.A100
    return next((i for i in ids if i in GPU_MODELS), AcceleratorId.A100)


def build_reports(collected: Collector, official: ReferenceSource,
                  gpu: AcceleratorId | None = None,
                  baseline: AcceleratorId = AcceleratorId.PTB) -> list[tuple[str, Report]]:
    """``(file stem, Report)`` for every report the collected rows allow.

    The density report is Figure 11: its reference is the paper first. The other reports
    prefer the authors' simulator run on the very same trace (``official``) and fall back
    to the paper, so a trace that is not the paper's data (a synthetic one) is still
    checked number for number against the simulator. Speedups and energy efficiency are
    normalised to ``baseline`` (PTB unless the user names another), with the paper's
    Eyeriss and the GPU beside it. Titles and notes say which workloads' spikes are
    synthetic and whose totals leave out layers skipped at capture.
    """
    from prosparsity.reports.build import (
        accelerator_report,
        density_report,
        layer_report,
        sweep_report,
        throughput_report,
    )
    from prosparsity.reports.paper import paper_reference

    paper_first: Sequence[ReferenceSource] = (paper_reference, official)
    references: Sequence[ReferenceSource] = (official, paper_reference)
    reports: list[tuple[str, Report]] = []
    if collected.density:
        reports.append(("density", density_report(collected.density, paper_first)))
    if collected.accelerators:
        also = [a for a in (AcceleratorId.EYERISS, gpu or gpu_baseline(collected.accelerators))
                if a != baseline]
        reports.append(("accelerators", accelerator_report(
            collected.accelerators, baseline=baseline, also=also, references=references)))
        reports.append(("throughput", throughput_report(collected.accelerators)))
    if collected.sweep:
        reports.append(("sweep", sweep_report(collected.sweep, references)))
    for workload, rows in collected.layers.items():
        reports.append((f"layers_{workload}", layer_report(rows, references)))
    return [(stem, marked(report, collected.sources)) for stem, report in reports]


def marked(report: Report, sources: Mapping[str, Source]) -> Report:
    """``report`` with its title marked where its workloads' spikes are synthetic or
    their totals exclude layers skipped at capture, and notes naming them."""
    workloads = [w for w in dict.fromkeys(r.workload for r in report.records) if w in sources]
    synthetic = [w for w in workloads if sources[w].provenance.synthetic]
    partial = [w for w in workloads if sources[w].provenance.skipped]
    no_lif = [w for w in workloads if sources[w].provenance.without_neuron]
    marks, notes = [], []
    if synthetic:
        marks.append(f"synthetic spikes: {', '.join(synthetic)}")
        notes.append("Synthetic spikes (random, at the workload's shapes; not a network's "
                     f"activity): {', '.join(synthetic)}.")
    if partial:
        marks.append(f"totals exclude GEMMs skipped at capture: {', '.join(partial)}")
        notes += [f"{w}: skipped at capture, in no total (input not spikes): "
                  f"{sources[w].provenance.skipped_text()}." for w in partial]
    if no_lif:
        marks.append(f"LIF cost missing: {', '.join(no_lif)}")
        notes += [f"{w}: no recognised neuron before "
                  f"{', '.join(sources[w].provenance.without_neuron)} (LIF cost missing)."
                  for w in no_lif]
    if not marks:
        return report
    return dataclasses.replace(report, title=f"{report.title} — {'; '.join(marks)}",
                               notes=report.notes + tuple(notes))


def headline_of(collected: Collector) -> Headline:
    """The paper's headline beside ours (:func:`prosparsity.reports.headline.headline`),
    over the collected workloads (ablations left out), each named real or synthetic."""
    from prosparsity.reports.build import VARIANT_SEPARATOR
    from prosparsity.reports.headline import TraceKind, headline

    rows = [r for r in collected.accelerators if VARIANT_SEPARATOR not in r.accelerator]
    kinds = {w: TraceKind.SYNTHETIC if s.provenance.synthetic else TraceKind.REAL
             for w, s in collected.sources.items()}
    return headline(rows, kinds)


def write_and_print(collected: Collector, official: ReferenceSource, out: Path, *,
                    plots: bool, output: Output, title: str,
                    gpu: AcceleratorId | None = None,
                    baseline: AcceleratorId = AcceleratorId.PTB,
                    with_headline: bool = False) -> int:
    """Print every report and the summary; write the exports. Returns the flag count.

    ``with_headline`` adds the headline section (``reproduce``): printed first, written
    as ``headline.{json,md}`` and into ``summary.md``.
    """
    from rich.rule import Rule

    from prosparsity.reports.export import (
        atomic_write,
        export_headline,
        export_report,
        headline_markdown,
        to_markdown,
    )
    from prosparsity.reports.render import render_headline, render_report, render_summary

    reports = build_reports(collected, official, gpu=gpu, baseline=baseline)
    head = headline_of(collected) if with_headline and collected.accelerators else None
    written: list[Path] = []
    try:
        sections = []
        if head is not None:
            output.print(render_headline(head))
            output.print("")
            written += export_headline(head, out)
            sections.append(headline_markdown(head))
        for stem, report in reports:
            output.print(render_report(report))
            output.print("")
            written += export_report(report, out, stem=stem, plot=plots)
        sections += [to_markdown(report) for _, report in reports]
        if collected.skipped:
            sections.append(
                "Skipped:\n\n" + "\n".join(f"- {s}" for s in collected.skipped) + "\n")
        written.append(
            atomic_write(out / "summary.md", f"# {title}\n\n" + "\n".join(sections)))
    except OSError as exc:  # permission denied, disk full, ... (each file is atomic)
        raise HarnessError(f"--out {out}: cannot write the exports: "
                           f"{exc.strerror or exc}") from None
    output.print(Rule("summary"))
    output.print(render_summary([r for _, r in reports]))
    for message in collected.skipped:
        output.warn(f"skipped: {message}")
    output.info(f"wrote {len(written)} files to {out}")
    return sum(len(r.flagged()) for _, r in reports)
