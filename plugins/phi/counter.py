"""Phi's counters (the counting half of :mod:`prosparsity.plugins.phi.model`).

Two counter keys of the counter protocol (:mod:`prosparsity.analysis.counters`), each
a frozen dataclass whose fields are its counting parameters, counting one weight-GEMM
layer (:class:`~prosparsity.analysis.counters.LayerSpikes`) operand by operand (a channel
group or a bit plane; the GEMM rows ``m = (b*L + l)*T + t`` of ``S``, spec §1):

* :class:`PhiHistogram`: the histogram of the row-segment codes of every segment, from
  which the counts under *any* pattern table follow at pricing time
  (:func:`histogram_counts`), from which k-means chooses patterns at pricing time (so a
  sweep over ``k`` counts once), and from which
  :func:`~prosparsity.plugins.phi.calibration.calibrate` chooses patterns over
  calibration samples held apart from the priced ones. What Phi's config needs.
* :class:`PhiCounts`: patterns chosen by k-means on the counted rows themselves (no
  held-out calibration: an optimistic bound) and the Level-1 / Level-2 counts of those
  rows; small, and it reports the pattern and correction densities beside bit and
  product density (``prosparsity analyze --counter phi_counts``).

Values are JSON-able (ints) and come back through ``value_from_json``. They are
registered through the entry-point group ``prosparsity.counters`` (``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from prosparsity.analysis.counters import CounterKey, LayerSpikes
from prosparsity.core.errors import ConfigError
from prosparsity.plugins.counts import CountsCounter
from prosparsity.plugins.phi.patterns import (
    SegmentCounts,
    check_width,
    counts_many,
    flatten,
    kmeans_patterns,
    segment_codes,
    segment_counts,
)

if TYPE_CHECKING:
    from prosparsity.analysis.stats import LayerStats

__all__ = [
    "Histogram",
    "PhiCounts",
    "PhiHistogram",
    "histogram_counts",
]


def _check_positive(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise ConfigError(f"{owner}.{name}", f"must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class PhiCounts(CountsCounter):
    """Counter key of Phi's levels with patterns chosen on the counted rows (see the
    module docstring); its value per layer is one :class:`SegmentCounts` per view.

    Attributes:
        k: non-zero patterns per segment.
        width: columns per segment.
        signed: Level 2 may hold ``-1`` entries (False: only patterns contained in a
            row segment match it).
        max_iter: k-means rounds at most.
    """

    kind: ClassVar[str] = "phi_counts"
    counts: ClassVar[type[SegmentCounts]] = SegmentCounts
    k: int = 16
    width: int = 16
    signed: bool = True
    max_iter: int = 20

    def __post_init__(self) -> None:
        _check_positive("phi_counts", "k", self.k)
        check_width(self.width, "phi_counts.width")
        _check_positive("phi_counts", "max_iter", self.max_iter)
        if not isinstance(self.signed, bool):
            raise ConfigError("phi_counts.signed", f"must be true or false, got {self.signed!r}")

    def count(self, layer: LayerSpikes) -> tuple[SegmentCounts, ...]:
        """One :class:`SegmentCounts` per operand of ``layer``."""
        out = []
        for operand in layer.operands:
            codes = segment_codes(operand.matrix(), self.width)
            total = SegmentCounts()
            for s in range(codes.shape[1]):
                patterns = kmeans_patterns(codes[:, s], self.k, self.width,
                                           max_iter=self.max_iter)
                total = total + segment_counts(codes[:, s], patterns, self.signed)
            out.append(total)
        return tuple(out)

    def densities(self, layer: LayerStats, value: Sequence[SegmentCounts],
                  adders: int) -> Mapping[str, tuple[int, int]]:
        """Phi's pattern and correction densities of one layer, pass-weighted like bit
        and product density (:mod:`prosparsity.plugins.phi.densities`)."""
        from prosparsity.plugins.phi.densities import layer_density

        d = layer_density(layer, value, adders)
        return {"pattern_density": (d.lookups, d.elements),
                "correction_density": (d.corrections, d.elements)}


class Ints(Sequence[int]):
    """An immutable sequence of integers kept as one small numpy array: a histogram's
    codes or counts. It compares equal to a tuple of the same ints (and hashes like
    one), iterates Python ints, and ``np.asarray`` gives the array without a copy.

    A histogram is as long as the rows it counts when its codes are nearly all distinct
    (random spikes): as tuples of Python ints it took about 36 bytes a code and its
    count, tens of MiB a sample of SpikeBERT; as arrays, a few bytes.
    """

    __slots__ = ("_a",)

    def __init__(self, values: Any, dtype: Any = np.int64) -> None:
        a = np.array(values, dtype=dtype).reshape(-1)
        a.flags.writeable = False
        self._a = a

    def __len__(self) -> int:
        return int(self._a.size)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Ints(self._a[index], self._a.dtype)
        return int(self._a[index])

    def __iter__(self) -> Any:
        return iter(self._a.tolist())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._a if dtype is None else self._a.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ints):
            return bool(np.array_equal(self._a, other._a))
        if isinstance(other, tuple | list):
            return len(other) == len(self) and self._a.tolist() == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._a.tolist()))

    def __repr__(self) -> str:
        return f"Ints({self._a.tolist()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ints, (self._a, self._a.dtype))


#: a histogram's counts: rows of one GEMM, far below 2**31
_COUNT = np.int32


def _code_dtype(width: int) -> Any:
    """The narrowest unsigned integer holding a ``width``-bit code."""
    return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                if width <= np.iinfo(t).bits)


#: One view's histogram: per segment, ``(codes, counts)`` with distinct codes ascending
#: (each an :class:`Ints`, equal to the tuple of those ints).
Histogram = tuple[tuple[Ints, Ints], ...]


@dataclass(frozen=True)
class PhiHistogram(CounterKey):
    """Counter key of the row-segment histograms; its value per layer is one
    :data:`Histogram` per view.

    Attributes:
        width: columns per segment.
    """

    kind: ClassVar[str] = "phi_histogram"
    width: int = 16

    def __post_init__(self) -> None:
        check_width(self.width, "phi_histogram.width")

    def count(self, layer: LayerSpikes) -> tuple[Histogram, ...]:
        """One :data:`Histogram` per operand of ``layer``."""
        out = []
        kind = _code_dtype(self.width)
        for operand in layer.operands:
            codes = np.sort(segment_codes(operand.matrix(), self.width), axis=0)
            rows = codes.shape[0]
            segments = []
            for column in codes.T:  # sorted: each distinct code starts a run
                if not rows:
                    segments.append((Ints((), kind), Ints((), _COUNT)))
                    continue
                starts = np.flatnonzero(np.r_[True, column[1:] != column[:-1]])
                segments.append((Ints(column[starts], kind),
                                 Ints(np.diff(np.r_[starts, rows]), _COUNT)))
            out.append(tuple(segments))
        return tuple(out)

    def value_to_json(self, value: Sequence[Histogram]) -> list[list[list[list[int]]]]:
        return [[[list(codes), list(counts)] for codes, counts in view] for view in value]

    def value_from_json(self, doc: Any) -> tuple[Histogram, ...]:
        kind = _code_dtype(self.width)
        return tuple(
            tuple((Ints([int(c) for c in codes], kind),
                   Ints([int(n) for n in counts], _COUNT))
                  for codes, counts in view)
            for view in doc
        )  # fmt: skip


def histogram_counts(histogram: Histogram, patterns: Sequence[Sequence[int]],
                     signed: bool = True) -> SegmentCounts:
    """The Level-1 / Level-2 counts of one view from its histogram and the patterns of
    each of its segments.

    Raises:
        ConfigError: not one pattern set per segment.
    """
    if len(patterns) != len(histogram):
        raise ConfigError("phi.patterns", f"{len(patterns)} pattern sets for "
                          f"{len(histogram)} segments")
    return counts_many(flatten(histogram), patterns, signed)
