"""Rich renderables of reports (terminal) and the cell formatting shared with Markdown.

Renderers return rich objects; printing goes through
:class:`prosparsity.harness.console.Output` (data on stdout). With a colourless console
(tests, pipes) the same tables come out as plain text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from prosparsity.reports.headline import Headline
from prosparsity.reports.metrics import Tolerance
from prosparsity.reports.model import Column, Record, Report

OK_MARK = "✓"
FLAG_MARK = "✗"

KEY_HEADERS = {"workload": "Workload", "accelerator": "Accelerator", "layer": "Layer",
               "config": "Tile"}


def format_value(value: float | None, fmt: str) -> str:
    """One number in a column's format; ``—`` for missing, ``inf`` for infinities."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if fmt.endswith("d"):
        return format(int(round(value)), fmt)
    return format(value, fmt)


def format_cell(record: Record | None, column: Column, row: dict[str, Record]) -> str:
    """Our value of one cell, with ``± spread`` when the column has a spread metric, or
    ``low–high`` when it shows a range."""
    if record is None:
        return ""
    if column.text:
        return record.text
    text = format_value(record.value, column.fmt)
    if column.upper:
        upper = row.get(column.upper)
        if record.value is None or upper is None or upper.value is None:
            return "—"
        return f"{text}–{format_value(upper.value, column.fmt)}"
    spread = row.get(column.spread) if column.spread else None
    if spread is not None and spread.value is not None:
        text += f" ± {format_value(spread.value, column.fmt)}"
    return text


def format_diff(record: Record | None) -> str:
    """Relative difference and a mark: ``+1.2e-16 ✓``, ``-3.40% ✗``; empty without one."""
    if record is None or record.rel_diff is None:
        return ""
    diff = record.rel_diff
    if diff == 0.0:
        text = "0"
    elif not math.isfinite(diff):
        text = str(diff)
    elif record.tolerance is Tolerance.COST:
        text = f"{diff:+.2%}"
    else:
        text = f"{diff:+.1e}"
    return f"{text} {FLAG_MARK if record.flagged else OK_MARK}"


class Layout(NamedTuple):
    """A report's wide table as text: what every renderer draws.

    Attributes:
        headers: one per shown column.
        cells: one line of text cells per table row.
        flags: per cell, whether it differs from its reference beyond tolerance.
        left: per column, aligned left (row keys and columns of words) or right
            (numbers).
    """

    headers: list[str]
    cells: list[list[str]]
    flags: list[list[bool]]
    left: list[bool]


def layout(report: Report) -> Layout:
    """The wide table of a report as text: headers, cells, flagged cells, alignment.

    For every column whose metric has a reference somewhere, two more columns follow:
    the reference (``ref``) and the relative difference (``Δ``). Metric columns empty in
    every row are left out.
    """
    compared = {c.metric for c in report.columns
                if c.compare and not c.text and report.has_reference(c.metric)}
    headers = list(report.key_headers) or [KEY_HEADERS.get(k, k) for k in report.row_keys]
    left = [True] * len(headers)
    keep = [True] * len(headers)
    for col in report.columns:
        headers.append(col.header)
        left.append(col.left)
        keep.append(col.keep)
        if col.metric in compared:
            headers += ["ref", "Δ"]
            left += [False, False]
            keep += [False, False]
    cells: list[list[str]] = []
    flags: list[list[bool]] = []
    for key, row in report.rows():
        line = list(key)
        flag = [False] * len(key)
        for col in report.columns:
            rec = row.get(col.metric)
            line.append(format_cell(rec, col, row))
            flag.append(False)
            if col.metric in compared:
                ref = "" if rec is None or rec.reference is None else format_value(
                    rec.reference, col.fmt)
                line += [ref, format_diff(rec)]
                flag += [False, bool(rec and rec.flagged)]
        cells.append(line)
        flags.append(flag)
    # Drop metric columns empty in every row (e.g. no energy model), with their ref/Δ;
    # a column to keep stays while some row has a record of it ("—": not recorded).
    shown = [i for i in range(len(headers))
             if i < len(report.row_keys) or any(line[i] not in ("", "—") for line in cells)
             or (keep[i] and any(line[i] for line in cells))]
    return Layout([headers[i] for i in shown], [[line[i] for i in shown] for line in cells],
                  [[f[i] for i in shown] for f in flags], [left[i] for i in shown])


