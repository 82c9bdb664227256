"""SATO's PE loads (the counting half of ``prosparsity.accel.sato``).

SATO (Liu et al., DAC 2022), as the Prosperity authors model it, deals the GEMM rows of
one batch sample, in their order (time step major, token / output position minor), one
by one to the PE with the fewest spikes so far (ties: lowest PE index), each adding its
spike count; the layer then takes ``max(PE load) * N`` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from prosparsity.analysis.counters.base import TupleCounter
from prosparsity.analysis.counters.registry import register_counter
from prosparsity.core.errors import ConfigError

if TYPE_CHECKING:
    from prosparsity.analysis.counters.spikes import LayerSpikes

__all__ = ["SATOLoads", "pe_loads_max"]


@register_counter
@dataclass(frozen=True)
class SATOLoads(TupleCounter):
    """Counter key of SATO's largest PE load; its value per layer is the tuple of the
    largest PE load (spikes) of every (operand, sample) pair, operands in order.

    Counted from the row sums the kernel makes in its pass (``OperandSpikes.row_nnz``),
    every sample of an operand in one compiled call.

    Attributes:
        pes: processing elements the rows are dealt to (SATO: 128).
    """

    kind: ClassVar[str] = "sato_loads"
    pes: int = 128

    def __post_init__(self) -> None:
        if int(self.pes) < 1:
            raise ConfigError("sato_loads.pes", f"must be >= 1, got {self.pes!r}")

    def count(self, layer: LayerSpikes) -> tuple[int, ...]:
        from prosparsity.analysis.counters._kernels import sato_max_loads

        out: list[int] = []
        for op in layer.operands:
            s = op.shape
            loads = sato_max_loads(op.row_nnz, s.batch, s.positions, s.time_steps,
                                   int(self.pes))
            out.extend(int(v) for v in loads)
        return tuple(out)


def pe_loads_max(view: np.ndarray, pes: int = 128) -> int:
    """Largest PE load (spikes) after SATO's greedy dealing of one sample's rows, from
    its spikes as booleans (the reference of the counter's compiled path).

    Args:
        view: spikes of one sample as ``(L, T, K)`` booleans.
        pes: number of PEs.
    """
    rows = np.asarray(view, dtype=bool).sum(axis=2, dtype=np.int64).T.ravel()  # t-major
    from prosparsity.analysis.counters._kernels import greedy_max

    return int(greedy_max(np.ascontiguousarray(rows), pes))
