"""HTML views of reports: a fragment per report (notebooks) and one self-contained page.

The cells are :func:`prosparsity.reports.render.layout`'s, the same text the terminal
shows, so a table reads the same everywhere. :func:`page` writes one file with every
table and plot of a run, its provenance and the tool's version; plots are embedded as
``data:`` URIs and the style sheet is inline, so nothing is fetched to view it.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from prosparsity.reports.model import Report
from prosparsity.reports.render import OK_MARK, layout

__all__ = ["Figure", "page", "report_fragment"]

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
    headers, cells, flags = layout(report)
    n_keys = len(report.row_keys)
    out = [f'<section class="report" data-kind="{html.escape(str(report.kind))}">',
           f"<h2>{html.escape(report.title)}</h2>", '<table class="prosparsity">', "<tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in headers]
    out.append("</tr>")
    for line, flag in zip(cells, flags, strict=True):
        out.append("<tr>")
        for i, (cell, flagged) in enumerate(zip(line, flag, strict=True)):
            css = ["num"] if i >= n_keys else []
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
         meta: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> str:
    """One self-contained HTML document: ``meta`` (tool version, command, provenance)
    as a list, every report, then every figure; ``extra`` lines of text go under the
    title (skipped parts, warnings)."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>",
             "</head><body>", f"<h1>{html.escape(title)}</h1>"]
    if meta:
        parts.append('<dl class="meta">')
        for key, value in meta.items():
            parts.append(f"<dt>{html.escape(key)}</dt><dd>{html.escape(value)}</dd>")
        parts.append("</dl>")
    parts += [f'<p class="note">{html.escape(line)}</p>' for line in extra]
    parts += [report_fragment(r) for r in reports]
    figures = list(figures)
    if figures:
        parts.append("<h2>Plots</h2>")
        parts += [_figure(f) for f in figures]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
