"""Phi (Wei et al., ISCA 2025, arXiv 2505.10909) as a plugin: pattern-based hierarchical
sparsity as an analysis (:mod:`.patterns`), its counters (:mod:`.counter`), calibration
on held-out samples (:mod:`.calibration`), its densities (:mod:`.densities`), its config
(:mod:`.config`) and a first-order cost model on Prosperity's chip (:mod:`.model`).

Registration (what the harness's registry needs; see docs/phi-and-bishop.md): name
``phi``, display ``Phi``, a model (not a GPU, not a reported figure) with cycles and DRAM
traffic and no energy model, config :class:`PhiConfig`, ``needs`` and ``simulate`` below,
counters :class:`PhiCounts` and :class:`PhiHistogram`.
"""

from prosparsity.plugins.phi.calibration import (
    PatternTable,
    calibrate,
    calibrate_workload,
    evaluated_samples,
)
from prosparsity.plugins.phi.config import PhiConfig
from prosparsity.plugins.phi.counter import PhiCounts, PhiHistogram
from prosparsity.plugins.phi.densities import PhiDensity, densities
from prosparsity.plugins.phi.model import DESCRIPTION, NAME, needs, simulate
from prosparsity.plugins.phi.patterns import decompose, kmeans_patterns

COUNTERS = (PhiCounts, PhiHistogram)

__all__ = [
    "COUNTERS",
    "DESCRIPTION",
    "NAME",
    "PatternTable",
    "PhiConfig",
    "PhiCounts",
    "PhiDensity",
    "PhiHistogram",
    "calibrate",
    "calibrate_workload",
    "decompose",
    "densities",
    "evaluated_samples",
    "kmeans_patterns",
    "needs",
    "simulate",
]
