"""Phi's cost model: a first-order model on Prosperity's chip, no reference simulator.

Phi's architecture (a preprocessor that matches row segments to patterns, a Level-1
processor that accumulates pre-computed pattern-weight products, a Level-2 processor
for the sparse corrections: the paper's abstract and a public review of it) could not be
read beyond that, so its weight GEMMs are priced on Prosperity's adder array and
buffers (:mod:`prosparsity.plugins.frame`), every other layer as on Prosperity's chip
without product sparsity. Per GEMM of one view, with ``nN = ceil(N / adders)``, ``L1``
the row segments matched to a non-zero pattern, ``L2`` the non-zeros of Level 2, ``S``
the row segments, ``nseg = ceil(K / width)``::

    compute    = nN * (L1 + L2)                 one array cycle per lookup or correction
    preprocess = ceil(S / matchers)             matching once per layer, overlapped
    DRAM       = Prosperity's + nseg * k * N * pwp_bits * ceil(M / tile_m)
                 (the pattern-weight products, read once per row tile like the weights,
                 unless ``pwp_in_dram`` is False)

Level 1 and Level 2 share the adder budget (their work adds up). Nothing is fine-tuned
(Phi's pattern-aware fine-tuning cannot run on a trace): the patterns are those k-means
chooses on the trace's calibration samples, or on the priced rows themselves when the
config holds no table (an optimistic bound, said in the breakdown's notes).

:data:`MODEL` is the registration (the entry point ``phi`` of the group
``prosparsity.accelerators``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prosparsity.accel.base import Breakdown
from prosparsity.accel.registry import AcceleratorModel, Claim
from prosparsity.core.errors import ConfigError
from prosparsity.plugins.frame import LABEL, GemmCost, layer_costs, reprice
from prosparsity.plugins.phi.calibration import calibrate_config
from prosparsity.plugins.phi.config import PhiConfig
from prosparsity.plugins.phi.densities import densities, layer_counts
from prosparsity.plugins.phi.patterns import SegmentCounts

if TYPE_CHECKING:
    from prosparsity.analysis.stats import GemmStats, ModelStats

__all__ = ["DESCRIPTION", "MODEL", "NAME", "gemm_cost", "needs", "simulate"]

NAME = "phi"
DESCRIPTION = ("Phi (ISCA 2025, arXiv 2505.10909): pattern-based hierarchical sparsity on "
               "Prosperity's chip")
#: The breakdown note when the patterns were chosen on the priced rows.
SELF_CALIBRATED = ("patterns chosen on the priced rows themselves (no held-out calibration "
                   "samples): an optimistic bound")


#: What a config needs counted (its counter, at any tile: the frame is tile-independent).
needs = PhiConfig.needs


def gemm_cost(gemm: GemmStats, counts: SegmentCounts, config: PhiConfig) -> GemmCost:
    """The cost of one GEMM (one view) from its Level-1 / Level-2 counts (see the module
    docstring for the equations)."""
    passes = -(-gemm.n // config.adders)
    items = counts.matched + counts.corrections
    n_seg = -(-gemm.k // config.width)
    pwp = 0
    if config.pwp_in_dram:
        pwp = (n_seg * config.k * gemm.n * config.pwp_word_bits
               * -(-gemm.m // config.tile_m))
    return GemmCost(
        compute=passes * items,
        preprocess=-(-counts.segments // config.matchers),
        extra_dram_bits=pwp,
        extra={"pattern_lookups": passes * counts.matched,
               "corrections": passes * counts.corrections, "pwp_dram_bits": pwp},
    )


def simulate(stats: ModelStats, config: PhiConfig | None = None) -> Breakdown:
    """Phi (ISCA 2025): pattern-based hierarchical sparsity; a first-order model on
    Prosperity's chip, no reference simulator.

    Returns:
        A breakdown whose ``extra`` holds the run's bit, product, pattern and correction
        densities and whose notes say how the patterns were chosen.

    Raises:
        ConfigError: statistics counted without the config's counter.
        TraceError: a workload without spike data.
    """
    cfg = config or PhiConfig()
    if not stats.has_data:
        raise ConfigError("phi", f"{stats.where}: Phi needs spike data; this workload has "
                          "layer shapes only")
    counts = layer_counts(stats, cfg)
    costs = layer_costs(stats, counts, gemm_cost, cfg)
    model, _ = densities(stats, cfg, counts)
    notes = [f"Phi: {LABEL}", f"k={cfg.k} patterns per {cfg.width}-column segment, "
             f"{'signed' if cfg.signed else 'non-negative'} Level 2"]
    if cfg.self_calibrated:
        notes.append(SELF_CALIBRATED)
    else:
        assert cfg.patterns is not None
        notes.append(f"patterns chosen on calibration sample(s) "
                     f"{', '.join(map(str, cfg.patterns.samples)) or '?'}")
    extra = {"bit_density": model.bit_density, "product_density": model.product_density,
             "pattern_density": model.pattern_density,
             "correction_density": model.correction_density}
    return reprice(stats, cfg, NAME, costs, notes=notes, extra=extra)


#: Where Phi's claims come from: its abstract says "over state-of-the-art SNN
#: accelerators"; a public review of the paper names the baseline, Stellar.
CLAIM_SOURCE = ("Phi (Wei et al., ISCA 2025), arXiv 2505.10909, abstract; the baseline, "
                "Stellar, as a public review of the paper names it")

#: Phi's registration: a cost model with cycles and DRAM traffic, no energy model, its
#: patterns fitted on held-out calibration samples where the trace has them.
MODEL = AcceleratorModel(
    name=NAME, simulate=simulate, config_type=PhiConfig, needs_fn=needs, display="Phi",
    dram=True, label=LABEL, description=DESCRIPTION, calibrate=calibrate_config,
    claims=(Claim("speedup", 3.45, "stellar", CLAIM_SOURCE),
            Claim("energy_efficiency", 4.93, "stellar", CLAIM_SOURCE)),
)
