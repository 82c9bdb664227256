"""Reported-figure accelerators: Stellar and the A100, as the paper quotes them.

Neither is simulated. The paper (and the authors' simulator) take their end-to-end
latency from elsewhere for a few of its workloads:

* **Stellar** (Mao et al., HPCA 2024): the latency its paper reports for VGG-16 on
  CIFAR-10 / CIFAR-100; energy by the paper's model (key ``Stellar``).
* **A100**: the latency the Prosperity authors measured on an NVIDIA A100 for the 12
  transformer workloads; energy = measured board power x that latency.

Both tables are Fig. 8's rows as the authors' simulator quotes them
(:data:`prosparsity.paper.STELLAR_REPORTED_LATENCY_S`,
:data:`prosparsity.paper.A100_MEASURED_LATENCY_S`). Cycles are ``latency * 500 MHz`` as in
the authors' simulator. For any workload without a
reported figure (every trace that is not one of those paper workloads) ``simulate``
returns ``None`` ("does not apply"), which the CLI prints as ``null``. For a GPU estimate
of any trace, use the GPU-equivalent models ``gpu-a100`` / ``gpu-h100``
(:mod:`prosparsity.accel.gpu`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from prosparsity.accel.base import Breakdown, require_network
from prosparsity.accel.energy import PAPER_ENERGY, a100_energy_mj
from prosparsity.accel.registry import register
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.paper.fig8 import A100_MEASURED_LATENCY_S, STELLAR_REPORTED_LATENCY_S

#: Registry names.
STELLAR = "stellar"
A100 = "a100"


@dataclass(frozen=True)
class _ReportedLatencyConfig:
    """A table of reported end-to-end latencies, validated: every latency > 0 s, clock > 0;
    the table is frozen. Errors name the field as ``{config_key}.latency_s.WORKLOAD`` /
    ``{config_key}.clock_hz``.

    Attributes:
        latency_s: paper workload name -> end-to-end latency, s.
        clock_hz: clock used to express the latency in cycles (500 MHz, the authors').
    """

    config_key: ClassVar[str]
    latency_s: Mapping[str, float]
    clock_hz: float = CLOCK_HZ

    def __post_init__(self) -> None:
        table = MappingProxyType(dict(self.latency_s))
        for key, value in table.items():
            if not value > 0:
                raise ConfigError(
                    f"{self.config_key}.latency_s.{key}", f"latency must be > 0 s, got {value}"
                )
        object.__setattr__(self, "latency_s", table)
        if self.clock_hz <= 0:
            raise ConfigError(f"{self.config_key}.clock_hz", "must be > 0")


@dataclass(frozen=True)
class StellarConfig(_ReportedLatencyConfig):
    """Stellar's latencies as its paper reports them (VGG-16 only), s."""

    config_key: ClassVar[str] = "stellar"
    latency_s: Mapping[str, float] = field(default_factory=lambda: STELLAR_REPORTED_LATENCY_S)


@dataclass(frozen=True)
class A100ReportedConfig(_ReportedLatencyConfig):
    """The A100 latencies the Prosperity authors measured (12 transformer workloads), s."""

    config_key: ClassVar[str] = "a100"
    latency_s: Mapping[str, float] = field(default_factory=lambda: A100_MEASURED_LATENCY_S)


def _reported(accelerator: str, workload: str, latency_s: float, clock_hz: float,
              energy_mj: float | None, source: str) -> Breakdown:
    cycles = latency_s * clock_hz
    return Breakdown(
        accelerator=accelerator, workload=workload, total_cycles=cycles,
        compute_cycles=cycles, mem_stall_cycles=0, preprocess_stall_cycles=0, dram_bits=0,
        clock_hz=clock_hz, energy_mj=energy_mj, latency_s_override=latency_s,
        notes=(f"reported figure ({source}), not simulated",),
    )


@register(STELLAR, config_type=StellarConfig, display="Stellar", kind="reported",
          energy_key="Stellar", op_count=False,
          description="Stellar: latency reported by its paper (VGG-16 only)")
def simulate_stellar(stats: ModelStats, config: StellarConfig | None = None) -> Breakdown | None:
    """Stellar: latency reported by its paper (VGG-16 only); None for other workloads."""
    config = config or StellarConfig()
    network = require_network(stats, STELLAR)
    latency = config.latency_s.get(network.paper_workload or "")
    if latency is None:
        return None
    return _reported(STELLAR, network.name, latency, config.clock_hz, None,
                     "Stellar paper")


@register(A100, config_type=A100ReportedConfig, display="A100", kind="reported", gpu=True,
          energy=True,
          description="A100: latency and power measured by the Prosperity authors")
def simulate_a100(stats: ModelStats,
                  config: A100ReportedConfig | None = None) -> Breakdown | None:
    """A100: latency and power measured by the Prosperity authors (12 transformer
    workloads); None for other workloads. Energy = measured power x latency."""
    config = config or A100ReportedConfig()
    network = require_network(stats, A100)
    name = network.paper_workload or ""
    latency = config.latency_s.get(name)
    if latency is None:
        return None
    energy = a100_energy_mj(name, latency, PAPER_ENERGY)
    return _reported(A100, network.name, latency, config.clock_hz, energy,
                     "measured by the Prosperity authors")
