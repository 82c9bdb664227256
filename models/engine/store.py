"""Where a capture's spike bytes go: into the trace, one forward pass at a time, while
the model runs the next.

A trace stores each GEMM input time-first, ``[T, B, ...]``, and the capture produces it
one forward pass (a slice of ``B``) at a time. When the first pass ends, every record and
its place in execution order are known (a later pass may add none): :meth:`Store.open`
begins them all in the trace writer in that order, the GEMM inputs as layers appended
along ``B`` (:meth:`~prosparsity.traces.writer.TraceWriter.begin_layer` with
``along=1``). From then on each pass's packed pieces go to one background thread that
appends them while the capturing thread runs the model on the next batch. The writer
keeps a record's batches until they fill a chunk (every time step and as many samples
as fit 1 MiB) and then writes it whole, compressed there with the GIL released. (A
chunk per batch would move more of the writing into the passes, but on two cores
there is no idle core for it: it made ``digits-spikformer``'s capture slower.) What is
left for the end (:meth:`Store.finish`) is the last pass and the chunks no pass
filled, on a small capture most of the trace; :meth:`Collector.write` ends them
together, their chunks compressed on every core.

Memory. At most two passes wait for the thread (double buffering), and no more than
``memory_bytes`` of their packed bytes (one pass always may); a third waits. The writer
keeps less than a chunk of each record. Nothing is kept once written: a capture holds
one batch's activations, at most three batches of packed spikes and an unfilled chunk a
record, however many samples it runs (and at its end a few MiB of chunks being
compressed, see :meth:`~prosparsity.traces.writer.TraceWriter.end_layers`).

Levels. A record whose first piece is binary is written bit-packed; a later piece with
sums of spikes widens it to uint8 (:meth:`~prosparsity.traces.writer.TraceWriter.widen`:
what it holds so far is read back and written again, the rare path). A multi-level
record takes later binary pieces unpacked.

Failure. The thread's first error (a full disk, an I/O error, a Ctrl-C seen while it
writes) is raised in the capturing thread at the next :meth:`Store.submit` or at
:meth:`Store.finish`; the writer then discards its temporary file.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prosparsity.models.engine.values import Values
from prosparsity.traces.schema import LayerRecord

__all__ = ["Planned", "Store"]

_PENDING = 2  # forward passes queued for the background thread (double buffering)
_STOP = object()


@dataclass(frozen=True)
class Planned:
    """One record of the trace, begun when the first pass ends.

    Attributes:
        record: the record (a GEMM input: shape ``(T, 0, *tail)``, its ``B`` growing).
        packed: for a GEMM input, whether its first piece was binary (bit-packed).
    """

    record: LayerRecord
    packed: bool = True


class Store:
    """The trace's spike bytes on their way to the writer (see the module docstring).

    Args:
        memory_bytes: packed bytes that may wait for the background thread (at least
            one pass always may).
    """

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self._writer: Any = None
        self._packed: dict[str, bool] = {}
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_PENDING)
        self._waiting = 0  # bytes queued and not yet written
        self._room = threading.Condition()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def opened(self) -> bool:
        return self._writer is not None

    # -- the capturing thread ------------------------------------------------------------

    def open(self, writer: Any, plan: Sequence[Planned]) -> None:
        """Begin every record in ``writer`` (a TraceWriter), in execution order."""
        for p in plan:
            if p.record.has_data:
                writer.begin_layer(p.record, along=1, open_levels=not p.packed)
                self._packed[p.record.name] = p.packed
            else:
                writer.add_layer(p.record)
        self._writer = writer

    def submit(self, pieces: Sequence[tuple[str, Values]]) -> None:
        """Hand over one forward pass's ``(record, [T, b, ...] piece)`` pairs; returns
        once they are queued (waiting while two passes, or ``memory_bytes``, wait)."""
        self._raise()
        if not pieces:
            return
        if self._writer is None:
            raise RuntimeError("Store.submit before Store.open")
        ops = [self._op(key, values) for key, values in pieces]
        size = sum(v.data.nbytes for _, v in pieces)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture-writer",
                                            daemon=True)
            self._thread.start()
        with self._room:
            while (self._waiting and self._waiting + size > self.memory_bytes
                   and self._error is None):
                self._room.wait(0.1)
            self._waiting += size
        self._raise()
        while True:
            try:
                self._queue.put((ops, size), timeout=0.1)
                return
            except queue.Full:
                self._raise()  # the thread died: its error, not a wait forever

    def finish(self) -> None:
        """Wait until every piece handed over is written; raise the thread's failure."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        self._raise()

    def close(self) -> None:
        """Stop the thread, dropping what is still queued (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is not None:
            while True:  # make room for the stop mark: drop what is still queued
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put(_STOP)
            thread.join(timeout=10)

    def _op(self, key: str, values: Values) -> Callable[[], None]:
        """What appending one piece takes (decided here, in piece order: whether the
        record is still bit-packed)."""
        writer = self._writer
        if self._packed.get(key, False):
            if values.packed:
                return lambda: writer.append(key, values.data, packed=True)
            self._packed[key] = False

            def widen_then_append() -> None:
                writer.widen(key)
                writer.append(key, values.data, levels=values.levels)

            return widen_then_append
        if values.packed:  # a binary piece of a uint8 record: its levels were assumed
            return lambda: writer.append(key, values.unpacked())
        return lambda: writer.append(key, values.data, levels=values.levels)

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # -- the background thread -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            ops, size = item  # type: ignore[misc]
            try:
                if self._error is None and not self._closed:
                    for op in ops:
                        op()
            except BaseException as exc:  # noqa: BLE001 - handed to the capturing thread
                self._error = exc
            finally:
                with self._room:
                    self._waiting -= size
                    self._room.notify_all()
