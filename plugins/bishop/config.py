"""Bishop's frozen config: bundle sizes, the stratifier and the first-order chip
(docs/phi-and-bishop.md lists where each default comes from)."""

from __future__ import annotations

from dataclasses import dataclass

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.counter import BishopBundles

__all__ = ["BishopConfig"]

#: Prosperity's paper design (docs/prosperity-model.md); the frame's chip.
_CLOCK_HZ = 500e6


@dataclass(frozen=True)
class BishopConfig:
    """Bishop, first-order model on Prosperity's chip (no reference simulator).

    Attributes:
        bundle_tokens: tokens (output positions) per bundle. Not readable in the paper's
            stored copy; 4 is the harness's choice.
        bundle_steps: time steps per bundle (4: all steps of the paper's transformer
            workloads).
        bundle_features: columns per bundle (Prosperity's ``tile_k``).
        threshold: the stratifier's density threshold: a bundle with at least this share
            of ones goes to the dense core.
        sparse_efficiency: spikes the sparse core adds per array cycle (1: ideal, an
            optimistic assumption; the dense core adds one bit per cycle).
        stratifier_units: bundles the stratifier classifies per cycle (Prosperity's
            popcount units: 8).
        tile_m, tile_k, adders, weight_bits, mem_bits_per_cycle, clock_hz, lif_units:
            the chip (Prosperity's paper design: 256, 16, 128, 8, 1024, 500 MHz, 32).
    """

    bundle_tokens: int = 4
    bundle_steps: int = 4
    bundle_features: int = 16
    threshold: float = 0.5
    sparse_efficiency: float = 1.0
    stratifier_units: int = 8
    tile_m: int = 256
    tile_k: int = 16
    adders: int = 128
    weight_bits: int = 8
    mem_bits_per_cycle: int = 1024
    clock_hz: float = _CLOCK_HZ
    lif_units: int = 32

    def __post_init__(self) -> None:
        for name in ("stratifier_units", "tile_m", "tile_k", "adders", "weight_bits",
                     "mem_bits_per_cycle", "lif_units"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"bishop.{name}", f"must be a positive integer, got {value!r}")
        eff = self.sparse_efficiency
        if isinstance(eff, bool) or not isinstance(eff, int | float) or not 0 < eff <= 1:
            raise ConfigError("bishop.sparse_efficiency", f"must be in (0, 1], got {eff!r}")
        if not (isinstance(self.clock_hz, int | float) and self.clock_hz > 0):
            raise ConfigError("bishop.clock_hz", f"must be > 0, got {self.clock_hz!r}")
        try:
            _ = self.counter  # validates the bundle sizes and the threshold
        except ConfigError as exc:
            field = exc.field.replace("bishop_bundles.", "bishop.bundle_").replace(
                "bishop.bundle_threshold", "bishop.threshold")
            raise ConfigError(field, exc.problem) from None

    @property
    def counter(self) -> BishopBundles:
        """The counter key of this config's bundles."""
        return BishopBundles(tokens=self.bundle_tokens, steps=self.bundle_steps,
                             features=self.bundle_features, threshold=self.threshold)
