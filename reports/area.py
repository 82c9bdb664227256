"""Reports of the component energy and area model: Figure 10, the calibration, the modes.

Three builders, each a :class:`~prosparsity.reports.model.Report` that renders, exports
and plots like the others (presentation only: shares of totals already computed):

* :func:`figure10_report` (``area``): Prosperity's area and power by component group at
  the paper's design (an :class:`~prosparsity.accel.energy.result.EnergyArea` of the
  component model), beside the paper's Figure 10 where it gives a value (the four
  buffers' CACTI areas, the 446.5 mW total; :mod:`prosparsity.paper.fig10`);
* :func:`energy_check_report` (``energy``): the calibrated model's energy against the
  paper's Figure 8 energy per workload, with its band and leave-one-out error;
* :func:`modes_report` (``energy_modes``): each accelerator's paper-mode energy beside
  its component-mode (consistent) energy on the same runs.

:func:`plot_area_report` draws them (PNG, the reports' figure size).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prosparsity.paper.fig8 import FIG8_SOURCE
from prosparsity.paper.fig10 import (
    FIG10_BUFFER_AREA_MM2,
    FIG10_BUFFER_AREA_TOTAL_MM2,
    FIG10_SOURCE,
    FIG10_TOTAL_POWER_MW,
)
from prosparsity.reports.compare import Reference
from prosparsity.reports.metrics import Metric
from prosparsity.reports.model import Column, Record, Report, ReportKind
from prosparsity.reports.plots import _legend_outside, _suptitle, new_figure, save_png

if TYPE_CHECKING:
    from prosparsity.accel.energy.result import EnergyArea

__all__ = ["EnergyCheckRow", "ModesRow", "energy_check_report", "figure10_report",
           "modes_report", "plot_area_report"]

TOTAL = "total"
POWER_SOURCE = "Prosperity (HPCA 2025), Sec. VI (on-chip power)"
_DESIGN = "default design"
_PROSPERITY = "Prosperity"


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def figure10_report(breakdown: EnergyArea, title: str = "") -> Report:
    """Figure 10: area and power of each component group (rows), the four buffers
    (rows ``buffers: <name>``) and the total, with the paper's values where known."""
    area = breakdown.by_group("area_mm2")
    area.pop("DRAM", None)
    t = breakdown.latency_s
    power = {g: e / t for g, e in breakdown.by_group("energy_mj").items() if g != "DRAM"}
    total_area, total_power = sum(area.values()), sum(power.values())
    records: list[Record] = []

    def row(name: str, a: float, p: float | None, area_ref: float | None = None,
            power_ref: float | None = None, source: str = FIG10_SOURCE) -> None:
        ref_a = None if area_ref is None else Reference(area_ref, source)
        ref_p = None if power_ref is None else Reference(power_ref, POWER_SOURCE)
        records.extend([
            Record.of(_DESIGN, _PROSPERITY, Metric.AREA_MM2, a, ref_a, layer=name),
            Record.of(_DESIGN, _PROSPERITY, Metric.AREA_SHARE, _share(a, total_area),
                      layer=name),
            Record.of(_DESIGN, _PROSPERITY, Metric.POWER_MW, p, ref_p, layer=name),
            Record.of(_DESIGN, _PROSPERITY, Metric.POWER_SHARE,
                      None if p is None else _share(p, total_power), layer=name)])

    for group, a in area.items():
        ref = FIG10_BUFFER_AREA_TOTAL_MM2 if group == "buffers" else None
        row(group, a, power[group], ref)
        if group == "buffers":
            for c in breakdown.components:
                if c.group == "buffers":
                    row(f"buffers: {c.name}", c.area_mm2, c.energy_mj / t,
                        FIG10_BUFFER_AREA_MM2.get(c.name))
    row(TOTAL, total_area, total_power, None, FIG10_TOTAL_POWER_MW)
    band = ""
    if breakdown.power_low_mw is not None and breakdown.power_high_mw is not None:
        band = (f" Power band (calibration's leave-one-out errors): "
                f"{breakdown.power_low_mw:.1f}–{breakdown.power_high_mw:.1f} mW.")
    notes = (
        f"Component model at the paper's design (tile 256x16, 128 adders), calibrated "
        f"(factor {breakdown.calibration:.4f}); power: time-weighted mean over "
        f"{breakdown.note or 'the runs'}.{band}",
        "Paper (Fig. 10): only the four buffers' areas are public (the authors' CACTI "
        "script, which their README says equals the area chart) and the 446.5 mW total "
        "(Sec. VI); the other slices are not published. Area has no band.",
        f"ref: {FIG10_SOURCE}; {POWER_SOURCE}. Δ = (ours - ref) / |ref|; ✗ beyond 1 %.",
    )
    columns = (Column(Metric.AREA_MM2, "Area (mm²)", ".4g"),
               Column(Metric.AREA_SHARE, "Area share", ".1%", compare=False),
               Column(Metric.POWER_MW, "Power (mW)", ".4g"),
               Column(Metric.POWER_SHARE, "Power share", ".1%", compare=False))
    return Report(ReportKind.AREA, title or "Prosperity area and power breakdown "
                  "(paper Fig. 10, component model)", columns, tuple(records),
                  row_keys=("layer",), notes=notes, key_headers=("Component",))


