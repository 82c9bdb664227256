"""Names, units and comparison tolerances of the metrics the reports show."""

from __future__ import annotations

from enum import StrEnum


class Metric(StrEnum):
    """The metrics of the reports (long-form CSV ``metric`` column)."""

    BIT_DENSITY = "bit_density"
    PRODUCT_DENSITY = "product_density"
    REDUCTION_FACTOR = "reduction_factor"
    EM_SHARE = "em_share"
    PM_SHARE = "pm_share"
    BIT_DENSITY_STD = "bit_density_std"
    PRODUCT_DENSITY_STD = "product_density_std"
    N_SAMPLES = "n_samples"
    LATENCY_S = "latency_s"
    LATENCY_S_STD = "latency_s_std"  # spread of the latency over samples
    ENERGY_MJ = "energy_mj"
    ENERGY_MJ_STD = "energy_mj_std"  # spread of the energy over samples
    TOTAL_CYCLES = "total_cycles"
    TOTAL_CYCLES_STD = "total_cycles_std"  # spread of the cycles over samples
    COMPUTE_CYCLES = "compute_cycles"
    MEM_STALL_CYCLES = "mem_stall_cycles"
    PREPROCESS_STALL_CYCLES = "preprocess_stall_cycles"
    ADDED_CYCLES = "added_cycles"
    DRAM_BITS = "dram_bits"
    NORMALIZED_LATENCY = "normalized_latency"
    BIT_SPARSITY_LATENCY_S = "bit_sparsity_latency_s"
    LATENCY_LOW_S = "latency_low_s"  # a GPU model's prediction band (gpu-error)
    LATENCY_HIGH_S = "latency_high_s"
    GOP_PER_S = "gop_per_s"  # the workload's operation count / latency
    GOP_PER_J = "gop_per_j"  # the workload's operation count / energy
    AREA_MM2 = "area_mm2"  # component model (Figure 10)
    AREA_SHARE = "area_share"
    POWER_MW = "power_mw"  # on-chip power
    POWER_SHARE = "power_share"
    ENERGY_COMPONENT_MJ = "energy_component_mj"  # the component model's energy
    ENERGY_LOW_MJ = "energy_low_mj"  # its band
    ENERGY_HIGH_MJ = "energy_high_mj"
    LOO_ERROR = "loo_error"  # leave-one-out relative error of a calibrated figure


class Tolerance(StrEnum):
    """How closely a metric must match its reference before it is flagged.

    DENSITY: relative difference above 1e-6; COST (latency, energy, normalised latency):
    above 1 %; EXACT (cycle and bit counts of the authors' simulator): any difference.
    """

    DENSITY = "density"
    COST = "cost"
    EXACT = "exact"

    @property
    def limit(self) -> float:
        """The largest relative difference that is not flagged."""
        return {Tolerance.DENSITY: 1e-6, Tolerance.COST: 1e-2, Tolerance.EXACT: 0.0}[self]


SPEEDUP_PREFIX = "speedup_vs_"
EFFICIENCY_PREFIX = "energy_efficiency_vs_"

_UNITS: dict[str, str] = {
    Metric.LATENCY_S: "s",
    Metric.LATENCY_S_STD: "s",
    Metric.ENERGY_MJ_STD: "mJ",
    Metric.BIT_SPARSITY_LATENCY_S: "s",
    Metric.LATENCY_LOW_S: "s",
    Metric.LATENCY_HIGH_S: "s",
    Metric.GOP_PER_S: "GOP/s",
    Metric.GOP_PER_J: "GOP/J",
    Metric.ENERGY_MJ: "mJ",
    Metric.TOTAL_CYCLES: "cycles",
    Metric.TOTAL_CYCLES_STD: "cycles",
    Metric.COMPUTE_CYCLES: "cycles",
    Metric.MEM_STALL_CYCLES: "cycles",
    Metric.PREPROCESS_STALL_CYCLES: "cycles",
    Metric.ADDED_CYCLES: "cycles",
    Metric.DRAM_BITS: "bits",
    Metric.AREA_MM2: "mm²",
    Metric.POWER_MW: "mW",
    Metric.ENERGY_COMPONENT_MJ: "mJ",
    Metric.ENERGY_LOW_MJ: "mJ",
    Metric.ENERGY_HIGH_MJ: "mJ",
}

_TOLERANCES: dict[str, Tolerance] = {
    Metric.BIT_DENSITY: Tolerance.DENSITY,
    Metric.PRODUCT_DENSITY: Tolerance.DENSITY,
    Metric.REDUCTION_FACTOR: Tolerance.DENSITY,
    Metric.LATENCY_S: Tolerance.COST,
    Metric.ENERGY_MJ: Tolerance.COST,
    Metric.NORMALIZED_LATENCY: Tolerance.COST,
    Metric.TOTAL_CYCLES: Tolerance.EXACT,
    Metric.COMPUTE_CYCLES: Tolerance.EXACT,
    Metric.MEM_STALL_CYCLES: Tolerance.EXACT,
    Metric.PREPROCESS_STALL_CYCLES: Tolerance.EXACT,
    Metric.ADDED_CYCLES: Tolerance.EXACT,
    Metric.DRAM_BITS: Tolerance.EXACT,
}


def unit_of(metric: str) -> str:
    """The unit of a metric (``""`` for ratios and fractions)."""
    if metric.startswith((SPEEDUP_PREFIX, EFFICIENCY_PREFIX)):
        return "x"
    return _UNITS.get(metric, "")


def tolerance_of(metric: str) -> Tolerance:
    """The tolerance a metric is checked with against a reference (COST if unknown)."""
    return _TOLERANCES.get(metric, Tolerance.COST)


def speedup_metric(baseline: str) -> str:
    """Metric name of the speedup over ``baseline`` (``speedup_vs_eyeriss``)."""
    return SPEEDUP_PREFIX + baseline.lower()


def efficiency_metric(baseline: str) -> str:
    """Metric name of the energy efficiency over ``baseline``."""
    return EFFICIENCY_PREFIX + baseline.lower()
