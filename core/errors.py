"""User-facing errors of the harness.

Every error a user can provoke with bad input derives from :class:`HarnessError`; the CLI
prints its message (no traceback) and exits with status 2. Messages name the file, the
layer and the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class HarnessError(Exception):
    """An error caused by the user's input or environment, reported without traceback."""


class TraceError(HarnessError):
    """A trace file (or a spike dump being imported) is invalid.

    Args:
        path: the offending file.
        problem: what is wrong, in words.
        layer: the layer concerned, if any.
    """

    def __init__(self, path: str | Path, problem: str, layer: str | None = None) -> None:
        self.path = str(path)
        self.layer = layer
        self.problem = problem
        where = f"{self.path}" + (f", layer '{layer}'" if layer else "")
        super().__init__(f"{where}: {problem}")


class ConfigError(HarnessError):
    """A configuration value is invalid; the message names the field path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class WriteError(HarnessError):
    """An output file could not be written (bad path, full disk, quota, I/O error).

    Args:
        path: the target file.
        problem: what went wrong, in words (the OS reason).
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class HarnessWarning(UserWarning):
    """Something the user should know about a result that is still produced (a v1 trace
    without a digest, a layer analysed as bit planes, a plugin left out). The library
    warns through :mod:`warnings`; the CLI prints each as one ``warning:`` line."""


def name_list(names: Sequence[str], at_most: int = 12) -> str:
    """Names for a message: at most ``at_most``, comma-separated, then how many more
    (``a, b, c (+3 more)``)."""
    more = len(names) - at_most
    return ", ".join(names[:at_most]) + (f" (+{more} more)" if more > 0 else "")
