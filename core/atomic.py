"""Output files that appear whole or not at all, for every writer of the harness.

Each writer (traces, report exports, plots) writes to a temporary name beside the target,
``<name>.tmp-<pid>-<hex>``, and renames it onto the target only when the write finished.
This module holds what all of them share:

* :func:`check_output_path` refuses, before any work, a target that cannot be a
  regular file of ours: ``""``, ``"."``, a directory, an existing FIFO, device or socket
  (or a symbolic link to one), a path under a plain file, a path that leads into
  ``/dev``, or a name too long for the file system once the temporary suffix is added.
  :func:`check_output_dir` is its counterpart for an output folder. Every writer calls
  it, and :func:`publish` (the final rename) checks the target once more, so a node
  that appeared meanwhile is never replaced.
* :func:`temp_path` names the temporary file; :func:`remove_stale_temps` deletes the
  temporary files that killed writers of the same target left behind (same name
  pattern, and a process id that no longer runs on this machine).
* :func:`write_failure` turns an ``OSError`` of a write (``ENOSPC``, ``EDQUOT``, ``EIO``,
  ``ENAMETOOLONG``, ...) into one :class:`~prosparsity.core.errors.WriteError` line that
  names the path and the reason.
* :func:`atomic_write_bytes` writes a whole byte string that way.

The rename that makes a write atomic replaces whatever the target name holds; these
checks are what keep it from replacing a FIFO, a device node or anything else that is
not a regular file (run as root, ``-o /dev/null`` would otherwise replace the machine's
``/dev/null``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import stat
from pathlib import Path

from prosparsity.core import signals
from prosparsity.core.errors import WriteError
from prosparsity.core.paths import node_kind

__all__ = [
    "TEMP_RE",
    "atomic_write_bytes",
    "check_output_dir",
    "check_output_path",
    "is_temp_name",
    "publish",
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
#: folders of device nodes: no output path may lead into them (after symbolic links)
DEVICE_DIRS: tuple[Path, ...] = (Path("/dev"),)


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


def _under_devices(path: Path) -> Path | None:
    """The device folder ``path`` leads into once symbolic links are followed."""
    try:
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):  # pragma: no cover - realpath is lenient
        return None
    for root in DEVICE_DIRS:
        if real == root or root in real.parents:
            return root
    return None


def _existing_problem(p: Path, what: str) -> str | None:
    """Why the existing entry at ``p`` may not be replaced by an output file (``None``:
    nothing there, a regular file, or a symbolic link to one or to nothing)."""
    try:
        st = os.lstat(p)
    except OSError:
        return None  # nothing there (or unreachable: the write reports that)
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(p)
        except OSError:
            return None  # a dangling link: the rename replaces the link itself
        if stat.S_ISDIR(st.st_mode):
            return f"is a directory; give a file name for the {what}"
        if not stat.S_ISREG(st.st_mode):
            return (f"is a symbolic link to {node_kind(st.st_mode)}, not a regular file; "
                    f"refused (give another file name for the {what})")
        return None
    if stat.S_ISDIR(st.st_mode):
        return f"is a directory; give a file name for the {what}"
    if not stat.S_ISREG(st.st_mode):
        return (f"is {node_kind(st.st_mode)}, not a regular file; refused (an output "
                f"replaces only regular files: give another file name for the {what})")
    return None


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, a target that cannot become a regular file of ours.

    Args:
        path: the target file.
        what: the kind of output, for the message ("trace", "report").

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        WriteError: empty name or ``.``/``..``, an existing directory, FIFO, device or
            socket (or a symbolic link to one), a path that leads into ``/dev``, a
            parent that is a plain file, or a name longer than the file system accepts
            with the temporary suffix (``.tmp-<pid>-<hex>``).
    """
    text = os.fspath(path)
    if text.strip() == "":
        raise WriteError(repr(text), f"empty {what} path; give a file name")
    p = Path(text)
    if p.name in ("", ".", "..") or text.endswith(os.sep):
        raise WriteError(p, f"is a directory, not a file name; give a file name for the {what}")
    problem = _existing_problem(p, what)
    if problem is not None:
        raise WriteError(p, problem)
    root = _under_devices(p)
    if root is not None:
        raise WriteError(p, f"leads into {root}, the folder of device nodes; refused (give "
                         f"a file name elsewhere for the {what})")
    longest = _name_max(p.parent) - len(_temp_suffix(os.getpid(), "0" * _TOKEN_HEX))
    size = len(os.fsencode(p.name))
    if size > longest:
        raise WriteError(
            p, f"file name too long ({size} bytes; at most {longest} on this file system)"
        )
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WriteError(p, f"cannot create the {what}: {parent} is not a directory")
            break
    return p


def check_output_dir(path: str | Path, label: str = "--out") -> Path:
    """Refuse, before any work, an output folder that cannot be one.

    Args:
        path: the folder (it may not exist yet).
        label: how the message names it (the option).

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        WriteError: an empty name, a path that leads into ``/dev``, or a path that (or
            one of whose parents) exists and is not a folder.
    """
    text = os.fspath(path)
    if text.strip() == "":
        raise WriteError(f"{label} {text!r}", "empty folder name; give a folder")
    out = Path(text)
    root = _under_devices(out)
    if root is not None:
        raise WriteError(f"{label} {out}", f"leads into {root}, the folder of device "
                         "nodes; refused (give a folder elsewhere)")
    for p in (out, *out.parents):
        try:
            st = os.stat(p)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            what = "" if p == out else f" ({p} is not a folder)"
            raise WriteError(f"{label} {out}", f"not a folder{what}")
        break
    return out


def publish(tmp: Path, target: Path, what: str = "output") -> None:
    """Rename the finished temporary file ``tmp`` onto ``target``: the last step of
    every write. The target is checked once more just before (a FIFO or device that
    appeared since the writer started is refused, never replaced).

    Raises:
        WriteError: the target is no longer replaceable.
        OSError: the rename failed (the caller reports it and removes ``tmp``).
    """
    problem = _existing_problem(target, what)
    if problem is not None:
        raise WriteError(target, problem)
    os.replace(tmp, target)


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
        publish(tmp, path, what)
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