#: Above this many rows :func:`plain_report` draws a table: rich lays out about 2,000
#: rows a second, plain text 10,000 rows in a few milliseconds.
RICH_ROWS = 500


def render_report(report: Report) -> RenderableType:
    """A rich table of the report with its notes under it (:func:`plain_report`'s text,
    without colour, above :data:`RICH_ROWS` rows)."""
    headers, cells, flags, left = layout(report)
    if len(cells) > RICH_ROWS:
        return Text(plain_report(report, (headers, cells, flags, left)), no_wrap=True,
                    overflow="ignore", end="")
    table = Table(title=Text(report.title, style="italic"), title_justify="left",
                  header_style="bold", show_lines=False)
    for header, is_left in zip(headers, left, strict=True):
        # too narrow a terminal folds a cell onto two lines; it never cuts a number
        table.add_column(header, justify="left" if is_left else "right", overflow="fold")
    for line, flag in zip(cells, flags, strict=True):
        table.add_row(*(Text(cell, style="bold red" if f else ("green" if cell.endswith(
            OK_MARK) else "")) for cell, f in zip(line, flag, strict=True)))
    notes = [Text(note, style="dim") for note in report.notes]
    return Group(table, *notes)


def plain_report(report: Report, laid_out: Layout | tuple | None = None) -> str:
    """The report as aligned plain text: title, headers, a rule, one line per row, the
    notes; cells are :func:`layout`'s, so it reads as :func:`render_report` does."""
    headers, cells, flags, left = laid_out or layout(report)
    widths = [max([len(h), *(len(line[c]) for line in cells)]) for c, h in enumerate(headers)]

    def line(texts: Sequence[str]) -> str:
        return "  ".join(t.ljust(w) if lf else t.rjust(w)
                         for t, w, lf in zip(texts, widths, left, strict=True)).rstrip()

    body = [report.title, line(headers), "  ".join("-" * w for w in widths)]
    body += [line(texts) for texts in cells]
    return "\n".join([*body, *report.notes]) + "\n"


def render_summary(reports: Sequence[Report], limit: int = 10) -> RenderableType:
    """One paragraph: how many values were compared with a reference and which differ."""
    compared = [r for rep in reports for r in rep.compared()]
    flagged = [r for rep in reports for r in rep.flagged()]
    if not compared:
        return Text("No reference values for these workloads.")
    head = Text(f"{len(compared)} values compared with a reference: "
                f"{len(compared) - len(flagged)} match, {len(flagged)} differ.",
                style="bold red" if flagged else "bold green")
    lines: list[RenderableType] = [head]
    for rec in flagged[:limit]:
        where = " ".join(x for x in (rec.workload, rec.accelerator, rec.config, rec.layer) if x)
        lines.append(Text(f"  {FLAG_MARK} {where} {rec.metric}: ours {rec.value:.6g}, "
                          f"ref {rec.reference:.6g} ({format_diff(rec).split()[0]})"))
    if len(flagged) > limit:
        lines.append(Text(f"  ... and {len(flagged) - limit} more (see the CSV exports)"))
    return Group(*lines)


def render_headline(headline: Headline) -> RenderableType:
    """The headline section: the abstract's claim, Figure 8 reduced the same way over
    the same workloads, and ours, each row naming its workloads and their traces."""
    headers, cells, notes = headline.table()
    table = Table(title=headline.title, title_justify="left", header_style="bold")
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if 0 < i < len(headers) - 1 else "left",
                         no_wrap=i < len(headers) - 1, overflow="fold")
    for line in cells:
        table.add_row(*line)
    return Group(table, *(Text(note, style="dim") for note in notes))
