"""A file object through which HDF5 writes and never sees a failed write.

h5py's ``fileobj`` driver calls Python's ``write``/``truncate``/``flush`` of a file
object; when one of them raises (``ENOSPC``, ``EDQUOT``, ``EIO``), HDF5 is left in a state
it does not survive (h5py segfaults closing such a file). :class:`Sink` records the first
failure instead and drops every later write while reporting success; its owner checks
:attr:`Sink.failure` after each HDF5 call and turns it into one error (see
:class:`prosparsity.traces.writer.TraceWriter`), then deletes the file, so the dropped
bytes never matter.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

__all__ = ["Sink"]


class Sink:
    """The file object h5py's ``fileobj`` driver writes through.

    The first failure of a write, truncate or flush (``ENOSPC``, ``EDQUOT``, ``EIO``, or a
    Ctrl-C that lands inside the call) is recorded and every later write is dropped while
    reporting success: HDF5 never sees a failed write, which it does not survive (h5py
    segfaults closing such a file). The writer checks :attr:`failure` after each HDF5 call
    and turns it into one error; the file is then deleted, so the dropped bytes never
    matter.
    """

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.failure: BaseException | None = None

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if self.failure is None:
            try:
                view = memoryview(data).cast("B")
                while view:
                    done = self.fh.write(view)
                    if done is None or done <= 0:
                        raise OSError(5, os.strerror(5))  # EIO: a write that wrote nothing
                    view = view[done:]
            except BaseException as exc:  # noqa: BLE001 - recorded, re-raised by the writer
                self._fail(exc)
        return size

    def read(self, size: int = -1) -> bytes:
        return self.fh.read(size)

    def readinto(self, buf: Any) -> int:
        return self.fh.readinto(buf)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.failure is None:
            try:
                return self.fh.truncate(size)
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)
        return size if size is not None else self.fh.tell()

    def flush(self) -> None:
        if self.failure is None:
            try:
                self.fh.flush()
            except BaseException as exc:  # noqa: BLE001
                self._fail(exc)
