"""Bishop's statistics as densities, in the pass-weighted form of bit and product density.

Every count of one GEMM is weighted by its output passes ``nN = ceil(N / adders)``
(spec §4, :mod:`prosparsity.analysis.stats`)::

    bundle density = Σ nN · (bits of the non-silent bundles) / Σ nN · M · K
    fiber density  = Σ nN · (bits of the non-silent fibers)  / Σ nN · M · K
    dense share    = Σ nN · (spikes of dense bundles)        / Σ nN · nnz(S)

The bundle density is the share of the operand a bundle-skipping engine still touches;
it is at least the bit density, which it equals only when every bundle is full or empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.bundles import BundleCounts
from prosparsity.plugins.counts import Weighted
from prosparsity.plugins.frame import gemm_layers

if TYPE_CHECKING:
    from prosparsity.analysis.stats import LayerStats, ModelStats
    from prosparsity.plugins.bishop.config import BishopConfig

__all__ = ["BundleDensity", "densities", "layer_counts", "layer_density"]


def layer_counts(stats: ModelStats, config: BishopConfig) -> dict[str, tuple[BundleCounts, ...]]:
    """Per weight-GEMM layer, the bundle counts of each view.

    Raises:
        ConfigError: statistics counted without the config's counter.
    """
    values = stats.counter(config.counter)
    out = {}
    for layer in gemm_layers(stats):
        if layer.name not in values:
            raise ConfigError("bishop", f"{stats.where}: layer {layer.name!r} was not counted")
        out[layer.name] = tuple(values[layer.name])
    return out


@dataclass(frozen=True)
class BundleDensity(Weighted):
    """Bishop's densities of one layer (or of the model: ``name`` ``""``); every count
    pass-weighted (:class:`~prosparsity.plugins.counts.Weighted`).

    Attributes:
        active_elements: bits of the non-silent bundles.
        active_fiber_elements: bits of the non-silent fibers.
        dense_nnz: spikes of the dense bundles.
        dense_bundles: dense bundles.
        active_bundles: non-silent bundles.
    """

    active_elements: int
    active_fiber_elements: int
    dense_nnz: int
    dense_bundles: int
    active_bundles: int

    @property
    def bundle_density(self) -> float:
        """Bits of the non-silent bundles per element."""
        return self._share(self.active_elements)

    @property
    def fiber_density(self) -> float:
        """Bits of the non-silent fibers per element."""
        return self._share(self.active_fiber_elements)

    @property
    def dense_share(self) -> float:
        """Share of the spikes the stratifier sends to the dense core."""
        return self.dense_nnz / self.nnz if self.nnz else 0.0

    @property
    def dense_bundle_share(self) -> float:
        """Share of the non-silent bundles that are dense."""
        return self.dense_bundles / self.active_bundles if self.active_bundles else 0.0

    def to_json(self) -> dict[str, float | int | str]:
        return {"name": self.name, "elements": self.elements,
                "bit_density": self.bit_density, "product_density": self.product_density,
                "bundle_density": self.bundle_density, "fiber_density": self.fiber_density,
                "dense_share": self.dense_share,
                "dense_bundle_share": self.dense_bundle_share}


def layer_density(layer: LayerStats, counts: Sequence[BundleCounts],
                  adders: int) -> BundleDensity:
    """One layer's densities from the bundle counts of its views (one per GEMM of the
    statistics), each GEMM's counts weighted by its passes ``ceil(N / adders)``."""
    parts = []
    for g, c in zip(layer.gemms, counts, strict=True):
        n = -(-g.n // adders)
        parts.append(BundleDensity(
            layer.name, c.elements * n, c.nnz * n, g.grid.total("residual_nnz") * n,
            c.active_elements * n, c.active_fiber_elements * n, c.dense_nnz * n,
            c.dense_bundles * n, c.active_bundles * n))
    return BundleDensity.total(layer.name, parts)


def densities(stats: ModelStats, config: BishopConfig | None = None,
              counts: dict[str, tuple[BundleCounts, ...]] | None = None,
              ) -> tuple[BundleDensity, tuple[BundleDensity, ...]]:
    """``(model, per layer)`` densities, passes weighted at the statistics' adder width
    (``stats.adders``, as its bit and product densities)."""
    if config is None:
        from prosparsity.plugins.bishop.config import BishopConfig

        config = BishopConfig()
    counts = layer_counts(stats, config) if counts is None else counts
    rows = [layer_density(layer, counts[layer.name], stats.adders)
            for layer in gemm_layers(stats)]
    return BundleDensity.total("", rows), tuple(rows)
