"""Verify a trace in a child process with a time limit: bounded time on any file.

A v2 trace's digest is checked before HDF5 reads a byte, so *damage* never reaches HDF5.
Two kinds of file still do: v1 traces (no digest) and files crafted by a hostile writer
who computed a valid digest over malformed HDF5 structures. On some of those HDF5 loops
for ever or crashes, and no Python code can interrupt it from inside the process. So
:func:`verify_bounded` runs :meth:`TraceReader.verify` (digest, metadata, every layer's
data) in a child process and waits at most ``timeout_s``: a child that does not answer
in time is killed and the file reported as unreadable, as is one that dies of a signal.
``prosparsity trace verify`` and ``trace upgrade`` use it; the other commands read a
file in-process (see ``docs/bad-input.md`` for what that leaves open).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from prosparsity.core.errors import TraceError

__all__ = ["Verified", "default_timeout", "verify_bounded"]

log = logging.getLogger(__name__)

#: the time limit is this many seconds plus one second per ``_BYTES_PER_S`` of file
BASE_TIMEOUT_S = 60.0
_BYTES_PER_S = 10 << 20


@dataclass(frozen=True)
class Verified:
    """What a successful verification found.

    Attributes:
        path: the trace.
        schema_version: 1 or 2.
        records: layer records in the file.
        with_data: records whose data was read and checked.
        digest: the verified SHA-256 of a v2 file; ``""`` for a v1 file (it has none).
    """

    path: str
    schema_version: int
    records: int
    with_data: int
    digest: str


def default_timeout(path: str | Path) -> float:
    """60 s plus 1 s per 10 MiB: a verify reads the file at far more than 10 MiB/s."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0
    return BASE_TIMEOUT_S + size / _BYTES_PER_S


def _quiet() -> None:
    """The child prints nothing: Ctrl-C is the parent's (which kills the child), and a
    crash inside HDF5 must not dump a Python stack over the parent's one error line."""
    import faulthandler

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.disable()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _child(path: str, conn: Connection) -> None:  # pragma: no cover - runs in the child
    _quiet()
    from prosparsity.traces.reader import TraceReader

    try:
        with TraceReader(path) as reader:
            n = reader.verify()
            digest = reader.digest if reader.has_digest else ""
            conn.send(("ok", reader.schema_version, len(reader.layers), n, digest))
    except TraceError as exc:
        conn.send(("error", exc.path, exc.problem, exc.layer))
    except Exception as exc:  # noqa: BLE001 - reported by the parent as a bad file
        conn.send(("error", path, f"the reader failed: {type(exc).__name__}: {exc}", None))
    finally:
        conn.close()


def _context() -> mp.context.BaseContext:
    # fork: the child inherits the imported reader (fast); spawn where fork is missing
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def verify_bounded(path: str | Path, timeout_s: float | None = None) -> Verified:
    """Check a trace like :meth:`TraceReader.verify`, in a child process, in bounded time.

    Args:
        path: the trace.
        timeout_s: the time limit (default :func:`default_timeout`).

    Returns:
        What the verification found.

    Raises:
        TraceError: the file's first problem; a verification that did not finish in
            ``timeout_s``; a reader process that died (HDF5 crashed on the file).
    """
    limit = default_timeout(path) if timeout_s is None else float(timeout_s)
    if limit <= 0:
        raise ValueError("timeout_s must be > 0")
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(str(path), send), daemon=True)
    proc.start()
    send.close()
    try:
        answer = recv.recv() if recv.poll(limit) else None
    except EOFError:  # the child died before answering
        proc.join(5)
        code = proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        raise TraceError(
            path,
            f"damaged or crafted trace: reading it crashed the reader process ({how})",
        ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if answer is None:
        raise TraceError(
            path,
            f"damaged or crafted trace: its check did not finish within {limit:g} s (HDF5 "
            "stalls on some malformed files that no digest covers; do not read this file)",
        )
    if answer[0] == "error":
        _, where, problem, layer = answer
        raise TraceError(where, problem, layer)
    _, version, records, with_data, digest = answer
    log.debug("verified %s in a child process", path)
    return Verified(str(path), int(version), int(records), int(with_data), str(digest))
