"""LoAS's OR-ed time groups and their ProSparsity (the counting half of
``prosparsity.accel.loas``).

LoAS (Yin et al., MICRO 2024) runs all time steps of a neuron in parallel. As the
Prosperity authors study it, per linear / conv layer and batch sample, ``T`` is padded
with silent steps to a power of two ``T'`` (at least ``groups``) and cut into ``groups``
groups of ``T'/groups`` consecutive steps; a group's spikes are OR-ed, giving ``groups``
rows per token / output position (rows token-major, group-minor), ``groups*L`` rows of
``K`` columns (:func:`loas_rows`). The counter reports the ones of those rows, the ones
left after ProSparsity on them (tiles ``tile_m x tile_k``: a kernel call on this
operand, which is not the layer's GEMM operand), their elements and ``T'/groups``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from prosparsity.analysis.counters.base import CounterKey, pad_time_steps, padded_steps
from prosparsity.analysis.counters.registry import register_counter
from prosparsity.core.errors import ConfigError
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.analysis.counters.spikes import LayerSpikes, OperandSpikes
    from prosparsity.analysis.gemm import PackedGemm

__all__ = ["LoASGroups", "LoASLayer", "loas_rows"]


#: The config field named when the time groups do not divide the padded T.
_FIELD = "loas.time_groups"

@dataclass(frozen=True)
class LoASLayer:
    """LoAS counts of one layer, summed over its operands (unweighted by ``N``).

    Attributes:
        ones: ones of the OR-ed rows.
        residual_ones: ones left after ProSparsity on them.
        elements: rows x columns of the OR-ed rows.
        steps_per_group: time steps one OR-ed row covers (``T'/groups``).
    """

    ones: int
    residual_ones: int
    elements: int
    steps_per_group: int = 1


@register_counter
@dataclass(frozen=True)
class LoASGroups(CounterKey):
    """Counter key of LoAS's OR-ed rows; its value per layer is a :class:`LoASLayer`.

    When every group is one step (``T`` a power of two equal to ``time_groups``) the
    OR-ed rows are the GEMM operand's own rows, in the same order: at the pass's tile
    their ProSparsity is the kernel's grid, read without counting again. Otherwise the
    OR-ed rows are counted by the fused kernel on the OR-ed bit-packed operand
    (``OperandSpikes.bits()``; OR-ing time steps commutes with im2col); :func:`loas_rows`
    is the definition on a sample's view, which the tests check it against.

    Attributes:
        time_groups: groups the time steps are OR-ed into (4).
        tile_m: ProSparsity tile rows on the OR-ed rows (256).
        tile_k: ProSparsity tile columns (16).
    """

    kind: ClassVar[str] = "loas_groups"
    time_groups: int = 4
    tile_m: int = DEFAULT_TILE.tile_m
    tile_k: int = DEFAULT_TILE.tile_k

    def __post_init__(self) -> None:
        from prosparsity.analysis.grid import check_tile_sizes

        if int(self.time_groups) < 1:
            raise ConfigError("loas_groups.time_groups", f"must be >= 1, got {self.time_groups!r}")
        check_tile_sizes(self.tile_m, self.tile_k)

    def count(self, layer: LayerSpikes) -> LoASLayer:
        ones = residual = elements = 0
        steps = 1
        for op in layer.operands:
            t = op.shape.time_steps
            padded = padded_steps(t, self.time_groups, _FIELD)
            steps = padded // self.time_groups
            o, r, e = self._operand(op, layer.tile, padded)
            ones += o
            residual += r
            elements += e
        return LoASLayer(ones, residual, elements, steps)

    def _operand(self, op: OperandSpikes, tile: tuple[int, int],
                 padded: int) -> tuple[int, int, int]:
        """Ones, residual ones and elements of one operand's OR-ed rows."""
        s = op.shape
        if padded == s.time_steps == self.time_groups and tile == (self.tile_m, self.tile_k):
            grid = op.grid  # one step per group: the operand itself, counted at this tile
            return grid.total("nnz"), grid.total("residual_nnz"), grid.elements
        return self._count_packed(*op.bits())

    def _count_packed(self, P: np.ndarray, gemm: PackedGemm) -> tuple[int, int, int]:
        """Ones, residual ones and elements of the OR-ed rows, counted by the fused kernel:
        OR-ing a group's time steps commutes with im2col, so the rows are the operand of
        the same geometry over the OR-ed bit-packed input, one step per group."""
        from prosparsity.analysis.kernel import packed_stats

        per = padded_steps(gemm.steps, self.time_groups, _FIELD) // self.time_groups
        ored = np.zeros((self.time_groups, *P.shape[1:]), dtype=np.uint8)
        for g in range(self.time_groups):
            for t in range(g * per, min((g + 1) * per, gemm.steps)):  # padding steps: silent
                ored[g] |= P[t]
        grouped = replace(gemm, steps=self.time_groups)
        grid = packed_stats(ored, grouped, self.tile_m, self.tile_k)
        return grid.total("nnz"), grid.total("residual_nnz"), grouped.m * grouped.k

    def value_to_json(self, value: LoASLayer) -> dict[str, int]:
        return asdict(value)

    def value_from_json(self, doc: Any) -> LoASLayer:
        return LoASLayer(**{k: int(v) for k, v in doc.items()})


def loas_rows(view: np.ndarray, groups: int = 4) -> np.ndarray:
    """LoAS's rows of one sample: ``(L, T, K)`` spikes -> ``(L*groups, K)`` OR-ed groups."""
    view = pad_time_steps(np.asarray(view, dtype=bool), groups, _FIELD)
    positions, padded, cols = view.shape
    return view.reshape(positions, groups, padded // groups, cols).any(axis=2).reshape(-1, cols)
