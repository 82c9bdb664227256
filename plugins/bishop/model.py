"""Bishop's cost model: a first-order model on Prosperity's chip, no reference simulator.

Bishop's architecture (a stratifier, a dense core array, a sparse core array for the MLP
and projection layers, a TTB attention core: the paper's abstract and a public review of
it) could not be read beyond that, so its weight GEMMs are priced on Prosperity's adder
array and buffers (:mod:`prosparsity.plugins.frame`), every other layer (attention
included) as on Prosperity's chip without product sparsity. Per GEMM of one view, with
``nN = ceil(N / adders)``::

    compute    = nN * (dense fiber bits + ceil(sparse spikes / sparse_efficiency))
    preprocess = ceil(bundles / stratifier_units)      the stratifier, overlapped
    DRAM       = Prosperity's (same buffers)

The dense core adds every bit of a non-silent fiber of a dense bundle (zeros included);
the sparse core adds the spikes of the sparse bundles; silent fibers and bundles cost
nothing. Both cores share the adder budget (their work adds up). The exact mode prunes
nothing and nothing is trained: Bishop's bundle-sparsity-aware training (BSA) cannot run
on a trace, and its error-constrained pruning of Q/K/V (:func:`.bundles.ecp_prune`) acts
on attention operands, which the counter protocol does not reach.

Bishop is an accelerator of spiking transformers: :data:`MODEL` (the registration, the
entry point ``bishop`` of the group ``prosparsity.accelerators``) applies to networks
with an attention block only; any other is skipped with that reason.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from prosparsity.accel.base import Breakdown
from prosparsity.accel.registry import AcceleratorModel, Claim
from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.bundles import BundleCounts
from prosparsity.plugins.bishop.config import BishopConfig
from prosparsity.plugins.bishop.densities import densities, layer_counts
from prosparsity.plugins.frame import LABEL, GemmCost, layer_costs, reprice, transformers_only

if TYPE_CHECKING:
    from prosparsity.analysis.stats import GemmStats, ModelStats

__all__ = ["DESCRIPTION", "MODEL", "NAME", "gemm_cost", "needs", "simulate"]

NAME = "bishop"
DESCRIPTION = ("Bishop (ISCA 2025, arXiv 2505.12281): token-time bundles on dense and "
               "sparse cores, on Prosperity's chip")


#: What a config needs counted (its counter, at any tile: the frame is tile-independent).
needs = BishopConfig.needs


def gemm_cost(gemm: GemmStats, counts: BundleCounts, config: BishopConfig) -> GemmCost:
    """The cost of one GEMM (one view) from its bundle counts (see the module
    docstring for the equations)."""
    passes = -(-gemm.n // config.adders)
    sparse = math.ceil(counts.sparse_nnz / config.sparse_efficiency)
    return GemmCost(
        compute=passes * (counts.dense_fiber_elements + sparse),
        preprocess=-(-counts.bundles // config.stratifier_units),
        extra={"dense_bits": passes * counts.dense_fiber_elements,
               "sparse_spikes": passes * counts.sparse_nnz,
               "weight_rows": passes * counts.active_fibers},
    )


def simulate(stats: ModelStats, config: BishopConfig | None = None) -> Breakdown:
    """Bishop (ISCA 2025): token-time bundles on dense and sparse cores; first-order
    model on Prosperity's chip, no reference simulator.

    Returns:
        A breakdown whose ``extra`` holds the run's bit, product and bundle densities
        and the stratifier's dense share.

    Raises:
        ConfigError: statistics counted without the config's counter, or a workload
            without spike data.
    """
    cfg = config or BishopConfig()
    if not stats.has_data:
        raise ConfigError("bishop", f"{stats.where}: Bishop needs spike data; this "
                          "workload has layer shapes only")
    counts = layer_counts(stats, cfg)
    costs = layer_costs(stats, counts, gemm_cost, cfg)
    model, _ = densities(stats, cfg, counts)
    notes = (f"Bishop: {LABEL}",
             f"bundles of {cfg.bundle_tokens} tokens x {cfg.bundle_steps} steps x "
             f"{cfg.bundle_features} columns, dense at density >= {cfg.threshold:g}",
             "exact mode: no BSA training, no pruning")
    extra = {"bit_density": model.bit_density, "product_density": model.product_density,
             "bundle_density": model.bundle_density, "dense_share": model.dense_share}
    return reprice(stats, cfg, NAME, costs, notes=notes, extra=extra)


#: Where Bishop's claims come from; its abstract does not name the baselines ("previous
#: SNN accelerators"), so they are notes of the headline, not rows.
CLAIM_SOURCE = "Bishop (Xu et al., ISCA 2025), arXiv 2505.12281, abstract"

#: Bishop's registration: a cost model of spiking transformers with cycles and DRAM
#: traffic, no energy model.
MODEL = AcceleratorModel(
    name=NAME, simulate=simulate, config_type=BishopConfig, needs_fn=needs,
    display="Bishop", dram=True, label=LABEL, description=DESCRIPTION,
    applies=transformers_only,
    claims=(Claim("speedup", 5.91, "", CLAIM_SOURCE),
            Claim("energy_efficiency", 6.11, "", CLAIM_SOURCE)),
)
