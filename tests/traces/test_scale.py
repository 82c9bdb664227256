"""Layer count scales: opening a v2 trace, and reading all its small
layers, costs O(1) HDF5 reads of the file however many layers it has.

HDF5 is made to read the trace through a file object that counts its ``read`` calls
(h5py's ``fileobj`` driver): every metadata operation that reaches the file is one. A
v1 trace, whose records are one group with seven attributes each, shows the counter
sees per-layer work.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest

from prosparsity.traces import metadata as trace_metadata
from prosparsity.traces import reader as trace_reader
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

from .legacy import write_v1

INFO = TraceInfo(model="many", time_steps=4)


def _layers(n: int) -> list[tuple[LayerRecord, np.ndarray]]:
    rng = np.random.default_rng(n)
    params = {"in_features": 16, "out_features": 16}
    return [(LayerRecord(f"fc_{i}", LayerKind.LINEAR, params, layout="T,K"),
             rng.random((4, 16)) < 0.2) for i in range(n)]


def _write_v2(path: Path, n: int) -> Path:
    with TraceWriter(path, INFO) as w:
        for rec, data in _layers(n):
            w.add_layer(rec, data)
    return path


class _Counting(io.FileIO):
    """A read-only file that counts the reads HDF5 makes."""

    reads = 0

    def read(self, size: int = -1) -> bytes:
        _Counting.reads += 1
        return super().read(size)

    def readinto(self, buffer) -> int:  # noqa: ANN001 - io.FileIO's signature
        _Counting.reads += 1
        return super().readinto(buffer)


@pytest.fixture()
def counted(monkeypatch):
    """TraceReader's HDF5 handle reads through :class:`_Counting`; yields a function
    that returns (reads during open, reads during nnz of every layer) of a trace."""
    handles = []

    def open_counted(path: Path) -> h5py.File:
        fh = _Counting(path, "r")
        handles.append(fh)
        return h5py.File(fh, "r")

    monkeypatch.setattr(trace_reader, "_open_hdf5", open_counted)

    def measure(path: Path) -> tuple[int, int]:
        _Counting.reads = 0
        with TraceReader(path) as r:
            opened = _Counting.reads
            total = sum(r.nnz(rec.name) for rec in r.gemm_layers)
            assert total > 0
            return opened, _Counting.reads - opened

    yield measure
    for fh in handles:
        fh.close()


def test_open_and_small_reads_are_o1_in_the_layer_count(tmp_path: Path, counted) -> None:
    few_open, few_read = counted(_write_v2(tmp_path / "few.h5", 20))
    many_open, many_read = counted(_write_v2(tmp_path / "many.h5", 2000))
    assert few_open <= 20 and few_read <= 5, (few_open, few_read)
    # 100 times the layers: the same number of reads, up to a few for larger metadata
    assert many_open <= few_open + 4, (few_open, many_open)
    assert many_read <= few_read + 2, (few_read, many_read)


def test_the_counter_sees_per_layer_metadata(tmp_path: Path, counted) -> None:
    """A v1 trace of 200 layers: opening it reads each layer's group and attributes."""
    path = write_v1(tmp_path / "v1.h5", INFO, _layers(200))
    opened, read = counted(path)
    assert opened >= 200 and read >= 200, (opened, read)




def test_a_second_open_reuses_the_parsed_records(tmp_path: Path) -> None:
    """The records parsed from /meta are remembered by its bytes: a second open of the
    trace (a sweep task, another tile size) returns the same record objects, and a copy
    under another name parses to equal records; a document that fails to parse is
    refused every time, never remembered."""
    path = _write_v2(tmp_path / "a.h5", 30)
    trace_metadata.parse_meta.cache_clear()
    with TraceReader(path) as r:
        first = r.layers
    with TraceReader(path) as r:
        second = r.layers
        assert r.nnz("fc_7") == int(np.count_nonzero(_layers(30)[7][1]))
    assert trace_metadata.parse_meta.cache_info().hits == 1
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert [rec.name for rec in second] == [f"fc_{i}" for i in range(30)]
    with pytest.raises(trace_metadata.Bad, match="not valid JSON"):
        trace_metadata.parse_meta(b"{not json")
    with pytest.raises(trace_metadata.Bad, match="not valid JSON"):
        trace_metadata.parse_meta(b"{not json")
    assert trace_metadata.parse_meta.cache_info().currsize == 1
