"""PTB's packed array rows (the counting half of ``prosparsity.accel.ptb``).

PTB (Lee et al., HPCA 2022), as the Prosperity authors model it, processes a *time
window* of ``w`` time steps of one input at a time; its StSAP scheme packs two input rows
whose spike windows never overlap into one array pass. Per batch sample
(:func:`packed_rows`):

1. pad ``T`` with silent steps to a power of two ``T'`` (at least one window); OR the
   spikes of each window of ``w`` steps: ``W = T'/w`` windows (:func:`window_spikes`);
2. *linear layer with one token* (the authors' "2-D" tensor): one array row per GEMM
   column ``k`` that spikes at all;
3. otherwise the ``(W, L, K)`` window tensor is read as ``(lanes, X, K)`` in row-major
   order (``X = W*L/lanes``, rows padded with silent ones to a multiple of ``lanes``)
   and each of the ``X`` groups is a ``K x lanes`` matrix. In each group, rows with no
   spike are dropped, rows spiking in every lane are kept alone, and StSAP walks the
   remaining rows in order, pairing each not-yet-taken row with the first later
   not-yet-taken row whose lanes are disjoint: ``rows = remaining - pairs + full``.

The grouping of step 3 reshapes the ``(W, L, K)`` tensor, so when ``W != lanes`` a group
mixes windows and tokens (a slip of the authors' simulator, reproduced when
``paper_grouping``); so is the unpacked one-token path of step 2. With
``paper_grouping=False`` every group holds the windows of ONE token (``ceil(W/lanes)``
groups per token) and one-token linear layers are packed too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from prosparsity.analysis.counters.base import TupleCounter, pad_time_steps, padded_steps
from prosparsity.analysis.counters.registry import register_counter
from prosparsity.core.errors import ConfigError

if TYPE_CHECKING:
    from prosparsity.analysis.counters.spikes import LayerSpikes, OperandSpikes
    from prosparsity.analysis.gemm import PackedGemm

__all__ = ["PTBRows", "packed_rows", "window_spikes"]

#: The config field named when the window does not divide the padded T.
_FIELD = "ptb.time_window_steps"


@register_counter
@dataclass(frozen=True)
class PTBRows(TupleCounter):
    """Counter key of PTB's packed rows; its value per layer is the tuple of packed rows
    of each operand (group / bit plane), summed over the batch samples.

    An operand is counted from its bit-packed form (``OperandSpikes.bits()``: the
    steps of each window OR-ed, its rows read as the fused kernel reads them, every
    group's StSAP in one compiled call shared between threads); :func:`packed_rows` is
    the definition on a sample's ``(L, T, K)`` view, which the tests check it against.

    Attributes:
        window: time steps per window (PTB: 4).
        lanes: lanes of a StSAP group, also the size of the row grouping (8; <= 16).
        stsap: pack rows with StSAP; False counts every (group, column) row.
        paper_grouping: group rows as the authors' simulator does (see module docstring).
    """

    kind: ClassVar[str] = "ptb_rows"
    window: int = 4
    lanes: int = 8
    stsap: bool = True
    paper_grouping: bool = True

    def __post_init__(self) -> None:
        if int(self.window) < 1:
            raise ConfigError("ptb_rows.window", f"must be >= 1, got {self.window!r}")
        if not 1 <= int(self.lanes) <= 16:
            raise ConfigError("ptb_rows.lanes", f"must be in 1..16, got {self.lanes!r}")

    def count(self, layer: LayerSpikes) -> tuple[int, ...]:
        return tuple(self._operand(op, layer.one_token_linear) for op in layer.operands)

    def _operand(self, op: OperandSpikes, one_token_linear: bool) -> int:
        """Packed rows of one operand, summed over its samples."""
        from prosparsity.analysis.counters import _kernels as kn

        s = op.shape
        windows = padded_steps(s.time_steps, self.window, _FIELD) // self.window
        if self.paper_grouping and one_token_linear:
            mode, per_sample = kn.ONE_TOKEN, 1
            unpacked = s.k
        elif self.paper_grouping:
            mode, per_sample = kn.PAPER_GROUPS, -(-(windows * s.positions) // self.lanes)
            unpacked = per_sample * s.k
        else:
            mode, per_sample = kn.TOKEN_GROUPS, s.positions * -(-windows // self.lanes)
            unpacked = per_sample * s.k
        if not self.stsap:
            return s.batch * unpacked
        return _packed_groups(*op.bits(), self.window, windows, self.lanes, mode,
                              s.positions, per_sample * s.batch, per_sample)


def _packed_groups(P: np.ndarray, gemm: PackedGemm, window: int, windows: int, lanes: int,
                   mode: int, positions: int, groups: int, per_sample: int) -> int:
    """StSAP rows of ``groups`` groups read from the bit-packed input ``P`` (see
    :func:`prosparsity.analysis.counters._kernels._ptb_groups_py`)."""
    from prosparsity.analysis._fused import _bit_rows, _field_table
    from prosparsity.analysis._threads import _share
    from prosparsity.analysis.counters._kernels import _ptb_groups

    steps = P.shape[0]
    if windows * window != steps:  # silent steps up to the padded T
        padded = np.zeros((windows * window, *P.shape[1:]), dtype=np.uint8)
        padded[:steps] = P
        P = padded
    ored = np.bitwise_or.reduce(P.reshape(windows, window, *P.shape[1:]), axis=1)
    (kh, kw), (sh, sw) = gemm.kernel, gemm.stride
    (ph, pw), (dh, dw) = gemm.padding, gemm.dilation
    hp = gemm.height + 2 * ph
    rows = _bit_rows(np.ascontiguousarray(ored), gemm.width, ph, pw)
    seg, nseg = _field_table(gemm.k, 64, kh, kw, dh, dw, hp)
    oh, ow = gemm.out_hw
    geo = (windows, P.shape[1], gemm.channels, hp, sh, sw, ow, oh * ow, gemm.c_off)
    out = np.zeros(groups, dtype=np.int64)

    def run(a: int, b: int) -> None:
        _ptb_groups(rows, geo, seg, nseg, lanes, mode, positions, windows, per_sample, a,
                    b, out)

    _share(run, 0, groups, groups * gemm.k // _COLUMNS_PER_SLICE)
    return int(out.sum())


#: Group columns that weigh as one kernel row slice when deciding to use threads: a
#: layer's groups are shared between threads from 8192 x 64 group columns (a few ms of
#: work), below which handing them out costs more than it saves on a busy machine.
_COLUMNS_PER_SLICE = 64


def window_spikes(view: np.ndarray, window: int) -> np.ndarray:
    """OR of the spikes over time windows: ``(L, T, K)`` -> ``(W, L, K)``.

    ``T`` is padded with silent steps to a power of two, and at least to one window.
    """
    view = pad_time_steps(view, window, _FIELD)
    positions, padded, cols = view.shape
    windows = view.reshape(positions, padded // window, window, cols).any(axis=2)
    return np.ascontiguousarray(windows.transpose(1, 0, 2))


def packed_rows(view: np.ndarray, *, one_token_linear: bool, counter: PTBRows) -> int:
    """Array rows PTB issues for one batch sample (see the module docstring), from its
    spikes as booleans: the reference the bit-packed path is checked against.

    Args:
        view: spikes of one sample as ``(L, T, K)`` booleans (token, time step, column).
        one_token_linear: True for a linear layer with a single token (the authors'
            2-D path).
        counter: the counting parameters.
    """
    win = window_spikes(np.asarray(view, dtype=bool), counter.window)
    n_win, positions, cols = win.shape
    lanes = counter.lanes
    if not counter.paper_grouping:
        # corrected grouping: a group holds up to `lanes` windows of ONE token
        per_token = win.transpose(1, 0, 2)  # (L, W, K)
        rem = n_win % lanes
        if rem:
            pad = np.zeros((positions, lanes - rem, cols), dtype=bool)
            per_token = np.concatenate([per_token, pad], axis=1)
        grouped = per_token.reshape(positions, -1, lanes, cols)
        grouped = grouped.reshape(-1, lanes, cols).transpose(1, 0, 2)  # [lane, group, column]
    elif one_token_linear:
        if not counter.stsap:
            return cols
        return int(win.any(axis=(0, 1)).sum())
    else:
        flat = win.reshape(n_win * positions, cols)
        rem = flat.shape[0] % lanes
        if rem:
            flat = np.concatenate([flat, np.zeros((lanes - rem, cols), dtype=bool)])
        grouped = flat.reshape(lanes, -1, cols)  # [lane, group, column]
    if not counter.stsap:
        return grouped.shape[1] * cols
    weights = (1 << np.arange(lanes, dtype=np.int64))[:, None, None]
    patterns = (grouped.astype(np.int64) * weights).sum(axis=0)  # (groups, cols)
    from prosparsity.analysis.counters._kernels import stsap_rows

    return int(stsap_rows(np.ascontiguousarray(patterns), lanes))
