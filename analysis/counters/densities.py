"""Densities a counter reports beside bit and product density.

A counter key may also define::

    def densities(self, layer: LayerStats, value, adders: int) -> Mapping[str, tuple[int, int]]

the densities its value of one layer stands for, each as ``(numerator, denominator)``
pass-weighted like bit and product density (every count of a GEMM times its passes
``ceil(N / adders)``, ``docs/analysis.md``), so that a layer's value is ``num / den`` and
the model's is ``Σ num / Σ den`` over its layers. ``prosparsity analyze --counter KIND``
(:func:`prosparsity.count` with that counter) shows them as columns beside bit and
product density: the shipped plugins' pattern, correction and bundle densities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prosparsity.analysis.stats import ModelStats

__all__ = ["CounterDensities", "counter_densities"]


@dataclass(frozen=True)
class CounterDensities:
    """The densities the counters of one statistics object report.

    Attributes:
        names: the density names, in the order the counters report them (a name two
            counter keys report is suffixed with the second key's parameters).
        model: name -> the model's density (``Σ num / Σ den`` over the layers; ``None``
            where the denominator is 0).
        layers: layer name -> name -> the layer's density.
        failures: one line per counter that failed in the pass (its densities are
            absent).
    """

    names: tuple[str, ...] = ()
    model: Mapping[str, float | None] = field(default_factory=dict)
    layers: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    failures: tuple[str, ...] = ()


def _params(key: object) -> str:
    doc = key.to_json()  # type: ignore[attr-defined]
    return ", ".join(f"{k}={v}" for k, v in doc.items() if k != "kind")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def counter_densities(stats: ModelStats) -> CounterDensities:
    """The densities every counter of ``stats`` that defines ``densities`` reports."""
    names: list[str] = []
    totals: dict[str, list[float]] = {}
    layers: dict[str, dict[str, float | None]] = {}
    for key, values in stats.counters.items():
        report = getattr(key, "densities", None)
        if not callable(report):
            continue
        own: dict[str, str] = {}
        for layer in stats.layers:
            if layer.name not in values:
                continue
            for name, (num, den) in report(layer, values[layer.name], stats.adders).items():
                if name not in own:
                    shown = name if name not in totals else f"{name} ({_params(key)})"
                    own[name] = shown
                    names.append(shown)
                    totals[shown] = [0.0, 0.0]
                shown = own[name]
                totals[shown][0] += num
                totals[shown][1] += den
                layers.setdefault(layer.name, {})[shown] = _ratio(num, den)
    failures = tuple(f.message for key, f in stats.counter_failures.items()
                     if callable(getattr(key, "densities", None)))
    return CounterDensities(tuple(names), {n: _ratio(*totals[n]) for n in names}, layers,
                            failures)
