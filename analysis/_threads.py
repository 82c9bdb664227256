"""Thread sharing of the compiled kernels: the ProSparsity kernel and the counters'
loops release the GIL and run on plain Python threads, one per usable core.

numba's own OpenMP pool was dropped: its idle workers spin after each parallel region,
which on a busy 2-core machine cost a core (see *Threads* in ``docs/analysis.md``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from prosparsity.analysis._jit import numba as nb
from prosparsity.analysis._tile import _DIRECT
from prosparsity.core.resources import usable_cores

#: Row slices (rows x column tiles) above which the row tiles are split across threads.
PARALLEL_MIN_ROW_SLICES = 8192

_LOCAL = threading.local()


def _direct_table() -> np.ndarray:
    """This thread's direct deduplication table (see
    :func:`prosparsity.analysis._tile._next_epoch`), made once."""
    table = getattr(_LOCAL, "direct", None)
    if table is None:
        table = _LOCAL.direct = np.zeros(_DIRECT + 1, dtype=np.int64)
    return table


def _cores() -> int:
    """Threads the kernel may use: numba's thread count, at most the usable cores."""
    return min(nb.get_num_threads(), usable_cores())


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prosparsity-kernel")


# A forked child inherits the pool but not its threads: work it submitted would wait for
# ever. The child forgets the parent's pool (and its threads' tables) and makes its own.
def _forget_after_fork() -> None:
    global _LOCAL
    _pool.cache_clear()
    _LOCAL = threading.local()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_after_fork)


#: Row-tile chunks per thread: threads take chunks as they go, so a thread the machine
#: delays (other processes on the cores) leaves its share to the others.
CHUNKS_PER_THREAD = 4


def _share(run: Callable[[int, int], None], lo: int, hi: int, row_slices: int) -> None:
    """``run(a, b)`` over consecutive chunks of ``[lo, hi)`` (row tiles, or the column
    tiles of an operand of few row tiles), on the calling thread and the pool's threads,
    each taking the next chunk when done with one.

    The numba kernels release the GIL, so plain threads use every core; idle threads
    block instead of spinning (an OpenMP/TBB pool spins, which costs a core on a busy
    machine). Small operands (under :data:`PARALLEL_MIN_ROW_SLICES`) run on the calling
    thread.
    """
    workers = min(_cores(), hi - lo)
    if workers < 2 or row_slices < PARALLEL_MIN_ROW_SLICES:
        run(lo, hi)
        return
    step = -(-(hi - lo) // (workers * CHUNKS_PER_THREAD))
    starts = iter(range(lo, hi, step))  # shared: next() on it is atomic under the GIL

    def drain() -> None:
        for a in starts:
            run(a, min(a + step, hi))

    futures = [_pool(workers - 1).submit(drain) for _ in range(workers - 1)]
    drain()
    for f in futures:
        f.result()
