"""Phi's pattern-based hierarchical sparsity of one spike matrix (the paradigm).

Phi (Wei et al., ISCA 2025, arXiv 2505.10909, abstract) writes a binary GEMM operand
``S`` (rows as in spec §1) as the sum of two matrices: Level 1 represents each row by
pre-defined *patterns* whose products with the weights are computed offline; Level 2 is
the sparse element-wise complement that makes every row exact again. The harness's
reading of that definition (docs/phi-and-bishop.md):

* the ``K`` columns are cut into segments of ``width`` columns (the last may be shorter);
  a *row segment* is the ``width`` bits of one row in one segment, held as an integer
  code (bit ``j`` is column ``segment * width + j``);
* each segment has a set of at most ``k`` non-zero patterns; the all-zero vector is
  always pattern 0 ("no pattern", it costs nothing);
* **Level 1** matches every row segment to its nearest pattern in Hamming distance,
  pattern 0 included (ties: pattern 0 first, then the lower index). With
  ``signed=False`` only the patterns contained in the row segment are candidates, so
  every correction is non-negative;
* **Level 2** is ``S - L1`` with entries in ``{-1, 0, +1}``: ``+1`` where the row has a
  spike the pattern lacks, ``-1`` where the pattern has one the row lacks. Its ones are
  the Hamming distance of each row segment to its pattern; ``L1 + L2 == S`` exactly;
* **selection** is k-means in the Hamming metric over calibration rows: Lloyd
  iterations that assign each row segment to its nearest centre (the zero vector a fixed
  centre) and move each centre to the bitwise weighted majority of its members (the
  binary vector that minimises the summed Hamming distance; a tie gives 0), started from
  the ``k`` most frequent non-zero row segments, until no centre moves (at most
  ``max_iter`` rounds). Its objective is the Level-2 size on the calibration rows.

Pure numpy; nothing here reads traces or prices anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.counts import Counts

__all__ = [
    "MAX_WIDTH",
    "Decomposition",
    "SegmentCounts",
    "decompose",
    "kmeans_patterns",
    "nearest_patterns",
    "segment_codes",
    "segment_counts",
]

#: Widest segment: a row segment is held in one unsigned 64-bit integer.
MAX_WIDTH = 64

#: Rows encoded per block in :func:`segment_codes` (bounds its temporary memory).
_BLOCK_ROWS = 1 << 14


def check_width(width: int, field: str = "phi.width") -> int:
    """``width`` as an int in ``1..64``.

    Raises:
        ConfigError: naming ``field``.
    """
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or not (
            1 <= int(width) <= MAX_WIDTH):
        raise ConfigError(field, f"must be an integer in 1..{MAX_WIDTH}, got {width!r}")
    return int(width)


def segment_codes(rows: np.ndarray, width: int) -> np.ndarray:
    """The row segments of a ``(M, K)`` boolean matrix as codes, ``(M, ceil(K/width))``
    ``uint64`` (bit ``j`` of code ``[m, s]`` is ``rows[m, s*width + j]``; columns past
    ``K`` in the last segment are 0)."""
    width = check_width(width)
    rows = np.asarray(rows, dtype=bool)
    if rows.ndim != 2:
        raise ConfigError("phi.rows", f"expected a 2-D spike matrix, got shape {rows.shape}")
    m, k = rows.shape
    n_seg = -(-k // width)
    out = np.zeros((m, n_seg), dtype=np.uint64)
    if not m or not k:
        return out
    place = np.left_shift(np.uint64(1), np.arange(width, dtype=np.uint64))
    for r0 in range(0, m, _BLOCK_ROWS):
        block = rows[r0:r0 + _BLOCK_ROWS]
        padded = np.zeros((block.shape[0], n_seg * width), dtype=np.uint64)
        padded[:, :k] = block
        out[r0:r0 + _BLOCK_ROWS] = (padded.reshape(-1, n_seg, width) * place).sum(
            axis=2, dtype=np.uint64)
    return out


def _popcount(codes: np.ndarray) -> np.ndarray:
    return np.bitwise_count(codes).astype(np.int64)


def nearest_patterns(codes: np.ndarray, patterns: Sequence[int],
                     signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Level 1 of each code: ``(index, distance)``, ``index`` 0 for the zero pattern and
    ``i + 1`` for ``patterns[i]``, ``distance`` the Hamming distance (Level-2 ones).

    ``signed=False`` admits only patterns contained in the code (non-negative Level 2).
    Ties go to the lowest index (the zero pattern first).
    """
    codes = np.asarray(codes, dtype=np.uint64).ravel()
    table = np.array([[0, *[int(p) for p in patterns]]], dtype=np.uint64)
    index = _nearest_many(np.zeros(codes.size, dtype=np.int64), codes, table, signed=signed)
    return index, _popcount(codes ^ table[0, index])


