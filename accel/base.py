"""Common types of the cost models (the *pricing* stage) and the accelerator registry.

Each accelerator is a pure function ``(workload statistics, config) -> Breakdown``;
results are frozen dataclasses that add up (layer -> model). Nothing here prints,
imports torch or rich, or keeps global state beyond the registry of names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class LayerBreakdown:
    """Cost of one layer on one accelerator.

    Attributes:
        name: layer name (the authors' naming where it differs, e.g. ``conv2d_1_kernel5_fc``).
        op: operator kind (``gemm``, ``lif``, ``attention``, ``layernorm``, ...).
        total_cycles: cycles this layer takes standalone (compute + stalls).
        compute_cycles: compute time in cycles.
        mem_stall_cycles: cycles stalled on DRAM.
        preprocess_stall_cycles: cycles stalled on ProSparsity detection.
        dram_bits: DRAM traffic in bits.
        added_cycles: what the layer adds to the network total (differs from
            ``total_cycles`` for a LIF layer overlapped with the GEMM before it).
        extra: model-specific counters (e.g. row classes), numbers only.
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

    @property
    def network_cycles(self) -> float:
        return self.total_cycles if self.added_cycles is None else self.added_cycles


@dataclass(frozen=True)
class Breakdown:
    """Cost of a whole workload on one accelerator.

    ``total_cycles`` etc. are stored, not recomputed, because some accelerators (the
    reported-figure ones) have totals without layers, and the authors' simulator sums
    some fields differently from others (documented per model). ``extra`` holds
    model-specific whole-workload numbers (Prosperity: ``bit_density``,
    ``product_density``).
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
    extra: dict[str, float] = field(default_factory=dict)  # e.g. bit/product density

    @property
    def latency_s(self) -> float:
        if self.latency_s_override is not None:
            return self.latency_s_override
        return self.total_cycles / self.clock_hz

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``prosparsity simulate --json``."""
        return {
            "total_cycles": self.total_cycles,
            "compute_cycles": self.compute_cycles,
            "mem_stall_cycles": self.mem_stall_cycles,
            "preprocess_stall_cycles": self.preprocess_stall_cycles,
            "latency_s": self.latency_s,
            "energy_mj": self.energy_mj,
            "dram_bits": self.dram_bits,
            **dict(self.extra),
            "layers": [
                {f.name: getattr(layer, f.name) for f in fields(layer)} for layer in self.layers
            ],
        }


def sum_layers(layers: Iterable[LayerBreakdown]) -> dict[str, float]:
    """Field-wise sums of a sequence of layer breakdowns (network_cycles for the total)."""
    out = dict.fromkeys(
        ("total_cycles", "compute_cycles", "mem_stall_cycles", "preprocess_stall_cycles",
         "dram_bits"), 0.0)
    for layer in layers:
        out["total_cycles"] += layer.network_cycles
        out["compute_cycles"] += layer.compute_cycles
        out["mem_stall_cycles"] += layer.mem_stall_cycles
        out["preprocess_stall_cycles"] += layer.preprocess_stall_cycles
        out["dram_bits"] += layer.dram_bits
    return out


@dataclass(frozen=True)
class AcceleratorModel:
    """One registered accelerator: what ``registry()`` maps a name to.

    Attributes:
        name: registry name (``prosperity``, ``ptb``, ``gpu-a100``, ...).
        simulate: ``simulate(workload, config) -> Breakdown | None``; a pure function of
            the workload and a config (``None`` selects ``config_type()``, the paper
            preset). ``None`` as a result means "does not apply to this workload" (a
            reported-figure accelerator on a trace that is not a paper workload).
        config_type: the frozen, validated config dataclass; ``config_type()`` is the
            paper's default configuration.
        needs_spikes: True when ``simulate`` reads spike data (a shapes-only paper
            workload cannot be simulated); False for shape-only models.
        energy_key: the accelerator's key in the paper's energy model
            (``prosparsity.accel.energy``: ``Prosperity``, ``PTB``, ``Eyeriss``, ...),
            or ``None`` when the model prices its own energy (or has none).
        description: one line for ``--help`` and tables.
    """

    name: str
    simulate: Callable[..., Any]
    config_type: type
    needs_spikes: bool = True
    energy_key: str | None = None
    description: str = ""

    def default_config(self) -> Any:
        """The paper's default configuration of this accelerator."""
        return self.config_type()

    def run(self, workload: Any, config: Any | None = None) -> Breakdown | None:
        """``simulate`` with the default config when ``config`` is ``None``."""
        return self.simulate(workload, self.default_config() if config is None else config)


_REGISTRY: dict[str, AcceleratorModel] = {}


def register(
    name: str,
    *,
    config_type: type | None = None,
    needs_spikes: bool = True,
    energy_key: str | None = None,
    description: str = "",
) -> Callable[[Any], Any]:
    """Decorator registering an accelerator's ``simulate`` function under ``name``.

    Usage, in a module of :mod:`prosparsity.accel` (imported by ``builtins``)::

        @register("ptb", config_type=PTBConfig, needs_spikes=True, energy_key="PTB")
        def simulate(workload: Workload, config: PTBConfig | None = None) -> Breakdown: ...

    The function is returned unchanged, so it stays directly callable.

    Args:
        name: registry name, unique.
        config_type: frozen config dataclass whose no-argument construction is the
            paper preset; required.
        needs_spikes: whether ``simulate`` reads spike data.
        energy_key: key in the paper's energy model, or ``None``.
        description: one line shown by the CLI.

    Raises:
        ValueError: ``name`` already registered or ``config_type`` missing.
    """

    def deco(fn: Any) -> Any:
        if name in _REGISTRY:
            raise ValueError(f"accelerator {name!r} registered twice")
        if config_type is None:
            raise ValueError(f"accelerator {name!r}: register(...) needs config_type")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = AcceleratorModel(
            name=name,
            simulate=fn,
            config_type=config_type,
            needs_spikes=needs_spikes,
            energy_key=energy_key,
            description=description or (doc[0] if doc else ""),
        )
        return fn

    return deco


def registry() -> dict[str, AcceleratorModel]:
    """Name -> registered accelerator, after importing every built-in model module."""
    import prosparsity.accel.builtins  # noqa: F401  (imports, so registers, every built-in model)

    return dict(_REGISTRY)
