"""The component energy and area model, checked and shown (``prosparsity energy``).

* :func:`calibration_report`: the component model against the paper's Figure 8
  Prosperity energies, workload by workload (error, leave-one-out error, band, power);
* :func:`figure10_report`: Prosperity's area and power by component group at the paper's
  design, beside the paper's values where public;
* :func:`modes_report`: the paper's (fixed-power) against the component model's
  (consistent) energy of every accelerator of a simulation.

docs/energy-and-area.md describes the model. Nothing here prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prosparsity.core.measures import mean_or_none

if TYPE_CHECKING:
    from prosparsity.accel.energy.designs import ComponentConfig
    from prosparsity.reports.model import Report
    from prosparsity.results import Simulation

__all__ = ["calibration_report", "figure10_report", "modes_report"]


def _options(options: ComponentConfig | None) -> ComponentConfig:
    from prosparsity.accel.energy.designs import ComponentConfig

    return ComponentConfig() if options is None else options


def calibration_report(options: ComponentConfig | None = None) -> Report:
    """The calibration against Figure 8 as a report
    (:func:`prosparsity.reports.area.energy_check_report`)."""
    from prosparsity.accel.energy.calibration import calibrate
    from prosparsity.accel.energy.model import band
    from prosparsity.reports.area import EnergyCheckRow, energy_check_report

    options = _options(options)
    cal = calibrate(options)
    rows = [EnergyCheckRow(r.workload, r.paper_energy_mj, r.model_energy_mj,
                           *band(r.model_energy_mj, options), r.loo_error, r.power_mw)
            for r in cal.rows]
    return energy_check_report(rows, cal.factor, cal.band_constants()[0])


def figure10_report(options: ComponentConfig | None = None) -> Report:
    """Figure 10 (area and power of the paper's design by component group) as a report
    (:func:`prosparsity.reports.area.figure10_report`)."""
    from prosparsity.accel.energy.calibration import design_breakdown
    from prosparsity.reports.area import figure10_report as build

    return build(design_breakdown(_options(options)))


def modes_report(sim: Simulation) -> Report:
    """The paper's against the component model's energy of every accelerator of ``sim``
    that the component model prices (means over the samples)."""
    from prosparsity.reports.area import ModesRow
    from prosparsity.reports.area import modes_report as build

    rows = []
    for result in sim.accelerators.values():
        component = None if result is None else result.energy_component_mj
        if result is None or component is None:
            continue
        parts = [bd.energy_area for bd in result.runs]
        comps = [r.component for r in parts if r is not None and r.component is not None]
        rows.append(ModesRow(
            sim.workload, result.model.display,
            mean_or_none([None if r is None or r.paper is None else r.paper.energy_mj
                          for r in parts]),
            component, mean_or_none([c.energy_low_mj for c in comps]),
            mean_or_none([c.energy_high_mj for c in comps]), result.power_mw,
            result.area_mm2))
    return build(rows)
