"""``report.html`` rendered in a real headless Chromium (tests/browser.py): the page of
``simulate --html`` and of a sweep hold every table and plot of the run, each image
decodes, nothing is logged as an error and nothing is fetched; a page that breaks those
rules is caught. (The pages of ``demo`` and ``reproduce`` are checked beside their runs,
in tests/harness/test_demo.py and test_reproduce_lenet.py.)"""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from tests.browser import Chromium, check_page, chromium  # noqa: F401  (fixture)
from tests.sweep.conftest import run_main

SPEC = """
traces = ["one.h5"]
[tiles]
tile_m = [32, 256]
tile_k = [16]
[accelerators.prosperity]
issue_type = [1, 2]
[accelerators.ptb]
"""


def test_a_broken_page_is_caught(chromium: Chromium, tmp_path: Path) -> None:  # noqa: F811
    """The checks can fail: a script error, a console error, a request off the page and
    an image that does not decode are each seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body><table></table>"
        '<img src="data:image/png;base64,AAAA"><img src="http://192.0.2.1/x.png">'
        "<script>console.error('boom'); nothing()</script></body></html>")
    shown = chromium.render(page)
    assert (shown.title, shown.tables, shown.images) == ("broken", 1, 2)
    assert shown.natural_widths == [0, 0]
    assert shown.remote_requests == ["http://192.0.2.1/x.png"]
    assert any("boom" in e for e in shown.errors)
    assert any("nothing is not defined" in e for e in shown.errors)
    with pytest.raises(AssertionError):
        check_page(chromium, page, tables=1, images=2)


def test_simulate_writes_one_page_with_every_table_and_plot(
        chromium: Chromium, lenet5_npz: Path, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "out" / "report.html"
    code, stdout, err = run_main(monkeypatch, "simulate", str(lenet5_npz), "-a", "prosperity",
                                 "-a", "ptb", "--layers", "--html", str(page))
    assert code == 0, err
    assert f"wrote {page}" in err and not list(page.parent.glob("*.tmp-*"))
    # the terminal's three reports (comparison, throughput, layers), each with its plot
    shown = check_page(chromium, page, tables=3, images=3)
    assert shown.title == "prosparsity simulate: lenet5_mnist.npz"
    assert shown.headings == ["Accelerator comparison (paper Fig. 8)",
                              "Throughput and energy efficiency (paper Table 4)",
                              "Per-layer breakdown: lenet5_mnist", "Plots"]
    assert "prosparsity-harness" in shown.text  # the tool and its version
    assert "dump: lenet5_mnist.npz" in shown.text  # the input
    assert "41,178" in shown.text and "41,178" in stdout  # Prosperity's cycles, as printed
    # a bad target is refused before any work, with one line
    code, _, err = run_main(monkeypatch, "simulate", str(lenet5_npz), "--html", str(tmp_path))
    assert code == 2 and "is a directory" in err


def test_sweep_writes_one_page_with_its_summary_and_plots(
        chromium: Chromium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from prosparsity.traces.synth import SynthSpec, write_synthetic

    write_synthetic(SynthSpec("lenet5_mnist", 0.25, samples=1, seed=1), tmp_path / "one.h5")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code, stdout, err = run_main(monkeypatch, "sweep", str(spec), "--out", str(out),
                                 "--workers", "0", "--no-dashboard")
    assert code == 0, err
    plots = sorted((out / "plots").glob("*.png"))
    assert {"pareto_lenet5_mnist.png", "tiles_lenet5_mnist_prosperity.png"} <= {
        p.name for p in plots}
    # one table per summary report the terminal printed (each titled "spec: ..."), and
    # every plot drawn
    titles = [line.strip() for line in stdout.splitlines() if line.startswith("spec: ")]
    assert len(titles) >= 2
    shown = check_page(chromium, out / "report.html", tables=len(titles), images=len(plots))
    assert shown.headings == [*titles, "Plots"]
    assert "synthetic spikes" in shown.text and "7: 7 computed, 0 from cache" in shown.text
    assert "report.html" in err


def test_the_page_is_the_reports_cells(tmp_path: Path, lenet5_npz: Path) -> None:
    """Without a browser: the page's cells are the terminal's, escaped, and written
    atomically with the tool's version first."""
    import prosparsity as ps
    from prosparsity.reports.render import layout

    sim = ps.simulate(lenet5_npz, ["prosperity", "ptb"])
    page = sim.write_html(tmp_path / "r.html", plots=False, meta={"note": "<b>&"})
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert text.index("<dt>tool</dt>") < text.index("<dt>workload</dt>")
    assert "&lt;b&gt;&amp;" in text
    for report in sim.reports():
        for line in layout(report).cells:
            for cell in line:
                assert f">{html.escape(cell)}</td>" in text
