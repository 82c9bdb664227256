"""SATO's PE loads (the counting half of ``prosparsity.accel.sato``).

SATO (Liu et al., DAC 2022), as the Prosperity authors model it, deals the GEMM rows of
one batch sample, in their order (time step major, token / output position minor), one
by one to the PE with the fewest spikes so far (ties: lowest PE index), each adding its
spike count; the layer then takes ``max(PE load) * N`` cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from prosparsity.analysis.counters.base import TupleCounter
from prosparsity.core.errors import ConfigError

__all__ = ["SATOLoads", "pe_loads_max"]


@dataclass(frozen=True)
class SATOLoads(TupleCounter):
    """Counter key of SATO's largest PE load; its value per layer is the tuple of the
    largest PE load (spikes) of every (view, sample) pair, views in order.

    Attributes:
        pes: processing elements the rows are dealt to (SATO: 128).
    """

    kind: ClassVar[str] = "sato_loads"
    pes: int = 128

    def __post_init__(self) -> None:
        if int(self.pes) < 1:
            raise ConfigError("sato_loads.pes", f"must be >= 1, got {self.pes!r}")

    def count(self, views: Sequence[np.ndarray], *, one_token_linear: bool,
              packed: Sequence[object] = ()) -> tuple[int, ...]:
        return tuple(pe_loads_max(sample, self.pes) for view in views for sample in view)


def pe_loads_max(view: np.ndarray, pes: int = 128) -> int:
    """Largest PE load (spikes) after SATO's greedy dealing of one sample's rows.

    Args:
        view: spikes of one sample as ``(L, T, K)`` booleans.
        pes: number of PEs.
    """
    rows = np.asarray(view, dtype=bool).sum(axis=2, dtype=np.int64).T.ravel()  # t-major
    from prosparsity.analysis.counters._kernels import greedy_max

    return int(greedy_max(np.ascontiguousarray(rows), pes))
