"""The counts of the shipped plugins: integer counts that add up field by field
(:class:`Counts`), a counter whose value per layer is one of them per operand
(:class:`CountsCounter`), and counts weighted by output passes, the form every density
takes (:class:`Weighted`).

Every count of one GEMM is weighted by its output passes ``nN = ceil(N / adders)``
(spec §4, :mod:`prosparsity.analysis.stats`), so that on one trace a density is
``Σ nN · count / Σ nN · M · K``, read on the scale of bit and product density.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Self

from prosparsity.analysis.counters import CounterKey

__all__ = ["Counts", "CountsCounter", "Weighted"]


@dataclass(frozen=True)
class Counts:
    """Integer counts (every field an int, default 0); ``+`` adds them field by field."""

    def __add__(self, other: Self) -> Self:
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name)
                            for f in fields(self)))


class CountsCounter(CounterKey):
    """A counter key whose value per layer is one :attr:`counts` per operand (a channel
    group or a bit plane), stored as JSON objects of ints."""

    counts: ClassVar[type[Counts]]

    def value_to_json(self, value: Sequence[Counts]) -> list[dict[str, int]]:
        return [asdict(v) for v in value]

    def value_from_json(self, doc: Any) -> tuple[Counts, ...]:
        return tuple(self.counts(**{k: int(v) for k, v in entry.items()}) for entry in doc)


@dataclass(frozen=True)
class Weighted:
    """Pass-weighted counts of one layer (or of the model: ``name`` ``""``); a subclass
    adds its own counts (ints) as fields.

    Attributes:
        name: the layer (record) name.
        elements: ``Σ nN · M · K``.
        nnz: ``Σ nN · nnz(S)``.
        residual_nnz: ``Σ nN · nnz(residual)`` (ProSparsity, from the tile grids).
    """

    name: str
    elements: int
    nnz: int
    residual_nnz: int

    def _share(self, x: int) -> float:
        return x / self.elements if self.elements else 0.0

    @property
    def bit_density(self) -> float:
        return self._share(self.nnz)

    @property
    def product_density(self) -> float:
        return self._share(self.residual_nnz)

    @classmethod
    def total(cls, name: str, parts: Sequence[Self]) -> Self:
        """The sum of ``parts`` (every count), named ``name``."""
        counts = [f.name for f in fields(cls)][1:]
        return cls(name, *(sum(getattr(p, f) for p in parts) for f in counts))
