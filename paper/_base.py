"""What every table of :mod:`prosparsity.paper` shares: the citation and read-only tables."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeVar

K = TypeVar("K")
V = TypeVar("V")

PAPER = "Prosperity (HPCA 2025)"
"""The short citation every ``*_SOURCE`` starts with: C. Wei, C. Guo, et al., "Prosperity:
Accelerating Spiking Neural Networks via Product Sparsity", HPCA 2025."""


def frozen(table: Mapping[K, V]) -> Mapping[K, V]:
    """A read-only copy of ``table``; nested mappings (one per accelerator or tile) too."""
    copy: dict[Any, Any] = {
        key: frozen(value) if isinstance(value, Mapping) else value
        for key, value in table.items()
    }
    return MappingProxyType(copy)
