"""Layers written one batch of samples at a time along ``B`` (what a capture streams while
the model runs): the stored values equal the batches put side by side, small layers go to
the pool, larger ones to a data set of one chunk of their size, and layers of more than a
chunk are written chunk by chunk as the chunks fill; a binary layer that meets sums of
spikes is widened, params and file attributes are amended at the end, and every misuse is
one error naming the layer."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from prosparsity.core.errors import TraceError
from prosparsity.traces.layout import CHUNK_BYTES, batch_chunk_shape
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

INFO = TraceInfo(model="batches", time_steps=4)
T = 4


def linear(name: str, k: int, levels: tuple[int, ...] = ()) -> LayerRecord:
    return LayerRecord(name, LayerKind.LINEAR, {"in_features": k, "out_features": 3},
                       shape=(T, 0, k), layout="T,B,K", levels=levels)


def batches(k: int, sizes: list[int], seed: int = 0, high: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, high, size=(T, b, k), dtype=np.uint8) for b in sizes]


def ended_together(path: Path, parts: dict[str, list[np.ndarray]],
                   compressor: object = None) -> None:
    """Binary layers ``name -> batches``, appended packed and ended with one
    ``end_layers`` (``compressor``: the writer's Zstandard compressor replaced)."""
    with TraceWriter(path, INFO) as w:
        if compressor is not None:
            w._zstd = compressor
        for name in parts:
            w.begin_layer(linear(name, parts[name][0].shape[-1]), along=1)
        for name, ps in parts.items():
            for p in ps:
                w.append(name, np.packbits(p, axis=-1), packed=True)
        w.end_layers(list(parts))


def assert_read_back(path: Path, parts: dict[str, list[np.ndarray]]) -> None:
    with TraceReader(path) as r:
        for name, ps in parts.items():
            np.testing.assert_array_equal(r.read(name), np.concatenate(ps, axis=1))


@pytest.mark.parametrize(("k", "sizes", "chunks"), [
    (12, [3, 3, 1], None),  # 36 bytes: pooled
    (4096, [16, 16, 16, 5], (T, 53, 512)),  # 106 KiB: one chunk of exactly its size
    (4096, [200, 200, 200, 200, 37], (T, 512, 512)),  # 2 KiB a sample: chunks of 512
])
def test_batches_side_by_side(tmp_path: Path, k: int, sizes: list[int],
                              chunks: tuple[int, ...] | None) -> None:
    parts = batches(k, sizes)
    path = tmp_path / "t.h5"
    grown = []
    with TraceWriter(path, INFO) as w:
        w.begin_layer(linear("fc", k), along=1)
        for p in parts:
            w.append("fc", np.packbits(p, axis=-1), packed=True)
            grown.append(w.tmp_path.stat().st_size)
        rec = w.end_layer("fc")
    assert rec.shape == (T, sum(sizes), k) and rec.levels == (0, 1)
    if chunks == (T, 512, 512):  # the first 512 samples (1 MiB) are written at the third
        assert grown[2] - grown[1] > 1 << 20 > grown[1] - grown[0]
    whole = np.concatenate(parts, axis=1)
    with TraceReader(path) as r:
        assert r.encoding("fc") == "packbits"
        np.testing.assert_array_equal(r.read("fc"), whole)
        s = sum(sizes) - 2
        np.testing.assert_array_equal(r.read_range("fc", 1, s, s + 1), whole[:, s : s + 1])
    with h5py.File(path, "r") as f:
        stored = list(f["data"]) if "data" in f else []
        if chunks is None:
            assert stored == [] and "pool" in f
        else:
            assert stored == ["00000"] and f["data"]["00000"].chunks == chunks


def test_chunks_compressed_by_the_writer_read_back_through_hdf5s_filter(
        tmp_path: Path) -> None:
    """The writer compresses whole chunks itself (on every core, at the end) and stores
    them as they are: each is one Zstandard frame under HDF5's Zstd filter (id 32015,
    filter applied), edge chunks along T and B padded with zeros, and the values read
    back through HDF5 are the batches side by side."""
    zstandard = pytest.importorskip("zstandard")
    k = 300_000  # uint8 levels: 1.2 MB a sample over T=4, so chunks of (3, 1, k)
    parts = batches(k, [2, 1], high=3)
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.begin_layer(linear("fc", k, levels=(0, 1, 2)), along=1)
        for p in parts:
            w.append("fc", p)
        w.end_layers(["fc"])
    whole = np.concatenate(parts, axis=1)
    with TraceReader(path) as r:
        np.testing.assert_array_equal(r.read("fc"), whole)
    with h5py.File(path, "r") as f:
        ds = f["data"]["00000"]
        assert ds.chunks == (3, 1, k) and "32015" in ds._filters  # hdf5plugin's Zstd
        assert ds.id.get_num_chunks() == 6  # T in 3 + 1 (an edge), B in 1 + 1 + 1
        mask, frame = ds.id.read_direct_chunk((3, 2, 0))
        edge = np.frombuffer(zstandard.ZstdDecompressor().decompress(frame), np.uint8)
        assert mask == 0 and edge.size == 3 * k
        np.testing.assert_array_equal(edge[:k], whole[3, 2])
        assert not edge[k:].any()


def test_layers_ended_together_are_compressed_a_bounded_batch_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On one core the batch is one chunk's worth (1 MiB): layers of 1,024,000 bytes
    each are compressed and written two, then one, not all three at once (memory: a
    batch of chunks and their frames), and every layer reads back."""
    import prosparsity.traces.writer as writer_module

    monkeypatch.setattr(writer_module, "_DIRECT_BYTES", 0)
    monkeypatch.setattr(writer_module, "usable_cores", lambda: 1)
    calls: list[int] = []
    direct = TraceWriter._write_direct

    def spy(self: TraceWriter, chunks: list, threads: int) -> None:
        calls.append(len(chunks))
        direct(self, chunks, threads)

    monkeypatch.setattr(TraceWriter, "_write_direct", spy)
    parts = {f"fc{i}": batches(4096, [250, 250], seed=i) for i in range(3)}  # < a chunk
    path = tmp_path / "t.h5"
    ended_together(path, parts)
    assert [c for c in calls if c] == [2, 1]  # a chunk a layer; two reach the bound
    assert_read_back(path, parts)


def test_a_compressor_without_multi_compress_writes_one_chunk_after_another(
        tmp_path: Path) -> None:
    """zstandard's CFFI backend has no ``multi_compress_to_buffer``: the chunks are then
    compressed one by one, and read back the same."""
    zstandard = pytest.importorskip("zstandard")

    class OneByOne:  # compress only, as the CFFI backend offers it
        def __init__(self) -> None:
            self.calls = 0
            self._c = zstandard.ZstdCompressor(level=3)

        def compress(self, data: np.ndarray) -> bytes:
            self.calls += 1
            return self._c.compress(data)

    parts = {f"fc{i}": batches(4096, [16, 5], seed=i) for i in range(2)}
    path = tmp_path / "t.h5"
    one = OneByOne()
    ended_together(path, parts, compressor=one)
    assert one.calls == 2
    assert_read_back(path, parts)


def test_chunks_of_samples_stay_within_the_chunk_budget() -> None:
    assert batch_chunk_shape((4, 0, 64, 48)) == (4, 85, 64, 48)
    assert batch_chunk_shape((4, 0, 64, 48), 32) == (4, 32, 64, 48)
    assert batch_chunk_shape((4, 0, 64, 384)) == (4, 10, 64, 384)
    assert batch_chunk_shape((4, 0, 1024, 1024)) == (1, 1, 1024, 1024)
    assert batch_chunk_shape((4, 0, 2 * CHUNK_BYTES)) == (1, 1, 2 * CHUNK_BYTES)
    for shape in ((16, 0, 3, 300), (2, 0, 5000), (100, 0, 7), (3, 5, 1 << 19)):
        chunk = batch_chunk_shape(shape)
        assert np.prod(chunk) <= CHUNK_BYTES and chunk[2:] == shape[2:]


@pytest.mark.parametrize(("k", "n"), [(12, 8), (4096, 8), (4096, 300)])
def test_a_binary_layer_widened_by_sums_of_spikes(tmp_path: Path, k: int, n: int) -> None:
    """Pooled, kept, and with a chunk already written (600 samples of 2 KiB)."""
    binary = batches(k, [n, n], seed=1)
    sums = batches(k, [n], seed=2, high=4)
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.begin_layer(linear("fc", k), along=1)
        for p in binary:
            w.append("fc", np.packbits(p, axis=-1), packed=True)
        w.widen("fc")
        w.append("fc", sums[0])
        w.append("fc", binary[0])  # binary again: taken unpacked
        rec = w.end_layer("fc")
    whole = np.concatenate([*binary, *sums, binary[0]], axis=1)
    assert rec.levels == (0, 1, 2, 3) and rec.shape == (T, 4 * n, k)
    with TraceReader(path) as r:
        assert r.encoding("fc") == "uint8" and r.record("fc").levels == (0, 1, 2, 3)
        np.testing.assert_array_equal(r.read("fc"), whole)


def test_open_levels_are_those_found(tmp_path: Path) -> None:
    parts = batches(40, [5, 5], seed=3, high=3)
    parts[1][parts[1] == 2] = 7
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.begin_layer(linear("fc", 40, levels=(0, 1, 2)), along=1, open_levels=True)
        for p in parts:
            w.append("fc", p)
        assert w.end_layer("fc").levels == (0, 1, 2, 7)
    with TraceReader(path) as r:
        np.testing.assert_array_equal(r.read("fc"), np.concatenate(parts, axis=1))


def test_levels_the_caller_found_are_taken_and_still_checked(tmp_path: Path) -> None:
    """``append(levels=...)`` (what a capture's check found) is not looked for again: the
    record's levels are those given; declared levels still refuse one outside them."""
    parts = batches(40, [5, 5], seed=3, high=3)
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.begin_layer(linear("fc", 40, levels=(0, 1, 2)), along=1, open_levels=True)
        w.append("fc", parts[0], levels={0, 1, 2})
        w.append("fc", parts[1], levels={0, 1, 2, 5})  # taken as given
        assert w.end_layer("fc").levels == (0, 1, 2, 5)
    with pytest.raises(TraceError, match=r"values \[5\]"), TraceWriter(
            tmp_path / "u.h5", INFO) as w:
        w.begin_layer(linear("fc", 40, levels=(0, 1, 2)), along=1)
        w.append("fc", parts[0], levels={0, 1, 2, 5})


def test_params_and_info_amended_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.add_layer(LayerRecord("lif", LayerKind.LIF, {"neurons": 3}))
        w.begin_layer(linear("fc", 8), along=1)
        w.append("fc", np.ones((T, 2, 8), np.uint8))
        w.amend("lif", {"neurons": 3, "spikes": 5, "elements": 24})
        final = w.end_layer("fc")
        assert w.amend("fc", {**final.params, "batch": 2}).params["batch"] == 2
        w.set_info(TraceInfo(model="batches", time_steps=T, samples=2, batch_size=2))
        with pytest.raises(TraceError, match="samples"):
            w.set_info(TraceInfo(model="batches", time_steps=T, samples=0))
    with TraceReader(path) as r:
        assert r.info.samples == 2 and r.info.tool_version
        assert r.record("lif").params["spikes"] == 5 and r.record("fc").params["batch"] == 2


def test_misuse_is_one_error_naming_the_layer(tmp_path: Path) -> None:
    with TraceWriter(tmp_path / "t.h5", INFO) as w:
        with pytest.raises(TraceError, match="layer 'v': begin_layer needs .* at least 3 axes"):
            w.begin_layer(LayerRecord("v", LayerKind.LINEAR, {"in_features": 2,
                                                              "out_features": 1},
                                      shape=(T, 2)), along=1)
        w.begin_layer(linear("fc", 8), along=1)
        with pytest.raises(TraceError, match=r"shape mismatch: chunk \(3, 2, 8\), expected "
                                              r"\(4, n, 8\)"):
            w.append("fc", np.zeros((3, 2, 8), np.uint8))
        with pytest.raises(TraceError, match="declared binary"):
            w.append("fc", np.full((T, 2, 8), 2, np.uint8))
        with pytest.raises(TraceError, match="layer 'nope': amend of a layer not in the trace"):
            w.amend("nope", {})
        with pytest.raises(TraceError, match="widen of a layer not opened"):
            w.widen("nope")
        with pytest.raises(TraceError, match="layer 'fc': .*empty"):
            w.end_layer("fc")
