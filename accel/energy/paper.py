"""The paper's energy model (its Sec. VI; docs/prosperity-model.md): on-chip power times
latency, plus DRAM energy.

For accelerator ``a`` on a workload::

    E_a [mJ] = P_a [mW] * t_a [s] + e_DRAM [pJ/bit] * r_a * D [bit] * 1e-9

``P_a`` is the accelerator's on-chip power, ``t_a`` its latency, ``e_DRAM`` = 12.45
pJ/bit (DRAMsim3), ``D`` *Prosperity's* DRAM traffic on that workload and ``r_a`` the
accelerator's DRAM-traffic ratio to Prosperity (all as the paper gives them). For one of
the paper's workloads ``D`` is the paper's table
(:data:`prosparsity.paper.PROSPERITY_DRAM_BITS`, the authors' ``mem_reference.csv``); for
any other trace it is the DRAM traffic Prosperity's cycle model simulates on that very
trace (``Breakdown.dram_bits`` of ``prosperity``). The A100's energy is its measured
board power times its measured latency.

The constants are the paper's published values, from :mod:`prosparsity.paper.energy`
(their one home); :data:`PAPER_ENERGY` holds them as a config. Pure functions; no I/O.

**Energy off the paper's design.** ``P_a`` is one power per accelerator, measured (or
synthesised) for its *default* design. A configuration that changes the hardware (more
adders, bigger buffers through the tile size, more LIF or popcount units, another issue
logic, a wider memory interface, another clock) changes ``P_a`` in a way the paper does
not give, so no energy is reported for it: :func:`energy_withheld` names the fields that
moved it off the calibrated design, and every command (``simulate``, ``reproduce``,
``sweep``, through :func:`prosparsity.accel.suite.price`) reports ``None`` with that
note. Fields that leave the hardware as it is are declared by each config class
(``SAME_HARDWARE_FIELDS``, read by :func:`same_hardware_fields`): the simulator-
compatibility switches (``paper_compat``, ``paper_compatible``), Prosperity's
``sparsity`` (an operating mode of the same chip: the bit-sparsity and dense ablations
leave the detector idle, priced with the same power) and Eyeriss's
``price_transformer_ops`` (what the model counts, not what the chip is). Every other
field counts as hardware, including fields added to a config later, so a new knob never
silently reuses the default's power. The default point is priced exactly as before, so
Figure 8's energies are reproduced there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import (
    A100_MEASURED_POWER_W,
    DRAM_ENERGY_PJ_PER_BIT,
    DRAM_TRAFFIC_RATIO_TO_PROSPERITY,
    ON_CHIP_POWER_MW,
    PROSPERITY_DRAM_BITS,
)


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class EnergyConfig:
    """Constants of the paper's energy model.

    Attributes:
        dram_pj_per_bit: DRAM energy per bit moved, pJ.
        on_chip_power_mw: on-chip power per accelerator key, mW.
        dram_traffic_ratio: each accelerator's DRAM traffic relative to Prosperity's.
        a100_power_w: the A100's measured board power per paper workload, W.
    """

    dram_pj_per_bit: float = DRAM_ENERGY_PJ_PER_BIT
    on_chip_power_mw: Mapping[str, float] = field(default_factory=lambda: ON_CHIP_POWER_MW)
    dram_traffic_ratio: Mapping[str, float] = field(
        default_factory=lambda: DRAM_TRAFFIC_RATIO_TO_PROSPERITY
    )
    a100_power_w: Mapping[str, float] = field(default_factory=lambda: A100_MEASURED_POWER_W)

    def __post_init__(self) -> None:
        if not self.dram_pj_per_bit >= 0:
            raise ConfigError("energy.dram_pj_per_bit", "must be >= 0")
        for name in ("on_chip_power_mw", "dram_traffic_ratio", "a100_power_w"):
            table = _frozen(getattr(self, name))
            for key, value in table.items():
                if not value >= 0:
                    raise ConfigError(f"energy.{name}.{key}", f"must be >= 0, got {value}")
            object.__setattr__(self, name, table)
        missing = set(self.on_chip_power_mw) ^ set(self.dram_traffic_ratio)
        if missing:
            raise ConfigError("energy.dram_traffic_ratio",
                              f"keys must match on_chip_power_mw (differ: {sorted(missing)})")

    @property
    def keys(self) -> tuple[str, ...]:
        """Accelerator keys this model prices."""
        return tuple(self.on_chip_power_mw)


PAPER_ENERGY = EnergyConfig()
"""The paper's constants."""


