"""`prosparsity energy` and the component model in `simulate --json`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from tests.sweep.conftest import run_main


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=200, color=False))
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        set_output(None)
    return result.exit_code, out.getvalue(), err.getvalue() + result.output


def test_simulate_json_has_energy_power_and_area_off_the_papers_design(
        lenet5_npz: Path) -> None:
    code, out, err = _run("simulate", str(lenet5_npz), "-a", "prosperity", "--tile-m",
                          "2048", "--json")
    assert code == 0, err
    entry = json.loads(out)["data"]["accelerators"]["prosperity"]
    assert entry["energy_mj"] is None  # the paper's model: its default design only
    energy = entry["energy_area"]
    assert energy["reported"] == "component" and energy["paper"] is None
    assert "tile_m=2048 (default 256)" in energy["paper_note"]
    c = energy["component"]
    assert c["mode"] == "component" and c["latency_s"] == entry["latency_s"]
    assert c["energy_low_mj"] < c["energy_mj"] < c["energy_high_mj"]
    assert c["power_low_mw"] < c["power_mw"] < c["power_high_mw"]
    assert c["area_mm2"] > 1.0  # 2048-row TCAM and 8x the buffers of the 0.38 mm² default
    parts = c["components"]
    assert sum(p["energy_mj"] for p in parts.values()) == pytest.approx(c["energy_mj"])
    assert parts["tcam"]["group"] == "detector" and parts["dram"]["area_mm2"] == 0
    assert "prosperity: component model:" in err and "mm² (--json: energy_area)" in err


def test_energy_command_json_and_exports(lenet5_npz: Path, tmp_path: Path) -> None:
    code, out, err = _run("energy", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["command"] == "energy"
    assert list(doc["data"]) == ["energy_calibration", "figure10"]
    fig10 = {(r["layer"], r["metric"]): r for r in doc["data"]["figure10"]["records"]}
    assert fig10["buffers", "area_mm2"]["reference"] == 0.302073
    assert not fig10["buffers", "area_mm2"]["flagged"]
    calibration = doc["data"]["energy_calibration"]["records"]
    assert len({r["workload"] for r in calibration}) == 16
    code, out, err = _run("energy", str(lenet5_npz), "--out", str(tmp_path / "e"))
    assert code == 0, err
    for stem in ("energy_calibration", "figure10", "energy_modes"):
        for suffix in ("csv", "json", "md", "png"):
            assert (tmp_path / "e" / f"{stem}.{suffix}").is_file()
    assert "component model against the paper's Fig. 8" in out.lower() or "Fig. 8" in out
    assert "│ lenet5_mnist │ PTB " in out and "│ lenet5_mnist │ LoAS " in out


def test_energy_command_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_main(monkeypatch, "energy", "--cacti", str(tmp_path / "no-cacti"))
    assert code == 2 and "no such file" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "file").write_text("x")
    code, _, err = run_main(monkeypatch, "energy", "--out", str(tmp_path / "file" / "sub"))
    assert code == 2 and "not a folder" in err
