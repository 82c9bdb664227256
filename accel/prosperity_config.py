"""Prosperity's knobs: :class:`ProsperityConfig` (the paper's design by default) and
the sparsity modes it prices (:class:`Sparsity`); the model is
:mod:`prosparsity.accel.prosperity`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from prosparsity.analysis.gemm import ADDER_ARRAY_WIDTH
from prosparsity.analysis.grid import MAX_TILE_K, MAX_TILE_M
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.paper.tiles import DEFAULT_TILE

__all__ = ["PAPER", "ProsperityConfig", "Sparsity"]


class Sparsity(StrEnum):
    """Which zeros Prosperity skips."""

    PRODUCT = "product"  # product sparsity (ProSparsity), the paper's design
    BIT = "bit"  # bit sparsity only (ablation)
    DENSE = "dense"  # no sparsity (ablation)


def _positive_int(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}.{name}", f"must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ProsperityConfig:
    """Prosperity's hardware and model knobs; the defaults are the paper's design.

    Attributes:
        tile_m: rows of a spike tile (ProSparsity search window).
        tile_k: columns of a spike tile.
        adders: width of the adder array (= output columns per pass).
        lif_units: LIF neuron units.
        popcount_units: popcount units of the detector (rows per cycle).
        multipliers: multipliers (LayerNorm, softmax).
        exp_units: exponent units (softmax).
        div_units: dividers (LayerNorm, softmax).
        weight_bits: bits per weight.
        mem_bits_per_cycle: DRAM interface width, bits per cycle.
        clock_hz: clock frequency, Hz.
        issue_type: 2 (default, sorted issue) or 1 (forest-depth bound).
        sparsity: product, bit or dense.
        paper_compat: reproduce the authors' simulator's slips (see module docstring).
    """

    tile_m: int = DEFAULT_TILE.tile_m
    tile_k: int = DEFAULT_TILE.tile_k
    adders: int = ADDER_ARRAY_WIDTH
    lif_units: int = 32
    popcount_units: int = 8
    multipliers: int = 32
    exp_units: int = 8
    div_units: int = 1
    weight_bits: int = 8
    mem_bits_per_cycle: int = 1024
    clock_hz: float = CLOCK_HZ
    issue_type: int = 2
    sparsity: Sparsity = Sparsity.PRODUCT
    paper_compat: bool = True

    #: Fields that leave the chip as it is: an operating mode (the bit-sparsity and dense
    #: ablations leave the detector idle) and the simulator-compatibility switch.
    SAME_HARDWARE_FIELDS: ClassVar[frozenset[str]] = frozenset({"sparsity", "paper_compat"})

    def __post_init__(self) -> None:
        for name in ("tile_m", "tile_k", "adders", "lif_units", "popcount_units",
                     "multipliers", "exp_units", "div_units", "weight_bits",
                     "mem_bits_per_cycle"):
            _positive_int("prosperity", name, getattr(self, name))
        if self.tile_m > MAX_TILE_M:
            raise ConfigError("prosperity.tile_m", f"must be <= {MAX_TILE_M} (the counting "
                              f"kernel's limit), got {self.tile_m}")
        if self.tile_k > MAX_TILE_K:
            raise ConfigError("prosperity.tile_k", f"must be <= {MAX_TILE_K} (the counting "
                              f"kernel's limit), got {self.tile_k}")
        if not (isinstance(self.clock_hz, int | float) and self.clock_hz > 0):
            raise ConfigError("prosperity.clock_hz", f"must be > 0, got {self.clock_hz!r}")
        if self.issue_type not in (1, 2):
            raise ConfigError("prosperity.issue_type", f"must be 1 or 2, got {self.issue_type!r}")
        try:
            object.__setattr__(self, "sparsity", Sparsity(self.sparsity))
        except ValueError:
            raise ConfigError("prosperity.sparsity", f"must be one of "
                              f"{[s.value for s in Sparsity]}, got {self.sparsity!r}") from None

    @property
    def act_buffer_bits(self) -> int:
        """Spike (activation) buffer: one tile, ``tile_m * tile_k`` bits."""
        return self.tile_m * self.tile_k

    @property
    def wgt_buffer_bits(self) -> int:
        """Weight buffer: one tile, ``tile_k * adders * weight_bits`` bits."""
        return self.tile_k * self.adders * self.weight_bits


PAPER = ProsperityConfig()
"""The paper's default configuration (tile 256x16, 128 adders, 32 LIF, 8 popcount,
8-bit weights, 1024-bit/cycle memory, 500 MHz, issue type 2, product sparsity)."""