def energy_mj(
    key: str,
    latency_s: float,
    prosperity_dram_bits: float,
    config: EnergyConfig = PAPER_ENERGY,
) -> float:
    """Energy of one run, mJ: ``P[mW]*t[s] + e[pJ/bit]*ratio*D[bit]*1e-9``.

    Args:
        key: accelerator key in ``config`` (``Prosperity``, ``PTB``, ...).
        latency_s: the accelerator's end-to-end latency, s.
        prosperity_dram_bits: Prosperity's DRAM traffic on the workload, bits.
        config: the constants.

    Raises:
        ConfigError: ``key`` not priced by ``config``.
    """
    if key not in config.on_chip_power_mw:
        raise ConfigError("energy.key", f"no energy constants for {key!r} "
                          f"(known: {', '.join(config.keys)})")
    on_chip = config.on_chip_power_mw[key] * latency_s
    dram = config.dram_pj_per_bit * prosperity_dram_bits * config.dram_traffic_ratio[key] * 1e-9
    return on_chip + dram


def a100_energy_mj(
    workload: str, latency_s: float, config: EnergyConfig = PAPER_ENERGY
) -> float | None:
    """The A100's energy, mJ: measured power [W] * 1000 * latency [s]; ``None`` when the
    paper has no measured power for ``workload``."""
    power_w = config.a100_power_w.get(workload)
    return None if power_w is None else power_w * 1000.0 * latency_s


def reference_dram_bits(
    paper_workload: str | None, simulated_prosperity_dram_bits: float | None
) -> float | None:
    """``D`` of the energy model: the paper's table for a paper workload in it, else the
    DRAM traffic Prosperity simulates on this trace (``None`` if not simulated)."""
    if paper_workload is not None and paper_workload in PROSPERITY_DRAM_BITS:
        return float(PROSPERITY_DRAM_BITS[paper_workload])
    return simulated_prosperity_dram_bits


def _shown(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def same_hardware_fields(config: Any) -> frozenset[str]:
    """The fields of ``config`` that do not change the hardware, as its class declares
    them (``SAME_HARDWARE_FIELDS``: simulator-compatibility switches, operating modes of
    the same chip); none for a class that declares nothing."""
    return frozenset(getattr(type(config), "SAME_HARDWARE_FIELDS", frozenset()))


def hardware_changes(config: Any, default: Any) -> dict[str, tuple[Any, Any]]:
    """The hardware fields where ``config`` differs from ``default``: name -> (value,
    default value), in field order (every field but :func:`same_hardware_fields`)."""
    if not dataclasses.is_dataclass(config) or config == default:
        return {}
    same = same_hardware_fields(config)
    moved = {}
    for f in dataclasses.fields(config):
        if f.name in same:
            continue
        value, base = getattr(config, f.name), getattr(default, f.name, None)
        if value != base:
            moved[f.name] = (_shown(value), _shown(base))
    return moved


def energy_withheld(config: Any, default: Any) -> str | None:
    """Why the paper's energy model does not price ``config``, or ``None`` when it does.

    Args:
        config: the configuration priced.
        default: the accelerator's default configuration (the paper's design).

    Returns:
        ``None`` when ``config`` equals ``default`` on every hardware field; else one
        sentence naming the fields (``adders=256 (default 128)``).
    """
    moved = hardware_changes(config, default)
    if not moved:
        return None
    what = ", ".join(f"{k}={v!r} (default {d!r})" for k, (v, d) in moved.items())
    return (f"energy not reported: {what} changes the hardware; the paper's energy "
            "constants describe its default design only")
