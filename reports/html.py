"""HTML views of reports: a fragment per report (notebooks) and one self-contained page.

The cells are :func:`prosparsity.reports.render.layout`'s, the same text the terminal
shows, so a table reads the same everywhere. :func:`page` lays out one document with
every table and plot of a run, its provenance and the tool's version; plots are embedded
as ``data:`` URIs and the style sheet is inline, so nothing is fetched to view it (no
script either). :func:`write_page` is the one writer of ``report.html`` (``demo``,
``reproduce``, ``simulate --html``, ``sweep``): atomic, the tool's version first.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prosparsity.reports.headline import Headline
from prosparsity.reports.model import Report
from prosparsity.reports.render import OK_MARK, layout

__all__ = ["Figure", "headline_fragment", "page", "report_fragment", "write_page"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1200px; color: #1b1b1b; line-height: 1.4; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; }
table.prosparsity { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
table.prosparsity th, table.prosparsity td { border-bottom: 1px solid #ddd;
       padding: 0.25rem 0.6rem; white-space: nowrap; }
table.prosparsity th { background: #f3f3f3; text-align: left; }
table.prosparsity td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.flag { color: #b00020; font-weight: bold; } td.ok { color: #1b7f3b; }
p.note { color: #555; font-size: 0.8rem; margin: 0.15rem 0; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem;
          font-size: 0.85rem; } dl.meta dt { color: #555; }
"""


def report_fragment(report: Report) -> str:
    """One report as an HTML ``<section>``: its title, its table (the terminal's cells)
    and its notes."""
    headers, cells, flags, left = layout(report)
    out = [f'<section class="report" data-kind="{html.escape(str(report.kind))}">',
           f"<h2>{html.escape(report.title)}</h2>", '<table class="prosparsity">', "<tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in headers]
    out.append("</tr>")
    for line, flag in zip(cells, flags, strict=True):
        out.append("<tr>")
        for i, (cell, flagged) in enumerate(zip(line, flag, strict=True)):
            css = [] if left[i] else ["num"]
            if flagged:
                css.append("flag")
            elif cell.endswith(OK_MARK):
                css.append("ok")
            attr = f' class="{" ".join(css)}"' if css else ""
            out.append(f"<td{attr}>{html.escape(cell)}</td>")
        out.append("</tr>")
    out.append("</table>")
    out += [f'<p class="note">{html.escape(note)}</p>' for note in report.notes]
    out.append("</section>")
    return "\n".join(out)


def headline_fragment(headline: Headline) -> str:
    """The paper's headline beside ours (:meth:`~prosparsity.reports.headline.Headline.
    table`'s text, as the terminal shows it) as an HTML ``<section>``."""
    headers, cells, notes = headline.table()
    out = ['<section class="report" data-kind="headline">',
           f"<h2>{html.escape(headline.title)}</h2>", '<table class="prosparsity">', "<tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in headers]
    out.append("</tr>")
    last = len(headers) - 1
    number = ' class="num"'
    for line in cells:
        out.append("<tr>" + "".join(
            f'<td{"" if i in (0, last) else number}>{html.escape(c)}</td>'
            for i, c in enumerate(line)) + "</tr>")
    out.append("</table>")
    out += [f'<p class="note">{html.escape(note)}</p>' for note in notes]
    out.append("</section>")
    return "\n".join(out)


@dataclass(frozen=True)
class Figure:
    """A plot for the page: its caption and its PNG file."""

    caption: str
    png: Path


def _figure(fig: Figure) -> str:
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    caption = html.escape(fig.caption)
    return (f'<figure class="plot"><img alt="{caption}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption}</figcaption></figure>")


def page(title: str, reports: Sequence[Report], figures: Iterable[Figure] = (),
         meta: Mapping[str, str] | None = None, extra: Sequence[str] = (),
         headline: Headline | None = None) -> str:
    """One self-contained HTML document: ``meta`` (tool version, command, provenance)
    as a list, the ``headline`` (if any), every report, then every figure; ``extra``
    lines of text go under the title (skipped parts, warnings)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>",
             "</head><body>", f"<h1>{html.escape(title)}</h1>"]
    if meta:
        parts.append('<dl class="meta">')
        for key, value in meta.items():
            parts.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(value)}</dd>")
        parts.append("</dl>")
    parts += [f'<p class="note">{html.escape(line)}</p>' for line in extra]
    if headline is not None:
        parts.append(headline_fragment(headline))
    parts += [report_fragment(r) for r in reports]
    figures = list(figures)
    if figures:
        parts.append("<h2>Plots</h2>")
        parts += [_figure(f) for f in figures]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_page(path: Path, title: str, reports: Sequence[Report],
               figures: Iterable[Figure] = (), meta: Mapping[str, str] | None = None,
               extra: Sequence[str] = (), headline: Headline | None = None) -> Path:
    """Write :func:`page` to ``path`` through a temporary file renamed on success, with
    the tool's name and version as the first line of its ``meta``; returns ``path``.

    Raises:
        WriteError: ``path`` cannot be a file, or the write failed (names it and why).
    """
    from prosparsity.core.atomic import atomic_write_bytes
    from prosparsity.core.version import TOOL, tool_version

    meta = {"tool": f"{TOOL} {tool_version()}", **(meta or {})}
    return atomic_write_bytes(path, page(title, reports, figures, meta, extra,
                                         headline).encode(), "report")
