"""prosparsity.core.signals: a Ctrl-C raised inside a callback is neither printed nor lost."""

from __future__ import annotations

import gc
import io
import signal
import sys
import weakref

import pytest

from prosparsity.core import signals


class _Thing:
    pass


def test_interrupt_inside_a_weakref_callback_is_silent_and_kept(monkeypatch) -> None:
    """The case a Ctrl-C test met: SIGINT handled while the import system ran a weakref
    callback. Python drops the exception (sys.unraisablehook); the flag keeps it."""
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    previous = signals.install()
    try:
        thing = _Thing()
        ref = weakref.ref(thing, lambda _: signals._handler(signal.SIGINT, None))
        del thing
        gc.collect()
        assert ref() is None
        assert err.getvalue() == ""  # the default hook printed "Exception ignored ..."
        assert signals.requested()
        with pytest.raises(signals.Interrupted):
            signals.check()
    finally:
        signals.restore(previous)
    assert sys.unraisablehook is not signals._unraisable


def test_other_unraisable_errors_still_reach_the_previous_hook(monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: seen.append(args.exc_type))
    previous = signals.install()
    try:
        thing = _Thing()
        ref = weakref.ref(thing, lambda _: 1 / 0)
        del thing
        gc.collect()
        assert ref() is None and seen == [ZeroDivisionError]
        assert not signals.requested()
    finally:
        signals.restore(previous)
    assert sys.unraisablehook is not signals._unraisable
