"""Input rows of the reports: plain, frozen, already-computed numbers.

The reports never analyse or simulate anything. Whoever has results (the harness's
pipeline, a notebook) turns them into these rows with the typed builders below
(``DensityRow.of_stats``, ``AccelRow.of_breakdown``, ``LayerRow.of_breakdown``,
``SweepRow.of_point``): they read the *result types* of the other stages
(:class:`~prosparsity.analysis.stats.ModelStats` / ``SampleStats``, the densities' one
road into the reports, :class:`~prosparsity.accel.base.Breakdown`, and the sweep's
``CountSummary`` / ``Priced``) and name
accelerators by :class:`~prosparsity.core.ids.AcceleratorId`, never by display strings.
At run time this module imports neither the analysis nor the cost models (the types
are imported for annotations only).

Every row validates its fields on construction and names the offending field in a
:class:`~prosparsity.core.errors.ConfigError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError
from prosparsity.core.ids import AcceleratorId
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.accel.base import Breakdown
    from prosparsity.analysis.stats import ModelStats
    from prosparsity.sweep.stages import CountSummary, Priced


def _check_fraction(row: str, name: str, value: float | None) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0.0 or value > 1.0:
        raise ConfigError(f"{row}.{name}", f"must be a fraction in [0, 1], got {value!r}")


def _check_nonneg(row: str, name: str, value: float | None, positive: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0.0 or (positive and value == 0.0):
        need = "> 0" if positive else ">= 0"
        raise ConfigError(f"{row}.{name}", f"must be finite and {need}, got {value!r}")


def _check_name(row: str, name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{row}.{name}", f"must be a non-empty string, got {value!r}")


def _check_tile(row: str, tile_m: int, tile_k: int) -> None:
    for name, value in (("tile_m", tile_m), ("tile_k", tile_k)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{row}.{name}", f"must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class DensityRow:
    """Bit and product density of one workload (one row of Figure 11).

    With several samples the densities are means and the ``*_std`` fields their standard
    deviations across samples.

    Attributes:
        workload: workload name (a paper workload such as ``lenet5_mnist`` or any model).
        bit_density: ``Σ nN·nnz(S) / Σ nN·M·K`` over the model's spiking GEMMs.
        product_density: ``Σ nN·nnz(residual) / Σ nN·M·K``.
        em_share: exact-match (row, column tile) pairs over non-zero pairs, or ``None``.
        pm_share: partial-match pairs over non-zero pairs, or ``None``.
        n_samples: samples averaged (1 for a paper dump).
        bit_density_std: spread of ``bit_density`` across samples (``None`` if 1 sample).
        product_density_std: spread of ``product_density`` across samples.
        tile_m: ProSparsity tile rows.
        tile_k: ProSparsity tile columns.
        accelerator: whose tiling the densities belong to (the paper: Prosperity).
    """

    workload: str
    bit_density: float
    product_density: float
    em_share: float | None = None
    pm_share: float | None = None
    n_samples: int = 1
    bit_density_std: float | None = None
    product_density_std: float | None = None
    tile_m: int = DEFAULT_TILE.tile_m
    tile_k: int = DEFAULT_TILE.tile_k
    accelerator: str = "Prosperity"

    def __post_init__(self) -> None:
        row = "DensityRow"
        _check_name(row, "workload", self.workload)
        for name in ("bit_density", "product_density", "em_share", "pm_share"):
            _check_fraction(row, name, getattr(self, name))
        for name in ("bit_density_std", "product_density_std"):
            _check_nonneg(row, name, getattr(self, name))
        if self.product_density > self.bit_density + 1e-12:
            raise ConfigError(
                f"{row}.product_density",
                f"{self.product_density!r} exceeds bit_density {self.bit_density!r}",
            )
        if not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ConfigError(f"{row}.n_samples", f"must be >= 1, got {self.n_samples!r}")
        _check_tile(row, self.tile_m, self.tile_k)

    @staticmethod
    def of_stats(workload: str, stats: ModelStats) -> DensityRow:
        """The row of one statistics object (one sample, or a batch analysed as one)."""
        em, pm = stats.counts.nonzero_shares()
        return DensityRow(
            workload=workload, bit_density=float(stats.bit_density),
            product_density=float(stats.product_density), em_share=em, pm_share=pm,
            tile_m=stats.tile_m, tile_k=stats.tile_k,
        )  # fmt: skip

    @staticmethod
    def mean_of(workload: str, samples: Sequence[DensityRow]) -> DensityRow:
        """Mean and sample standard deviation of per-sample rows of one workload."""

        def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
            vals = [v for v in values if v is not None]
            if not vals:
                return None, None
            mean = sum(vals) / len(vals)
            var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
            return mean, math.sqrt(var)

        bit, bit_std = mean_std([r.bit_density for r in samples])
        prod, prod_std = mean_std([r.product_density for r in samples])
        em, _ = mean_std([r.em_share for r in samples])
        pm, _ = mean_std([r.pm_share for r in samples])
        first = samples[0]
        several = len(samples) > 1
        return DensityRow(
            workload=workload, bit_density=bit or 0.0, product_density=prod or 0.0,
            em_share=em, pm_share=pm, n_samples=len(samples),
            bit_density_std=bit_std if several else None,
            product_density_std=prod_std if several else None,
            tile_m=first.tile_m, tile_k=first.tile_k, accelerator=first.accelerator,
        )  # fmt: skip


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """The mean of ``values``, or ``None`` when there are none or any is missing (a
    figure one sample lacks is missing from the mean)."""
    nums = [v for v in values if v is not None]
    return sum(nums) / len(nums) if nums and len(nums) == len(values) else None


@dataclass(frozen=True)
class AccelRow:
    """End-to-end cost of one workload on one accelerator (one bar of Figure 8).

    Attributes:
        workload: workload name.
        accelerator: accelerator name as the paper spells it (``Prosperity``, ``PTB``,
            ``Eyeriss``, ``A100``, ...); matching against the paper is case-insensitive.
        latency_s: end-to-end latency in seconds.
        energy_mj: energy in millijoules, or ``None`` when the model has no energy.
        total_cycles: cycles at the accelerator's clock, or ``None`` (reported figures).
        compute_cycles: compute part of ``total_cycles``, or ``None``.
        mem_stall_cycles: cycles stalled on DRAM, or ``None``.
        preprocess_stall_cycles: cycles stalled on ProSparsity detection, or ``None``.
        dram_bits: DRAM traffic in bits, or ``None`` (also for a model that counts none).
        reported: True for figures taken from a publication or a measurement (A100,
            Stellar) rather than simulated.
        gop_per_s: throughput, the workload's operation count over ``latency_s``
            (GOP/s), or ``None`` (Stellar: no shared operation count; no spike data).
        gop_per_j: the operation count over ``energy_mj`` (GOP/J), or ``None``.
        latency_low_s: lower end of a GPU model's prediction band, s, or ``None``.
        latency_high_s: upper end of that band, s, or ``None``.
    """

    workload: str
    accelerator: str
    latency_s: float
    energy_mj: float | None = None
    total_cycles: float | None = None
    compute_cycles: float | None = None
    mem_stall_cycles: float | None = None
    preprocess_stall_cycles: float | None = None
    dram_bits: float | None = None
    reported: bool = False
    gop_per_s: float | None = None
    gop_per_j: float | None = None
    latency_low_s: float | None = None
    latency_high_s: float | None = None

    def __post_init__(self) -> None:
        row = "AccelRow"
        _check_name(row, "workload", self.workload)
        _check_name(row, "accelerator", self.accelerator)
        _check_nonneg(row, "latency_s", self.latency_s, positive=True)
        for name in ("energy_mj", "total_cycles", "compute_cycles", "mem_stall_cycles",
                     "preprocess_stall_cycles", "dram_bits", "gop_per_s", "gop_per_j",
                     "latency_low_s", "latency_high_s"):
            _check_nonneg(row, name, getattr(self, name))

    @staticmethod
    def of_breakdown(workload: str, accelerator: AcceleratorId, breakdown: Breakdown,
                     variant: str = "", *, gop_per_s: float | None = None,
                     gop_per_j: float | None = None) -> AccelRow:
        """The row of one run (energy as the suite priced it); ``variant`` labels an
        ablation (``bit`` -> ``Prosperity:bit``). Reported figures and GPUs carry no
        cycles (their figure is a latency), a model without a DRAM model no DRAM bits;
        a GPU model's prediction band comes from its breakdown's ``extra``."""
        reported = breakdown.latency_s_override is not None
        label = accelerator.display + (f":{variant}" if variant else "")
        cycles = not (reported or accelerator.is_gpu)

        def simulated(value: float, counted: bool = True) -> float | None:
            return _finite(value) if cycles and counted else None

        return AccelRow(
            workload=workload, accelerator=label, latency_s=float(breakdown.latency_s),
            energy_mj=_finite(breakdown.energy_mj),
            total_cycles=simulated(breakdown.total_cycles),
            compute_cycles=simulated(breakdown.compute_cycles),
            mem_stall_cycles=simulated(breakdown.mem_stall_cycles),
            preprocess_stall_cycles=simulated(breakdown.preprocess_stall_cycles),
            dram_bits=_finite(breakdown.dram_bits) if accelerator.models_dram and not
            reported else None,
            reported=reported, gop_per_s=_finite(gop_per_s), gop_per_j=_finite(gop_per_j),
            latency_low_s=_finite(breakdown.extra.get("latency_low_s")),
            latency_high_s=_finite(breakdown.extra.get("latency_high_s")),
        )  # fmt: skip

    @staticmethod
    def mean(rows: Sequence[AccelRow]) -> AccelRow:
        """Mean latency, energy and cycles of one workload's samples on one accelerator;
        a field missing in any sample is missing in the mean."""

        mean = mean_or_none
        first = rows[0]
        return AccelRow(
            workload=first.workload, accelerator=first.accelerator,
            latency_s=mean([r.latency_s for r in rows]) or first.latency_s,
            energy_mj=mean([r.energy_mj for r in rows]),
            total_cycles=mean([r.total_cycles for r in rows]),
            compute_cycles=mean([r.compute_cycles for r in rows]),
            mem_stall_cycles=mean([r.mem_stall_cycles for r in rows]),
            preprocess_stall_cycles=mean([r.preprocess_stall_cycles for r in rows]),
            dram_bits=mean([r.dram_bits for r in rows]), reported=first.reported,
            gop_per_s=mean([r.gop_per_s for r in rows]),
            gop_per_j=mean([r.gop_per_j for r in rows]),
            latency_low_s=mean([r.latency_low_s for r in rows]),
            latency_high_s=mean([r.latency_high_s for r in rows]),
        )  # fmt: skip


@dataclass(frozen=True)
class SweepRow:
    """Prosperity at one tile size (one point of Figure 7).

    Attributes:
        workload: workload name.
        tile_m: tile rows.
        tile_k: tile columns.
        latency_s: Prosperity's latency with product sparsity at this tile size.
        bit_sparsity_latency_s: Prosperity's latency with bit sparsity only (the paper's
            normalisation; it does not depend on the tile size).
        product_density: product density at this tile size.
        bit_density: bit density (independent of the tile size).
        total_cycles: cycles behind ``latency_s``, or ``None``.
    """

    workload: str
    tile_m: int
    tile_k: int
    latency_s: float
    bit_sparsity_latency_s: float
    product_density: float
    bit_density: float
    total_cycles: float | None = None

    def __post_init__(self) -> None:
        row = "SweepRow"
        _check_name(row, "workload", self.workload)
        _check_tile(row, self.tile_m, self.tile_k)
        _check_nonneg(row, "latency_s", self.latency_s, positive=True)
        _check_nonneg(row, "bit_sparsity_latency_s", self.bit_sparsity_latency_s, positive=True)
        _check_fraction(row, "product_density", self.product_density)
        _check_fraction(row, "bit_density", self.bit_density)
        _check_nonneg(row, "total_cycles", self.total_cycles)

    @property
    def config(self) -> str:
        """The paper's name of this tile configuration, e.g. ``M256_K16``."""
        return tile_config(self.tile_m, self.tile_k)

    @staticmethod
    def of_point(workload: str, tile: tuple[int, int], counted: CountSummary,
                 product: Priced, bit: Priced) -> SweepRow:
        """One tile point of a sweep (:mod:`prosparsity.sweep`): densities from the
        count at that tile, latencies of Prosperity there (product sparsity) and with
        bit sparsity only.

        Raises:
            ConfigError: a point without a latency (the model had no figure).
        """
        if product.latency_s is None or bit.latency_s is None or product.total_cycles is None:
            raise ConfigError("SweepRow", f"{workload}: no Prosperity latency at tile "
                              f"{tile[0]}x{tile[1]}")
        return SweepRow(
            workload=workload, tile_m=tile[0], tile_k=tile[1],
            latency_s=float(product.latency_s), bit_sparsity_latency_s=float(bit.latency_s),
            product_density=counted.product_density, bit_density=counted.bit_density,
            total_cycles=float(product.total_cycles),
        )  # fmt: skip