@dataclass(frozen=True)
class EnergyCheckRow:
    """One workload of the calibration.

    Attributes:
        workload: the workload.
        paper_energy_mj: Figure 8's Prosperity energy.
        model_energy_mj: the calibrated model's energy.
        low_mj, high_mj: its band.
        loo_error: the leave-one-out relative error.
        power_mw: the calibrated model's on-chip power.
    """

    workload: str
    paper_energy_mj: float
    model_energy_mj: float
    low_mj: float | None
    high_mj: float | None
    loo_error: float
    power_mw: float


def energy_check_report(rows: Sequence[EnergyCheckRow], factor: float,
                        loo_range: tuple[float, float]) -> Report:
    """The calibrated model's energy per workload against Figure 8 (Δ is the in-sample
    error), its band, leave-one-out error and on-chip power against 446.5 mW."""
    records: list[Record] = []
    for r in rows:
        records += [
            Record.of(r.workload, _PROSPERITY, Metric.ENERGY_COMPONENT_MJ, r.model_energy_mj,
                      Reference(r.paper_energy_mj, FIG8_SOURCE)),
            Record.of(r.workload, _PROSPERITY, Metric.ENERGY_LOW_MJ, r.low_mj),
            Record.of(r.workload, _PROSPERITY, Metric.ENERGY_HIGH_MJ, r.high_mj),
            Record.of(r.workload, _PROSPERITY, Metric.LOO_ERROR, r.loo_error),
            Record.of(r.workload, _PROSPERITY, Metric.POWER_MW, r.power_mw,
                      Reference(FIG10_TOTAL_POWER_MW, POWER_SOURCE)),
        ]
    errors = [abs(r.model_energy_mj / r.paper_energy_mj - 1) for r in rows]
    loo = [abs(r.loo_error) for r in rows]
    notes = (
        f"One factor on the model's on-chip energy, {factor:.4f}: the geometric mean of "
        "the paper's on-chip energy (446.5 mW x latency) over the model's, from the "
        "paper's statistics (Fig. 11 densities on the published shapes, Fig. 8 latency, "
        "the paper's DRAM traffic).",
        f"in-sample: max |error| {max(errors):.1%}, mean {np.mean(errors):.1%}; "
        f"leave-one-out: max {max(loo):.1%}, mean {np.mean(loo):.1%}; band of every "
        f"figure: E / {1 + loo_range[1]:.3f} .. E / {1 + loo_range[0]:.3f}.",
        f"ref: {FIG8_SOURCE}; {POWER_SOURCE}. Δ = (ours - ref) / |ref|; ✗ beyond 1 %.",
    )
    columns = (Column(Metric.ENERGY_COMPONENT_MJ, "Energy (mJ)", ".4g"),
               Column(Metric.ENERGY_LOW_MJ, "Band (mJ)", ".4g", upper=Metric.ENERGY_HIGH_MJ,
                      compare=False),
               Column(Metric.LOO_ERROR, "LOO error", "+.1%", compare=False),
               Column(Metric.POWER_MW, "Power (mW)", ".4g"))
    return Report(ReportKind.ENERGY, "Component model against the paper's Fig. 8 "
                  "energies (Prosperity, calibration)", columns, tuple(records),
                  row_keys=("workload",), notes=notes)


