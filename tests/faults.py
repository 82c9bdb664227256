"""A file object whose writes fail, for the write-fault tests of the trace writer and of
capture (patched in through ``prosparsity.traces.writer._open_temp``)."""

from __future__ import annotations

import errno
import io
import os


class Faulty(io.FileIO):
    """A temp file whose writes fail with ``code`` once ``budget`` bytes went through
    (class attributes: set them with ``monkeypatch.setattr``)."""

    budget = 0
    code = errno.EIO

    def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
        n = memoryview(data).nbytes
        if Faulty.budget < n:
            raise OSError(Faulty.code, os.strerror(Faulty.code))
        Faulty.budget -= n
        return super().write(data)
