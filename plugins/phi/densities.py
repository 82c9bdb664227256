"""Phi's statistics as densities, in the pass-weighted form of bit and product density.

Every count of one GEMM is weighted by its output passes ``nN = ceil(N / adders)``
(:mod:`prosparsity.analysis.stats`), so that on one trace

    bit density        = Σ nN · nnz(S)            / Σ nN · M · K
    product density    = Σ nN · nnz(residual)     / Σ nN · M · K
    pattern density    = Σ nN · (Level-1 lookups) / Σ nN · M · K
    correction density = Σ nN · nnz(Level 2)      / Σ nN · M · K

read on one scale: each is the array's row items per element of the operand (a spike,
a residual bit, a pattern-weight product, a ``±1`` correction each cost one cycle of the
adder array). Phi's work density is ``pattern + correction``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.counts import Weighted
from prosparsity.plugins.frame import gemm_layers
from prosparsity.plugins.phi.counter import Histogram, PhiCounts, histogram_counts
from prosparsity.plugins.phi.patterns import SegmentCounts, counts_many, flatten, kmeans_many

if TYPE_CHECKING:
    from prosparsity.analysis.stats import LayerStats, ModelStats
    from prosparsity.plugins.phi.config import PhiConfig

__all__ = ["PhiDensity", "densities", "layer_counts", "layer_density"]

log = logging.getLogger(__name__)


def _self_calibrated(hist: Histogram, k: int, width: int, max_iter: int,
                     signed: bool) -> SegmentCounts:
    """The counts of one view under patterns chosen by k-means on its own histogram."""
    flat = flatten(hist)
    return counts_many(flat, kmeans_many(flat, len(hist), k, width, max_iter), signed)


#: id(statistics) -> fit parameters -> layer -> counts, while those statistics live. A
#: sweep or a Figure 7 run prices one statistics object at many tile points, and k-means
#: on every segment of every layer was 85 % of such a run (VGG-16 on CIFAR-100: 35 s of
#: 41 s over Figure 7's 12 points); the fits are remembered with the statistics, not
#: beyond them (one sample's histograms can hold millions of codes).
_FITTED: dict[int, dict[tuple[int, int, int, bool], dict[str, tuple[SegmentCounts, ...]]]] = {}


def _fitted(stats: ModelStats, config: PhiConfig) -> dict[str, tuple[SegmentCounts, ...]]:
    """The remembered self-calibrated counts of ``stats`` under ``config``'s fit."""
    memo = _FITTED.get(id(stats))
    if memo is None:
        memo = _FITTED[id(stats)] = {}
        weakref.finalize(stats, _FITTED.pop, id(stats), None)
    return memo.setdefault((config.k, config.width, config.max_iter, config.signed), {})


def layer_counts(stats: ModelStats, config: PhiConfig) -> dict[str, tuple[SegmentCounts, ...]]:
    """Per weight-GEMM layer, the Level-1 / Level-2 counts of each view under ``config``:
    its table, or, without one, patterns chosen by k-means on the priced rows themselves
    (from :class:`PhiCounts`, or from the histogram at pricing time: the same patterns).

    A view past the table's (a bit plane of a multi-level layer that the calibration
    samples did not reach) has no patterns: all of its ones are Level 2.

    Raises:
        ConfigError: statistics counted without the config's counter, or a table
            without patterns for a layer.
    """
    key = config.counter
    values = stats.counter(key)
    out: dict[str, tuple[SegmentCounts, ...]] = {}
    for layer in gemm_layers(stats):
        if layer.name not in values:
            raise ConfigError("phi", f"{stats.where}: layer {layer.name!r} was not counted")
        value = values[layer.name]
        if isinstance(key, PhiCounts):
            out[layer.name] = tuple(value)
        elif config.patterns is None:  # self-calibrated from the histogram
            fits = _fitted(stats, config)
            if layer.name not in fits:
                fits[layer.name] = tuple(
                    _self_calibrated(hist, config.k, config.width, config.max_iter,
                                     config.signed)
                    for hist in value)
            out[layer.name] = fits[layer.name]
        else:
            table = config.patterns.of(layer.name)
            if len(value) > len(table):
                # a multi-level layer with more bit planes than on the calibration
                # samples: those planes have no patterns (all of their ones are Level 2)
                log.info("phi: layer %s has %d views, %d calibrated: the others have no "
                         "patterns", layer.name, len(value), len(table))
            out[layer.name] = tuple(
                histogram_counts(hist, table[v] if v < len(table) else ((),) * len(hist),
                                 config.signed)
                for v, hist in enumerate(value))
    return out


@dataclass(frozen=True)
class PhiDensity(Weighted):
    """Phi's densities of one layer (or of the model: ``name`` ``""``); every count
    pass-weighted (:class:`~prosparsity.plugins.counts.Weighted`).

    Attributes:
        lookups: ``Σ nN · Level-1 lookups`` (row segments matched to a pattern).
        corrections: ``Σ nN · nnz(Level 2)``.
        minus: ``Σ nN · (-1 entries of Level 2)``.
        segments: ``Σ nN · row segments``.
        zero_segments: ``Σ nN · all-zero row segments``.
    """

    lookups: int
    corrections: int
    minus: int
    segments: int
    zero_segments: int

    @property
    def pattern_density(self) -> float:
        """Level-1 lookups per element."""
        return self._share(self.lookups)

    @property
    def correction_density(self) -> float:
        """Level-2 non-zeros per element."""
        return self._share(self.corrections)

    @property
    def work_density(self) -> float:
        """Phi's row items per element: ``pattern + correction``."""
        return self._share(self.lookups + self.corrections)

    @property
    def coverage(self) -> float:
        """Share of the non-zero row segments matched to a pattern."""
        nonzero = self.segments - self.zero_segments
        return self.lookups / nonzero if nonzero else 0.0

    def to_json(self) -> dict[str, float | int | str]:
        return {"name": self.name, "elements": self.elements,
                "bit_density": self.bit_density, "product_density": self.product_density,
                "pattern_density": self.pattern_density,
                "correction_density": self.correction_density,
                "work_density": self.work_density, "coverage": self.coverage,
                "lookups": self.lookups, "corrections": self.corrections,
                "minus": self.minus}


def layer_density(layer: LayerStats, counts: Sequence[SegmentCounts],
                  adders: int) -> PhiDensity:
    """One layer's densities from the counts of its views (one per GEMM of the
    statistics), each GEMM's counts weighted by its passes ``ceil(N / adders)``."""
    parts = []
    for g, c in zip(layer.gemms, counts, strict=True):
        n = -(-g.n // adders)
        parts.append(PhiDensity(
            layer.name, g.grid.elements * n, g.grid.total("nnz") * n,
            g.grid.total("residual_nnz") * n, c.matched * n, c.corrections * n,
            c.minus * n, c.segments * n, c.zero * n))
    return PhiDensity.total(layer.name, parts)


def densities(stats: ModelStats, config: PhiConfig | None = None,
              counts: Mapping[str, Sequence[SegmentCounts]] | None = None,
              ) -> tuple[PhiDensity, tuple[PhiDensity, ...]]:
    """``(model, per layer)`` densities, passes weighted at the statistics' adder width
    (``stats.adders``, as its bit and product densities)."""
    if config is None:
        from prosparsity.plugins.phi.config import PhiConfig

        config = PhiConfig()
    counts = layer_counts(stats, config) if counts is None else counts
    rows = [layer_density(layer, counts[layer.name], stats.adders)
            for layer in gemm_layers(stats)]
    return PhiDensity.total("", rows), tuple(rows)
