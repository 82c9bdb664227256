"""Rewrite a trace as schema v2 (``prosparsity trace upgrade``)."""

from __future__ import annotations

import math
from pathlib import Path

from prosparsity.traces.layout import CHUNK_BYTES, ENC_PACKBITS, row_bytes
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.writer import TraceWriter

__all__ = ["upgrade"]

_UPGRADE_WHOLE = 1 << 28  # values; larger binary layers are copied packed, in slabs


def upgrade(path: str | Path, out: str | Path | None = None) -> Path:
    """Rewrite a trace as v2 (atomically; ``out`` defaults to ``path`` itself).

    Records (names, kinds, params, shapes, layouts, levels) and file attributes (creation
    time and tool version included) are kept, and every layer's stored data is copied
    bit for bit, so analysis and simulation give identical numbers. The source is fully
    verified first.

    Returns:
        The path written.
    """
    src = Path(path)
    target = Path(out) if out is not None else src
    with TraceReader(src) as reader:
        reader.verify()
        with TraceWriter(target, reader.info) as writer:
            for rec in reader.layers:
                if not rec.has_data:
                    writer.add_layer(rec)
                elif (
                    reader.encoding(rec.name) == ENC_PACKBITS
                    and len(rec.shape) > 1
                    and math.prod(rec.shape) > _UPGRADE_WHOLE
                ):
                    # a large binary layer: copy its packed bytes slab by slab
                    writer.begin_layer(rec)
                    step = max(1, CHUNK_BYTES // max(1, row_bytes(rec) // 8))
                    for slab in reader.iter_chunks(rec.name, step, packed=True):
                        writer.append(rec.name, slab, packed=True)
                    writer.end_layer(rec.name)
                else:
                    writer.add_layer(rec, reader.read(rec.name))
    return target
