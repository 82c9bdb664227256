"""Counting a trace file or an in-memory list of records in one call, for tests and benches.

The library's front door is :func:`prosparsity.count` (a trace opened with
:func:`prosparsity.open`); these helpers keep the tests' hand-built cases short: records and a
loader, a path with a block budget, the samples of a trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.analysis.density import count, count_samples
from prosparsity.analysis.gemm import DEFAULT_BLOCK_BYTES
from prosparsity.analysis.grid import check_tile_sizes
from prosparsity.analysis.network import LoaderSource, Workload
from prosparsity.analysis.stats import LayerStats, ModelStats, SampleStats
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.traces.io import TraceReader
from prosparsity.traces.schema import LayerRecord

LayerCallback = Callable[[LayerStats], None]


def analyze_records(
    model: str,
    records: Sequence[LayerRecord],
    loader: Callable[[str], np.ndarray],
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: LayerCallback | None = None,
) -> ModelStats:
    """:func:`count` over a list of records whose data ``loader(name)`` returns.

    Args:
        model: name carried into the result.
        records: records in execution order (those not in the network are skipped).
        loader: ``name -> stored input tensor``.
        tile_m: rows per tile.
        tile_k: columns per tile.
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each layer (progress reporting).
    """
    workload = Workload(
        name=model, layers=tuple(r for r in records if r.in_network), source=model,
        spikes=LoaderSource(loader),
    )  # fmt: skip
    return count(workload, tile_m, tile_k, block_bytes=block_bytes, on_layer=on_layer)


def _reader_call(trace: str | Path | TraceReader, fn: Callable[[TraceReader], Any]) -> Any:
    from prosparsity.traces.reader import TraceReader

    if isinstance(trace, TraceReader):
        return fn(trace)
    with TraceReader(Path(trace)) as reader:
        return fn(reader)


def analyze_trace(
    trace: str | Path | TraceReader,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: LayerCallback | None = None,
) -> ModelStats:
    """Bit / product density of a v1 trace (all samples as one batch), streamed one layer
    at a time: :func:`count` of ``Workload.from_reader``.

    Args:
        trace: a path to a trace file or an open
            :class:`~prosparsity.traces.reader.TraceReader`.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each analysed layer.

    Raises:
        TraceError: unreadable trace or bad layer parameters; ConfigError: bad tile sizes.
    """
    check_tile_sizes(tile_m, tile_k)
    return _reader_call(
        trace,
        lambda r: count(Workload.from_reader(r), tile_m, tile_k, block_bytes=block_bytes,
                        on_layer=on_layer),
    )  # fmt: skip


def trace_samples(reader: TraceReader) -> int:
    """Samples held by a trace: the length of the ``B`` axis of its data records (1
    when no record has a ``B`` axis).

    Raises:
        TraceError: when those records disagree on the length of ``B``.
    """
    return Workload.from_reader(reader).samples()


def analyze_samples(
    trace: str | Path | TraceReader,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    on_layer: LayerCallback | None = None,
) -> SampleStats:
    """Analyse each sample of a trace on its own (batch 1), as the paper does
    (:func:`count_samples`); the samples are read layer by layer, one sample's layer at
    a time, each layer released before the next.

    Args:
        trace: a path to a trace file or an open
            :class:`~prosparsity.traces.reader.TraceReader`.
        tile_m: rows per tile (1..4096).
        tile_k: columns per tile (1..128).
        block_bytes: memory budget of one streamed block of a GEMM operand.
        on_layer: called after each analysed layer of each sample.

    Raises:
        TraceError: unreadable trace, samples that cannot be separated (a data record
            without a ``B`` axis in a multi-sample trace); ConfigError: bad tile sizes.
    """
    check_tile_sizes(tile_m, tile_k)
    return SampleStats.of(_reader_call(
        trace,
        lambda r: count_samples(Workload.from_reader(r), tile_m, tile_k,
                                block_bytes=block_bytes, on_layer=on_layer),
    ))  # fmt: skip
