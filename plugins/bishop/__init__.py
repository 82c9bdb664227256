"""Bishop (Xu et al., ISCA 2025, arXiv 2505.12281) as a plugin: token-time bundles and
the stratifier as an analysis (:mod:`.bundles`), its counter (:mod:`.counter`), its
densities (:mod:`.densities`), its config (:mod:`.config`) and a first-order cost model
on Prosperity's chip (:mod:`.model`).

Registration (what the harness's registry needs; see docs/phi-and-bishop.md): name
``bishop``, display ``Bishop``, a model (not a GPU, not a reported figure) with cycles and
DRAM traffic and no energy model, config :class:`BishopConfig`, ``needs`` and
``simulate`` below, counter :class:`BishopBundles`.
"""

from prosparsity.plugins.bishop.bundles import BundleCounts, bundle_counts, ecp_prune
from prosparsity.plugins.bishop.config import BishopConfig
from prosparsity.plugins.bishop.counter import BishopBundles
from prosparsity.plugins.bishop.densities import BundleDensity, densities
from prosparsity.plugins.bishop.model import DESCRIPTION, NAME, needs, simulate

COUNTERS = (BishopBundles,)

__all__ = [
    "COUNTERS",
    "DESCRIPTION",
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
