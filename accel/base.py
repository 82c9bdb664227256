"""The types a cost model (the *pricing* stage) takes and returns.

Each accelerator is a pure function ``simulate(stats, config) -> Breakdown`` of the
statistics that counting produced once (:class:`~prosparsity.analysis.stats.ModelStats`:
typed layer metadata, ProSparsity tile grids, per-accelerator counters) and a frozen
config (registered with its facts in :mod:`prosparsity.accel.registry`). It never touches
spike data and never calls the ProSparsity kernel. A model says what its config needs
counted (:class:`Needs`: spike data, the tile of the grids, counters), so that one
counting pass serves every model of a run. Results are frozen dataclasses that add up with
``+`` (layer -> model). Nothing here prints, imports torch or rich, or keeps state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import ConfigError

if TYPE_CHECKING:
    from prosparsity.accel.energy.result import EnergyReport
    from prosparsity.analysis.counters import Counter
    from prosparsity.analysis.network import Network
    from prosparsity.analysis.stats import ModelStats

__all__ = [
    "Breakdown",
    "LayerBreakdown",
    "Needs",
    "ceil_div",
    "require_network",
]


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for non-negative integers."""
    return -(-a // b)


def require_network(stats: ModelStats, accelerator: str) -> Network:
    """The layer metadata of ``stats``.

    Raises:
        ConfigError: statistics without metadata (built by hand from bare counts).
    """
    if stats.network is None:
        raise ConfigError(accelerator, f"{stats.where}: statistics without layer metadata")
    return stats.network


_ADDITIVE = ("total_cycles", "compute_cycles", "mem_stall_cycles", "preprocess_stall_cycles",
             "dram_bits")


@dataclass(frozen=True)
class LayerBreakdown:
    """Cost of one layer on one accelerator.

    Attributes:
        name: layer name as the model prices it (the authors' naming where it differs
            from the record, e.g. ``conv2d_1_kernel5_fc``).
        op: operator kind (``gemm``, ``lif``, ``attention``, ``layernorm``, ...).
        total_cycles: cycles this layer takes standalone (compute + stalls).
        compute_cycles: compute time in cycles.
        mem_stall_cycles: cycles stalled on DRAM.
        preprocess_stall_cycles: cycles stalled on ProSparsity detection.
        dram_bits: DRAM traffic in bits.
        added_cycles: what the layer adds to the network total (differs from
            ``total_cycles`` for a LIF layer overlapped with the GEMM before it).
        extra: model-specific counters (e.g. packed rows), numbers only.
        record: the trace record the layer prices (``""``: the same as ``name``); the
            key under which the layer's statistics (densities) are found.
    """

    name: str
    op: str
    total_cycles: float = 0
    compute_cycles: float = 0
    mem_stall_cycles: float = 0
    preprocess_stall_cycles: float = 0
    dram_bits: float = 0
    added_cycles: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    record: str = ""

    @property
    def network_cycles(self) -> float:
        return self.total_cycles if self.added_cycles is None else self.added_cycles

    @property
    def layer(self) -> str:
        """The trace record this layer prices."""
        return self.record or self.name

    def __add__(self, other: LayerBreakdown) -> LayerBreakdown:
        """Two parts of one layer (channel groups, bit planes): every count adds up.

        Raises:
            ConfigError: parts of different layers or operators.
        """
        if not isinstance(other, LayerBreakdown):
            return NotImplemented
        if (self.name, self.op) != (other.name, other.op):
            raise ConfigError("breakdown", f"cannot add layer {other.name!r} ({other.op}) "
                              f"to {self.name!r} ({self.op})")
        added = (None if self.added_cycles is None and other.added_cycles is None
                 else self.network_cycles + other.network_cycles)
        extra = {k: self.extra.get(k, 0.0) + other.extra.get(k, 0.0)
                 for k in dict.fromkeys([*self.extra, *other.extra])}
        return LayerBreakdown(
            self.name, self.op, *(getattr(self, f) + getattr(other, f) for f in _ADDITIVE),
            added_cycles=added, extra=extra, record=self.record,
        )  # fmt: skip


@dataclass(frozen=True)
class Breakdown:
    """Cost of a whole workload on one accelerator.

    ``total_cycles`` etc. are stored, not recomputed, because some accelerators (the
    reported-figure ones) have totals without layers, and the authors' simulator sums
    some fields differently from others (documented per model). ``extra`` holds
    model-specific whole-run numbers (Prosperity and LoAS: the densities their runs
    report, as the authors' simulator outputs them); reports take densities from the
    statistics, not from here. ``energy_note`` says why ``energy_mj`` is ``None`` (no
    energy model, or a configuration off the paper's design: see
    :func:`prosparsity.accel.energy.energy_withheld`). ``energy_area`` is both energy
    models' result of the run (the paper's where it applies, the component model's
    energy, power, area and breakdown at every design point), set by the suite's pricing.

    ``a + b`` is the run of ``a``'s network followed by ``b``'s (e.g. two samples at
    batch 1, one after the other): totals, energies and latencies add up, layers are
    concatenated; ``extra`` (ratios) does not add and is left empty, nor does
    ``energy_area`` (price the sum to have it).
    """

    accelerator: str
    workload: str
    total_cycles: float
    compute_cycles: float
    mem_stall_cycles: float
    preprocess_stall_cycles: float
    dram_bits: float
    clock_hz: float
    layers: tuple[LayerBreakdown, ...] = ()
    energy_mj: float | None = None
    latency_s_override: float | None = None  # reported-figure accelerators (A100, Stellar)
    notes: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)  # e.g. the run's densities
    energy_note: str | None = None  # why energy_mj is None (set by the suite's pricing)
    energy_area: EnergyReport | None = None  # both energy models (set by the suite)

    @staticmethod
    def of_layers(accelerator: str, workload: str, clock_hz: float,
                  layers: Iterable[LayerBreakdown], **kwargs: Any) -> Breakdown:
        """A breakdown whose totals are the sums of its layers (``network_cycles`` for
        the total, so an overlapped LIF layer adds only what it adds)."""
        layers = tuple(layers)
        totals = dict.fromkeys(_ADDITIVE, 0.0)
        for layer in layers:
            totals["total_cycles"] += layer.network_cycles
            for name in _ADDITIVE[1:]:
                totals[name] += getattr(layer, name)
        return Breakdown(accelerator=accelerator, workload=workload, clock_hz=clock_hz,
                         layers=layers, **totals, **kwargs)

    @property
    def latency_s(self) -> float:
        if self.latency_s_override is not None:
            return self.latency_s_override
        return self.total_cycles / self.clock_hz

    def __add__(self, other: Breakdown) -> Breakdown:
        if not isinstance(other, Breakdown):
            return NotImplemented
        if (self.accelerator, self.clock_hz) != (other.accelerator, other.clock_hz):
            raise ConfigError("breakdown", f"cannot add a {other.accelerator} run at "
                              f"{other.clock_hz} Hz to a {self.accelerator} run at "
                              f"{self.clock_hz} Hz")
        reported = (self.latency_s_override, other.latency_s_override)
        if (reported[0] is None) != (reported[1] is None):
            raise ConfigError("breakdown", "cannot add a reported figure to a simulated run")
        energies = (self.energy_mj, other.energy_mj)
        return Breakdown(
            accelerator=self.accelerator,
            workload=self.workload if self.workload == other.workload
            else f"{self.workload}+{other.workload}",
            **{f: getattr(self, f) + getattr(other, f) for f in _ADDITIVE},
            clock_hz=self.clock_hz,
            layers=self.layers + other.layers,
            energy_mj=None if None in energies else energies[0] + energies[1],  # type: ignore[operator]
            latency_s_override=None if reported[0] is None else reported[0] + reported[1],  # type: ignore[operator]
            notes=tuple(dict.fromkeys(self.notes + other.notes)),
            energy_note=self.energy_note or other.energy_note,
        )


@dataclass(frozen=True)
class Needs:
    """What a config needs counted before it can be priced.

    Attributes:
        spikes: spike statistics (tile grids); False for shape-only pricing.
        tile: the ``(tile_m, tile_k)`` the grids must have been counted at, or ``None``
            when any tile serves (the model uses only tile-independent counts).
        counters: the per-accelerator counters to count alongside.
    """

    spikes: bool = False
    tile: tuple[int, int] | None = None
    counters: frozenset[Counter] = frozenset()
