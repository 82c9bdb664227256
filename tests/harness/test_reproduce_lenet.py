"""`prosparsity reproduce` end to end on the LeNet-5 trace, the real pipeline: the paper's
Figure 11 row and every cycle count of the authors' simulator must be matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from prosparsity.reports.export import read_csv
from tests.harness.test_reproduce_glue import _run

OFFICIAL_TOTALS = {
    "Prosperity": 41178, "PTB": 62319, "Eyeriss": 114178, "SATO": 61012, "MINT": 196013,
    "Prosperity:bit": 183492, "Prosperity:issue1": 88245, "Prosperity:dense": 715999,
}


@pytest.fixture(scope="module")
def reproduced(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("reproduce")
    code, stdout, stderr = _run([
        "reproduce", "--data", str(reference_dir / "traces" / "lenet5_mnist.npz"),
        "--official", str(reference_dir / "official-sim"), "--out", str(out), "--strict"])
    assert code == 0, stdout + stderr
    return out, stdout


def test_figure11_lenet5_row_matches_to_1e9(reproduced: tuple[Path, str]) -> None:
    out, stdout = reproduced
    rows = {r.metric: r for _, r in read_csv(out / "density.csv")}
    for metric in ("bit_density", "product_density"):
        assert "Fig. 11" in rows[metric].reference_source
        assert abs(rows[metric].value - rows[metric].reference) < 1e-9
    assert "│ lenet5_mnist │    0.253640 │ 0.253640 │" in stdout


def test_official_simulator_cycles_match(reproduced: tuple[Path, str]) -> None:
    out, stdout = reproduced
    acc = {(r.accelerator, r.metric): r for _, r in read_csv(out / "accelerators.csv")
           if r.workload == "lenet5_mnist"}
    for name, cycles in OFFICIAL_TOTALS.items():
        rec = acc[(name, "total_cycles")]
        assert (rec.value, rec.reference) == (cycles, cycles), name
    layers = [r for _, r in read_csv(out / "layers_lenet5_mnist.csv")]
    assert layers and all(not r.flagged for r in layers)
    assert sum(1 for r in layers if r.reference is not None) >= 2 * 6 * 2
    sweep = [r for _, r in read_csv(out / "sweep.csv") if r.metric == "total_cycles"]
    assert len(sweep) == 12 and all(r.value == r.reference for r in sweep)
    assert " 0 differ." in stdout


def test_plots_written(reproduced: tuple[Path, str]) -> None:
    from tests.reports.test_plots import _check_png

    out, _ = reproduced
    for name in ("density", "accelerators", "sweep_tile_m", "sweep_tile_k",
                 "layers_lenet5_mnist"):
        _check_png(out / f"{name}.png")
