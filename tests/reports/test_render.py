"""Reports rendered as text through a fixed, colourless console, compared exactly.

The expected tables are in ``golden/*.txt``; after an intended change of the layout,
regenerate them with ``REGEN_GOLDEN=1 pytest tests/reports/test_render.py`` and review the diff.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from prosparsity.harness.console import Output
from prosparsity.reports.model import Report
from prosparsity.reports.render import format_diff, render_report, render_summary

GOLDEN = Path(__file__).parent / "golden"


def _text(renderable) -> str:
    buf = io.StringIO()
    Output(stdout=buf, width=200, color=False).print(renderable)
    text = buf.getvalue()
    assert "\x1b[" not in text  # no escape codes on a colourless console
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.mark.parametrize("name", ["density", "accelerators", "layers"])
def test_rendered_table(name: str, request) -> None:
    report: Report = request.getfixturevalue(name)
    text = _text(render_report(report))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("REGEN_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_summary_lists_the_differences(accelerators: Report, density: Report) -> None:
    lines = _text(render_summary([density, accelerators])).splitlines()
    n = len(density.compared()) + len(accelerators.compared())
    assert lines[0] == (f"{n} values compared with a reference: "
                        f"{n - 10} match, 10 differ.")
    assert "  ✗ vgg16_cifar10 PTB latency_s: ours 0.2, ref 0.145917 (+37.06%)" in lines
    assert len(lines) == 11  # the head line and the 10 differences


def test_summary_without_references() -> None:
    empty = Report(kind="density", title="t", columns=(), records=())
    assert _text(render_summary([empty])) == (
        "No reference values for these workloads.\n")


def test_format_diff_marks(density: Report) -> None:
    rec = density.records[0]
    assert format_diff(rec) == "+2.6e-15 ✓"
