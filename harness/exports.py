"""The last stage of ``demo`` and ``reproduce``: reports from the collected rows, printed
and written (CSV, JSON, Markdown, PNG, ``summary.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.errors import HarnessError
from prosparsity.core.ids import AcceleratorId

if TYPE_CHECKING:
    from prosparsity.harness.console import Output
    from prosparsity.harness.pipeline import Collector
    from prosparsity.reports.compare import ReferenceSource
    from prosparsity.reports.model import Report
    from prosparsity.reports.rows import AccelRow


def check_out_dir(out: Path) -> None:
    """Fail before any work when ``--out`` cannot become a folder of exports.

    Raises:
        HarnessError: ``out`` or one of its parents exists and is not a folder.
    """
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "" if path == out else f" ({path} is not a folder)"
                raise HarnessError(f"--out {out}: not a folder{what}")
            return


def gpu_baseline(rows: Sequence[AccelRow]) -> AcceleratorId:
    """The GPU to show speedups over: the paper's measured A100 where any workload has it,
    else the first GPU-equivalent model among the rows (else the A100)."""
    ids = [AcceleratorId.parse(r.accelerator) for r in rows]
    if AcceleratorId.A100 in ids:
        return AcceleratorId.A100
    gpus = (AcceleratorId.GPU_A100, AcceleratorId.GPU_H100)
    return next((i for i in ids if i in gpus), AcceleratorId.A100)


def build_reports(collected: Collector, official: ReferenceSource,
                  gpu: AcceleratorId | None = None) -> list[tuple[str, Report]]:
    """``(file stem, Report)`` for every report the collected rows allow.

    The density report is Figure 11: its reference is the paper first. The other reports
    prefer the authors' simulator run on the very same trace (``official``) and fall back
    to the paper, so a trace that is not the paper's data (a synthetic one) is still
    checked number for number against the simulator.
    """
    from prosparsity.reports.build import (
        accelerator_report,
        density_report,
        layer_report,
        sweep_report,
    )
    from prosparsity.reports.paper import paper_reference

    paper_first: Sequence[ReferenceSource] = (paper_reference, official)
    references: Sequence[ReferenceSource] = (official, paper_reference)
    reports: list[tuple[str, Report]] = []
    if collected.density:
        reports.append(("density", density_report(collected.density, paper_first)))
    if collected.accelerators:
        reports.append(("accelerators", accelerator_report(
            collected.accelerators, baseline=AcceleratorId.EYERISS,
            also=(AcceleratorId.PTB, gpu or gpu_baseline(collected.accelerators)),
            references=references)))
    if collected.sweep:
        reports.append(("sweep", sweep_report(collected.sweep, references)))
    for workload, rows in collected.layers.items():
        reports.append((f"layers_{workload}", layer_report(rows, references)))
    return reports


def write_and_print(collected: Collector, official: ReferenceSource, out: Path, *,
                    plots: bool, output: Output, title: str,
                    gpu: AcceleratorId | None = None) -> int:
    """Print every report and the summary; write the exports. Returns the flag count."""
    from rich.rule import Rule

    from prosparsity.reports.export import atomic_write, export_report, to_markdown
    from prosparsity.reports.render import render_report, render_summary

    reports = build_reports(collected, official, gpu=gpu)
    written: list[Path] = []
    try:
        for stem, report in reports:
            output.print(render_report(report))
            output.print("")
            written += export_report(report, out, stem=stem, plot=plots)
        sections = [to_markdown(report) for _, report in reports]
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
