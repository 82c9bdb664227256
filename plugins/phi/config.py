"""Phi's frozen config: the paradigm's parameters, its calibration and the first-order
chip (docs/phi-and-bishop.md lists where each default comes from)."""

from __future__ import annotations

from dataclasses import dataclass

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.frame import Chip, positive_int
from prosparsity.plugins.phi.calibration import PatternTable
from prosparsity.plugins.phi.counter import PhiCounts, PhiHistogram
from prosparsity.plugins.phi.patterns import check_width

__all__ = ["PhiConfig"]

@dataclass(frozen=True)
class PhiConfig(Chip):
    """Phi, first-order model on Prosperity's chip (no reference simulator).

    Attributes:
        k: non-zero patterns per (layer, view, segment), chosen by k-means. Not readable
            in the paper's stored copy; 16 is the harness's choice.
        width: columns per segment (a pattern's length); Prosperity's ``tile_k``.
        signed: Level 2 may hold ``-1`` corrections (True: any pattern can match a row
            segment; False: only patterns contained in it).
        max_iter: k-means rounds at most.
        calibration_samples: the trace samples the patterns are chosen on, held apart
            from the priced ones: on a trace of several samples, ``simulate`` chooses
            the patterns on these and prices every other sample with them (the
            registration's ``calibrate``); on one sample (or ``--batched``) nothing can
            be held apart and the patterns are chosen on the priced rows. ``()``: never
            hold samples apart (and count the small :class:`PhiCounts` instead of the
            histogram).
        patterns: the chosen patterns; ``None`` chooses them on the calibration samples
            as above, else on the priced rows themselves (no held-out calibration: an
            optimistic bound, said in the breakdown's notes).
        matchers: row segments the preprocessor matches to their pattern per cycle
            (Prosperity's popcount units: 8).
        pwp_bits: bits of one pattern-weight product; ``None``: a sum of up to ``width``
            weights, ``weight_bits + ceil(log2(width))`` (12 at the defaults).
        pwp_in_dram: the pattern-weight products are read from DRAM like the weights
            (once per row tile); False keeps them on chip (no traffic).
        tile_m, tile_k, adders, weight_bits, mem_bits_per_cycle, clock_hz, lif_units:
            the chip (:class:`~prosparsity.plugins.frame.Chip`: Prosperity's paper
            design).
    """

    k: int = 16
    width: int = 16
    signed: bool = True
    max_iter: int = 20
    calibration_samples: tuple[int, ...] = (0,)
    patterns: PatternTable | None = None
    matchers: int = 8
    pwp_bits: int | None = None
    pwp_in_dram: bool = True

    def __post_init__(self) -> None:
        if self.pwp_bits is not None:
            positive_int("phi.pwp_bits", self.pwp_bits)
        self.check("phi", positive=("k", "max_iter", "matchers"))
        check_width(self.width)
        for name in ("signed", "pwp_in_dram"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"phi.{name}", "must be true or false")
        try:
            samples = tuple(int(s) for s in self.calibration_samples)
        except (TypeError, ValueError):
            raise ConfigError("phi.calibration_samples", "must be sample indices") from None
        if any(s < 0 for s in samples) or len(set(samples)) != len(samples):
            raise ConfigError("phi.calibration_samples",
                              f"must be distinct non-negative indices, got {samples!r}")
        object.__setattr__(self, "calibration_samples", samples)
        if isinstance(self.patterns, dict):
            object.__setattr__(self, "patterns", PatternTable.from_json(self.patterns))
        if self.patterns is not None:
            if not isinstance(self.patterns, PatternTable):
                raise ConfigError("phi.patterns", "must be a PatternTable or None")
            if (self.patterns.k, self.patterns.width) != (self.k, self.width):
                raise ConfigError("phi.patterns", f"chosen with k={self.patterns.k}, "
                                  f"width={self.patterns.width}; the config has k={self.k}, "
                                  f"width={self.width}")

    @property
    def pwp_word_bits(self) -> int:
        """Bits of one pattern-weight product (``pwp_bits`` or its default)."""
        if self.pwp_bits is not None:
            return self.pwp_bits
        return self.weight_bits + (self.width - 1).bit_length()

    @property
    def self_calibrated(self) -> bool:
        """Patterns chosen on the priced rows themselves (no table)."""
        return self.patterns is None

    @property
    def counter(self) -> PhiCounts | PhiHistogram:
        """The counter this config prices: the row-segment histograms (a table, or
        calibration samples to choose one on), else Phi's counts with patterns chosen on
        the counted rows (``calibration_samples=()`` and no table)."""
        if self.patterns is None and not self.calibration_samples:
            return PhiCounts(k=self.k, width=self.width, signed=self.signed,
                             max_iter=self.max_iter)
        return PhiHistogram(width=self.width)
