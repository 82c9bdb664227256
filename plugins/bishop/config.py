"""Bishop's frozen config: bundle sizes, the stratifier and the first-order chip
(docs/phi-and-bishop.md lists where each default comes from)."""

from __future__ import annotations

from dataclasses import dataclass

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.counter import BishopBundles
from prosparsity.plugins.frame import Chip

__all__ = ["BishopConfig"]

@dataclass(frozen=True)
class BishopConfig(Chip):
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
            the chip (:class:`~prosparsity.plugins.frame.Chip`: Prosperity's paper
            design).
    """

    bundle_tokens: int = 4
    bundle_steps: int = 4
    bundle_features: int = 16
    threshold: float = 0.5
    sparse_efficiency: float = 1.0
    stratifier_units: int = 8

    def __post_init__(self) -> None:
        self.check("bishop", positive=("stratifier_units",))
        eff = self.sparse_efficiency
        if isinstance(eff, bool) or not isinstance(eff, int | float) or not 0 < eff <= 1:
            raise ConfigError("bishop.sparse_efficiency", f"must be in (0, 1], got {eff!r}")
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
