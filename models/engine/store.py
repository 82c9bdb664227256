"""Where a capture keeps its records' spike bytes until the trace is written.

A trace stores each GEMM input time-first, ``[T, B, ...]``, and the capture produces it
one forward pass (a slice of B) at a time. :class:`Store` collects the packed pieces of
every record in execution order and hands them to the trace writer at the end, in slabs
of time steps (``slabs``), so the trace is written once, whole, by
:class:`~prosparsity.traces.io.TraceWriter`.

Memory. Pieces stay in memory up to ``memory_bytes`` (default 256 MiB of packed spikes);
beyond it they are appended to a scratch file beside the output, named like the trace
writers' temporary files (``OUT.tmp-<pid>-<hex>``: removed when the store closes, on
every exit path, and as stale by the next writer of the same output if the process was
killed). The scratch file holds raw bytes (no HDF5), so a full disk or an I/O error is an
ordinary ``OSError`` of one ``write``, reported as one line naming the output.

Threads. Pieces that fit the memory budget are kept at once. From the first forward
pass that would spill on, one background thread takes each pass's pieces from a queue of
at most two passes (double buffering) and writes them to the scratch file: while it
stores pass ``n``, the model computes pass ``n + 1``; a third pass waits. Its first
failure is raised in the capturing thread at the next :meth:`Store.submit` or at
:meth:`Store.finish`.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prosparsity.models.engine.values import Values

__all__ = ["SLAB_BYTES", "Stash", "Store"]

log = logging.getLogger(__name__)

SLAB_BYTES = 8 << 20
"""Memory budget of one slab moved from the store to the trace."""
_PENDING = 2  # forward passes queued for the background thread (double buffering)
_STOP = object()


@dataclass
class _OnDisk:
    """A piece in the scratch file: ``shape`` uint8 values at ``offset``."""

    offset: int
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape)


@dataclass
class Stash:
    """What the store holds of one record.

    Attributes:
        tail: the values' shape after ``T, B`` (unpacked).
        packed: whether the pieces are bit-packed (every value so far 0 or 1).
        rows: samples stored (the B of the record).
        levels: values present (exact once the record is multi-level).
        pieces: ``[T, b, ...]`` pieces in order, in memory or in the scratch file.
    """

    tail: tuple[int, ...]
    packed: bool
    rows: int = 0
    levels: set[int] = field(default_factory=set)
    pieces: list[np.ndarray | _OnDisk] = field(default_factory=list)


class Store:
    """The spike bytes of every record of a capture (see the module docstring).

    Args:
        target: the trace the capture writes (the scratch file is named after it).
        time_steps: T.
        memory_bytes: packed bytes kept in memory before spilling.
    """

    def __init__(self, target: Path, time_steps: int, memory_bytes: int) -> None:
        from prosparsity.core.atomic import temp_path

        self.target = Path(target)
        self.scratch_path = temp_path(self.target)
        self.time_steps = time_steps
        self.memory_bytes = memory_bytes
        self._stash: dict[str, Stash] = {}
        self._in_memory = 0
        self._fh: int | None = None
        self._size = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_PENDING)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the capturing thread ------------------------------------------------------------

    def submit(self, pieces: Sequence[tuple[str, Values]]) -> None:
        """Hand over one forward pass's ``(record, [T, b, ...] piece)`` pairs.

        While they fit the memory budget they are kept at once (no thread, nothing to
        wait for); from the first pass that would spill on, the background thread takes
        them.
        """
        self._raise()
        if not pieces:
            return
        size = sum(v.data.nbytes for _, v in pieces)
        if self._thread is None and self._in_memory + size <= self.memory_bytes:
            for key, values in pieces:
                self._add(key, values)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture-store", daemon=True)
            self._thread.start()
        while True:
            try:
                self._queue.put(list(pieces), timeout=0.1)
                return
            except queue.Full:
                self._raise()  # the thread died: its error, not a wait forever

    def finish(self) -> None:
        """Wait until every piece handed over is stored; raise the thread's failure."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        self._raise()

    def stash(self, key: str) -> Stash | None:
        """What is stored of ``key`` (after :meth:`finish`)."""
        return self._stash.get(key)

    def slabs(self, key: str) -> Iterator[tuple[np.ndarray, bool]]:
        """``(slab, packed)`` pieces of the record's ``[T, B, ...]`` along T, each within
        :data:`SLAB_BYTES` (after :meth:`finish`)."""
        stash = self._stash[key]
        t = self.time_steps
        if not stash.pieces:
            yield np.zeros((t, stash.rows, *stash.tail), np.uint8), False
            return
        first = stash.pieces[0]
        stored_tail = (first.shape if isinstance(first, np.ndarray) else first.shape)[2:]
        row = max(1, stash.rows * math.prod(stored_tail))
        step = max(1, min(t, SLAB_BYTES // row))
        for t0 in range(0, t, step):
            t1 = min(t, t0 + step)
            parts = [self._rows(p, t0, t1) for p in stash.pieces]
            yield (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)), stash.packed

    def close(self) -> None:
        """Stop the thread and remove the scratch file (idempotent, never raises)."""
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
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                os.close(fh)
            except OSError:  # pragma: no cover - nothing more can be done
                pass
        try:
            self.scratch_path.unlink(missing_ok=True)
        except OSError:  # pragma: no cover
            log.warning("could not remove the scratch file %s", self.scratch_path)
        self._stash.clear()

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
            if self._error is not None or self._closed:
                continue  # after a failure: drain, the capturing thread will raise
            try:
                for key, values in item:  # type: ignore[attr-defined]
                    self._add(key, values)
            except BaseException as exc:  # noqa: BLE001 - handed to the capturing thread
                self._error = self._failure(exc)

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, OSError):
            from prosparsity.core.atomic import write_failure

            return write_failure(self.target, exc, "trace")
        return exc

    def _add(self, key: str, values: Values) -> None:
        data = values.data
        stash = self._stash.get(key)
        if stash is None:
            tail = (*data.shape[2:-1], values.width) if data.ndim > 2 else ()
            stash = self._stash[key] = Stash(tuple(int(s) for s in tail), values.packed)
        if stash.packed and not values.packed:
            self._unpack(stash)
        if stash.packed:
            stash.levels |= values.levels
        else:
            if values.packed:
                data = values.unpacked()
                stash.levels |= _present(data)
            else:
                stash.levels |= values.levels
        stash.rows += int(data.shape[1])
        if 0 in data.shape:
            return  # nothing to store: the slabs are empty arrays
        stash.pieces.append(np.ascontiguousarray(data))
        self._in_memory += data.nbytes
        if self._in_memory > self.memory_bytes:
            self._spill()

    def _unpack(self, stash: Stash) -> None:
        """Turn a bit-packed record into uint8 (a later piece brought levels above 1);
        the exact levels of the pieces so far are counted on the way."""
        stash.packed = False
        stash.levels = set()
        width = stash.tail[-1] if stash.tail else 1
        pieces = []
        for piece in stash.pieces:
            packed = piece if isinstance(piece, np.ndarray) else self._read(piece)
            values = np.unpackbits(packed, axis=-1, count=width)
            stash.levels |= _present(values)
            if isinstance(piece, np.ndarray):
                self._in_memory += values.nbytes - piece.nbytes
            pieces.append(values if isinstance(piece, np.ndarray) else self._append(values))
        stash.pieces = pieces
        if self._in_memory > self.memory_bytes:
            self._spill()

    def _spill(self) -> None:
        """Move every piece held in memory to the scratch file."""
        for stash in self._stash.values():
            for i, piece in enumerate(stash.pieces):
                if isinstance(piece, np.ndarray):
                    stash.pieces[i] = self._append(piece)
        self._in_memory = 0

    # -- the scratch file ----------------------------------------------------------------

    def _append(self, data: np.ndarray) -> _OnDisk:
        if self._fh is None:
            from prosparsity.core.atomic import remove_stale_temps

            remove_stale_temps(self.target)
            self._fh = os.open(self.scratch_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            log.info("capture spills to %s", self.scratch_path)
        view = memoryview(np.ascontiguousarray(data)).cast("B")
        offset = self._size
        while view:
            done = os.pwrite(self._fh, view, self._size)
            if done <= 0:  # pragma: no cover - a write that wrote nothing
                raise OSError(5, os.strerror(5))
            self._size += done
            view = view[done:]
        return _OnDisk(offset, tuple(int(s) for s in data.shape))

    def _read(self, piece: _OnDisk, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` (axis 0) of a piece in the scratch file."""
        assert self._fh is not None
        shape = piece.shape
        stop = shape[0] if stop is None else stop
        row = math.prod(shape[1:])
        size = (stop - start) * row
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            n = os.preadv(self._fh, [view[got:]], piece.offset + start * row + got)
            if n <= 0:  # pragma: no cover - the scratch file shrank under us
                raise OSError(5, os.strerror(5))
            got += n
        return np.frombuffer(buf, np.uint8).reshape(stop - start, *shape[1:])

    def _rows(self, piece: np.ndarray | _OnDisk, t0: int, t1: int) -> np.ndarray:
        if isinstance(piece, np.ndarray):
            return piece[t0:t1]
        return self._read(piece, t0, t1)


def _present(values: np.ndarray) -> set[int]:
    if values.size == 0:
        return set()
    return {int(v) for v in np.flatnonzero(np.bincount(values.reshape(-1)))}
