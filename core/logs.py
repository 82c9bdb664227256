"""Third-party log records that say nothing about a run, kept off the user's screen.

A CPU-only torch logs "Triton not available" (a warning, through its own handler on
stderr) each time a package registers a custom operator, which spikingjelly does on its
first forward pass: a notice about the install, not about the capture. The library
raises those loggers to errors for the duration of a call (:func:`quiet_notices`), and
the CLI for the whole command unless ``--verbose``; a caller that asked for debug logging
still sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["QUIET_LOGGERS", "quiet_notices"]

#: The loggers whose warnings are notices about the install.
QUIET_LOGGERS = ("torch._library.triton",)


@contextmanager
def quiet_notices() -> Iterator[None]:
    """Within the ``with``, :data:`QUIET_LOGGERS` log errors only, unless the root logger
    is at debug level or a logger's level was set by the caller."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    unset = [lg for lg in loggers if lg.level == logging.NOTSET]
    for lg in unset:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg in unset:
            lg.setLevel(logging.NOTSET)
