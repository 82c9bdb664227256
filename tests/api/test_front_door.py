"""The front door, ``import prosparsity as ps``, as a user meets it: its example gives
``simulate --json``'s numbers, importing it loads nothing heavy, it never prints, every
result converts and shows itself, a study writes its files, and the commands build no
tables of their own."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

#: What importing the package must not load (each costs a second or more).
HEAVY = ("torch", "numba", "scipy")


@pytest.fixture(scope="module")
def demo_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``out/demo/traces/digits-cnn.h5`` as ``make demo`` leaves it (two samples of the
    embedded trained model, batch 1), captured through the front door."""
    import prosparsity as ps

    root = tmp_path_factory.mktemp("clone")
    path = root / "out" / "demo" / "traces" / "digits-cnn.h5"
    result = ps.capture("digits-cnn", path, samples=2, batch_size=1)
    assert result.path == path and result.info.samples == 2
    return path


def _example() -> str:
    """The example of the package's docstring (the README's), as written."""
    import prosparsity

    doc = prosparsity.__doc__ or ""
    block = doc.split("::\n", 1)[1].split("\n\n(", 1)[0]
    return textwrap.dedent(block)


def test_the_example_prints_what_simulate_json_says(demo_trace: Path) -> None:
    """Run as written, in a fresh process, in the folder ``make demo`` ran in: every
    number it prints is ``prosparsity simulate --json``'s on the same trace."""
    clone = demo_trace.parents[3]
    example = _example()
    assert 'ps.open("out/demo/traces/digits-cnn.h5")' in example
    done = subprocess.run([sys.executable, "-c", example], cwd=clone, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the library never prints
    lines = done.stdout.splitlines()
    cli = subprocess.run([sys.executable, "-m", "prosparsity.harness.cli", "simulate",
                          str(demo_trace), "-a", "prosperity", "-a", "ptb", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    data = json.loads(cli.stdout)["data"]
    assert data["samples"] == 2
    accelerators = data["accelerators"]
    for line in lines[1:]:
        name, cycles, latency, energy, speedup = line.split()
        entry = accelerators[name]
        assert float(cycles) == entry["total_cycles"]
        assert float(latency) == entry["latency_s"]
        assert float(energy) == entry["energy_mj"]
        assert float(speedup) == accelerators["ptb"]["latency_s"] / entry["latency_s"]
    assert [line.split()[0] for line in lines[1:]] == ["prosperity", "ptb"]
    analyzed = subprocess.run([sys.executable, "-m", "prosparsity.harness.cli", "analyze",
                               str(demo_trace), "--json"], capture_output=True, text=True,
                              timeout=300)
    density = json.loads(analyzed.stdout)["data"]["product_density_mean"]
    assert lines[0] == f"product density {density:.4f}"
    assert (clone / "digits-cnn.html").read_text().startswith("<!DOCTYPE html>")


def test_importing_the_package_loads_no_torch_numba_or_scipy() -> None:
    code = ("import sys, json\nimport prosparsity as ps\n"
            "names = [ps.open, ps.count, ps.simulate, ps.capture, ps.explore, ps.demo]\n"
            "print(json.dumps(sorted(m for m in " + repr(HEAVY) + " if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


_QUIET = """
import prosparsity as ps, sys, tempfile
trace = tempfile.mkdtemp() + "/t.h5"
ps.capture("digits-cnn", trace, samples=1)
counted = ps.count(trace)
sim = ps.simulate(trace)
study = ps.demo(out=None, samples=1)
assert counted.n_samples == 1 and sim["prosperity"].latency_s > 0 and study.simulations
"""


def test_the_library_never_prints() -> None:
    """Capture, count, simulate and the whole demo in a fresh process, with Python's own
    last-resort log handler in place: nothing on stdout or stderr."""
    done = subprocess.run([sys.executable, "-c", _QUIET], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_every_result_converts_and_shows_itself(lenet5_npz: Path, tmp_path: Path) -> None:
    from rich.console import Console

    import prosparsity as ps
    from prosparsity.longform import LONG_COLUMNS

    sim = ps.simulate(lenet5_npz, ["prosperity", "ptb"])
    counted = ps.count(lenet5_npz)
    results = {"Simulation": sim, "AcceleratorResult": sim["prosperity"],
               "DensityResult": counted}
    for kind, result in results.items():
        assert type(result).__name__ == kind
        frame, table = result.to_frame(), result.to_arrow()
        assert list(frame.columns) == list(LONG_COLUMNS) == table.column_names
        assert len(frame) == table.num_rows > 0
        assert frame.equals(table.to_pandas())
        html = result._repr_html_()
        assert html.count("<table") == len(result.reports()) >= 1
        console = Console(width=200, color_system=None, record=True)
        console.print(result)
        text = console.export_text()
        for report in result.reports():
            assert report.title in text
        assert repr(result).startswith(f"<{kind} ")
    # the numbers are the model's: Prosperity's cycles on LeNet-5, the paper's densities
    cycles = sim.to_frame().query("accelerator == 'prosperity' and metric == 'total_cycles'")
    assert cycles.value.tolist() == [41178.0]
    density = counted.to_frame().set_index("metric")["value"]
    assert density["bit_density"] == pytest.approx(0.2536399466271977, abs=1e-12)
    assert counted.layer_report()._repr_html_().count("<tr>") == 1 + 6 + 1  # layers, total
    # a sweep's result: its long table and its summary's views
    spec = tmp_path / "s.toml"
    trace = tmp_path / "lenet.h5"
    from prosparsity.traces.importer import import_dump

    import_dump(lenet5_npz, "lenet5_mnist", trace)
    spec.write_text(f'traces = ["{trace}"]\n[tiles]\ntile_m = [256]\ntile_k = [16]\n'
                    "[accelerators.prosperity]\n[accelerators.ptb]\n")
    swept = ps.explore(spec, tmp_path / "sweep", workers=0, dashboard=False)
    frame = swept.to_frame()
    run = frame.query("accelerator == 'prosperity' and metric == 'total_cycles'")
    assert run.value.tolist() == [41178.0]  # the sweep prices what simulate prices
    assert swept.to_arrow().num_rows == len(frame)
    assert swept._repr_html_().count("<table") == len(swept.reports()) >= 2
    assert repr(swept) == "<SweepResult 's', 1 traces, 3 tasks>"


def test_study_write_writes_every_file(lenet5_npz: Path, tmp_path: Path) -> None:
    import prosparsity as ps
    from prosparsity.reports.export import read_csv

    study = ps.reproduce([("lenet5_mnist", lenet5_npz)], tile_sweep=False)
    written = study.write(tmp_path / "out", plots=True)
    names = sorted(p.name for p in written)
    stems = [stem for stem, _ in study.named_reports()]
    assert stems == ["density", "accelerators", "throughput", "layers_lenet5_mnist"]
    expected = {f"{s}.{x}" for s in stems for x in ("csv", "json", "md", "png")}
    expected |= {"headline.json", "headline.md", "summary.md", "report.html"}
    assert set(names) == expected and len(names) == len(expected)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert not list((tmp_path / "out").glob("*.tmp-*"))
    rows = {(r.accelerator, r.metric): r.value
            for _, r in read_csv(tmp_path / "out" / "accelerators.csv")}
    assert rows[("Prosperity", "total_cycles")] == 41178
    assert rows[("Prosperity:bit", "total_cycles")] == 183492  # an ablation, as reported
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<table") == len(stems) + 1  # and the headline
    assert page.count("<img") == 4
    frame = study.to_frame()
    assert set(frame.accelerator) >= {"prosperity", "ptb", "eyeriss"}
    assert math.isclose(frame.query("accelerator == 'prosperity' and metric == "
                                    "'total_cycles'").value.iloc[0], 41178)


def test_the_commands_build_no_tables() -> None:
    """Every table a command prints is a report drawn by the reports' renderer: no
    module of the CLI builds a rich table of its own."""
    offenders = []
    for path in sorted((REPO / "harness").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.startswith("rich.table") for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
