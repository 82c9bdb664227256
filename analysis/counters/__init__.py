"""Counters: statistics of spike data that a cost model needs beyond the ProSparsity tile
grids (PTB's packed rows, SATO's PE loads, LoAS's OR-ed rows, and whatever a plugin's
model needs), counted in the one counting pass (``docs/analysis.md``, *Counters*).

A counter is a **key**: a frozen dataclass whose fields are exactly the parameters its
result depends on (PTB: time window, lanes, StSAP, grouping; SATO: PEs; LoAS: time
groups and its tile), with a class-level ``kind``. The key is how a statistics object
stores the result, so a sweep that asks for several keys counts each once, and its
``to_json()`` is part of a sweep cache's key. ``count(layer)`` is a pure function of one
weight-GEMM layer's spikes (:class:`LayerSpikes`: the kernel's grids and row sums, the
bit-packed operands, the ``(B, L, T, K)`` views) returning a small JSON-able value, so
statistics serialise without pickle. A cost model's config names the keys it needs
(``needs(config).counters`` in ``prosparsity.accel``).

Counter classes are found by ``kind`` (:mod:`prosparsity.analysis.counters.registry`):
:func:`register_counter` registers one (the built-in PTB, SATO and LoAS counters
register themselves so), the entry-point group ``prosparsity.counters`` advertises an
installed package's. A counter's error is its own: it fails that counter's result
(:class:`CounterFailure`), never the grids or the other counters of the pass.

A counter may also report densities beside bit and product density
(``densities(layer, value, adders)``, :mod:`prosparsity.analysis.counters.densities`):
``prosparsity analyze --counter KIND`` shows them.

MINT needs no counter of its own: its spike counts are the tile grids' ``nnz``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from prosparsity.analysis.counters.base import (
    CounterError,
    CounterFailure,
    CounterKey,
    TupleCounter,
)
from prosparsity.analysis.counters.densities import CounterDensities, counter_densities
from prosparsity.analysis.counters.loas import LoASGroups, LoASLayer
from prosparsity.analysis.counters.ptb import PTBRows
from prosparsity.analysis.counters.registry import (
    ENTRY_POINT_GROUP,
    counter_class,
    counter_from_json,
    counter_kinds,
    counter_package,
    known_kinds,
    register_counter,
)
from prosparsity.analysis.counters.sato import SATOLoads
from prosparsity.analysis.counters.spikes import LayerSpikes, OperandSpikes

__all__ = [
    "ENTRY_POINT_GROUP",
    "Counter",
    "CounterDensities",
    "CounterError",
    "CounterFailure",
    "CounterKey",
    "LayerSpikes",
    "LoASGroups",
    "LoASLayer",
    "OperandSpikes",
    "PTBRows",
    "SATOLoads",
    "TupleCounter",
    "counter_class",
    "counter_densities",
    "counter_from_json",
    "counter_kinds",
    "counter_package",
    "known_kinds",
    "register_counter",
]


@runtime_checkable
class Counter(Protocol):
    """A counter key: hashable, its fields its parameters (see the module docstring)."""

    kind: ClassVar[str]

    def count(self, layer: LayerSpikes) -> Any:
        """The value of one weight-GEMM layer, from its spikes (a pure function)."""
        ...

    def to_json(self) -> dict[str, Any]:
        """The key as a JSON object (``kind`` plus the parameters)."""
        ...

    def value_to_json(self, value: Any) -> Any:
        """A layer's value as JSON."""
        ...

    def value_from_json(self, doc: Any) -> Any:
        """The inverse of :meth:`value_to_json`."""
        ...
