"""Output files that appear whole or not at all, for every writer of the harness.

Each writer (traces, report exports, plots) writes to a temporary name beside the target,
``<name>.tmp-<pid>-<hex>``, and renames it onto the target only when the write finished.
This module holds what all of them share:

* :func:`check_output_path` refuses, before any work, a target that cannot be a file:
  ``""``, ``"."``, a directory, a path under a plain file, or a name too long for the
  file system once the temporary suffix is added.
* :func:`temp_path` names the temporary file; :func:`remove_stale_temps` deletes the
  temporary files that killed writers of the same target left behind (same name
  pattern, and a process id that no longer runs on this machine).
* :func:`write_failure` turns an ``OSError`` of a write (``ENOSPC``, ``EDQUOT``, ``EIO``,
  ``ENAMETOOLONG``, ...) into one :class:`~prosparsity.core.errors.WriteError` line that
  names the path and the reason.
* :func:`atomic_write_bytes` writes a whole byte string that way.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
from pathlib import Path

from prosparsity.core import signals
from prosparsity.core.errors import WriteError

__all__ = [
    "TEMP_RE",
    "atomic_write_bytes",
    "check_output_path",
    "is_temp_name",
    "reason",
    "remove_stale_temps",
    "temp_path",
    "write_failure",
]

log = logging.getLogger(__name__)

#: ``<target name>.tmp-<pid>-<hex token>``: the temporary name of every writer.
TEMP_RE = re.compile(r"^(?P<target>.+)\.tmp-(?P<pid>\d+)-(?P<token>[0-9a-f]{6,32})$")
_TOKEN_HEX = 6  # hex digits of the random token (3 bytes)
_NAME_MAX_FALLBACK = 255


def _temp_suffix(pid: int, token: str) -> str:
    return f".tmp-{pid}-{token}"


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or its first existing
    ancestor) accepts."""
    for candidate in (folder, *folder.parents):
        try:
            return int(os.pathconf(candidate, "PC_NAME_MAX"))
        except (OSError, ValueError):
            continue
    return _NAME_MAX_FALLBACK  # pragma: no cover - no ancestor answers


def reason(exc: OSError) -> str:
    """The short reason of an OS error ("No space left on device"), also for h5py's
    wordy messages, whose errno is often unset but whose text names it."""
    if exc.errno:
        return os.strerror(exc.errno)
    text = exc.strerror or str(exc)
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENAMETOOLONG, errno.EACCES,
                 errno.EROFS, errno.EFBIG):
        if os.strerror(code).lower() in text.lower():
            return os.strerror(code)
    return text


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, a target that cannot become a file.

    Args:
        path: the target file.
        what: the kind of output, for the message ("trace", "report").

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        WriteError: empty name or ``.``/``..``, an existing directory, a parent that is a
            plain file, or a name longer than the file system accepts with the
            temporary suffix (``.tmp-<pid>-<hex>``).
    """
    text = os.fspath(path)
    if text.strip() == "":
        raise WriteError(repr(text), f"empty {what} path; give a file name")
    p = Path(text)
    if p.name in ("", ".", "..") or text.endswith(os.sep):
        raise WriteError(p, f"is a directory, not a file name; give a file name for the {what}")
    longest = _name_max(p.parent) - len(_temp_suffix(os.getpid(), "0" * _TOKEN_HEX))
    size = len(os.fsencode(p.name))
    if size > longest:
        raise WriteError(
            p, f"file name too long ({size} bytes; at most {longest} on this file system)"
        )
    if p.is_dir():
        raise WriteError(p, f"is a directory; give a file name for the {what}")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(p, f"cannot create the {what}: {parent} is not a directory")
            break
    return p


def temp_path(target: Path) -> Path:
    """A fresh temporary name beside ``target`` (never shared by two writers)."""
    token = secrets.token_hex(_TOKEN_HEX // 2)
    return target.with_name(target.name + _temp_suffix(os.getpid(), token))


def is_temp_name(path: str | Path) -> bool:
    """True when ``path`` looks like the temporary file of a writer."""
    return TEMP_RE.match(Path(path).name) is not None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:  # pragma: no cover - e.g. pid out of range
        return False
    return True


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete the temporary files of ``target`` whose writer process no longer runs.

    Only names of the writers' pattern for this very target are considered, and only
    when their process id is not alive on this machine (a live process, even an unrelated
    one that reuses the id, keeps its file). Files that cannot be removed are left alone.

    Returns:
        The paths removed.
    """
    folder = target.parent if str(target.parent) else Path(".")
    prefix = target.name + ".tmp-"
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        m = TEMP_RE.match(entry.name)
        if m is None or m["target"] != target.name or _pid_alive(int(m["pid"])):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
                log.info("removed stale temporary file %s of a killed writer", entry.path)
        except OSError:  # pragma: no cover - raced with another cleaner, or read-only
            continue
    return removed


def write_failure(target: Path, exc: OSError, what: str = "output") -> WriteError:
    """The one-line error of a failed write of ``target``."""
    return WriteError(target, f"cannot write the {what}: {reason(exc)}")


def atomic_write_bytes(target: str | Path, data: bytes, what: str = "output") -> Path:
    """Write ``data`` to ``target`` through a temporary file renamed on success.

    The parent folder is created. On any failure (a full disk, a quota, an I/O error, a
    Ctrl-C) the temporary file is removed and the target is left as it was.

    Raises:
        WriteError: the path cannot be a file, or the write failed (path and reason).
    """
    path = check_output_path(target, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path, f"cannot create folder {path.parent}: {reason(exc)}") from None
    remove_stale_temps(path)
    tmp = temp_path(path)
    try:
        # a plain open (not mkstemp, which makes 0600 files) so that the umask applies
        with open(tmp, "xb") as fh:
            fh.write(data)
        signals.check()  # a Ctrl-C that a library swallowed still publishes nothing
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise write_failure(path, exc, what) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # pragma: no cover - nothing more can be done
        log.warning("could not remove temporary file %s", path)
