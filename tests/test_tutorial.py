"""The tutorial (examples/tutorial.ipynb) runs from start to end in a real Jupyter
kernel (nbclient with ipykernel, the versions in requirements.lock): a cell that fails
fails this test. The notebook is kept without outputs in the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO

TUTORIAL = REPO / "examples" / "tutorial.ipynb"


def _outputs(cell: dict) -> str:
    """The text a cell printed or displayed (its HTML where it has one)."""
    out = []
    for o in cell.get("outputs", ()):
        if o.get("output_type") == "stream":
            out.append(o["text"])
        elif "data" in o:
            out.append(o["data"].get("text/html") or o["data"].get("text/plain", ""))
    return "".join(out)


def test_the_repository_keeps_the_tutorial_without_outputs() -> None:
    import nbformat

    nb = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 7
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    source = "\n".join(c.source for c in code)
    for call in ("ps.capture(", "ps.open(", "ps.count(", "ps.simulate(", "prosparsity.paper",
                 ".to_frame()", "ps.explore(", "workers=0"):
        assert call in source, call


def test_the_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    # the kernel's connection file and IPython's profile stay in this test's folder
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(TUTORIAL, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in cells)
    captured, counted, simulated, compared, plotted = (_outputs(c) for c in cells[1:6])
    assert "digits-cnn: " in captured and "2 samples" in captured
    assert "over 2 samples" in counted and "<table" in counted  # the per-layer report
    assert "x PTB" in simulated and "Accelerator comparison" in simulated
    assert "paper, Figure 11: density reduced" in compared and "paper, abstract: 7.4x" \
        in compared
    assert any("image/png" in o.get("data", {}) for o in cells[5].outputs)  # the plot
    assert "tasks; wrote" in _outputs(cells[6]) and "report.html" in _outputs(cells[6])
    page = Path(_outputs(cells[7]).split()[0])
    assert page.is_relative_to(tmp_path) and page.read_text().startswith("<!DOCTYPE html>")
