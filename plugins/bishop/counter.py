"""Bishop's counter (the counting half of :mod:`prosparsity.plugins.bishop.model`).

:class:`BishopBundles` is a counter key of the counter protocol
(:mod:`prosparsity.analysis.counters`): a frozen dataclass whose fields are the bundle
sizes and the stratifier's threshold. It counts one weight-GEMM layer from its
``(B, L, T, K)`` spike views (one per channel group / bit plane), each batch sample on
its own (bundles never span samples), and returns one
:class:`~prosparsity.plugins.bishop.bundles.BundleCounts` per view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.bishop.bundles import BundleCounts, bundle_counts

__all__ = ["BishopBundles"]


@dataclass(frozen=True)
class BishopBundles:
    """Counter key of Bishop's bundles; its value per layer is one :class:`BundleCounts`
    per view, summed over the batch samples.

    Attributes:
        tokens: tokens (output positions) per bundle.
        steps: time steps per bundle.
        features: columns per bundle.
        threshold: the stratifier's density threshold (a bundle at or above it is dense).
    """

    kind: ClassVar[str] = "bishop_bundles"
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

    def count(self, views: Sequence[np.ndarray], *, one_token_linear: bool = False,
              packed: Sequence[object] = ()) -> tuple[BundleCounts, ...]:
        out = []
        for view in views:
            view = np.asarray(view, dtype=bool)
            if view.ndim != 4:
                raise ConfigError("bishop_bundles", f"expected (B, L, T, K) views, got "
                                  f"shape {view.shape}")
            total = BundleCounts()
            for sample in view:
                total = total + bundle_counts(sample, self.tokens, self.steps,
                                              self.features, self.threshold)
            out.append(total)
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> BishopBundles:
        """The key of :meth:`to_json`.

        Raises:
            ConfigError: another kind or parameters this kind does not take.
        """
        params = dict(doc)
        kind = params.pop("kind", cls.kind)
        if kind != cls.kind:
            raise ConfigError("counters.kind", f"expected {cls.kind!r}, got {kind!r}")
        try:
            return cls(**params)
        except TypeError as exc:
            raise ConfigError(f"counters.{cls.kind}", str(exc)) from None

    def value_to_json(self, value: Sequence[BundleCounts]) -> list[dict[str, int]]:
        return [asdict(v) for v in value]

    def value_from_json(self, doc: Any) -> tuple[BundleCounts, ...]:
        return tuple(BundleCounts(**{k: int(v) for k, v in entry.items()}) for entry in doc)
