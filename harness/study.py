"""The last step of ``demo`` and ``reproduce``: a study's reports printed, then written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prosparsity.harness.console import Output
    from prosparsity.studies import Study


def print_and_write(study: Study, out: Path, *, plots: bool, output: Output) -> int:
    """Print the headline (if any), every report and the comparison summary; write the
    exports to ``out``. Returns how many values differ from their reference."""
    from rich.rule import Rule

    from prosparsity.reports.render import render_headline, render_summary

    head = study.the_headline()
    if head is not None:
        output.print(render_headline(head))
        output.print("")
    reports = study.reports()
    output.reports(reports)
    written = study.write(out, plots=plots)
    output.print(Rule("summary"))
    output.print(render_summary(reports))
    for message in study.skipped:
        output.warn(f"skipped: {message}")
    output.info(f"wrote {len(written)} files to {out}")
    return sum(len(r.flagged()) for r in reports)
