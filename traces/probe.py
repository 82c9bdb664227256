"""Verify a trace in a child process with a time limit: bounded time on any file.

A v2 trace's digest is checked before HDF5 reads a byte, so *damage* never reaches HDF5.
Two kinds of file still do: v1 traces (no digest) and files crafted by a hostile writer
who computed a valid digest over malformed HDF5 structures. On some of those HDF5 loops
for ever or crashes, and no Python code can interrupt it from inside the process. So
:func:`verify_bounded` runs :meth:`TraceReader.verify` (digest, metadata, every layer's
data) in a child process (:func:`prosparsity.core.bounded.run_bounded`) and waits at most
``timeout_s``: a child that does not answer
in time is killed and the file reported (not as damaged: as not checked in time), as
is one that dies of a signal. ``prosparsity trace verify`` and ``trace upgrade`` use it.

:func:`ensure_verified` is the gate of every in-process read of a v1 file
(:class:`~prosparsity.traces.reader.TraceReader` calls it before HDF5 opens one): the
same bounded check, paid once per file content. A passed check is remembered in this
process (per unchanged file: device, inode, size, times) and on disk, per SHA-256 of the
file, under :func:`verdict_dir` (``$PROSPARSITY_CACHE_DIR``, else
``$XDG_CACHE_HOME/prosparsity``, else ``~/.cache/prosparsity``; an empty
``PROSPARSITY_CACHE_DIR`` keeps verdicts in the process only), so ``trace info`` then
``analyze`` of the same v1 file run the child once. Only passes are remembered: a bad
file is checked (and reported) again each time.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.bounded import (
    BASE_LIMIT_S,
    ChildCrashed,
    ChildTimedOut,
    default_limit,
    quiet,
    run_bounded,
)
from prosparsity.core.errors import TraceError, WriteError
from prosparsity.core.paths import FileKey, FileMemo

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = [
    "MAX_TIMEOUT_S",
    "Verified",
    "default_timeout",
    "ensure_verified",
    "verdict_dir",
    "verify_bounded",
]

log = logging.getLogger(__name__)

#: the default time limit is this many seconds plus one second per 10 MiB of file
BASE_TIMEOUT_S = BASE_LIMIT_S
#: the longest time limit accepted (one day)
MAX_TIMEOUT_S = 86400.0


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
    return default_limit(path)


_quiet = quiet  # the child's first call (tests stand in children of their own)


def _child(path: str, conn: Connection) -> None:  # pragma: no cover - runs in the child
    _quiet()
    from prosparsity.traces.reader import TraceReader

    try:
        with TraceReader(path, verify_v1=False) as reader:
            n = reader.verify()
            digest = reader.digest if reader.has_digest else ""
            conn.send(("ok", reader.schema_version, len(reader.layers), n, digest))
    except TraceError as exc:
        conn.send(("error", exc.path, exc.problem, exc.layer))
    except Exception as exc:  # noqa: BLE001 - reported by the parent as a bad file
        conn.send(("error", path, f"the reader failed: {type(exc).__name__}: {exc}", None))
    finally:
        conn.close()


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
    if not (math.isfinite(limit) and 0 < limit <= MAX_TIMEOUT_S):
        raise ValueError(f"timeout_s must be in (0, {MAX_TIMEOUT_S:g}], got {timeout_s!r}")
    try:
        answer = run_bounded(_child, (str(path),), limit)
    except ChildCrashed as exc:
        raise TraceError(
            path, f"damaged or crafted trace: reading it crashed the reader process ({exc.how})"
        ) from None
    except ChildTimedOut:
        raise TraceError(
            path,
            f"not checked: its check did not finish within the time limit of {limit:g} s "
            "(a large file or a busy machine needs more: `prosparsity trace verify --timeout "
            "SECONDS FILE`; a file whose check never ends is malformed: HDF5 loops on some "
            "files that no digest covers)",
        ) from None
    if answer[0] == "error":
        _, where, problem, layer = answer
        raise TraceError(where, problem, layer)
    _, version, records, with_data, digest = answer
    log.debug("verified %s in a child process", path)
    return Verified(str(path), int(version), int(records), int(with_data), str(digest))


# ------------------------------------------------------------------ remembered verdicts


_PASSED = FileMemo(1024)  # unchanged files that passed in this process


def verdict_dir() -> Path | None:
    """Where passed checks of v1 files are remembered (``None``: in the process only)."""
    env = os.environ.get("PROSPARSITY_CACHE_DIR")
    if env is not None:
        return Path(env) / "verified-v1" if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "prosparsity" / "verified-v1"


def _stamp() -> dict[str, str]:
    """What a remembered pass depends on besides the file: this tool and HDF5."""
    import h5py

    from prosparsity.core.version import tool_version

    return {"tool_version": tool_version(), "hdf5": h5py.version.hdf5_version}


def _sha256(path: str | Path) -> str:
    from prosparsity.core.hashing import file_sha256

    return file_sha256(Path(path))


def _remembered(sha: str) -> bool:
    folder = verdict_dir()
    if folder is None:
        return False
    try:
        doc = json.loads((folder / f"{sha}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("sha256") == sha and doc.get("stamp") == _stamp()


def _remember(key: tuple[str, FileKey], sha: str, found: Verified) -> None:
    _PASSED.remember(key)
    folder = verdict_dir()
    if folder is None:
        return
    from prosparsity.core.atomic import atomic_write_bytes

    doc = {"sha256": sha, "stamp": _stamp(), "verdict": "passed",
           "records": found.records, "with_data": found.with_data}
    try:
        atomic_write_bytes(folder / f"{sha}.json", json.dumps(doc).encode(), "verdict")
    except WriteError as exc:  # a read-only home: remembered in this process only
        log.debug("could not remember the verdict on %s: %s", key[0], exc)


def ensure_verified(path: str | Path, timeout_s: float | None = None) -> None:
    """Check a file without a digest (schema v1) in a child process, once per content.

    Returns at once for a file that passed before (in this process, unchanged; or on
    disk, same SHA-256, same tool and HDF5 versions); otherwise runs
    :func:`verify_bounded` and remembers a pass.

    Raises:
        TraceError: the file's first problem, a check that did not finish in time, or a
            reader process that crashed (see :func:`verify_bounded`).
    """
    try:
        key = FileMemo.key(path)
    except OSError as exc:
        raise TraceError(path, f"cannot read the file: {os.strerror(exc.errno or 5)}") from None
    if key in _PASSED:
        return
    sha = _sha256(path)
    if _remembered(sha):
        _PASSED.remember(key)
        return
    found = verify_bounded(path, timeout_s)
    _remember(key, sha, found)
