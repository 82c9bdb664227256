"""The component model: a design's actions priced, with its calibration and band.

::

    E_on_chip = k * ( Σ_components Σ_actions count * e_action  +  Σ_components P_leak * t )
    E         = E_on_chip + e_DRAM * DRAM bits
    power     = E_on_chip / t,     area = Σ_components area

``k`` is the one calibration factor (:data:`~prosparsity.accel.energy.fitted.
CALIBRATION_FACTOR`, fitted to the paper's Figure 8 Prosperity energies); the band of a
figure ``E`` is ``E / (1 + high) .. E / (1 + low)`` with the leave-one-out errors of that
fit (:data:`~prosparsity.accel.energy.fitted.ENERGY_ERROR_RANGE`), given with the fitted
factor only; power's band uses the leave-one-out errors of the on-chip power
(:data:`~prosparsity.accel.energy.fitted.POWER_ERROR_RANGE`, wider: the DRAM part, which
both models share, narrows the energy's). Area has no band: the paper publishes no total
to check it against (its buffers equal the CACTI rows exactly).

:func:`component_energy` prices one accelerator configuration on one run from its
statistics and breakdown; :func:`paper_energy_area` wraps the paper's model
(:mod:`~prosparsity.accel.energy.paper`) in the same result type. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prosparsity.accel.base import Breakdown
from prosparsity.accel.energy.actions import (
    Actions,
    baseline_actions,
    prosperity_actions,
    shape_work,
    trace_activities,
)
from prosparsity.accel.energy.designs import (
    PROSPERITY,
    ComponentConfig,
    Design,
    design_of,
    registry_name,
)
from prosparsity.accel.energy.fitted import (
    CALIBRATION_FACTOR,
    ENERGY_ERROR_RANGE,
    POWER_ERROR_RANGE,
)
from prosparsity.accel.energy.paper import PAPER_ENERGY, EnergyConfig
from prosparsity.accel.energy.result import ComponentCost, EnergyArea, EnergyMode
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError

__all__ = ["band", "component_energy", "paper_energy_area", "price"]

_PJ_PER_MJ = 1e9


def band(value: float, options: ComponentConfig, errors: tuple[float, float] = ENERGY_ERROR_RANGE
         ) -> tuple[float | None, float | None]:
    """``(low, high)`` of a calibrated figure whose leave-one-out errors span ``errors``,
    or ``(None, None)`` when the factor is not the fitted one (no band was justified)."""
    if options.calibration != CALIBRATION_FACTOR:
        return None, None
    low, high = errors
    return value / (1 + high), value / (1 + low)


def price(design: Design, actions: Actions, latency_s: float,
          options: ComponentConfig | None = None, note: str | None = None) -> EnergyArea:
    """Price ``actions`` of ``design`` over ``latency_s`` (the module's equations).

    Raises:
        ConfigError: an action a component does not have (names both).
    """
    opts = options or ComponentConfig()
    k = opts.calibration
    costs = []
    for c in design.components:
        dyn_pj = 0.0
        for action, count in actions.get(c.name, {}).items():
            if action not in c.action_pj:
                raise ConfigError(f"energy.{design.accelerator}.{c.name}",
                                  f"no action {action!r} (has {', '.join(c.action_pj)})")
            dyn_pj += count * c.action_pj[action]
        scale = 1.0 if c.group == "DRAM" else k
        costs.append(ComponentCost(c.name, c.group, c.area_mm2, c.leak_mw * scale,
                                   dyn_pj / _PJ_PER_MJ * scale,
                                   c.leak_mw * latency_s * scale))
    unknown = set(actions) - {c.name for c in design.components}
    if unknown:
        raise ConfigError(f"energy.{design.accelerator}",
                          f"actions of unknown components {sorted(unknown)}")
    total = sum(c.energy_mj for c in costs)
    dram_mj = sum(c.energy_mj for c in costs if c.group == "DRAM")
    on_chip = total - dram_mj
    power = on_chip / latency_s if latency_s > 0 else None  # mJ / s = mW
    lo, hi = band(total, opts)
    p_lo, p_hi = (None, None) if power is None else band(power, opts, POWER_ERROR_RANGE)
    return EnergyArea(
        mode=EnergyMode.COMPONENT, energy_mj=total, dram_mj=dram_mj, latency_s=latency_s,
        energy_low_mj=lo, energy_high_mj=hi, power_mw=power, power_low_mw=p_lo,
        power_high_mw=p_hi, area_mm2=design.area_mm2, calibration=k,
        components=tuple(costs), note=note)


def _facts(accelerator: Any) -> Any:
    """The registered model of an accelerator given by name (or the model itself);
    ``None`` for a name the registry does not know."""
    if hasattr(accelerator, "energy_key"):
        return accelerator
    from prosparsity.accel.registry import registry

    return registry().get(str(accelerator))


def _baseline_dram(accelerator: Any, breakdown: Breakdown,
                   reference_bits: float | None) -> tuple[float, str | None]:
    """DRAM bits of a baseline in consistent mode: its own where its model counts DRAM,
    else the paper's ratio times Prosperity's reference traffic."""
    model = _facts(accelerator)
    if model is not None and model.dram:
        return float(breakdown.dram_bits), None
    if reference_bits is None:
        return 0.0, "no DRAM reference for this trace: DRAM energy not included"
    key = None if model is None else model.energy_key
    if key is None or key not in PAPER_ENERGY.dram_traffic_ratio:
        shown = registry_name(accelerator) if model is None else model.display
        return float(reference_bits), (f"{shown} has no DRAM model or paper ratio: "
                                       "DRAM traffic taken as Prosperity's")
    ratio = PAPER_ENERGY.dram_traffic_ratio[key]
    return ratio * float(reference_bits), (f"DRAM traffic: the paper's ratio {ratio} x "
                                           "Prosperity's")


def component_energy(accelerator: Any, config: Any, stats: ModelStats,
                     breakdown: Breakdown, options: ComponentConfig | None = None,
                     reference_dram_bits: float | None = None) -> EnergyArea | None:
    """The component model's energy, power and area of one run.

    Args:
        accelerator: registry name (or its registered model).
        config: the configuration priced (its hardware sizes the design).
        stats: the statistics it was priced from.
        breakdown: its breakdown (latency, DRAM bits, per-layer extras).
        options: the model's options (default: the calibrated, paper-compatible ones).
        reference_dram_bits: Prosperity's DRAM traffic on the workload, for baselines
            without a DRAM model (the paper's ratio applies to it).

    Returns:
        The result, or ``None`` for an accelerator with no design (GPU models, reported
        figures).

    Raises:
        ConfigError: an option the model rejects.
    """
    accel = registry_name(accelerator)
    opts = options or ComponentConfig()
    design = design_of(accel, config, opts)
    network = stats.network
    if design is None or network is None:
        return None
    work = shape_work(network)
    note = None
    if accel == PROSPERITY:
        acts: Mapping[str, Mapping[str, float]] = prosperity_actions(
            config, design, trace_activities(stats, config.tile_k), work,
            float(breakdown.dram_bits), opts)
    else:
        bits, note = _baseline_dram(accelerator, breakdown, reference_dram_bits)
        acts = baseline_actions(accel, config, design, stats, breakdown, work, bits, opts)
    return price(design, acts, breakdown.latency_s, opts, note)


def paper_energy_area(accelerator: Any, breakdown: Breakdown,
                      config: EnergyConfig = PAPER_ENERGY) -> EnergyArea | None:
    """The paper's energy of a run in the result type (``None`` when ``breakdown`` has no
    energy): its fixed on-chip power and the DRAM part, no area, no band.

    Args:
        accelerator: registry name (or its registered model: its ``energy_key``).
        breakdown: the run, priced by the paper's model (``energy_mj``).
        config: the paper model's constants.
    """
    if breakdown.energy_mj is None:
        return None
    model = _facts(accelerator)
    key = None if model is None else model.energy_key
    energy = float(breakdown.energy_mj)
    if key is None or key not in config.on_chip_power_mw:  # the A100's measured power
        t = breakdown.latency_s
        return EnergyArea(EnergyMode.PAPER, energy, 0.0, t,
                          power_mw=energy / t if t > 0 else None,
                          components=(ComponentCost("board", "measured", 0.0, 0.0, energy,
                                                    0.0),),
                          note="the paper's measured board power x latency")
    power = config.on_chip_power_mw[key]
    on_chip = power * breakdown.latency_s
    dram_mj = max(0.0, energy - on_chip)
    return EnergyArea(
        EnergyMode.PAPER, energy, dram_mj, breakdown.latency_s, power_mw=power,
        components=(ComponentCost("on_chip", "on-chip", 0.0, 0.0, on_chip, 0.0),
                    ComponentCost("dram", "DRAM", 0.0, 0.0, dram_mj, 0.0)),
        note=f"the paper's model: {power} mW on chip x latency + DRAM at "
             f"{config.dram_pj_per_bit} pJ/bit")
