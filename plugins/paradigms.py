"""Product, pattern and bundle sparsity side by side on one trace.

One row per weight-GEMM layer (and one for the model) with the densities of the three
paradigms in the same pass-weighted form (spec §4): bit density (every spike costs one
array cycle), product density (ProSparsity's residual bits, from the tile grids), Phi's
pattern and correction densities and Bishop's bundle density. What ``analyze`` shows
beside bit and product density once the plugins are registered; the counting needed is
:func:`needs` (one pass, beside the tile grids).
"""

from __future__ import annotations

from dataclasses import dataclass

from prosparsity.accel.base import Needs
from prosparsity.analysis.stats import ModelStats
from prosparsity.plugins import bishop, phi

__all__ = ["ParadigmRow", "needs", "paradigm_rows"]


@dataclass(frozen=True)
class ParadigmRow:
    """Densities of one layer (``name`` ``""``: the model's weight GEMMs) under the three
    paradigms; every density is a share of ``Σ nN · M · K``.

    Attributes:
        name: the layer (record) name.
        bit_density: spikes per element.
        product_density: ProSparsity's residual bits per element.
        pattern_density: Phi's Level-1 lookups per element.
        correction_density: Phi's Level-2 non-zeros per element.
        bundle_density: bits of Bishop's non-silent bundles per element.
        dense_share: share of the spikes Bishop's stratifier sends to the dense core.
    """

    name: str
    bit_density: float
    product_density: float
    pattern_density: float
    correction_density: float
    bundle_density: float
    dense_share: float

    @property
    def phi_density(self) -> float:
        """Phi's array items per element: ``pattern + correction``."""
        return self.pattern_density + self.correction_density

    def to_json(self) -> dict[str, float | str]:
        return {"name": self.name, "bit_density": self.bit_density,
                "product_density": self.product_density,
                "pattern_density": self.pattern_density,
                "correction_density": self.correction_density,
                "bundle_density": self.bundle_density, "dense_share": self.dense_share}


def needs(phi_config: phi.PhiConfig | None = None,
          bishop_config: bishop.BishopConfig | None = None) -> Needs:
    """The counters :func:`paradigm_rows` reads (at any tile: product density comes from
    whatever tile the statistics were counted at)."""
    p, b = phi_config or phi.PhiConfig(), bishop_config or bishop.BishopConfig()
    return Needs(spikes=True, counters=frozenset({p.counter, b.counter}))


def paradigm_rows(stats: ModelStats, phi_config: phi.PhiConfig | None = None,
                  bishop_config: bishop.BishopConfig | None = None,
                  ) -> tuple[ParadigmRow, tuple[ParadigmRow, ...]]:
    """``(model, per layer)`` rows of the three paradigms on ``stats``.

    Raises:
        ConfigError: statistics counted without the plugins' counters (:func:`needs`).
    """
    p_model, p_layers = phi.densities(stats, phi_config)
    b_model, b_layers = bishop.densities(stats, bishop_config)

    def row(p: phi.PhiDensity, b: bishop.BundleDensity) -> ParadigmRow:
        return ParadigmRow(p.name, p.bit_density, p.product_density, p.pattern_density,
                           p.correction_density, b.bundle_density, b.dense_share)

    return row(p_model, b_model), tuple(row(p, b) for p, b in zip(p_layers, b_layers,
                                                                   strict=True))