@dataclass(frozen=True)
class ModesRow:
    """One accelerator on one run, priced by both energy models.

    Attributes:
        workload: the run's workload.
        accelerator: the accelerator (paper spelling).
        paper_energy_mj: the paper-mode energy (``None`` where the paper gives no power).
        component_energy_mj: the component-mode (consistent) energy.
        low_mj, high_mj: its band.
        power_mw: its on-chip power; area_mm2: its area.
    """

    workload: str
    accelerator: str
    paper_energy_mj: float | None
    component_energy_mj: float
    low_mj: float | None
    high_mj: float | None
    power_mw: float | None
    area_mm2: float | None


def modes_report(rows: Sequence[ModesRow]) -> Report:
    """Paper-mode against component-mode energy per run and accelerator (Δ: the
    component energy's difference from the paper's)."""
    records: list[Record] = []
    for r in rows:
        ref = None if r.paper_energy_mj is None else Reference(
            r.paper_energy_mj, "paper mode (Sec. VI: fixed power x latency + DRAM ratio)")
        records += [
            Record.of(r.workload, r.accelerator, Metric.ENERGY_MJ, r.paper_energy_mj),
            Record.of(r.workload, r.accelerator, Metric.ENERGY_COMPONENT_MJ,
                      r.component_energy_mj, ref),
            Record.of(r.workload, r.accelerator, Metric.ENERGY_LOW_MJ, r.low_mj),
            Record.of(r.workload, r.accelerator, Metric.ENERGY_HIGH_MJ, r.high_mj),
            Record.of(r.workload, r.accelerator, Metric.POWER_MW, r.power_mw),
            Record.of(r.workload, r.accelerator, Metric.AREA_MM2, r.area_mm2),
        ]
    notes = (
        "paper mode: the paper's fixed on-chip power per accelerator x latency + DRAM at "
        "12.45 pJ/bit x the paper's traffic ratio x Prosperity's DRAM bits; component "
        "(consistent) mode: every accelerator priced by the same component tables and "
        "calibration factor from its own array and buffers (docs/energy-and-area.md).",
        "Δ = (component - paper) / paper. PTB, SATO, MINT and LoAS get Prosperity's "
        "buffer sizes (iso-buffer); their own buffer sizes are not in the stored sources.",
    )
    columns = (Column(Metric.ENERGY_MJ, "Paper mode (mJ)", ".4g"),
               Column(Metric.ENERGY_COMPONENT_MJ, "Component mode (mJ)", ".4g"),
               Column(Metric.ENERGY_LOW_MJ, "Band (mJ)", ".4g", upper=Metric.ENERGY_HIGH_MJ,
                      compare=False),
               Column(Metric.POWER_MW, "Power (mW)", ".4g"),
               Column(Metric.AREA_MM2, "Area (mm²)", ".4g"))
    return Report(ReportKind.ENERGY_MODES, "Energy: the paper's model against the "
                  "component model, accelerator by accelerator", columns, tuple(records),
                  row_keys=("workload", "accelerator"), notes=notes)


def _value(report: Report, key: str, field: str, metric: str) -> Record | None:
    return next((r for r in report.records if getattr(r, field) == key and r.metric == metric),
                None)


