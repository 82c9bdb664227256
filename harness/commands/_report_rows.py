"""Glue shared by ``reproduce`` and ``demo``: run the pipeline stages, turn results into rows.

The stages (import, analysis, cost models, energy) live in their own packages; this
module only calls them and converts their frozen results (``ModelStats``, ``Breakdown``)
into the plain rows of :mod:`prosparsity.reports.rows`, so that ``reports`` depends on
neither the analysis nor the cost models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.reports.paper import canonical_accelerator
from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, SweepRow


@dataclass
class Collected:
    """Rows gathered over all workloads of one command run."""

    density: list[DensityRow] = field(default_factory=list)
    accelerators: list[AccelRow] = field(default_factory=list)
    sweep: list[SweepRow] = field(default_factory=list)
    layers: dict[str, list[LayerRow]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        """Record a part that could not be produced (shown under the reports)."""
        if message not in self.skipped:
            self.skipped.append(message)


# ----------------------------------------------------------------------------- names
#: Accelerators outside Figure 8, as the paper spells them.
OTHER_SPELLINGS = {"loas": "LoAS"}


def display_name(name: str) -> str:
    """The paper's spelling of a registry name (``prosperity`` -> ``Prosperity``,
    ``eyeriss-linear`` -> ``Eyeriss_linear``, ``a100`` -> ``A100``). Other names (``gpu-a100``,
    the GPU-equivalent model) stay as they are, so two models never share a name (the
    energy key would not do: ``eyeriss`` and ``eyeriss-linear`` share one)."""
    known = canonical_accelerator(name) or canonical_accelerator(name.replace("-", "_"))
    return known or OTHER_SPELLINGS.get(name.lower(), name)


# ----------------------------------------------------------------------------- stages
def accelerator_models() -> dict[str, Any]:
    """The registered accelerator models (name -> registry entry)."""
    from prosparsity.accel.base import registry

    return registry()


def simulate_all(workload: Any, names: Sequence[str] | None = None,
                 overrides: Mapping[str, Any] | None = None) -> dict[str, tuple[Any, Any]]:
    """Run accelerators on ``workload``: display name -> (registry entry, Breakdown).

    Uses ``prosparsity.accel.suite.run_suite``, which applies ``overrides`` to every
    config having such a field and prices energy with the paper's model; ``names=None``
    runs every accelerator that applies. Models answering ``None`` (a reported figure off
    the paper's workloads) are left out.
    """
    from prosparsity.accel.suite import run_suite

    models = accelerator_models()
    suite = run_suite(workload, names=names, overrides=overrides)
    return {display_name(k): (models[k], bd) for k, bd in suite.results.items()
            if bd is not None}


# ----------------------------------------------------------------------------- rows
def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def accel_row(workload: str, accelerator: str, breakdown: Any) -> AccelRow:
    """An :class:`AccelRow` from a ``Breakdown`` (energy as the suite priced it)."""
    reported = breakdown.latency_s_override is not None
    return AccelRow(
        workload=workload,
        accelerator=accelerator,
        latency_s=float(breakdown.latency_s),
        energy_mj=_num(breakdown.energy_mj),
        total_cycles=None if reported else _num(breakdown.total_cycles),
        compute_cycles=None if reported else _num(breakdown.compute_cycles),
        mem_stall_cycles=None if reported else _num(breakdown.mem_stall_cycles),
        preprocess_stall_cycles=None if reported else _num(breakdown.preprocess_stall_cycles),
        dram_bits=None if reported else _num(breakdown.dram_bits),
        reported=reported,
    )


def layer_densities(stats: Any | None) -> dict[str, tuple[float, float]]:
    """Layer name -> (bit, product) density from analysis statistics (``ModelStats``)."""
    if stats is None:
        return {}
    return {layer.name: (float(layer.bit_density), float(layer.product_density))
            for layer in getattr(stats, "layers", ())}


_CONV_GEMM_SUFFIX = re.compile(r"_kernel\d+_fc$")


def layer_rows(workload: str, accelerator: str, breakdown: Any,
               densities: Mapping[str, tuple[float, float]] | None = None) -> list[LayerRow]:
    """One :class:`LayerRow` per ``LayerBreakdown``; ``densities`` maps layer name to
    (bit, product) density where the analysis has them (a conv GEMM named the authors'
    way, ``conv2d_1_kernel5_fc``, takes the densities of ``conv2d_1``)."""
    densities = densities or {}
    rows = []
    for layer in breakdown.layers:
        bit, prod = densities.get(layer.name) or densities.get(
            _CONV_GEMM_SUFFIX.sub("", layer.name), (None, None))
        if bit is None and "bit_density" in layer.extra:
            bit, prod = layer.extra.get("bit_density"), layer.extra.get("product_density")
        rows.append(LayerRow(
            workload=workload, accelerator=accelerator, layer=layer.name, op=str(layer.op),
            total_cycles=float(layer.total_cycles),
            compute_cycles=float(layer.compute_cycles),
            mem_stall_cycles=float(layer.mem_stall_cycles),
            preprocess_stall_cycles=float(layer.preprocess_stall_cycles),
            dram_bits=float(layer.dram_bits),
            added_cycles=None if layer.added_cycles == layer.total_cycles
            else _num(layer.added_cycles),
            bit_density=_num(bit), product_density=_num(prod),
        ))
    return rows


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        if isinstance(obj, Mapping) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def row_class_shares(stats: Any) -> tuple[float | None, float | None]:
    """EM and PM share among non-zero (row, column tile) pairs from analysis statistics."""
    em = _get(stats, "em_rows")
    pm = _get(stats, "pm_rows")
    nonzero = None
    zero, other = _get(stats, "zero_rows"), _get(stats, "other_rows")
    if em is not None and pm is not None and other is not None:
        nonzero = float(em) + float(pm) + float(other)
    elif zero is not None:
        total = _get(stats, "pairs", "row_pairs", "total_rows")
        if total is not None:
            nonzero = float(total) - float(zero)
    if em is None or pm is None or not nonzero:
        return None, None
    return float(em) / nonzero, float(pm) / nonzero


def density_row(workload: str, stats: Any, tile_m: int = DEFAULT_TILE.tile_m,
                tile_k: int = DEFAULT_TILE.tile_k) -> DensityRow:
    """A :class:`DensityRow` from analysis statistics (``ModelStats``) or from Prosperity's
    ``Breakdown.extra`` (``bit_density``, ``product_density``)."""
    source = stats.extra if hasattr(stats, "extra") and not hasattr(stats, "bit_density") \
        else stats
    em, pm = row_class_shares(getattr(source, "counts", source))
    return DensityRow(
        workload=workload,
        bit_density=float(_get(source, "bit_density")),
        product_density=float(_get(source, "product_density")),
        em_share=em, pm_share=pm, tile_m=tile_m, tile_k=tile_k,
    )


def sample_density_row(workload: str, samples: Sequence[DensityRow]) -> DensityRow:
    """Mean and standard deviation of per-sample density rows of one workload."""
    def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
        vals = [v for v in values if v is not None]
        if not vals:
            return None, None
        mean = sum(vals) / len(vals)
        var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
        return mean, math.sqrt(var)

    bit, bit_std = mean_std(r.bit_density for r in samples)
    prod, prod_std = mean_std(r.product_density for r in samples)
    em, _ = mean_std(r.em_share for r in samples)
    pm, _ = mean_std(r.pm_share for r in samples)
    first = samples[0]
    return DensityRow(
        workload=workload, bit_density=bit or 0.0, product_density=prod or 0.0,
        em_share=em, pm_share=pm, n_samples=len(samples),
        bit_density_std=bit_std if len(samples) > 1 else None,
        product_density_std=prod_std if len(samples) > 1 else None,
        tile_m=first.tile_m, tile_k=first.tile_k, accelerator=first.accelerator,
    )
