"""Exports of a report: CSV (long form), JSON and Markdown, and reading them back.

CSV: one row per workload x accelerator x metric (plus layer and tile configuration where
they apply), with the reference, its source, the relative difference and the flag. Floats
are written with ``repr`` so they read back bit-identical. Every file is written to a
temporary name beside the target and renamed on success.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from prosparsity.core.atomic import atomic_write_bytes
from prosparsity.reports.headline import Headline
from prosparsity.reports.model import Record, Report
from prosparsity.reports.render import layout

CSV_FIELDS = ("report", "workload", "accelerator", "layer", "config", "metric", "unit",
              "value", "reference", "reference_source", "rel_diff", "flagged", "tolerance")


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file renamed on success.

    A full disk, a quota, an I/O error or a bad path is one
    :class:`~prosparsity.core.errors.WriteError` naming the path and the reason; the
    temporary file is removed (see :mod:`prosparsity.core.atomic`).
    """
    return atomic_write_bytes(path, data.encode() if isinstance(data, str) else data, "report")


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def to_csv(reports: Sequence[Report]) -> str:
    """Long-form CSV text of one or more reports."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for report in reports:
        for rec in report.records:
            writer.writerow({
                "report": str(report.kind), "workload": rec.workload,
                "accelerator": rec.accelerator, "layer": rec.layer, "config": rec.config,
                "metric": rec.metric, "unit": rec.unit, "value": _num(rec.value),
                "reference": _num(rec.reference), "reference_source": rec.reference_source,
                "rel_diff": _num(rec.rel_diff), "flagged": str(rec.flagged).lower(),
                "tolerance": str(rec.tolerance),
            })
    return buf.getvalue()


def read_csv(path: Path) -> list[tuple[str, Record]]:
    """Read a long-form CSV back: ``(report kind, record)`` per line."""
    out: list[tuple[str, Record]] = []
    with open(path, newline="") as fh:
        for line in csv.DictReader(fh):
            rec = Record(
                workload=line["workload"], accelerator=line["accelerator"],
                metric=line["metric"], unit=line["unit"], layer=line["layer"],
                config=line["config"],
                value=float(line["value"]) if line["value"] else None,
                reference=float(line["reference"]) if line["reference"] else None,
                reference_source=line["reference_source"], tolerance=line["tolerance"],
            )
            out.append((line["report"], rec))
    return out


def to_json(report: Report) -> str:
    """The report as a JSON document (see :meth:`Report.to_dict`)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=True) + "\n"


def read_json(path: Path) -> Report:
    """Read a report written by :func:`to_json`."""
    with open(path) as fh:
        return Report.from_dict(json.load(fh))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    """The report's wide table as GitHub Markdown, title as a heading, notes below."""
    headers, cells, _, left = layout(report)
    lines = [f"### {report.title}", "",
             "| " + " | ".join(_md_escape(h) for h in headers) + " |",
             "|" + "|".join(":---" if is_left else "---:" for is_left in left) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in line) + " |" for line in cells]
    if report.notes:
        lines.append("")
        lines += [f"- {_md_escape(n)}" for n in report.notes]
    return "\n".join(lines) + "\n"


def headline_markdown(headline: Headline) -> str:
    """The headline section as GitHub Markdown (title, table, notes)."""
    headers, cells, notes = headline.table()
    lines = [f"### {headline.title}", "",
             "| " + " | ".join(headers) + " |",
             "|:---|" + "---:|" * (len(headers) - 2) + ":---|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in line) + " |" for line in cells]
    lines.append("")
    lines += [f"- {_md_escape(n)}" for n in notes]
    return "\n".join(lines) + "\n"


def export_headline(headline: Headline, out_dir: Path) -> list[Path]:
    """Write ``headline.json`` and ``headline.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    doc = json.dumps(headline.to_json(), indent=2, allow_nan=False) + "\n"
    return [atomic_write(out_dir / "headline.json", doc),
            atomic_write(out_dir / "headline.md", headline_markdown(headline))]


def export_report(report: Report, out_dir: Path, stem: str | None = None,
                  plot: bool = True) -> list[Path]:
    """Write ``<stem>.csv``, ``.json``, ``.md`` (and ``.png`` when ``plot``) into ``out_dir``.

    Args:
        report: the report.
        out_dir: destination folder (created).
        stem: file name without suffix (default: the report kind).
        plot: also draw the PNG (imports matplotlib).

    Returns:
        The paths written.
    """
    out_dir = Path(out_dir)
    stem = stem or str(report.kind)
    written = [
        atomic_write(out_dir / f"{stem}.csv", to_csv([report])),
        atomic_write(out_dir / f"{stem}.json", to_json(report)),
        atomic_write(out_dir / f"{stem}.md", to_markdown(report)),
    ]
    if plot:
        from prosparsity.reports.plots import plot_report

        written += plot_report(report, out_dir, stem)
    return written
