"""Per-accelerator counters: statistics of spike data that one cost model needs beyond
the ProSparsity tile grids (PTB's packed rows, SATO's PE loads, LoAS's OR-ed rows).

Each counter is a frozen dataclass whose fields are exactly the counting parameters its
result depends on (PTB: time window, lanes, StSAP, grouping; SATO: PEs; LoAS: time
groups and its tile), so it is the key under which a statistics object stores its
result: a sweep asks for several at once and each is counted once. A cost model's
config names the counters it needs (``needs(config)`` in ``prosparsity.accel``).

Every counter counts one weight-GEMM layer from its spike *views*: one ``(B, L, T, K)``
boolean array per channel group and bit plane (spec §1 rows reshaped per sample, token
and time step), and returns a small JSON-able value (ints), so that the statistics
serialise without pickle. MINT needs no counter of its own: its spike counts are the
tile grids' ``nnz``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from prosparsity.analysis.counters.loas import LoASGroups, LoASLayer
from prosparsity.analysis.counters.ptb import PTBRows
from prosparsity.analysis.counters.sato import SATOLoads
from prosparsity.core.errors import ConfigError

if TYPE_CHECKING:
    from prosparsity.analysis.gemm import PackedOperand

__all__ = [
    "COUNTERS",
    "Counter",
    "LoASGroups",
    "LoASLayer",
    "PTBRows",
    "SATOLoads",
    "counter_from_json",
]


@runtime_checkable
class Counter(Protocol):
    """A counter key: its fields are its counting parameters."""

    kind: str

    def count(self, views: Sequence[np.ndarray], *, one_token_linear: bool,
              packed: Sequence[PackedOperand | None] = ()) -> Any:
        """The layer's value from its ``(B, L, T, K)`` views (one per group / plane);
        ``packed``, when given, holds each view's operand as the fused kernel reads it
        (``Gemm.packed()``: the bit-packed layer input and its geometry; ``None`` for a
        bit plane of a multi-level layer), for counters that can count from it."""
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


#: Counter kinds by their JSON name.
COUNTERS: Mapping[str, type] = {
    PTBRows.kind: PTBRows,
    SATOLoads.kind: SATOLoads,
    LoASGroups.kind: LoASGroups,
}


def counter_from_json(doc: Mapping[str, Any]) -> Counter:
    """A counter key from :meth:`Counter.to_json`.

    Raises:
        ConfigError: an unknown kind or parameters the kind does not take.
    """
    params = dict(doc)
    kind = params.pop("kind", None)
    cls = COUNTERS.get(str(kind))
    if cls is None:
        known = ", ".join(COUNTERS)
        raise ConfigError("counters.kind", f"unknown counter {kind!r} (known: {known})")
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"counters.{kind}", str(exc)) from None
