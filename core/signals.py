"""Ctrl-C for the command line: an exception nothing on the way swallows, and a flag.

:func:`install` (called by the CLI's ``main`` only) makes SIGINT raise :class:`Interrupted`,
a ``BaseException`` that is not a ``KeyboardInterrupt``: click turns a KeyboardInterrupt
into its own "Aborted!" and blank line, and ``except Exception`` handlers let it pass.
The handler also sets a flag, because an exception raised while Python runs a finaliser
or a callback (a weakref callback of the import system, a C library's callback) is
handed to ``sys.unraisablehook`` and dropped. :func:`install` puts in a hook that drops
such an :class:`Interrupted` silently (the default one printed "Exception ignored" and a
traceback over the command's one line); the trace writer and reader call :func:`check`
at every layer, writers before they publish a file (the final rename), and ``main``
before it exits, so a Ctrl-C always ends the command promptly with exit 130, one line
and no new output file.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Interrupted", "check", "deferred", "install", "requested", "restore"]


class Interrupted(BaseException):
    """The user pressed Ctrl-C (SIGINT) during a command."""


_requested = False
_deferred = 0
_previous_hook: Callable[[Any], object] | None = None


def _handler(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    if not _deferred:
        raise Interrupted


@contextmanager
def deferred() -> Iterator[None]:
    """Inside the block a Ctrl-C only sets the flag; it is raised when the block ends.

    For calls into C libraries that call back into Python (h5py's file-object driver):
    an exception raised inside such a callback can leave the library in a state it does
    not survive.
    """
    global _deferred
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1
    check()


def _unraisable(args: Any) -> None:
    """``sys.unraisablehook``: an :class:`Interrupted` raised inside a finaliser or a
    callback is already recorded in the flag; anything else goes to the previous hook."""
    if isinstance(args.exc_value, Interrupted):
        return
    (_previous_hook or sys.__unraisablehook__)(args)


def install() -> Callable[..., Any] | int | None:
    """Route SIGINT to :class:`Interrupted` (main thread only); returns the previous
    handler for :func:`restore`."""
    global _requested, _previous_hook
    _requested = False
    if sys.unraisablehook is not _unraisable:
        _previous_hook = sys.unraisablehook
        sys.unraisablehook = _unraisable
    try:
        return signal.signal(signal.SIGINT, _handler)
    except ValueError:  # pragma: no cover - not the main thread
        return None


def restore(previous: Callable[..., Any] | int | None) -> None:
    """Put back the handler that :func:`install` replaced."""
    global _requested, _previous_hook
    _requested = False
    if sys.unraisablehook is _unraisable:
        sys.unraisablehook = _previous_hook or sys.__unraisablehook__
        _previous_hook = None
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:  # pragma: no cover
            pass


def requested() -> bool:
    """Whether a Ctrl-C arrived since :func:`install`."""
    return _requested


def check() -> None:
    """Raise :class:`Interrupted` if a Ctrl-C arrived, even one whose exception was lost."""
    if _requested:
        raise Interrupted
