"""Bishop (Xu et al., ISCA 2025, arXiv 2505.12281) as a plugin: token-time bundles and
the stratifier as an analysis (:mod:`.bundles`), its counter (:mod:`.counter`), its
densities (:mod:`.densities`), its config (:mod:`.config`) and a first-order cost model
on Prosperity's chip (:mod:`.model`).

:data:`MODEL` is its registration, found through the entry point ``bishop`` of the
group ``prosparsity.accelerators`` (``pyproject.toml``; docs/phi-and-bishop.md): name
``bishop``, display ``Bishop``, a cost model of spiking transformers (``applies``) with
cycles and DRAM traffic and no energy model, labelled "first-order model, no reference
simulator", config :class:`BishopConfig`. Its counter :class:`BishopBundles` is an entry
point of ``prosparsity.counters``.
"""

from prosparsity.plugins.bishop.bundles import BundleCounts, bundle_counts, ecp_prune
from prosparsity.plugins.bishop.config import BishopConfig
from prosparsity.plugins.bishop.counter import BishopBundles
from prosparsity.plugins.bishop.densities import BundleDensity, densities
from prosparsity.plugins.bishop.model import DESCRIPTION, MODEL, NAME, needs, simulate

__all__ = [
    "DESCRIPTION",
    "MODEL",
    "NAME",
    "BishopBundles",
    "BishopConfig",
    "BundleCounts",
    "BundleDensity",
    "bundle_counts",
    "densities",
    "ecp_prune",
    "needs",
    "simulate",
]
