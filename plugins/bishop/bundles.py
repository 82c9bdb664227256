"""Bishop's token-time bundles of one spike operand (the paradigm, exact by definition).

Bishop (Xu et al., ISCA 2025, arXiv 2505.12281, abstract) packs spiking data into
*token-time bundles* (TTBs): the spikes of a set of tokens over several time steps. A
*stratifier* routes high-density bundles to a dense core and low-density ones to a
sparse core. The harness's reading (docs/phi-and-bishop.md), on one sample's operand
``(L, T, K)`` (token / output position, time step, column):

* tokens are cut into groups of ``tokens`` consecutive tokens, time steps into groups of
  ``steps`` consecutive steps, columns into segments of ``features`` (each last group
  may be shorter, no padding is counted);
* a **fiber** is one column of one (token group, step group): its ``tokens x steps``
  bits share one weight row (the bundle's weight reuse); a fiber without a spike is
  silent (its weight row is not needed);
* a **bundle** is the fibers of one (token group, step group, column segment); its
  density is ``spikes / bits``; a bundle without a spike is silent;
* the **stratifier** calls a non-silent bundle *dense* when its density is at least
  ``threshold``, else *sparse*;
* **ECP** (error-constrained pruning, an option outside the exact mode): a bundle of a
  query, key or value operand over all its columns whose spike count is at most
  ``bound`` is cleared; every attention score ``q . k`` then moves by at most ``bound``
  (:func:`ecp_prune`).

Pure numpy; nothing here reads traces or prices anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.plugins.counts import Counts

__all__ = ["BundleCounts", "bundle_counts", "ecp_prune", "group_sizes"]


def group_sizes(n: int, size: int) -> np.ndarray:
    """Lengths of the consecutive groups of ``size`` that cover ``n`` (the last may be
    shorter)."""
    full, rest = divmod(n, size)
    return np.array([size] * full + ([rest] if rest else []), dtype=np.int64)


def _grouped_sum(a: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Sums of consecutive groups of ``size`` along ``axis`` (last group partial)."""
    starts = np.arange(0, a.shape[axis], size)
    return np.add.reduceat(a, starts, axis=axis)


@dataclass(frozen=True)
class BundleCounts(Counts):
    """Bundle statistics of one operand (integers, unweighted; ``+`` adds them up).

    Attributes:
        elements: bits of the operand.
        nnz: spikes.
        bundles: bundles.
        active_bundles: non-silent bundles.
        active_elements: bits of the non-silent bundles.
        fibers: fibers.
        active_fibers: non-silent fibers (weight rows read).
        active_fiber_elements: bits of the non-silent fibers.
        dense_bundles: bundles the stratifier calls dense.
        dense_elements: bits of the dense bundles.
        dense_nnz: spikes of the dense bundles.
        dense_fiber_elements: bits of the non-silent fibers of the dense bundles (the
            dense core's work: it adds every bit of such a fiber, zeros included).
        dense_active_fibers: non-silent fibers of the dense bundles.
    """

    elements: int = 0
    nnz: int = 0
    bundles: int = 0
    active_bundles: int = 0
    active_elements: int = 0
    fibers: int = 0
    active_fibers: int = 0
    active_fiber_elements: int = 0
    dense_bundles: int = 0
    dense_elements: int = 0
    dense_nnz: int = 0
    dense_fiber_elements: int = 0
    dense_active_fibers: int = 0

    @property
    def sparse_nnz(self) -> int:
        """Spikes of the sparse bundles (the sparse core's work)."""
        return self.nnz - self.dense_nnz

    @property
    def sparse_active_fibers(self) -> int:
        """Non-silent fibers of the sparse bundles."""
        return self.active_fibers - self.dense_active_fibers


def _check(tokens: int, steps: int, features: int) -> None:
    for name, value in (("tokens", tokens), ("steps", steps), ("features", features)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"bishop.bundle_{name}", f"must be a positive integer, "
                              f"got {value!r}")


def bundle_counts(sample: np.ndarray, tokens: int, steps: int, features: int,
                  threshold: float) -> BundleCounts:
    """The bundle statistics of one sample's operand ``(L, T, K)`` (see the module
    docstring)."""
    _check(tokens, steps, features)
    x = np.asarray(sample, dtype=bool)
    if x.ndim != 3:
        raise ConfigError("bishop.views", f"expected (L, T, K) spikes, got shape {x.shape}")
    n_tok, n_step, n_col = x.shape
    if not x.size:
        return BundleCounts()
    fiber_nnz = _grouped_sum(_grouped_sum(x.astype(np.int64), 0, tokens), 1, steps)
    fiber_bits = np.multiply.outer(group_sizes(n_tok, tokens), group_sizes(n_step, steps))
    fiber_bits = np.broadcast_to(fiber_bits[:, :, None], fiber_nnz.shape)
    active = fiber_nnz > 0
    bundle_nnz = _grouped_sum(fiber_nnz, 2, features)
    bundle_bits = _grouped_sum(fiber_bits, 2, features)
    bundle_fiber_bits = _grouped_sum(np.where(active, fiber_bits, 0), 2, features)
    bundle_fibers = _grouped_sum(active.astype(np.int64), 2, features)
    dense = (bundle_nnz > 0) & (bundle_nnz >= threshold * bundle_bits)
    return BundleCounts(
        elements=int(x.size),
        nnz=int(fiber_nnz.sum()),
        bundles=int(bundle_nnz.size),
        active_bundles=int((bundle_nnz > 0).sum()),
        active_elements=int(bundle_bits[bundle_nnz > 0].sum()),
        fibers=int(fiber_nnz.size),
        active_fibers=int(active.sum()),
        active_fiber_elements=int(fiber_bits[active].sum()),
        dense_bundles=int(dense.sum()),
        dense_elements=int(bundle_bits[dense].sum()),
        dense_nnz=int(bundle_nnz[dense].sum()),
        dense_fiber_elements=int(bundle_fiber_bits[dense].sum()),
        dense_active_fibers=int(bundle_fibers[dense].sum()),
    )


def ecp_prune(sample: np.ndarray, tokens: int, steps: int,
              bound: int) -> tuple[np.ndarray, int]:
    """Error-constrained pruning of one query / key / value operand ``(L, T, D)``:
    every (token group, step group) bundle over all ``D`` columns holding at most
    ``bound`` spikes is cleared. Returns the pruned operand and the spikes removed.

    A row (token, step) loses at most the spikes of its bundle, so every attention score
    ``q . k`` of binary operands changes by at most ``bound``; ``bound = 0`` prunes
    nothing (the exact mode).

    Raises:
        ConfigError: a negative bound or bad group sizes.
    """
    _check(tokens, steps, 1)
    if isinstance(bound, bool) or not isinstance(bound, int | np.integer) or bound < 0:
        raise ConfigError("bishop.ecp_bound", f"must be a non-negative integer, got {bound!r}")
    x = np.asarray(sample, dtype=bool)
    if x.ndim != 3:
        raise ConfigError("bishop.views", f"expected (L, T, D) spikes, got shape {x.shape}")
    if not x.size:
        return x.copy(), 0
    per = _grouped_sum(_grouped_sum(x.astype(np.int64), 0, tokens), 1, steps).sum(axis=2)
    cleared = (per > 0) & (per <= bound)
    mask = np.repeat(np.repeat(cleared, group_sizes(x.shape[0], tokens), axis=0),
                     group_sizes(x.shape[1], steps), axis=1)
    out = x & ~mask[:, :, None]
    return out, int(per[cleared].sum())
