"""PNG plots exist, are PNG images of the fixed size, and are not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from prosparsity.reports.model import Report
from prosparsity.reports.plots import PIXELS, plot_report


def _check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(path)
    assert img.shape[:2] == (PIXELS[1], PIXELS[0])
    assert float(np.std(img[..., :3])) > 0.01  # something is drawn


@pytest.mark.parametrize(("name", "files"), [
    ("density", ["density.png"]),
    ("accelerators", ["accelerators.png"]),
    ("sweep", ["sweep_tile_m.png", "sweep_tile_k.png"]),
    ("layers", ["layers.png"]),
])
def test_plots(name: str, files: list[str], request, tmp_path: Path) -> None:
    report: Report = request.getfixturevalue(name)
    paths = plot_report(report, tmp_path)
    assert [p.name for p in paths] == files
    for path in paths:
        _check_png(path)
