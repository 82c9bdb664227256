"""The trace format's public names, kept importable from their first home.

The format lives in rooms of one job: :mod:`~prosparsity.traces.layout` (the HDF5
layout, encodings, filters), :mod:`~prosparsity.traces.metadata` (the ``/meta``
document), :mod:`~prosparsity.traces.writer`, :mod:`~prosparsity.traces.reader`,
:mod:`~prosparsity.traces.v1` (the legacy schema) and :mod:`~prosparsity.traces.upgrade`.
Code of this repository imports from those; this module re-exports their public names
for code written against ``prosparsity.traces.io``.
"""

from __future__ import annotations

from prosparsity.traces.layout import DEFAULT_COMPRESSION, POOL_BYTES, Compression
from prosparsity.traces.reader import TraceReader, read_info, read_layers
from prosparsity.traces.upgrade import upgrade
from prosparsity.traces.writer import TraceWriteError, TraceWriter

__all__ = [
    "DEFAULT_COMPRESSION",
    "POOL_BYTES",
    "Compression",
    "TraceReader",
    "TraceWriteError",
    "TraceWriter",
    "read_info",
    "read_layers",
    "upgrade",
]
