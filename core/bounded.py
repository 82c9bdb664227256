"""Read an untrusted file in a child process, with a time limit.

HDF5 loops for ever or crashes on some malformed files (damaged ones without a digest,
crafted ones), and no Python code can interrupt it from inside the process. A reader
that must survive such a file runs its first read in a child (:func:`run_bounded`): a
child that does not answer in time is killed (:class:`ChildTimedOut`), one that dies of
a signal is reported (:class:`ChildCrashed`), and the caller turns either into its one
error line. Trace verification (:mod:`prosparsity.traces.probe`) and NIR graphs
(:mod:`prosparsity.interop.nir`) use it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import multiprocessing.context

__all__ = ["BASE_LIMIT_S", "ChildCrashed", "ChildTimedOut", "default_limit", "quiet",
           "run_bounded"]

#: the default limit is this many seconds plus one second per ``_BYTES_PER_S`` of file
BASE_LIMIT_S = 60.0
_BYTES_PER_S = 10 << 20


class ChildCrashed(Exception):
    """The child died before answering; ``how``: ``signal 11``, ``exit status 1``."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class ChildTimedOut(Exception):
    """The child did not answer within ``limit`` seconds (it was killed)."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"{limit:g} s")
        self.limit = limit


def default_limit(path: str | Path) -> float:
    """60 s plus 1 s per 10 MiB of the file: a read goes far faster than 10 MiB/s."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0
    return BASE_LIMIT_S + size / _BYTES_PER_S


def quiet() -> None:
    """(in the child) Print nothing: Ctrl-C is the parent's (which kills the child), and a
    crash inside HDF5 must not dump a Python stack over the parent's one error line."""
    import faulthandler

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _context() -> multiprocessing.context.BaseContext:
    # fork: the child inherits the imported reader (fast); spawn where fork is missing
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def run_bounded(target: Callable[..., None], args: tuple[Any, ...], limit: float) -> Any:
    """Run ``target(*args, conn)`` in a child process and return the one object it sends
    on ``conn`` (it should call :func:`quiet` first).

    Raises:
        ChildCrashed: the child died before sending.
        ChildTimedOut: nothing came within ``limit`` seconds (the child is killed).
    """
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, send), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(limit):
            raise ChildTimedOut(limit)
        return recv.recv()
    except EOFError:  # the child died before answering
        proc.join(5)
        code = proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        raise ChildCrashed(how) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
