"""Bishop's counter (the counting half of :mod:`prosparsity.plugins.bishop.model`).

:class:`BishopBundles` is a counter key of the counter protocol
(:mod:`prosparsity.analysis.counters`): a frozen dataclass whose fields are the bundle
sizes and the stratifier's threshold. It counts one weight-GEMM layer from the
``(B, L, T, K)`` view of each operand (channel group / bit plane), each batch sample on
its own (bundles never span samples), and returns one
:class:`~prosparsity.plugins.bishop.bundles.BundleCounts` per operand. It reports the
bundle density and the stratifier's dense share beside bit and product density
(``prosparsity analyze --counter bishop_bundles``). Registered through the entry-point
group ``prosparsity.counters`` (``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prosparsity.analysis.counters import LayerSpikes
from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.bundles import BundleCounts, bundle_counts
from prosparsity.plugins.counts import CountsCounter

if TYPE_CHECKING:
    from prosparsity.analysis.stats import LayerStats

__all__ = ["BishopBundles"]


@dataclass(frozen=True)
class BishopBundles(CountsCounter):
    """Counter key of Bishop's bundles; its value per layer is one :class:`BundleCounts`
    per view, summed over the batch samples.

    Attributes:
        tokens: tokens (output positions) per bundle.
        steps: time steps per bundle.
        features: columns per bundle.
        threshold: the stratifier's density threshold (a bundle at or above it is dense).
    """

    kind: ClassVar[str] = "bishop_bundles"
    counts: ClassVar[type[BundleCounts]] = BundleCounts
    tokens: int = 4
    steps: int = 4
    features: int = 16
    threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("tokens", "steps", "features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"bishop_bundles.{name}",
                                  f"must be a positive integer, got {value!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float) or (
                not 0.0 <= float(self.threshold) <= 1.0):
            raise ConfigError("bishop_bundles.threshold",
                              f"must be a density in [0, 1], got {self.threshold!r}")
        object.__setattr__(self, "threshold", float(self.threshold))

    def count(self, layer: LayerSpikes) -> tuple[BundleCounts, ...]:
        """One :class:`BundleCounts` per operand of ``layer``, summed over its samples."""
        out = []
        for operand in layer.operands:
            total = BundleCounts()
            for sample in operand.view():
                total = total + bundle_counts(sample, self.tokens, self.steps,
                                              self.features, self.threshold)
            out.append(total)
        return tuple(out)


    def densities(self, layer: LayerStats, value: Sequence[BundleCounts],
                  adders: int) -> Mapping[str, tuple[int, int]]:
        """The bundle density and the dense share of one layer, pass-weighted like bit
        and product density (:mod:`prosparsity.plugins.bishop.densities`)."""
        from prosparsity.plugins.bishop.densities import layer_density

        d = layer_density(layer, value, adders)
        return {"bundle_density": (d.active_elements, d.elements),
                "dense_share": (d.dense_nnz, d.nnz)}