def _bits(codes: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` 0/1 int64 bits of ``codes``."""
    shifts = np.arange(width, dtype=np.uint64)
    return ((codes[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.int64)


def kmeans_patterns(codes: np.ndarray, k: int, width: int, *, weights: np.ndarray | None = None,
                    max_iter: int = 20) -> tuple[int, ...]:
    """At most ``k`` non-zero patterns chosen by k-means in the Hamming metric (see the
    module docstring) over ``codes`` (each counted ``weights`` times, default once).

    When the codes hold at most ``k`` distinct non-zero values, those are the patterns
    (every row segment then matches exactly). The result drops zero and repeated
    centres and keeps the centres' order (the order of the ties of Level 1).
    """
    return kmeans_many(_one_segment(codes, weights), 1, k, width, max_iter)[0]


def _one_segment(codes: np.ndarray, weights: np.ndarray | None) -> Flat:
    """``codes`` (with their ``weights``, default one each) as one segment's distinct
    codes and counts (see :data:`Flat`)."""
    codes = np.asarray(codes, dtype=np.uint64).ravel()
    w = np.ones(codes.shape, dtype=np.int64) if weights is None else np.asarray(
        weights, dtype=np.int64).ravel()
    if w.shape != codes.shape:
        raise ConfigError("phi.weights", "one weight per code")
    uniq, inverse = np.unique(codes, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w, minlength=uniq.size).astype(np.int64)
    return np.zeros(uniq.size, dtype=np.int64), uniq, counts


@dataclass(frozen=True)
class SegmentCounts(Counts):
    """Level-1 / Level-2 counts of a set of row segments (integers, unweighted).

    Attributes:
        segments: row segments counted.
        zero: all-zero row segments.
        matched: row segments matched to a non-zero pattern (one Level-1 lookup each).
        nnz: ones of the spike matrix.
        plus: ``+1`` entries of Level 2.
        minus: ``-1`` entries of Level 2.
    """

    segments: int = 0
    zero: int = 0
    matched: int = 0
    nnz: int = 0
    plus: int = 0
    minus: int = 0

    @property
    def corrections(self) -> int:
        """Non-zero entries of Level 2 (``plus + minus``)."""
        return self.plus + self.minus


def segment_counts(codes: np.ndarray, patterns: Sequence[int], signed: bool = True,
                   weights: np.ndarray | None = None) -> SegmentCounts:
    """The Level-1 and Level-2 counts of the row segments ``codes`` of one segment
    column (each counted ``weights`` times, default once) matched to ``patterns``."""
    return counts_many(_one_segment(codes, weights), [patterns], signed)


@dataclass(frozen=True, eq=False)
class Decomposition:
    """The two levels of one spike matrix.

    Attributes:
        level1: ``(M, n_segments)`` pattern index per row segment (0: no pattern,
            ``i + 1``: ``patterns[segment][i]``).
        level1_bits: ``(M, K)`` 0/1 matrix of the matched patterns' bits.
        level2: ``(M, K)`` int8 correction matrix in ``{-1, 0, +1}``.
    """

    level1: np.ndarray
    level1_bits: np.ndarray
    level2: np.ndarray

    def reconstruct(self) -> np.ndarray:
        """``level1_bits + level2``: the spike matrix again (0/1, int8)."""
        return (self.level1_bits + self.level2).astype(np.int8)


def decompose(rows: np.ndarray, patterns: Sequence[Sequence[int]], width: int,
              signed: bool = True) -> Decomposition:
    """Level 1 and Level 2 of a ``(M, K)`` spike matrix, ``patterns[s]`` the patterns of
    segment ``s`` (see the module docstring).

    Raises:
        ConfigError: not one pattern set per segment.
    """
    rows = np.asarray(rows, dtype=bool)
    codes = segment_codes(rows, width)
    m, k = rows.shape
    n_seg = codes.shape[1]
    if len(patterns) != n_seg:
        raise ConfigError("phi.patterns", f"{len(patterns)} pattern sets for {n_seg} segments")
    level1 = np.zeros((m, n_seg), dtype=np.int64)
    chosen = np.zeros((m, n_seg), dtype=np.uint64)
    for s in range(n_seg):
        level1[:, s], _ = nearest_patterns(codes[:, s], patterns[s], signed)
        table = np.array([0, *[int(p) for p in patterns[s]]], dtype=np.uint64)
        chosen[:, s] = table[level1[:, s]]
    bits = _bits(chosen.ravel(), width).reshape(m, n_seg * width)[:, :k].astype(np.int8)
    level2 = rows.astype(np.int8) - bits
    return Decomposition(level1=level1, level1_bits=bits, level2=level2)


# --------------------------------------------------------------------------------------
# every segment of a view at once (what pricing runs: the same results as the functions
# above segment by segment, in a fixed number of numpy calls instead of a few per segment)
# --------------------------------------------------------------------------------------

#: ``(segment, code, weight)`` rows of one view: segment index, code, times seen.
Flat = tuple[np.ndarray, np.ndarray, np.ndarray]


def flatten(segments: Sequence[tuple[Sequence[int], Sequence[int]]]) -> Flat:
    """The ``(codes, counts)`` of each segment as three flat arrays (see :data:`Flat`)."""
    sizes = [len(codes) for codes, _ in segments]
    seg = np.repeat(np.arange(len(segments), dtype=np.int64), sizes)
    codes = np.concatenate([np.asarray(cs, dtype=np.uint64) for cs, _ in segments]
                           or [np.zeros(0, np.uint64)]).astype(np.uint64, copy=False)
    counts = np.concatenate([np.asarray(ns, dtype=np.int64) for _, ns in segments]
                            or [np.zeros(0, np.int64)]).astype(np.int64, copy=False)
    return seg, codes, counts


def _nearest_many(seg: np.ndarray, codes: np.ndarray, table: np.ndarray,
                  valid: np.ndarray | None = None, signed: bool = True) -> np.ndarray:
    """Index into ``table[seg]`` (a row of ``(S, k+1)`` patterns, column 0 the zero
    pattern) of each code's nearest pattern (ties: the lower index), chunked."""
    index = np.zeros(codes.shape, dtype=np.int64)
    width = table.shape[1]
    chunk = max(1, (1 << 22) // max(1, width))
    never = np.uint8(255)  # above any distance of a 64-bit code
    for c0 in range(0, codes.size, chunk):
        c = codes[c0:c0 + chunk, None]
        rows = table[seg[c0:c0 + chunk]]
        d = np.bitwise_count(c ^ rows)  # uint8
        if valid is not None:
            d = np.where(valid[seg[c0:c0 + chunk]], d, never)
        if not signed:
            d = np.where((rows & ~c) == 0, d, never)
        index[c0:c0 + chunk] = np.argmin(d, axis=1)
    return index


def kmeans_many(flat: Flat, n_segments: int, k: int, width: int,
                max_iter: int = 20) -> tuple[tuple[int, ...], ...]:
    """:func:`kmeans_patterns` of every segment of ``flat`` (codes distinct within a
    segment), the same patterns in the same order: each segment's Lloyd iterations are
    independent, and one that has converged stays where it is while the others go on."""
    width = check_width(width)
    seg, codes, counts = flat
    keep = (codes != 0) & (counts > 0)
    seg, codes, counts = seg[keep], codes[keep], counts[keep]
    out: list[tuple[int, ...]] = [()] * n_segments
    if k < 1 or not codes.size:
        return tuple(out)
    order = np.lexsort((codes, -counts, seg))  # per segment: most frequent, then smaller
    seg, codes, counts = seg[order], codes[order], counts[order]
    sizes = np.bincount(seg, minlength=n_segments)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(seg.size) - first[seg]
    few = sizes <= k
    for s in np.flatnonzero(few & (sizes > 0)):
        out[s] = tuple(int(c) for c in codes[first[s]:first[s] + sizes[s]])
    many = np.flatnonzero(~few)
    if not many.size:
        return tuple(out)
    local = np.full(n_segments, -1, dtype=np.int64)
    local[many] = np.arange(many.size)
    member = local[seg] >= 0
    s_of, c_of, n_of, r_of = local[seg][member], codes[member], counts[member], rank[member]
    centres = np.zeros((many.size, k), dtype=np.uint64)
    start = r_of < k
    centres[s_of[start], r_of[start]] = c_of[start]
    # each bit of each code times its count, one contiguous row per bit
    bits = np.ascontiguousarray(_bits(c_of, width).T * n_of[None, :], dtype=np.float64)
    place = np.left_shift(np.uint64(1), np.arange(width, dtype=np.uint64))
    slots = many.size * (k + 1)
    active = np.ones(many.size, dtype=bool)  # segments whose centres still move
    for _ in range(max(1, int(max_iter))):
        table = np.concatenate((np.zeros((many.size, 1), dtype=np.uint64), centres), axis=1)
        if active.all():
            s_in, c_in, n_in, b_in = s_of, c_of, n_of, bits
        else:  # the members of the moving segments only
            mine = np.flatnonzero(active[s_of])
            s_in, c_in, n_in, b_in = s_of[mine], c_of[mine], n_of[mine], bits[:, mine]
        cell = s_in * (k + 1) + _nearest_many(s_in, c_in, table)
        weight_of = np.bincount(cell, weights=n_in, minlength=slots).reshape(-1, k + 1)
        ones = np.stack([np.bincount(cell, weights=row, minlength=slots) for row in b_in],
                        axis=1).reshape(-1, k + 1, width)
        majority = (2 * ones[:, 1:] > weight_of[:, 1:, None]).astype(np.uint64)
        moved = (majority * place).sum(axis=2, dtype=np.uint64)
        moved = np.where((weight_of[:, 1:] > 0) & active[:, None], moved, centres)
        active = (moved != centres).any(axis=1)  # a segment that did not move has converged
        centres = moved
        if not active.any():
            break
    for i, s in enumerate(many):
        found: list[int] = []
        for c in centres[i].tolist():
            if c and c not in found:
                found.append(int(c))
        out[s] = tuple(found)
    return tuple(out)


def counts_many(flat: Flat, patterns: Sequence[Sequence[int]],
                signed: bool = True) -> SegmentCounts:
    """The sum over segments of :func:`segment_counts` (segment ``s`` matched to
    ``patterns[s]``), in one pass over ``flat``."""
    seg, codes, counts = flat
    n_segments = len(patterns)
    most = max((len(p) for p in patterns), default=0)
    table = np.zeros((n_segments, most + 1), dtype=np.uint64)
    valid = np.zeros((n_segments, most + 1), dtype=bool)
    valid[:, 0] = True
    for s, pats in enumerate(patterns):
        if len(pats):
            table[s, 1:len(pats) + 1] = np.asarray([int(p) for p in pats], dtype=np.uint64)
            valid[s, 1:len(pats) + 1] = True
    index = _nearest_many(seg, codes, table, valid, signed)
    chosen = table[seg, index]
    return SegmentCounts(
        segments=int(counts.sum()),
        zero=int(counts[codes == 0].sum()),
        matched=int(counts[index > 0].sum()),
        nnz=int((counts * _popcount(codes)).sum()),
        plus=int((counts * _popcount(codes & ~chosen)).sum()),
        minus=int((counts * _popcount(chosen & ~codes)).sum()),
    )
