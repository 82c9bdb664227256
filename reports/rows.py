"""Input rows of the reports: plain, frozen, already-computed numbers.

The reports never analyse or simulate anything. The result model
(:mod:`prosparsity.results`) turns its values into these rows
(``DensityResult.row``, ``AcceleratorResult.row`` / ``layer_rows``, the studies' Figure 7
points), naming accelerators as reports spell them (``Prosperity``, ``PTB``). This module
imports nothing of the stages that produce them.

Every row validates its fields on construction and names the offending field in a
:class:`~prosparsity.core.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE


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
        bit_density: ``Σ nN·nnz(S) / Σ nN·M·K`` over the model's spiking GEMMs (``None``: none).
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
    bit_density: float | None
    product_density: float | None
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
        if (self.product_density is not None and self.bit_density is not None
                and self.product_density > self.bit_density + 1e-12):
            raise ConfigError(
                f"{row}.product_density",
                f"{self.product_density!r} exceeds bit_density {self.bit_density!r}",
            )
        if not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ConfigError(f"{row}.n_samples", f"must be >= 1, got {self.n_samples!r}")
        _check_tile(row, self.tile_m, self.tile_k)



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
        cycles_std: spread of ``total_cycles`` over samples (several samples), or ``None``.
        label: the caveat the accelerator's registration declares (``first-order model,
            no reference simulator``), carried into every report title; ``""``: none.
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
    cycles_std: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        row = "AccelRow"
        _check_name(row, "workload", self.workload)
        _check_name(row, "accelerator", self.accelerator)
        _check_nonneg(row, "latency_s", self.latency_s, positive=True)
        for name in ("energy_mj", "total_cycles", "compute_cycles", "mem_stall_cycles",
                     "preprocess_stall_cycles", "dram_bits", "gop_per_s", "gop_per_j",
                     "latency_low_s", "latency_high_s", "cycles_std"):
            _check_nonneg(row, name, getattr(self, name))



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



@dataclass(frozen=True)
class LayerRow:
    """One layer of one workload on one accelerator (the per-layer breakdown).

    Attributes:
        workload: workload name.
        accelerator: accelerator name.
        layer: layer name (the authors' name for a conv GEMM, e.g. ``conv2d_1_kernel5_fc``).
        op: operator kind (``gemm``, ``lif``, ``attention``, ``layernorm``, ...).
        total_cycles: the layer's standalone cycles (compute + stalls), or ``None`` for a
            model whose figure is a latency (a GPU).
        compute_cycles: compute cycles (``None`` likewise).
        mem_stall_cycles: cycles stalled on DRAM (``None`` likewise).
        preprocess_stall_cycles: cycles stalled on ProSparsity detection.
        dram_bits: DRAM traffic in bits, or ``None`` for a model that counts none.
        added_cycles: what the layer adds to the network total when it overlaps the
            layer before it (LIF after a GEMM), or ``None`` when equal to ``total_cycles``.
        bit_density: the layer's bit density (GEMM layers), or ``None``.
        product_density: the layer's product density (GEMM layers), or ``None``.
        priced_as: the name the accelerator's model prices the layer under when it
            differs from ``layer`` (Prosperity's ``conv2d_1_kernel5_fc`` for the trace's
            ``conv2d_1``), else ``""``; the authors' simulator output is keyed by it.
        latency_s: the layer's standalone latency, s (cycles at the clock), or ``None``.
        label: the accelerator's caveat (see :class:`AccelRow`), or ``""``.
    """

    workload: str
    accelerator: str
    layer: str
    op: str
    total_cycles: float | None
    compute_cycles: float | None = 0.0
    mem_stall_cycles: float | None = 0.0
    preprocess_stall_cycles: float | None = 0.0
    dram_bits: float | None = 0.0
    added_cycles: float | None = None
    bit_density: float | None = None
    product_density: float | None = None
    priced_as: str = ""
    latency_s: float | None = None
    label: str = ""

    def __post_init__(self) -> None:
        row = "LayerRow"
        for name in ("workload", "accelerator", "layer", "op"):
            _check_name(row, name, getattr(self, name))
        for name in ("total_cycles", "compute_cycles", "mem_stall_cycles",
                     "preprocess_stall_cycles", "dram_bits", "added_cycles", "latency_s"):
            _check_nonneg(row, name, getattr(self, name))
        _check_fraction(row, "bit_density", self.bit_density)
        _check_fraction(row, "product_density", self.product_density)



def tile_config(tile_m: int, tile_k: int) -> str:
    """The paper's label of a tile configuration: ``M{tile_m}_K{tile_k}``."""
    return f"M{tile_m}_K{tile_k}"
