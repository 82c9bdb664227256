"""The harness's few rules for combining figures, each written once.

* :class:`Spread`: mean and sample standard deviation over samples (the only spread
  every result, report and table uses);
* :func:`mean_or_none`: the mean of a figure over samples, missing when any sample lacks
  it (a model without that figure shows "—", never a mean of what is there);
* :func:`speedup`: ``reference / value`` of two latencies (or energies: energy
  efficiency), missing without both or with a zero;
* :func:`geometric_mean`: of positive, finite ratios, as the paper's figures summarise
  workloads.

Pure functions of floats; nothing of the project but its errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prosparsity.core.errors import ConfigError

__all__ = ["Spread", "geometric_mean", "mean_or_none", "speedup"]


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (``ddof=1``; 0 for one sample) over samples."""

    mean: float
    std: float

    @staticmethod
    def of(values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one).

        Raises:
            ConfigError: no values.
        """
        if not values:
            raise ConfigError("samples", "no samples to summarise")
        import numpy as np  # numpy's pairwise sums: the figures every release printed

        arr = np.asarray(values, dtype=np.float64)
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return Spread(mean=float(arr.mean()), std=std)

    @staticmethod
    def of_optional(values: Sequence[float | None]) -> Spread | None:
        """The spread of ``values``, or ``None`` when there are none or any is missing."""
        if not values or any(v is None for v in values):
            return None
        return Spread.of([v for v in values if v is not None])

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.std:.2g}"


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """The mean of ``values``, or ``None`` when there are none or any is missing (a
    figure one sample lacks is missing from the mean)."""
    nums = [v for v in values if v is not None]
    return sum(nums) / len(nums) if nums and len(nums) == len(values) else None


def speedup(reference: float | None, value: float | None) -> float | None:
    """``reference / value``: the speedup of ``value``'s latency over ``reference``'s,
    or the energy efficiency of ``value``'s energy over ``reference``'s; ``None`` when
    either is missing, ``value`` is not positive, or the ratio is not finite."""
    if reference is None or value is None or not value > 0:
        return None
    ratio = reference / value
    return ratio if math.isfinite(ratio) else None


def geometric_mean(values: Iterable[float | None]) -> float | None:
    """Geometric mean of the positive, finite values (``None`` for none)."""
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))
