"""What a path on the command line is, in words: the one check of every input file.

:func:`input_problem` looks at an input path without opening it (``os.stat``, which never
blocks, where opening a FIFO waits for a writer and opening a device may do anything) and
names the real reason it cannot be read as a file: not found, a dangling symbolic link, a
symbolic-link loop, permission denied, a directory, a FIFO / device / socket (not a
regular file). :func:`node_kind` names a non-regular file; the output check of
:mod:`prosparsity.core.atomic` uses it too. :func:`looks_like` names what a file's first
bytes say it is ("a PNG image"), so that a file of the wrong kind is reported as such,
not as a damaged file of the expected kind.

Readers call :func:`check_input` (or :func:`input_problem` to raise their own error
type) before they open a user's file: trace files, spike dumps (``.npz``, ``.pkl``,
``.pt``), model inputs and checkpoints, NIR graphs and sweep specs.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prosparsity.core.errors import HarnessError

__all__ = [
    "FileKey",
    "FileMemo",
    "InputError",
    "check_input",
    "input_problem",
    "looks_like",
    "node_kind",
    "safetensors_header",
]


class InputError(HarnessError):
    """An input path that cannot be read as a file (message: ``PATH: problem``)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class FileKey:
    """An unchanged file: same device, inode, size, modification and change times (what
    readers key a remembered check on, so that a rewritten file is checked again)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileKey:
        """The key of a ``stat`` (or ``fstat``) result."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileMemo(dict[tuple[str, FileKey], Any]):
    """What a check of a file found, remembered in this process per unchanged file (its
    resolved path and :class:`FileKey`), so that the file is not checked again until it
    changes. Past ``limit`` files everything is forgotten at once."""

    def __init__(self, limit: int = 256) -> None:
        super().__init__()
        self.limit = limit

    @staticmethod
    def key(path: str | Path, st: os.stat_result | None = None) -> tuple[str, FileKey]:
        """The key of ``path`` (``st``: its ``stat``, when taken already).

        Raises:
            OSError: the file cannot be stat'ed.
        """
        return str(Path(path).resolve()), FileKey.of(os.stat(path) if st is None else st)

    def remember(self, key: tuple[str, FileKey], value: Any = True) -> None:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value


def node_kind(mode: int) -> str:
    """What a file of mode ``mode`` is, with its article ("a FIFO (named pipe)")."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "not a regular file"  # pragma: no cover - no other kind on POSIX


def _missing(path: Path) -> str:
    """Why ``stat`` found nothing at ``path``: a dangling link, a parent that is a plain
    file, or nothing."""
    try:
        target = os.readlink(path)
    except OSError:
        target = None
    if target is not None:
        return f"broken symbolic link (it points to {target}, which does not exist)"
    for parent in path.parents:
        try:
            st = os.stat(parent)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            return f"file not found ({parent} is not a directory)"
        break
    return "file not found"


def input_problem(path: str | Path, *, directory: bool = False,
                  what: str = "file") -> str | None:
    """Why ``path`` cannot be read as an input file, or ``None`` when it can.

    Nothing is opened: a FIFO or a device is reported, never read from.

    Args:
        path: the input.
        directory: accept a directory too (an input that may be a folder).
        what: what the input should be, for the message ("trace file").

    Returns:
        The problem in words (``"file not found"``, ``"symbolic link loop"``,
        ``"permission denied"``, ``"is a directory, not a file"``, ``"is a FIFO (named
        pipe), not a regular file"``...), or ``None``.
    """
    p = Path(path)
    if os.fspath(path) == "":
        return "empty path; give a file name"
    try:
        st = os.stat(p)
    except FileNotFoundError:
        return _missing(p)
    except NotADirectoryError:
        return _missing(p)
    except PermissionError:
        return "permission denied (a folder on the path cannot be searched)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (its links lead back to one another)"
        if exc.errno == errno.ENAMETOOLONG:
            return "file name too long"
        return os.strerror(exc.errno) if exc.errno else str(exc)
    if stat.S_ISDIR(st.st_mode):
        return None if directory else f"is a directory, not a {what}"
    if not stat.S_ISREG(st.st_mode):
        return f"is {node_kind(st.st_mode)}, not a regular file"
    if not os.access(p, os.R_OK):
        return "permission denied (the file cannot be read)"
    return None


def check_input(path: str | Path, *, directory: bool = False, what: str = "file") -> Path:
    """``path`` as a :class:`~pathlib.Path` when :func:`input_problem` finds nothing.

    Raises:
        InputError: the problem, naming the path.
    """
    problem = input_problem(path, directory=directory, what=what)
    if problem is not None:
        raise InputError(path, problem)
    return Path(path)


# (leading bytes, what a file starting with them is)
_SAFETENSORS_HEADER_MAX = 100_000_000  # safetensors' own bound on its JSON header's bytes
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PROSPARSITY-TRACE\n", "a prosparsity trace (HDF5)"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard file"),
    (b"\x7fELF", "an executable (ELF)"),
)


def safetensors_header(head: bytes) -> int | None:
    """The length of the JSON header when ``head``, a file's first bytes (at least 9), opens
    a safetensors file (an 8-byte little-endian length below safetensors' own 100 MB
    bound, then ``{``), else ``None``. The length is what the file claims: a truncated
    file is still recognised as one."""
    if len(head) < 9 or head[8:9] != b"{":
        return None
    length = int.from_bytes(head[:8], "little")
    return length if 2 <= length < _SAFETENSORS_HEADER_MAX else None


def looks_like(path: str | Path) -> str | None:
    """What the first bytes of a regular file say it is (``"a PNG image"``, ``"a pickle
    (protocol 4)"``, ``"a text file"``, ``"an empty file"``), or ``None`` when they say
    nothing known. Reads at most 64 bytes; never opens anything but a regular file.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if not head:
        return "an empty file"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5:
        return f"a pickle (protocol {head[1]})"
    if safetensors_header(head) is not None:
        return "a safetensors file"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            # the 64 bytes may end inside a character: a text file all the same
            try:
                head[:-3].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return "a text file"
    return None
