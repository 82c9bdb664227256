"""Calibration of the component model against the paper's Figure 8 energies.

The paper's traces are not published, so the model is evaluated at the paper's design
with the paper's own statistics, workload by workload (:func:`paper_statistics_energy`):

* the GEMM activity at Figure 11's bit and product density on the workload's published
  shapes (``workloads.json``; :meth:`~prosparsity.accel.energy.actions.Activity.
  at_density`, the same density for every GEMM of the workload);
* the shape-fixed work (LIF, LayerNorm, attention) of those shapes;
* Figure 8's Prosperity latency (leakage runs that long) and the paper's DRAM traffic
  (``PROSPERITY_DRAM_BITS``).

The paper's Prosperity energy is ``446.5 mW x t + 12.45 pJ/bit x D``; the DRAM part is
the same in both, so one factor ``k`` on the model's on-chip energy is fitted: the
geometric mean over the 16 workloads of (paper on-chip energy / model on-chip energy).
:func:`calibrate` reports, per workload, the model's energy with ``k`` and its relative
error, and the leave-one-out error (``k`` fitted to the other 15); the range of the
leave-one-out errors is the band every component-model figure carries
(:data:`~prosparsity.accel.energy.fitted.ENERGY_ERROR_RANGE`), as the GPU model's
leave-one-out band does for its latencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from prosparsity.accel.energy.actions import (
    Activity,
    network_gemm_shapes,
    prosperity_actions,
    shape_work,
)
from prosparsity.accel.energy.designs import (
    DEFAULT_COMPONENTS,
    PROSPERITY,
    ComponentConfig,
    design_of,
)
from prosparsity.accel.energy.fitted import POWER_ERROR_RANGE
from prosparsity.accel.energy.model import band, price
from prosparsity.accel.energy.result import ComponentCost, EnergyArea, EnergyMode
from prosparsity.accel.prosperity import PAPER, ProsperityConfig
from prosparsity.analysis.network import Workload
from prosparsity.paper.energy import ON_CHIP_POWER_MW, PROSPERITY_DRAM_BITS
from prosparsity.paper.fig8 import FIG8_ENERGY_MJ, FIG8_LATENCY_S
from prosparsity.paper.fig11 import FIG11_BIT_DENSITY, FIG11_PRODUCT_DENSITY

__all__ = ["UNCALIBRATED", "Calibration", "CalibrationRow", "calibrate", "design_breakdown",
           "paper_statistics_energy"]

#: The model's options without calibration (what the factor is fitted on).
UNCALIBRATED = ComponentConfig(calibration=1.0)
_PROSPERITY = "Prosperity"


def paper_statistics_energy(workload: str, options: ComponentConfig = UNCALIBRATED,
                            config: ProsperityConfig = PAPER) -> EnergyArea:
    """The component model's energy of Prosperity on a Figure 8 workload, from the
    paper's statistics (the module docstring).

    Raises:
        KeyError: a workload Figure 8 does not have.
    """
    latency = FIG8_LATENCY_S[_PROSPERITY][workload]
    network = Workload.from_paper(workload)
    bit, product = FIG11_BIT_DENSITY[workload], FIG11_PRODUCT_DENSITY[workload]
    activities = [Activity.at_density(m, k, n, copies, net, bit, product, config.tile_k)
                  for m, k, n, copies, net in network_gemm_shapes(network)]
    design = design_of(PROSPERITY, config, options)
    assert design is not None
    dram_bits = float(PROSPERITY_DRAM_BITS[workload])
    acts = prosperity_actions(config, design, activities, shape_work(network), dram_bits,
                              options)
    return price(design, acts, latency, options)


@dataclass(frozen=True)
class CalibrationRow:
    """One Figure 8 workload.

    Attributes:
        workload: the workload.
        latency_s: Figure 8's Prosperity latency.
        paper_energy_mj: Figure 8's Prosperity energy.
        paper_on_chip_mj: its on-chip part, 446.5 mW x latency.
        model_on_chip_mj: the model's on-chip energy before calibration.
        dram_mj: the DRAM part (the same in both).
        model_energy_mj: the calibrated model's energy, ``k * on chip + DRAM``.
        error: ``model / paper - 1``.
        loo_error: the same with ``k`` fitted to the other workloads.
        power_mw: the calibrated model's on-chip power.
        power_error: ``power / 446.5 mW - 1`` (the on-chip part alone).
        power_loo_error: the same with ``k`` fitted to the other workloads.
    """

    workload: str
    latency_s: float
    paper_energy_mj: float
    paper_on_chip_mj: float
    model_on_chip_mj: float
    dram_mj: float
    model_energy_mj: float
    error: float
    loo_error: float
    power_mw: float
    power_error: float
    power_loo_error: float


@dataclass(frozen=True)
class Calibration:
    """The fit: its factor, the rows, and the error ranges.

    Attributes:
        factor: ``k``.
        rows: one per Figure 8 workload, in the figure's order.
        error_range: (lowest, highest) in-sample relative error.
        loo_range: (lowest, highest) leave-one-out relative error of the energy: the
            band of every energy figure.
        power_loo_range: the same of the on-chip power: the band of every power figure.
    """

    factor: float
    rows: tuple[CalibrationRow, ...]
    error_range: tuple[float, float]
    loo_range: tuple[float, float]
    power_loo_range: tuple[float, float]

    @property
    def mean_abs_error(self) -> float:
        return sum(abs(r.error) for r in self.rows) / len(self.rows)

    @property
    def mean_abs_loo_error(self) -> float:
        return sum(abs(r.loo_error) for r in self.rows) / len(self.rows)

    def band_constants(self, digits: int = 3) -> tuple[tuple[float, float],
                                                       tuple[float, float]]:
        """The energy and power leave-one-out ranges rounded outward to ``digits``
        decimals (what :data:`~prosparsity.accel.energy.fitted.ENERGY_ERROR_RANGE` and
        :data:`~prosparsity.accel.energy.fitted.POWER_ERROR_RANGE` hold)."""
        scale = 10 ** digits

        def outward(r: tuple[float, float]) -> tuple[float, float]:
            return math.floor(r[0] * scale) / scale, math.ceil(r[1] * scale) / scale

        return outward(self.loo_range), outward(self.power_loo_range)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def calibrate(options: ComponentConfig = UNCALIBRATED) -> Calibration:
    """Fit the factor on Figure 8's 16 Prosperity energies (the module docstring).

    Args:
        options: the model's options; their own ``calibration`` is ignored (set to 1).
    """
    opts = replace(options, calibration=1.0)
    power = ON_CHIP_POWER_MW[_PROSPERITY]
    workloads = list(FIG8_ENERGY_MJ[_PROSPERITY])
    fig = {w: paper_statistics_energy(w, opts) for w in workloads}
    paper_on = {w: power * FIG8_LATENCY_S[_PROSPERITY][w] for w in workloads}
    ratios = {w: paper_on[w] / fig[w].on_chip_mj for w in workloads}
    k = _geomean(list(ratios.values()))
    rows = []
    for w in workloads:
        k_loo = _geomean([r for v, r in ratios.items() if v != w])
        paper = FIG8_ENERGY_MJ[_PROSPERITY][w]
        est = k * fig[w].on_chip_mj + fig[w].dram_mj
        loo = k_loo * fig[w].on_chip_mj + fig[w].dram_mj
        t = FIG8_LATENCY_S[_PROSPERITY][w]
        on = fig[w].on_chip_mj
        rows.append(CalibrationRow(w, t, paper, paper_on[w], on, fig[w].dram_mj, est,
                                   est / paper - 1, loo / paper - 1, k * on / t,
                                   k * on / paper_on[w] - 1, k_loo * on / paper_on[w] - 1))
    errors = [r.error for r in rows]
    loo = [r.loo_error for r in rows]
    power = [r.power_loo_error for r in rows]
    return Calibration(k, tuple(rows), (min(errors), max(errors)), (min(loo), max(loo)),
                       (min(power), max(power)))


def design_breakdown(options: ComponentConfig = DEFAULT_COMPONENTS,
                     config: ProsperityConfig = PAPER) -> EnergyArea:
    """Prosperity's area and power by component at the paper's design: Figure 8's 16
    workloads run back to back from the paper's statistics (energies and latencies
    summed; each component's power is its energy over the total latency, a time-weighted
    mean). What the Figure 10 report shows."""
    runs = [paper_statistics_energy(w, options, config) for w in FIG8_ENERGY_MJ[_PROSPERITY]]
    latency = sum(r.latency_s for r in runs)
    first = runs[0]
    costs = tuple(
        ComponentCost(c.name, c.group, c.area_mm2, c.leakage_mw,
                      sum(r.components[i].dynamic_mj for r in runs),
                      sum(r.components[i].leakage_mj for r in runs))
        for i, c in enumerate(first.components))
    energy = sum(r.energy_mj for r in runs)
    dram = sum(r.dram_mj for r in runs)
    power = (energy - dram) / latency
    lo, hi = band(energy, options)
    p_lo, p_hi = band(power, options, POWER_ERROR_RANGE)
    return EnergyArea(EnergyMode.COMPONENT, energy, dram, latency, lo, hi, power, p_lo, p_hi,
                      first.area_mm2, options.calibration, costs,
                      note=f"Figure 8's {len(runs)} workloads back to back, from the "
                      "paper's statistics")
