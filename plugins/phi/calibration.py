"""Phi's pattern selection over calibration samples held apart from the evaluated ones.

Phi chooses its patterns offline (k-means, arXiv 2505.10909 abstract) and then applies
them, fixed, to the inputs it runs. The harness does the same with the samples of a
trace: every sample is counted once with the
:class:`~prosparsity.plugins.phi.counter.PhiHistogram` counter; the histograms of the
samples named by ``PhiConfig.calibration_samples`` are pooled per (layer, view,
segment), k-means chooses the patterns (:func:`calibrate`), and every *other* sample is
priced with that :class:`PatternTable` (:func:`calibrate_config`, which the registration
declares as its ``calibrate``, so ``prosparsity.simulate`` does this on any trace of
several samples).

A trace of one sample (the paper's traces are batch 1) has nothing to hold apart: the
patterns are then chosen on the priced rows themselves, and every breakdown says so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.phi.counter import Histogram, PhiHistogram
from prosparsity.plugins.phi.patterns import check_width, kmeans_patterns

if TYPE_CHECKING:
    from prosparsity.analysis.stats import ModelStats

__all__ = ["PatternTable", "calibrate", "calibrate_config"]

#: One layer's patterns: per view, per segment, the non-zero patterns.
LayerPatterns = tuple[tuple[tuple[int, ...], ...], ...]


def _tuples(value: Any) -> Any:
    """Nested lists (a JSON document) as nested tuples."""
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return int(value)


@dataclass(frozen=True, eq=False)
class PatternTable:
    """The patterns of every layer, chosen on calibration samples.

    Equal and hashed by content (:attr:`digest`), so a config holding it stays a valid
    cache key.

    Attributes:
        k: patterns per segment at most.
        width: columns per segment.
        layers: ``(layer name, per view, per segment, patterns)`` in execution order.
        samples: the calibration samples the patterns were chosen on (provenance).
    """

    k: int
    width: int
    layers: tuple[tuple[str, LayerPatterns], ...]
    samples: tuple[int, ...] = ()
    digest: str = field(default="", init=False)

    def __post_init__(self) -> None:
        check_width(self.width, "phi.patterns.width")
        try:
            layers = tuple((str(name), _tuples(views)) for name, views in self.layers)
            samples = tuple(int(s) for s in self.samples)
        except (TypeError, ValueError):
            raise ConfigError("phi.patterns", "a pattern table is (layer, views, segments, "
                              "patterns) of integers") from None
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "samples", samples)
        doc = json.dumps([self.k, self.width, layers, samples], separators=(",", ":"))
        object.__setattr__(self, "digest", hashlib.sha256(doc.encode()).hexdigest())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PatternTable):
            return NotImplemented
        return self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return (f"PatternTable(k={self.k}, width={self.width}, layers={len(self.layers)}, "
                f"samples={self.samples}, digest={self.digest[:12]})")

    def of(self, layer: str) -> LayerPatterns:
        """The patterns of ``layer`` (per view, per segment).

        Raises:
            ConfigError: no patterns were chosen for that layer.
        """
        for name, views in self.layers:
            if name == layer:
                return views
        raise ConfigError("phi.patterns", f"no calibrated patterns for layer {layer!r} "
                          "(calibrated on another network?)")

    def to_json(self) -> dict[str, Any]:
        return {"k": self.k, "width": self.width, "samples": list(self.samples),
                "layers": [[name, views] for name, views in self.layers]}

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> PatternTable:
        """The table of :meth:`to_json`.

        Raises:
            ConfigError: a malformed document.
        """
        try:
            return PatternTable(k=int(doc["k"]), width=int(doc["width"]),
                                layers=tuple((n, v) for n, v in doc["layers"]),
                                samples=tuple(doc.get("samples", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError("phi.patterns", f"malformed pattern table: {exc}") from None


def _pool(histograms: Iterable[Histogram]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per segment, the codes and counts of several histograms of the same view."""
    pooled: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
    for hist in histograms:
        if not pooled:
            pooled = [([], []) for _ in hist]
        if len(hist) != len(pooled):
            raise ConfigError("phi.calibration", "calibration samples differ in shape")
        for (codes, counts), (cs, ns) in zip(hist, pooled, strict=True):
            cs.append(np.asarray(codes, dtype=np.uint64))
            ns.append(np.asarray(counts, dtype=np.int64))
    return [(np.concatenate(cs or [np.zeros(0, np.uint64)]).astype(np.uint64, copy=False),
             np.concatenate(ns or [np.zeros(0, np.int64)]).astype(np.int64, copy=False))
            for cs, ns in pooled]


def calibrate(calibration: Sequence[ModelStats], k: int, width: int, *,
              max_iter: int = 20, samples: Sequence[int] = ()) -> PatternTable:
    """Patterns per (layer, view, segment) by k-means over the pooled row segments of
    the calibration statistics (each counted with ``PhiHistogram(width)``).

    Raises:
        ConfigError: no calibration statistics, statistics counted without the
            histogram, or calibration samples of different networks.
    """
    if not calibration:
        raise ConfigError("phi.calibration_samples", "no calibration samples")
    key = PhiHistogram(width)
    per_stats = [s.counter(key) for s in calibration]
    names = list(per_stats[0])
    for other in per_stats[1:]:
        if list(other) != names:
            raise ConfigError("phi.calibration", "calibration samples hold different layers")
    layers = []
    for name in names:
        n_views = len(per_stats[0][name])
        views = []
        for v in range(n_views):
            pooled = _pool(values[name][v] for values in per_stats)
            views.append(tuple(kmeans_patterns(codes, k, width, weights=counts,
                                               max_iter=max_iter)
                               for codes, counts in pooled))
        layers.append((name, tuple(views)))
    return PatternTable(k=k, width=width, layers=tuple(layers), samples=tuple(samples))


def calibrate_config(config: Any, stats: Sequence[ModelStats]) -> Any:
    """``config`` with the patterns chosen on ``stats``, the statistics of its
    calibration samples (the registration's ``calibrate``: the front door calls it on a
    trace of several samples and prices the other samples with the result).

    Raises:
        ConfigError: see :func:`calibrate`.
    """
    from dataclasses import replace

    table = calibrate(stats, config.k, config.width, max_iter=config.max_iter,
                      samples=config.calibration_samples)
    return replace(config, patterns=table)
