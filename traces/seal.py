"""The whole-file digest of a v2 trace, kept in the HDF5 user block.

A v2 trace starts with a 512-byte HDF5 *user block*, which HDF5 itself never reads. The
writer fills it last, after HDF5 has closed the file, with a short text header and zero
padding::

    PROSPARSITY-TRACE
    version 2
    sha256 <64 hex digits: SHA-256 of every byte after the user block>
    bytes <number of bytes after the user block>

Every byte HDF5 will parse (superblock, object headers, chunk indexes, heaps, data) lies
after the user block, so the digest covers all of it. :func:`check` verifies it *before*
the file is handed to HDF5: a damaged file is one clean error, in the time it takes to
read the file once, and HDF5 never sees a byte that the writer did not write.
v1 traces (HDF5 signature at offset 0) carry no digest; :func:`check` says so by
returning ``None``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from prosparsity.core.atomic import reason
from prosparsity.core.errors import TraceError
from prosparsity.core.paths import looks_like

__all__ = ["HDF5_SIGNATURE", "USERBLOCK_BYTES", "Seal", "check", "header", "seal"]

USERBLOCK_BYTES = 512
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAGIC = b"PROSPARSITY-TRACE\n"
_HEADER_RE = re.compile(
    rb"PROSPARSITY-TRACE\nversion (\d{1,3})\nsha256 ([0-9a-f]{64})\nbytes (\d{1,20})\n"
)
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Seal:
    """What a v2 header declares (and :func:`check` verified).

    Attributes:
        version: the schema version written in the header.
        sha256: hex SHA-256 of the bytes after the user block.
        payload_bytes: their number.
    """

    version: int
    sha256: str
    payload_bytes: int


def header(version: int, sha256: str, payload_bytes: int) -> bytes:
    """The user block's bytes: the text header padded with zeros to 512 bytes."""
    text = f"PROSPARSITY-TRACE\nversion {version}\nsha256 {sha256}\nbytes {payload_bytes}\n"
    return text.encode("ascii").ljust(USERBLOCK_BYTES, b"\0")


def _hash_from(fh: BinaryIO, offset: int) -> tuple[str, int]:
    fh.seek(offset)
    h = hashlib.sha256()
    n = 0
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    while True:
        got = fh.readinto(buf)
        if not got:
            break
        h.update(view[:got])
        n += got
    return h.hexdigest(), n


def seal(fh: BinaryIO, version: int) -> Seal:
    """Hash a closed HDF5 file's payload and write the header into its user block.

    Args:
        fh: the file, opened for reading and writing (binary, unbuffered or flushed).
        version: the schema version to declare.
    """
    digest, n = _hash_from(fh, USERBLOCK_BYTES)
    fh.seek(0)
    data = header(version, digest, n)
    view = memoryview(data)
    while view:
        written = fh.write(view)
        view = view[written:]
    return Seal(version, digest, n)


def _not_hdf5(path: Path) -> str:
    """Why a file is no trace: what its first bytes say it is, when they say more than
    "text" or "nothing known" (a zip archive, a PNG image, a pickle)."""
    seen = looks_like(path)
    if seen is None or seen in ("a text file", "an empty file"):
        return "not an HDF5 file (is this a trace?)"
    return f"not an HDF5 file: it is {seen}, not a trace"


def check(path: Path) -> Seal | None:
    """Verify a trace's digest before HDF5 sees it.

    Returns:
        The verified :class:`Seal` of a v2 file, or ``None`` for a file that starts with
        the HDF5 signature (a v1 trace, or any plain HDF5 file: no digest to check).

    Raises:
        TraceError: not HDF5 at all; a file whose writer did not finish (zero user block);
            a damaged header; a payload whose length or SHA-256 differs from the header.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(USERBLOCK_BYTES + len(HDF5_SIGNATURE))
            if head.startswith(HDF5_SIGNATURE):
                return None
            if len(head) < USERBLOCK_BYTES + len(HDF5_SIGNATURE):
                if head.startswith(_MAGIC):
                    raise TraceError(path, "damaged trace: truncated inside its header")
                raise TraceError(path, _not_hdf5(path))
            block, signature = head[:USERBLOCK_BYTES], head[USERBLOCK_BYTES:]
            if not block.startswith(_MAGIC):
                if signature == HDF5_SIGNATURE and not any(block):
                    raise TraceError(
                        path,
                        "incomplete write: the writer did not finish (no digest in the "
                        "header; the temporary file of a killed writer?)",
                    )
                if signature == HDF5_SIGNATURE:
                    raise TraceError(path, "damaged trace: its header is not a trace header")
                raise TraceError(path, _not_hdf5(path))
            m = _HEADER_RE.match(block)
            if m is None or any(block[m.end() :]):
                raise TraceError(path, "damaged trace: its header is garbled")
            found = Seal(int(m[1]), m[2].decode("ascii"), int(m[3]))
            size = os.fstat(fh.fileno()).st_size - USERBLOCK_BYTES
            if size != found.payload_bytes:
                raise TraceError(
                    path,
                    f"damaged trace: its header says {found.payload_bytes} bytes follow, the "
                    f"file holds {size} (truncated or appended to)",
                )
            digest, n = _hash_from(fh, USERBLOCK_BYTES)
    except OSError as exc:
        raise TraceError(path, f"cannot read the file: {reason(exc)}") from None
    if n != found.payload_bytes or digest != found.sha256:
        raise TraceError(
            path,
            "damaged trace: the SHA-256 of its content does not match the digest in its "
            "header (the file was altered or corrupted)",
        )
    return found
