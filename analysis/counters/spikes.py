"""What a counter sees of one layer: :class:`LayerSpikes`, the spike operands the one
counting pass holds for a weight-GEMM layer (linear, conv1d, conv2d).

Each operand (a channel group of a grouped convolution, or a bit plane of a multi-level
layer) offers, cheapest first:

* ``grid``: the ProSparsity tile grid the kernel counted (at the pass's tile);
* ``row_nnz``: the ones of every GEMM row, summed by the kernel in the same pass;
* ``packed``: for a binary operand, the bit-packed layer input and the geometry the
  fused kernel reads rows from (``(P, PackedGemm)``, see
  :class:`~prosparsity.analysis.gemm.PackedGemm`): OR-ing time steps commutes with
  im2col, so time-window counters work on ``P`` directly; ``bits()`` gives every
  operand in that form (a bit plane's or a sample-streamed operand's own rows, packed);
* ``matrix()`` / ``view()``: the operand ``S`` itself, ``(M, K)`` or ``(B, L, T, K)``
  booleans, built (im2col) on first use and kept for the other counters of the pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from prosparsity.traces.schema import LayerKind

if TYPE_CHECKING:
    from prosparsity.analysis.gemm import Gemm, PackedGemm, PackedOperand
    from prosparsity.analysis.grid import TileGrid
    from prosparsity.analysis.layers import LayerGemm
    from prosparsity.traces.schema import LayerRecord

__all__ = ["LayerSpikes", "OperandSpikes"]


class OperandSpikes:
    """One GEMM operand of a layer as the counting pass holds it (see the module
    docstring). Rows of ``S`` are ``m = (b*L + l)*T + t`` (sample, token or output
    position, time step).

    Attributes:
        gemm: the GEMM (name, ``m``, ``k``, ``n``, kernel, group).
        plane: the bit plane (0 for a binary operand).
        grid: the kernel's tile grid of this operand at the pass's tile.
        row_nnz: ``(M,)`` int64, read-only: the ones of every row of ``S``.
        shape: the layer's ``B``, ``L``, ``T``, ``K`` split (``LayerGemm``).
    """

    def __init__(self, gemm: Gemm, plane: int, grid: TileGrid, row_nnz: np.ndarray,
                 shape: LayerGemm, packed: PackedOperand | None = None) -> None:
        self.gemm, self.plane, self.grid, self.shape = gemm, plane, grid, shape
        row_nnz = np.asarray(row_nnz, dtype=np.int64)
        row_nnz.setflags(write=False)
        self.row_nnz = row_nnz
        self._packed = packed if packed is not None and _same_rows(packed[1], shape) else None
        self._own_bits = False
        self._matrix: np.ndarray | None = None

    @property
    def packed(self) -> PackedOperand | None:
        """The bit-packed layer input and its geometry (binary operands read through the
        fused kernel; its rows are the view's), or ``None`` (a bit plane, a
        sample-streamed operand: see :meth:`bits`)."""
        return None if self._own_bits else self._packed

    def bits(self) -> PackedOperand:
        """``S`` bit-packed as the fused kernel reads it: :attr:`packed` when the operand
        has it, else its own rows packed once (a linear geometry of ``T`` steps and
        ``B*L`` units over the ``K`` columns; built on first use, then kept)."""
        if self._packed is None:
            from prosparsity.analysis.gemm import PackedGemm

            s = self.shape
            units = s.batch * s.positions
            rows = self.matrix().reshape(units, s.time_steps, s.k).transpose(1, 0, 2)
            packed = np.packbits(rows, axis=-1)[:, :, None, None, :]
            self._packed = (packed, PackedGemm(steps=s.time_steps, units=units, channels=1,
                                               height=1, width=s.k, kernel=(1, s.k)))
            self._own_bits = True
        return self._packed

    def matrix(self) -> np.ndarray:
        """``S`` as ``(M, K)`` booleans, read-only (built on first use, then kept)."""
        if self._matrix is None:
            mat = np.asarray(self.gemm.matrix(self.plane), dtype=bool)
            mat.setflags(write=False)
            self._matrix = mat
        return self._matrix

    def view(self) -> np.ndarray:
        """``S`` as ``(B, L, T, K)`` booleans (sample, token / position, step, column)."""
        s = self.shape
        return self.matrix().reshape(s.batch, s.positions, s.time_steps, s.k)


def _same_rows(gemm: PackedGemm, shape: LayerGemm) -> bool:
    """Whether the packed geometry's rows are the view's: ``B*L`` tokens (or output
    positions) of ``T`` steps and ``K`` columns, token-major."""
    return (gemm.steps == shape.time_steps and gemm.k == shape.k
            and gemm.units * (gemm.unit_rows // gemm.steps) == shape.batch * shape.positions)


@dataclass(frozen=True)
class LayerSpikes:
    """One weight-GEMM layer's spikes, as every counter of the pass receives them.

    Attributes:
        record: the trace record (name, kind, typed params).
        shape: its GEMM split into ``T``, ``B``, ``L``, ``K``, ``N`` (``LayerGemm``).
        tile: ``(tile_m, tile_k)`` of the grids.
        operands: one per channel group and bit plane, in order.
    """

    record: LayerRecord
    shape: LayerGemm
    tile: tuple[int, int]
    operands: tuple[OperandSpikes, ...] = field(default=())

    @property
    def name(self) -> str:
        """The layer's name (the key of its value in the statistics)."""
        return self.record.name

    @property
    def one_token_linear(self) -> bool:
        """A linear layer with a single token (the authors' "2-D" tensor)."""
        return self.record.kind is LayerKind.LINEAR and self.shape.positions == 1

    def views(self) -> Sequence[np.ndarray]:
        """Every operand's ``(B, L, T, K)`` view (built on first use)."""
        return tuple(op.view() for op in self.operands)