@dataclass(frozen=True)
class LayerRow:
    """One layer of one workload on one accelerator (the per-layer breakdown).

    Attributes:
        workload: workload name.
        accelerator: accelerator name.
        layer: layer name (the authors' name for a conv GEMM, e.g. ``conv2d_1_kernel5_fc``).
        op: operator kind (``gemm``, ``lif``, ``attention``, ``layernorm``, ...).
        total_cycles: the layer's standalone cycles (compute + stalls).
        compute_cycles: compute cycles.
        mem_stall_cycles: cycles stalled on DRAM.
        preprocess_stall_cycles: cycles stalled on ProSparsity detection.
        dram_bits: DRAM traffic in bits.
        added_cycles: what the layer adds to the network total when it overlaps the
            layer before it (LIF after a GEMM), or ``None`` when equal to ``total_cycles``.
        bit_density: the layer's bit density (GEMM layers), or ``None``.
        product_density: the layer's product density (GEMM layers), or ``None``.
        priced_as: the name the accelerator's model prices the layer under when it
            differs from ``layer`` (Prosperity's ``conv2d_1_kernel5_fc`` for the trace's
            ``conv2d_1``), else ``""``; the authors' simulator output is keyed by it.
    """

    workload: str
    accelerator: str
    layer: str
    op: str
    total_cycles: float
    compute_cycles: float = 0.0
    mem_stall_cycles: float = 0.0
    preprocess_stall_cycles: float = 0.0
    dram_bits: float = 0.0
    added_cycles: float | None = None
    bit_density: float | None = None
    product_density: float | None = None
    priced_as: str = ""

    def __post_init__(self) -> None:
        row = "LayerRow"
        for name in ("workload", "accelerator", "layer", "op"):
            _check_name(row, name, getattr(self, name))
        for name in ("total_cycles", "compute_cycles", "mem_stall_cycles",
                     "preprocess_stall_cycles", "dram_bits", "added_cycles"):
            _check_nonneg(row, name, getattr(self, name))
        _check_fraction(row, "bit_density", self.bit_density)
        _check_fraction(row, "product_density", self.product_density)

    @staticmethod
    def of_breakdown(workload: str, accelerator: AcceleratorId, breakdown: Breakdown,
                     densities: Mapping[str, tuple[float, float]] | None = None,
                     ) -> list[LayerRow]:
        """One row per layer of a run, named by the trace record it prices (one name per
        layer whatever the accelerator); ``densities`` maps a trace record to its (bit,
        product) density (:func:`layer_densities`)."""
        densities = densities or {}
        rows = []
        for layer in breakdown.layers:
            bit, prod = densities.get(layer.layer, (None, None))
            rows.append(LayerRow(
                workload=workload, accelerator=accelerator.display, layer=layer.layer,
                priced_as="" if layer.name == layer.layer else layer.name,
                op=str(layer.op), total_cycles=float(layer.total_cycles),
                compute_cycles=float(layer.compute_cycles),
                mem_stall_cycles=float(layer.mem_stall_cycles),
                preprocess_stall_cycles=float(layer.preprocess_stall_cycles),
                dram_bits=float(layer.dram_bits),
                added_cycles=None if layer.added_cycles == layer.total_cycles
                else _finite(layer.added_cycles),
                bit_density=_finite(bit), product_density=_finite(prod),
            ))  # fmt: skip
        return rows


def layer_densities(stats: ModelStats | None) -> dict[str, tuple[float, float]]:
    """Layer name -> (bit, product) density of the analysed layers of ``stats``."""
    if stats is None:
        return {}
    return {layer.name: (float(layer.bit_density), float(layer.product_density))
            for layer in stats.layers}


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def tile_config(tile_m: int, tile_k: int) -> str:
    """The paper's label of a tile configuration: ``M{tile_m}_K{tile_k}``."""
    return f"M{tile_m}_K{tile_k}"
