"""The energy and area reports (Figure 10, the calibration, the two modes) built from
hand-made results: values, shares, references, rendering, exports and plots."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from prosparsity.accel.energy.result import ComponentCost, EnergyArea, EnergyMode
from prosparsity.reports import export_report, read_csv, render_report
from prosparsity.reports.area import (
    EnergyCheckRow,
    ModesRow,
    energy_check_report,
    figure10_report,
    modes_report,
)
from prosparsity.reports.model import ReportKind
from tests.reports.test_plots import _check_png


def _breakdown() -> EnergyArea:
    """0.2 mm² of adders spending 2 mJ and two buffers, over 10 ms."""
    parts = (ComponentCost("adders", "adders", 0.2, 1.0, 1.5, 0.5),
             ComponentCost("spike_buffer", "buffers", 0.011071, 4.0, 1.0, 0.0),
             ComponentCost("weight_buffer", "buffers", 0.2, 16.0, 3.0, 1.0),
             ComponentCost("dram", "DRAM", 0.0, 0.0, 10.0, 0.0))
    return EnergyArea(EnergyMode.COMPONENT, 17.0, 10.0, 0.01, power_mw=700.0,
                      power_low_mw=600.0, power_high_mw=800.0, area_mm2=0.411071,
                      calibration=1.5, components=parts, note="two runs")


def _text(report) -> str:
    buf = io.StringIO()
    Console(file=buf, width=220, color_system=None).print(render_report(report))
    return buf.getvalue()


def test_figure10_values_shares_and_references(tmp_path: Path) -> None:
    report = figure10_report(_breakdown())
    assert report.kind is ReportKind.AREA
    get = {(r.layer, r.metric): r for r in report.records}
    assert get["adders", "area_mm2"].value == 0.2
    assert get["adders", "power_mw"].value == pytest.approx(2.0 / 0.01)  # mJ / s = mW
    assert get["buffers", "area_mm2"].value == pytest.approx(0.211071)
    assert get["buffers", "area_mm2"].reference == 0.302073  # the four buffers' CACTI area
    assert get["buffers: spike_buffer", "area_mm2"].reference == 0.011071
    assert get["buffers: spike_buffer", "area_mm2"].rel_diff == 0.0
    assert get["total", "area_mm2"].value == pytest.approx(0.411071)
    assert get["total", "area_share"].value == pytest.approx(1.0)
    assert get["adders", "area_share"].value == pytest.approx(0.2 / 0.411071)
    assert get["total", "power_mw"].value == pytest.approx(700.0)
    assert get["total", "power_mw"].reference == 446.5
    assert ("DRAM", "area_mm2") not in get  # off chip
    text = _text(report)
    assert "Component" in text and "buffers: weight_buffer" in text
    assert "600.0–800.0 mW" in text  # the band of the power
    paths = export_report(report, tmp_path, "figure10")
    assert {p.name for p in paths} == {"figure10.csv", "figure10.json", "figure10.md",
                                       "figure10.png"}
    _check_png(tmp_path / "figure10.png")
    assert len(read_csv(tmp_path / "figure10.csv")) == len(report.records)


def test_calibration_and_modes_reports(tmp_path: Path) -> None:
    rows = [EnergyCheckRow("w1", 10.0, 11.0, 10.0, 12.4, 0.12, 500.0),
            EnergyCheckRow("w2", 20.0, 19.0, 17.2, 21.5, -0.06, 420.0)]
    report = energy_check_report(rows, 1.4, (-0.06, 0.12))
    get = {(r.workload, r.metric): r for r in report.records}
    assert get["w1", "energy_component_mj"].rel_diff == pytest.approx(0.1)
    assert get["w2", "loo_error"].value == -0.06
    text = _text(report)
    assert "10–12.4" in text and "+12.0%" in text and "E / 1.120 .. E / 0.940" in text
    export_report(report, tmp_path, "energy_calibration")
    _check_png(tmp_path / "energy_calibration.png")

    modes = modes_report([ModesRow("lenet", "PTB", 0.15, 0.03, 0.027, 0.034, 117.0, 0.36),
                          ModesRow("lenet", "LoAS", None, 0.02, 0.018, 0.023, 150.0, 0.32)])
    get = {(r.accelerator, r.metric): r for r in modes.records}
    assert get["PTB", "energy_component_mj"].rel_diff == pytest.approx(0.03 / 0.15 - 1)
    assert get["LoAS", "energy_component_mj"].reference is None  # no paper mode for LoAS
    assert "iso-buffer" in _text(modes)
    export_report(modes, tmp_path, "energy_modes")
    _check_png(tmp_path / "energy_modes.png")
