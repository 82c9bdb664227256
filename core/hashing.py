"""The SHA-256 of a whole file (``sha256sum``'s value), streamed: what traces record of
their source dump, checkpoints of their weights, ``--json`` envelopes of their input and
the sweep of each trace.

No stage owns this module; every stage may import it (it imports nothing of the project).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256"]


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of the file at ``path``, read in blocks.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
