"""Phi (Wei et al., ISCA 2025, arXiv 2505.10909) as a plugin: pattern-based hierarchical
sparsity as an analysis (:mod:`.patterns`), its counters (:mod:`.counter`), calibration
on held-out samples (:mod:`.calibration`), its densities (:mod:`.densities`), its config
(:mod:`.config`) and a first-order cost model on Prosperity's chip (:mod:`.model`).

:data:`MODEL` is its registration, found through the entry point ``phi`` of the group
``prosparsity.accelerators`` (``pyproject.toml``; docs/phi-and-bishop.md): name ``phi``,
display ``Phi``, a cost model with cycles and DRAM traffic and no energy model, labelled
"first-order model, no reference simulator", config :class:`PhiConfig`, its patterns
fitted on held-out calibration samples (``calibrate``). Its counters
:class:`PhiHistogram` and :class:`PhiCounts` are entry points of ``prosparsity.counters``.
"""

from prosparsity.plugins.phi.calibration import PatternTable, calibrate, calibrate_config
from prosparsity.plugins.phi.config import PhiConfig
from prosparsity.plugins.phi.counter import PhiCounts, PhiHistogram
from prosparsity.plugins.phi.densities import PhiDensity, densities
from prosparsity.plugins.phi.model import DESCRIPTION, MODEL, NAME, needs, simulate
from prosparsity.plugins.phi.patterns import decompose, kmeans_patterns

__all__ = [
    "DESCRIPTION",
    "MODEL",
    "NAME",
    "PatternTable",
    "PhiConfig",
    "PhiCounts",
    "PhiDensity",
    "PhiHistogram",
    "calibrate",
    "calibrate_config",
    "decompose",
    "densities",
    "kmeans_patterns",
    "needs",
    "simulate",
]
