"""Room before work: a write's size and peak memory against the free disk and memory.

A writer that can estimate what it will need (``trace synth`` from the workload's
shapes) calls :func:`check_room` before it starts, so that a request that cannot fit
(``--samples 1000000``: 1.43 TiB) is one line with the figures and the flag that
overrides the check, instead of an allocation failure, a full disk or a swapping machine
hours later.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from prosparsity.core.errors import HarnessError

__all__ = ["SizeError", "check_room", "free_disk", "free_memory", "human_bytes", "usable_cores"]


@functools.cache
def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it,
    else every core): what thread pools and worker counts are sized by."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - not Linux


class SizeError(HarnessError):
    """A write would not fit the free disk or memory (the message gives the figures)."""


def human_bytes(n: float) -> str:
    """``1.43 TiB``, ``512 MiB``, ``900 B``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"  # pragma: no cover - the loop returns


def free_disk(path: str | Path) -> int | None:
    """Bytes free to this user on the file system that ``path`` (or its first existing
    parent) is on; ``None`` when no parent can be asked."""
    for candidate in (Path(path), *Path(path).absolute().parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None  # pragma: no cover - "/" always answers


def free_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping (the kernel's
    estimate, ``MemAvailable``), or ``None`` where it cannot be read."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - a locked dependency
        pages = os.sysconf("SC_AVPHYS_PAGES") if hasattr(os, "sysconf") else None
        return None if pages is None else pages * os.sysconf("SC_PAGE_SIZE")
    return int(psutil.virtual_memory().available)


def check_room(what: str, *, disk_bytes: int, memory_bytes: int, at: str | Path,
               flag: str) -> None:
    """Refuse a write of about ``disk_bytes`` on the file system of ``at`` that needs
    about ``memory_bytes`` at its peak, when either exceeds what is free.

    Args:
        what: the output, for the message (``"synthetic trace t.h5"``).
        disk_bytes: its estimated size.
        memory_bytes: its estimated peak memory.
        at: where it is written.
        flag: the option that skips this check (named in the message).

    Raises:
        SizeError: naming both figures, what is free, and ``flag``.
    """
    disk = free_disk(at)
    memory = free_memory()
    short = []
    if disk is not None and disk_bytes > disk:
        short.append(f"about {human_bytes(disk_bytes)} on disk, {human_bytes(disk)} free")
    if memory is not None and memory_bytes > memory:
        short.append(f"about {human_bytes(memory_bytes)} of memory at its peak, "
                     f"{human_bytes(memory)} available")
    if short:
        raise SizeError(f"{what} would need {' and '.join(short)}: refused before starting "
                        f"({flag} writes it anyway)")