def _figure10(report: Report, path: Path) -> Path:
    fig, axes = new_figure(2)
    rows = [k for k in dict.fromkeys(r.layer for r in report.records)
            if not k.startswith("buffers: ") and k != TOTAL]
    for ax, metric, share, label in ((axes[0], Metric.AREA_MM2, Metric.AREA_SHARE,
                                      "area (mm²)"),
                                     (axes[1], Metric.POWER_MW, Metric.POWER_SHARE,
                                      "power (mW)")):
        recs = [_value(report, k, "layer", metric) for k in rows]
        shares = [_value(report, k, "layer", share) for k in rows]
        y = np.arange(len(rows))
        ax.barh(y, [0 if r is None or r.value is None else r.value for r in recs],
                color=[f"C{i % 10}" for i in range(len(rows))], label="component model")
        for i, (r, s) in enumerate(zip(recs, shares, strict=True)):
            if r is not None and r.value is not None and s is not None and s.value:
                ax.text(r.value, i, f" {s.value:.1%}", va="center", fontsize=8)
            if r is not None and r.reference is not None:
                ax.plot([r.reference], [i], marker="|", markersize=18, color="black",
                        label="paper (Fig. 10)")
        total = _value(report, TOTAL, "layer", metric)
        ax.set_yticks(y, rows, fontsize=9)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel(label)
        head = f"{label}: {total.value:.4g} in all" if total and total.value else label
        if total is not None and total.reference is not None:
            head += f" (paper {total.reference:.4g})"
        ax.set_title(head, fontsize=10)
        ax.grid(axis="x", alpha=0.3, which="both")
    _legend_outside(fig, axes)
    _suptitle(fig, report.title)
    return save_png(fig, path)


def _bars(report: Report, path: Path, series: Sequence[tuple[str, str]], keys: Sequence[str],
          low: str, high: str, ylabel: str) -> Path:
    """Grouped bars of ``series`` (metric, label) per row key, the band as error bars on
    the component-model series, log scale."""
    fig, (ax,) = new_figure()
    rows = list(dict.fromkeys(tuple(getattr(r, k) for k in keys) for r in report.records))
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    table = {(tuple(getattr(r, k) for k in keys), r.metric): r for r in report.records}
    for i, (metric, label) in enumerate(series):
        vals = [table.get((row, metric)) for row in rows]
        heights = [np.nan if v is None or v.value is None else v.value for v in vals]
        err = None
        if metric == Metric.ENERGY_COMPONENT_MJ:
            lo = [table.get((row, low)) for row in rows]
            hi = [table.get((row, high)) for row in rows]
            err = np.array([[0 if a is None or a.value is None or np.isnan(h) else h - a.value
                             for a, h in zip(lo, heights, strict=True)],
                            [0 if b is None or b.value is None or np.isnan(h) else b.value - h
                             for b, h in zip(hi, heights, strict=True)]])
        ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=label,
               color=f"C{i}", yerr=err, capsize=2 if err is not None else 0)
    ax.set_xticks(x, [" ".join(str(p) for p in row) for row in rows], rotation=40,
                  ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    _legend_outside(fig, [ax])
    _suptitle(fig, report.title)
    return save_png(fig, path)


def plot_area_report(report: Report, path: Path) -> Path:
    """The plot of an ``area``, ``energy`` or ``energy_modes`` report, as PNG.

    Raises:
        ValueError: another kind of report.
    """
    if report.kind is ReportKind.AREA:
        return _figure10(report, path)
    if report.kind is ReportKind.ENERGY:
        recs = [r for r in report.records if r.metric == Metric.ENERGY_COMPONENT_MJ]
        paper = tuple(Record.of(r.workload, "paper", "paper_energy_mj", r.reference)
                      for r in recs)
        both = Report(report.kind, report.title, report.columns, report.records + paper,
                      report.row_keys)
        return _bars(both, path, [("paper_energy_mj", "paper (Fig. 8)"),
                                  (Metric.ENERGY_COMPONENT_MJ, "component model (band)")],
                     ("workload",), Metric.ENERGY_LOW_MJ, Metric.ENERGY_HIGH_MJ, "energy (mJ)")
    if report.kind is ReportKind.ENERGY_MODES:
        return _bars(report, path, [(Metric.ENERGY_MJ, "paper mode"),
                                    (Metric.ENERGY_COMPONENT_MJ, "component mode (band)")],
                     ("workload", "accelerator"), Metric.ENERGY_LOW_MJ,
                     Metric.ENERGY_HIGH_MJ, "energy (mJ)")
    raise ValueError(f"not an energy or area report: {report.kind}")
