"""Trace format v2 (and v1, still read): round trips (hypothesis) and every kind of bad
input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from prosparsity.core.errors import TraceError
from prosparsity.traces import layout as trace_layout
from prosparsity.traces import seal
from prosparsity.traces.layout import DEFAULT_COMPRESSION, Compression
from prosparsity.traces.reader import TraceReader, read_info, read_layers
from prosparsity.traces.schema import SCHEMA_VERSION, LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

from .legacy import edit_meta, first_v2_layout, tamper, write_v1

INFO = TraceInfo(
    model="tiny",
    dataset="unit test",
    time_steps=4,
    batch_size=2,
    samples=3,
    weights="random",
    checkpoint="/ckpt/tiny.pt",
    checkpoint_sha256="ab" * 32,
    extra={"note": "hello"},
)


def fc(name: str = "fc", k: int = 5, layout: str = "T,K", **kw: object) -> LayerRecord:
    return LayerRecord(
        name, LayerKind.LINEAR, {"in_features": k, "out_features": 3}, layout=layout, **kw
    )


def write_simple(path: Path, data: np.ndarray | None = None) -> np.ndarray:
    """A three-record trace: a 3x5 binary fc layer, a LIF record, a 2x4 fc of 0..2."""
    a = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    if data is not None:
        a = data
    with TraceWriter(path, INFO) as w:
        w.add_layer(fc("fc_0"), a)
        w.add_layer(LayerRecord("lif_0", LayerKind.LIF, {"neurons": 3}))
        w.add_layer(fc("fc_1", k=4), np.array([[0, 2, 1, 0], [2, 2, 0, 1]], dtype=np.uint8))
    return a


# ---------------------------------------------------------------------------- round trips


def test_simple_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    a = write_simple(path)
    assert sorted(os.listdir(tmp_path)) == ["t.h5"]  # no temporary left behind
    with TraceReader(path) as r:
        info = r.info
        assert (info.model, info.dataset, info.time_steps, info.batch_size) == (
            "tiny",
            "unit test",
            4,
            2,
        )
        assert (info.samples, info.weights, info.checkpoint) == (3, "random", "/ckpt/tiny.pt")
        assert info.checkpoint_sha256 == "ab" * 32 and dict(info.extra) == {"note": "hello"}
        assert info.tool_version and info.created.endswith("+00:00")
        assert [x.name for x in r.layers] == ["fc_0", "lif_0", "fc_1"]
        assert [x.name for x in r.gemm_layers] == ["fc_0", "fc_1"]
        r0, lif, r1 = r.layers
        assert r0.shape == (3, 5) and r0.levels == (0, 1) and r0.binary
        assert r0.params == {"in_features": 5, "out_features": 3}
        assert lif.kind is LayerKind.LIF and lif.shape == () and dict(lif.params) == {"neurons": 3}
        assert r1.levels == (0, 1, 2) and not r1.binary
        out = r.read("fc_0")
        assert out.dtype == np.uint8 and np.array_equal(out, a)
        assert np.array_equal(r.read_packed("fc_0"), np.packbits(a, axis=-1))
        assert r.read("fc_1").tolist() == [[0, 2, 1, 0], [2, 2, 0, 1]]
        assert r.nnz("fc_0") == 8 and r.nnz("fc_1") == 5
    assert read_info(path).model == "tiny"
    assert len(read_layers(path)) == 3


def test_tuple_params_survive(tmp_path: Path) -> None:
    rec = LayerRecord(
        "c",
        LayerKind.CONV2D,
        {"in_channels": 1, "out_channels": 2, "kernel": (3, 3), "input_hw": (4, 4)},
        layout="T,C,H,W",
    )
    with TraceWriter(tmp_path / "t.h5", INFO) as w:
        stored = w.add_layer(rec, np.ones((1, 1, 4, 4), dtype=bool))
    (back,) = read_layers(tmp_path / "t.h5")
    assert back == stored
    assert back.params["kernel"] == (3, 3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=arrays(
        np.uint8,
        array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=19),
        elements=st.integers(0, 1),
    ),
    chunk=st.integers(1, 7),
)
def test_binary_round_trip(tmp_path: Path, data: np.ndarray, chunk: int) -> None:
    path = tmp_path / "bin.h5"
    layout = ",".join("ABCD"[: data.ndim])
    with TraceWriter(path, INFO) as w:
        w.add_layer(LayerRecord("x", LayerKind.CONV1D, layout=layout, levels=(0, 1)), data)
    with TraceReader(path) as r:
        assert r.layers[0].shape == data.shape
        back = r.read("x")
        assert back.dtype == np.uint8 and np.array_equal(back, data)
        pieces = list(r.iter_chunks("x", chunk))
        assert [len(p) for p in pieces] == [
            min(chunk, data.shape[0] - s) for s in range(0, data.shape[0], chunk)
        ]
        assert np.array_equal(np.concatenate(pieces), data)
        assert r.nnz("x") == int(data.sum())
        packed = np.concatenate(list(r.iter_chunks("x", chunk, packed=True)))
        assert np.array_equal(packed, np.packbits(data, axis=-1))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=arrays(
        np.uint8,
        array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=13),
        elements=st.integers(0, 4),
    )
)
def test_multilevel_round_trip(tmp_path: Path, data: np.ndarray) -> None:
    path = tmp_path / "ml.h5"
    with TraceWriter(path, INFO) as w:
        stored = w.add_layer(LayerRecord("x", LayerKind.ATTENTION_OPERAND), data)
    present = tuple(np.unique(data).tolist())
    assert stored.levels == (present if data.max() > 1 else (0, 1))
    with TraceReader(path) as r:
        assert r.layers[0].levels == stored.levels
        assert np.array_equal(r.read("x"), data)
        assert np.array_equal(np.concatenate(list(r.iter_chunks("x", 3))), data)


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (np.zeros(0, np.uint8), ()),
        (np.zeros((3, 0), bool), ()),
        (np.zeros(5, bool), (0,)),
        (np.ones(5, bool), (1,)),
        (np.array([0, 1, 0], bool), (0, 1)),
        (np.zeros(9, np.uint8), (0,)),
        (np.ones(9, np.uint8), (1,)),
        (np.full(9, 255, np.uint8), (255,)),
        (np.array([0, 1, 1, 0], np.uint8), (0, 1)),
        (np.array([7, 0, 3, 3, 0], np.uint8), (0, 3, 7)),
        (np.array([4, 9, 3], np.uint8), (3, 4, 9)),
        (np.array([0, 17, 16, 1], np.uint8), (0, 1, 16, 17)),  # 16 values between: one by one
        (np.array([0, 18, 17, 1], np.uint8), (0, 1, 17, 18)),  # 17: a histogram
        (np.arange(256, dtype=np.uint8)[::-1], tuple(range(256))),
    ],
)
def test_levels_of(data: np.ndarray, want: tuple[int, ...]) -> None:
    assert trace_layout.levels_of(data) == want


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    levels=st.sampled_from([(0, 1), (0,), (1,), (0, 1, 2), (0, 3, 7), (2, 5), (0, 255),
                            (0, 1, 255), tuple(range(0, 256, 5)), (0, 16), (0, 20)]),
    size=st.integers(1, 400),
    slab=st.sampled_from([1, 7, 64, 1 << 20]),
    rare=st.none() | st.integers(0, 255),
    strided=st.booleans(),
)
def test_levels_of_is_numpys(seed: int, levels: tuple[int, ...], size: int, slab: int,
                             rare: int | None, strided: bool) -> None:
    """Random data of some levels, perhaps with one more value in its last place (the
    last slab); slabs as small as one value."""
    rng = np.random.default_rng(seed)
    data = rng.choice(np.array(levels, np.uint8), size=(size, 3))
    if rare is not None:
        data[-1, -1] = rare
    if strided:
        data = data[:, ::2]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trace_layout, "_LEVEL_SLAB", slab)
        assert trace_layout.levels_of(data) == tuple(np.unique(data).tolist())
        if data.max() <= 1:
            assert trace_layout.levels_of(data.astype(bool)) == tuple(np.unique(data).tolist())


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=arrays(
        np.uint8,
        array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=11),
        elements=st.integers(0, 1),
    ),
    cuts=st.lists(st.integers(0, 11), max_size=4),
    packed=st.booleans(),
    known_length=st.booleans(),
)
def test_streaming_round_trip(
    tmp_path: Path, data: np.ndarray, cuts: list[int], packed: bool, known_length: bool
) -> None:
    path = tmp_path / "s.h5"
    shape = data.shape if known_length else (0, *data.shape[1:])
    bounds = sorted({0, data.shape[0], *(c for c in cuts if c < data.shape[0])})
    with TraceWriter(path, INFO) as w:
        w.begin_layer(LayerRecord("a", LayerKind.LINEAR, shape=shape))
        w.begin_layer(LayerRecord("b", LayerKind.LINEAR, shape=shape))  # two open at once
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            piece = data[lo:hi]
            w.append("a", np.packbits(piece, axis=-1) if packed else piece, packed=packed)
            w.append("b", piece.astype(bool))
        w.end_layer("a")
    with TraceReader(path) as r:
        assert [x.name for x in r.layers] == ["a", "b"]
        assert r.layers[0].shape == data.shape
        assert np.array_equal(r.read("a"), data) and np.array_equal(r.read("b"), data)


def test_streaming_multilevel_needs_declared_levels(tmp_path: Path) -> None:
    path = tmp_path / "s.h5"
    with TraceWriter(path, INFO) as w:
        w.begin_layer(LayerRecord("m", LayerKind.LINEAR, shape=(2, 3), levels=(0, 1, 2)))
        w.append("m", np.array([[0, 2, 1]], dtype=np.uint8))
        w.append("m", np.array([[2, 2, 0]], dtype=np.uint8))
        with pytest.raises(TraceError, match="declared binary"):
            w.begin_layer(LayerRecord("n", LayerKind.LINEAR, shape=(1, 3)))
            w.append("n", np.array([[0, 2, 1]], dtype=np.uint8))
        w.append("n", np.array([[0, 1, 1]], dtype=np.uint8))
    with TraceReader(path) as r:
        assert r.read("m").tolist() == [[0, 2, 1], [2, 2, 0]]
        assert r.record("n").levels == (0, 1)


# ---------------------------------------------------------------------------- writer errors


def test_writer_exception_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    with pytest.raises(RuntimeError, match="capture crashed"), TraceWriter(path, INFO) as w:
        w.add_layer(fc(), np.zeros((2, 5), dtype=bool))
        assert w.tmp_path.exists() and not path.exists()
        raise RuntimeError("capture crashed")
    assert os.listdir(tmp_path) == []


def test_writer_exception_keeps_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    with pytest.raises(KeyboardInterrupt), TraceWriter(path, INFO) as w:
        w.add_layer(fc("other"), np.zeros((2, 5), dtype=bool))
        raise KeyboardInterrupt
    assert [x.name for x in read_layers(path)] == ["fc_0", "lif_0", "fc_1"]


def test_killed_writer_temp_reads_incomplete(tmp_path: Path) -> None:
    """A writer killed mid-way leaves only its temp file, which never reads as complete:
    under its own name it is recognised by the name, under any other by its empty seal."""
    path = tmp_path / "t.h5"
    w = TraceWriter(path, INFO)
    w.__enter__()
    w.add_layer(fc(), np.zeros((2, 5), dtype=bool))
    w._file.flush()  # what a crash leaves on disk: data, but no seal
    leftover = tmp_path / "copy.h5"
    leftover.write_bytes(w.tmp_path.read_bytes())
    with pytest.raises(TraceError, match=r"incomplete write: this is the temporary file of a "
                       rf"writer \(process {os.getpid()}\) that did not finish 't.h5'"):
        TraceReader(w.tmp_path).open()
    w.__exit__(RuntimeError, RuntimeError("x"), None)
    assert not path.exists()
    with pytest.raises(TraceError, match="incomplete write: the writer did not finish") as exc:
        TraceReader(leftover).open()
    assert str(leftover) in str(exc.value)


def test_sigkilled_writer_and_its_cleanup(tmp_path: Path) -> None:
    """A writer process killed by SIGKILL leaves no target and a temp file that reads as an
    incomplete write; the next write of the same target removes it (dead pid)."""
    script = f"""
import os, signal
import numpy as np
from prosparsity.traces.writer import TraceWriter
from prosparsity.traces.schema import LayerRecord, TraceInfo
with TraceWriter({str(tmp_path / "t.h5")!r}, TraceInfo(model="m")) as w:
    w.add_layer(LayerRecord("fc", "linear", layout="T,K"), np.ones((4, 9), dtype=bool))
    w._file.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not (tmp_path / "t.h5").exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith("t.h5.tmp-")
    with pytest.raises(TraceError) as exc:
        TraceReader(leftover).open()
    assert str(exc.value).startswith(str(leftover))
    assert ": incomplete write: this is the temporary file of a writer (process" in str(exc.value)
    alive = tmp_path / f"t.h5.tmp-{os.getpid()}-abcdef"  # a live writer's file stays
    alive.write_bytes(b"")
    other = tmp_path / "u.h5.tmp-999999999-abcdef"  # another target's file stays
    other.write_bytes(b"")
    write_simple(tmp_path / "t.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["t.h5", alive.name, other.name])


def test_binary_declared_but_not(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    with pytest.raises(TraceError) as exc, TraceWriter(path, INFO) as w:
        w.add_layer(fc(levels=(0, 1)), np.array([[0, 1, 2, 0, 1]]))
    assert "layer 'fc'" in str(exc.value)
    assert "values [2] but the layer is declared binary" in str(exc.value)
    assert not path.exists()


def test_writer_shape_mismatch(tmp_path: Path) -> None:
    with pytest.raises(TraceError) as exc, TraceWriter(tmp_path / "t.h5", INFO) as w:
        w.add_layer(fc(shape=(4, 5)), np.zeros((3, 5), dtype=bool))
    assert "layer 'fc': shape mismatch: record declares (4, 5), data has (3, 5)" in str(exc.value)


def test_writer_layout_mismatch(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="layout 'T,K' names 2 axes but the shape"):
        with TraceWriter(tmp_path / "t.h5", INFO) as w:
            w.add_layer(fc(), np.zeros((3, 1, 5), dtype=bool))


@pytest.mark.parametrize(
    ("record", "data", "message"),
    [
        (fc(), None, "a linear layer needs its input data"),
        (LayerRecord("l", LayerKind.LIF), np.zeros(3), "a lif record carries no data"),
        (fc(), np.array([[0.5, 1, 0, 0, 0]]), "whole numbers"),
        (fc(), np.array([[-1, 1, 0, 0, 0]]), "integers in 0..255, found range -1..1"),
        (fc(), np.array(["a"]), "unsupported data type"),
    ],
)
def test_writer_bad_data(tmp_path: Path, record, data, message: str) -> None:
    with pytest.raises(TraceError, match=message), TraceWriter(tmp_path / "t.h5", INFO) as w:
        w.add_layer(record, data)


def test_writer_duplicate_and_streaming_errors(tmp_path: Path) -> None:
    with TraceWriter(tmp_path / "t.h5", INFO) as w:
        w.add_layer(fc(), np.zeros((1, 5), dtype=bool))
        with pytest.raises(TraceError, match="layer 'fc': duplicate layer name"):
            w.add_layer(fc(), np.zeros((1, 5), dtype=bool))
        w.begin_layer(fc("s", shape=(2, 5)))
        with pytest.raises(TraceError, match=r"shape mismatch: chunk \(1, 4\)"):
            w.append("s", np.zeros((1, 4), dtype=bool))
        with pytest.raises(TraceError, match=r"packed chunk \(1, 2\), expected"):
            w.append("s", np.zeros((1, 2), dtype=np.uint8), packed=True)
        with pytest.raises(TraceError, match="not opened by begin_layer"):
            w.append("nope", np.zeros((1, 5), dtype=bool))
        w.append("s", np.zeros((1, 5), dtype=bool))
        with pytest.raises(TraceError, match="1 entries appended along the first axis, record"):
            w.end_layer("s")


def test_writer_outside_with(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside a `with` block"):
        TraceWriter(tmp_path / "t.h5", INFO).add_layer(fc(), np.zeros((1, 5)))


# ---------------------------------------------------------------------------- reader errors


def write_simple_v1(path: Path, data: np.ndarray | None = None) -> np.ndarray:
    """:func:`write_simple`'s three records as a schema v1 file."""
    a = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    if data is not None:
        a = data
    write_v1(path, INFO, [
        (fc("fc_0"), a),
        (LayerRecord("lif_0", LayerKind.LIF, {"neurons": 3}), None),
        (fc("fc_1", k=4), np.array([[0, 2, 1, 0], [2, 2, 0, 1]], dtype=np.uint8)),
    ])  # fmt: skip
    return a


def open_error(path: Path) -> str:
    with pytest.raises(TraceError) as exc, TraceReader(path) as r:
        for rec in r.gemm_layers:
            r.read(rec.name)
    msg = str(exc.value)
    assert msg.startswith(str(path))
    return msg


def test_v1_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "v1.h5"
    a = write_simple_v1(path)
    with TraceReader(path) as r, TraceReader(write_simple(tmp_path / "v2.h5") is None
                                             or tmp_path / "v2.h5") as r2:
        assert (r.schema_version, r.has_digest, r2.schema_version, r2.has_digest) == (
            1, False, 2, True)
        assert replace(r.info, tool_version="", created="") == replace(
            r2.info, tool_version="", created="")
        assert r.layers == r2.layers
        for rec in r.gemm_layers:
            assert np.array_equal(r.read(rec.name), r2.read(rec.name))
            assert r.nnz(rec.name) == r2.nnz(rec.name)
        assert np.array_equal(r.read("fc_0"), a)
        import hashlib

        assert r.digest == hashlib.sha256(path.read_bytes()).hexdigest()
        assert r2.digest == hashlib.sha256((tmp_path / "v2.h5").read_bytes()[512:]).hexdigest()


def test_missing_file(tmp_path: Path) -> None:
    assert open_error(tmp_path / "nope.h5").endswith("nope.h5: file not found")


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "random.h5"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    assert open_error(path).endswith("not an HDF5 file (is this a trace?)")
    path.write_bytes(b"")
    assert open_error(path).endswith("not an HDF5 file (is this a trace?)")


def test_truncated(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    assert "truncated or corrupt" in open_error(path)
    write_simple(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    assert "damaged trace: its header says" in open_error(path)
    assert "(truncated or appended to)" in open_error(path)
    path.write_bytes(raw[:300])
    assert open_error(path).endswith("damaged trace: truncated inside its header")


def test_truncated_to_superblock(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    path.write_bytes(path.read_bytes()[:100])
    assert "truncated or corrupt" in open_error(path)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (0, "damaged trace: its header is not a trace header"),
        (20, "damaged trace: its header is garbled"),
        (400, "damaged trace: its header is garbled"),  # the zero padding is checked too
        (600, "damaged trace: the SHA-256 of its content does not match the digest"),
        (-1, "damaged trace: the SHA-256 of its content does not match the digest"),
    ],
)
def test_v2_damage_anywhere_is_caught_before_hdf5(
    tmp_path: Path, offset: int, message: str
) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    assert message in open_error(path)


def test_v2_seal_zeroed_reads_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    raw = bytearray(path.read_bytes())
    raw[:512] = bytes(512)
    path.write_bytes(bytes(raw))
    assert "incomplete write: the writer did not finish" in open_error(path)


def test_v2_file_swapped_between_check_and_open(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    other = tmp_path / "o.h5"
    write_simple(other, np.ones((2, 5), dtype=bool))
    from prosparsity.traces import reader as tio

    real = tio._verified_seal

    def swap(p: Path, st: os.stat_result):
        found = real(p, st)
        os.replace(other, path)
        return found

    monkeypatch.setattr(tio, "_verified_seal", swap)
    assert open_error(path).endswith("the file changed while it was opened; try again")


def test_wrong_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f.attrs.__setitem__("schema_version", SCHEMA_VERSION + 1))
    assert open_error(path).endswith(
        f"unsupported schema version {SCHEMA_VERSION + 1} (this tool reads versions 1 and 2)"
    )
    tamper(path, lambda f: f.attrs.__setitem__("schema_version", 2))
    assert open_error(path).endswith(
        "damaged trace: a version 2 trace without its header (digest)"
    )
    # v2: the version is the sealed header's; the root attributes are never read
    write_simple(path)
    with h5py.File(path, "r") as f:
        assert (f.attrs["schema"], f.attrs["schema_version"]) == ("prosparsity-trace", 2)
    tamper(path, lambda f: f.attrs.__setitem__("schema_version", 1))
    with TraceReader(path) as r:
        assert r.schema_version == 2 and r.read("fc_1").shape == (2, 4)
    for version, message in ((3, "unsupported schema version 3 (this tool reads versions "
                                  "1 and 2)"),
                             (1, "damaged trace: its header declares version 1")):
        with open(path, "r+b") as fh:
            seal.seal(fh, version)
        assert open_error(path).endswith(message)


def test_missing_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "v1.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f.attrs.__delitem__("schema_version"))
    assert open_error(path).endswith("missing attribute 'schema_version'")


def test_wrong_schema_name(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = "something-else"
    assert "not a prosparsity trace (schema 'something-else'" in open_error(path)


def test_missing_attributes(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)

    def drop(f: h5py.File) -> None:
        del f.attrs["model"]
        del f.attrs["time_steps"]

    tamper(path, drop)
    assert open_error(path).endswith("missing attribute(s) model, time_steps")
    write_simple(path)
    edit_meta(path, lambda d: d["info"].pop("model"))
    assert open_error(path).endswith("info lacks the field 'model'")
    write_simple(path)
    edit_meta(path, lambda d: d["info"].__setitem__("time_steps", "4"))
    assert open_error(path).endswith("info field 'time_steps' has the wrong type (str)")


@pytest.mark.parametrize("field", ["time_steps", "batch_size", "samples"])
@pytest.mark.parametrize("value", [0, -5])
def test_non_positive_counts_are_refused(tmp_path: Path, field: str, value: int) -> None:
    with pytest.raises(TraceError, match=rf"{field} must be a whole number >= 1, found {value}"):
        TraceWriter(tmp_path / "t.h5", replace(INFO, **{field: value}))
    path = tmp_path / "v1.h5"
    write_v1(path, replace(INFO, **{field: value}), [(fc("fc_0"), np.ones((1, 5), bool))])
    assert open_error(path).endswith(f"{field} must be >= 1, the file says {value}")
    path = tmp_path / "v2.h5"
    write_simple(path)
    edit_meta(path, lambda d: d["info"].__setitem__(field, value))
    assert open_error(path).endswith(f"{field} must be >= 1, the file says {value}")


def test_empty_layers_are_refused(tmp_path: Path) -> None:
    """Decision: a GEMM layer without values is refused where it enters (writer, and the
    reader for files written before), so analysis never meets one."""
    path = tmp_path / "t.h5"
    with pytest.raises(TraceError, match=r"layer 'fc': empty layer: its input of shape "
                       r"\(0, 576\) holds no values"), TraceWriter(path, INFO) as w:
        w.add_layer(fc(k=576), np.zeros((0, 576), dtype=bool))
    with pytest.raises(TraceError, match="layer 's': empty layer"), TraceWriter(path, INFO) as w:
        w.begin_layer(fc("s", shape=(0, 5)))
    assert not path.exists()
    write_v1(path, INFO, [(fc("fc_0", k=576), np.zeros((0, 576), bool))])
    assert open_error(path).endswith("layer 'fc_0': empty layer: its input of shape (0, 576) "
                                     "holds no values (a GEMM layer needs at least one; leave "
                                     "the layer out instead)")


def test_missing_complete_marker(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f.attrs.__delitem__("complete"))
    assert "incomplete trace: the writer did not finish" in open_error(path)


def test_shape_mismatch_metadata_vs_data(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00000"].attrs.__setitem__("shape", [3, 9]))
    msg = open_error(path)
    assert "layer 'fc_0': shape mismatch: metadata says (3, 9)" in msg
    assert "stored data is (3, 1)" in msg
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][0].__setitem__("shape", [3, 9]))
    msg = open_error(path)
    assert "layer 'fc_0': shape mismatch: metadata says (3, 9)" in msg


def test_non_binary_data_declared_binary(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00002"].attrs.__setitem__("levels", [0, 1]))
    assert open_error(path).endswith(
        "layer 'fc_1': data holds values [2] outside the declared levels (0, 1)"
    )
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][2].__setitem__("levels", [0, 1, 3]))
    assert open_error(path).endswith(
        "layer 'fc_1': data holds values [2] outside the declared levels (0, 1, 3)"
    )


def test_packed_data_declared_multilevel(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00000"].attrs.__setitem__("levels", [0, 1, 2]))
    assert "layer 'fc_0': layer declares levels (0, 1, 2) but its data is stored bit-packed" in (
        open_error(path)
    )
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][0].__setitem__("levels", [0, 1, 2]))
    assert "layer 'fc_0': layer declares levels (0, 1, 2) but its data is stored bit-packed" in (
        open_error(path)
    )


def test_missing_layer_and_attribute(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00001"].attrs.__delitem__("kind"))
    assert open_error(path).endswith("layer 'lif_0': missing layer attribute(s) kind")
    tamper(path, lambda f: f["layers"].__delitem__("00001"))
    assert open_error(path).endswith("file lists 3 layers but holds 2 (truncated?)")
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][1].pop("kind"))
    assert open_error(path).endswith("layer 'lif_0': layer lacks the field 'kind'")
    write_simple(path)
    tamper(path, lambda f: f.__delitem__("pool"))
    assert open_error(path).endswith("missing the data set '/pool' of the small layers")
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][2].__setitem__("pool", [20, 8]))
    assert open_error(path).endswith(
        "layer 'fc_1': its place in '/pool' (20..28) lies past the end (11 bytes)"
    )
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][2].__setitem__("pool", [0, 7]))
    assert open_error(path).endswith(
        "layer 'fc_1': shape mismatch: metadata says (2, 4) (uint8 store (2, 4)), its place "
        "in '/pool' holds 7 bytes"
    )
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][1].__setitem__("pool", [0, 3]))
    assert open_error(path).endswith("layer 'lif_0': a lif record carries no data but has "
                                     "a place in the pool")
    big = tmp_path / "big.h5"  # a layer above POOL_BYTES has its own data set
    with TraceWriter(big, INFO) as w:
        w.add_layer(fc("fc_0", k=5000), np.ones((40, 5000), dtype=bool))
    tamper(big, lambda f: f["data"].__delitem__("00000"))
    assert open_error(big).endswith("layer 'fc_0': missing the data set '/data/00000'")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("layers"), "the metadata lacks the layer list ('layers')"),
        (lambda d: d.__setitem__("info", []), "the metadata lacks the file attributes ('info')"),
        (lambda d: d["layers"].__setitem__(0, 3), "layer #0 is not a JSON object"),
        (lambda d: d["layers"][0].__setitem__("kind", "dense"), "unknown layer kind 'dense'"),
        (lambda d: d["layers"][0].__setitem__("shape", [3, "5"]), "must be a list of whole"),
        (lambda d: d["layers"][0].__setitem__("encoding", "zip"), "unknown data encoding 'zip'"),
        (lambda d: d["layers"][1].__setitem__("encoding", "uint8"), "carries no data but"),
        (lambda d: d["layers"][2].__setitem__("name", "fc_0"), "duplicate layer name"),
        (lambda d: d["layers"][0].__setitem__("levels", [1, 0]), "are not distinct values"),
        (lambda d: d["info"]["extra"].__setitem__("n", 3), "'extra' must map names to strings"),
        (lambda d: d["info"].__setitem__("weights", "x"), "weights must be one of trained"),
        (lambda d: d["layers"][0].__setitem__("in_network", 1), "'in_network' has the wrong"),
    ],
)
def test_v2_metadata_validation(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    edit_meta(path, edit)
    assert message in open_error(path)


def test_v2_metadata_not_json(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)

    def garble(f: h5py.File) -> None:
        del f["meta"]
        f.create_dataset("meta", data=np.frombuffer(b"{not json", np.uint8))

    tamper(path, garble)
    assert "the metadata is not valid JSON" in open_error(path)
    tamper(path, lambda f: f.__delitem__("meta"))
    assert open_error(path).endswith("missing the metadata data set '/meta'")


def test_v1_damaged_chunk_index_is_caught(tmp_path: Path) -> None:
    """A v1 layer whose chunk index lost chunks used to read as zeros without error. A
    data set with one chunk never written looks the same to HDF5, so it stands in."""
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(0)
    write_v1(path, INFO, [(fc("fc_0", k=4000), rng.random((400, 4000)) < 0.5)])

    def drop_last_chunk(f: h5py.File) -> None:
        ds = f["layers/00000/data"]
        data, chunks = ds[()], ds.chunks
        del f["layers/00000/data"]
        new = f["layers/00000"].create_dataset(
            "data", shape=data.shape, dtype=np.uint8, chunks=chunks, compression="lzf",
            fletcher32=True,
        )
        new[: data.shape[0] - chunks[0]] = data[: data.shape[0] - chunks[0]]
        new.attrs["encoding"] = "packbits"

    tamper(path, drop_last_chunk)
    msg = open_error(path)
    assert msg.endswith("layer 'fc_0': damaged trace: its data has 12 of its 16 chunks (the "
                        "chunk index is damaged)"), msg


def test_corrupt_chunk(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(0)
    write_simple_v1(path, rng.random((64, 40)) < 0.5)
    with h5py.File(path, "r") as f:
        offset = f["layers/00000/data"].id.get_chunk_info(0).byte_offset
    raw = bytearray(path.read_bytes())
    raw[offset + 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert "layer 'fc_0': corrupt data (checksum or read error)" in open_error(path)


def test_packed_padding_bits(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00000/data"].__setitem__((0, 0), 0xFF))
    assert open_error(path).endswith("layer 'fc_0': corrupt data: packed padding bits set")
    write_simple(path)
    tamper(path, lambda f: f["pool"].__setitem__(0, 0xFF))  # fc_0 is pooled: bytes 0..2
    assert open_error(path).endswith("layer 'fc_0': corrupt data: packed padding bits set")
    with TraceReader(path) as r, pytest.raises(TraceError, match="padding bits set"):
        r.nnz("fc_0")  # `trace info` counts through nnz: same checks as a read


def test_unknown_layer(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple(path)
    with TraceReader(path) as r:
        with pytest.raises(TraceError, match="layer 'x': no such layer"):
            r.read("x")
        with pytest.raises(TraceError, match="layer 'lif_0': a lif record carries no data"):
            r.read("lif_0")
        with pytest.raises(TraceError, match="multi-level"):
            r.read_packed("fc_1")


def test_read_packed_range(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    data = np.random.default_rng(3).random((4, 3, 11)) < 0.5
    with TraceWriter(path, INFO) as w:
        w.add_layer(fc("x", k=11, layout="T,B,K"), data)
    with TraceReader(path) as r:
        got = r.read_packed_range("x", 1, 1, 3)
        assert np.array_equal(got, np.packbits(data[:, 1:3], axis=-1))
        with pytest.raises(TraceError, match="packed"):
            r.read_packed_range("x", 2, 0, 1)


def test_upgrade_keeps_every_record_and_bit(tmp_path: Path) -> None:
    from prosparsity.traces.upgrade import upgrade

    path = tmp_path / "t.h5"
    rng = np.random.default_rng(5)
    big = rng.random((70, 3, 2100)) < 0.3
    write_v1(path, INFO, [
        (fc("fc_0"), np.array([[1, 0, 1, 1, 0]], bool)),
        (LayerRecord("lif_0", LayerKind.LIF, {"neurons": 3, "spikes": 2, "elements": 6}), None),
        (fc("big", k=2100, layout="T,B,K"), big),
        (fc("ml", k=4), np.array([[0, 3, 1, 0]], np.uint8)),
    ])  # fmt: skip
    with TraceReader(path) as r:
        before = (r.info, r.layers, [r.read(x.name) for x in r.gemm_layers])
    import prosparsity.traces.upgrade as tio

    monkey = tio._UPGRADE_WHOLE
    tio._UPGRADE_WHOLE = 1000  # exercise the packed slab copy on "big"
    try:
        assert upgrade(path) == path
    finally:
        tio._UPGRADE_WHOLE = monkey
    assert os.listdir(tmp_path) == ["t.h5"]
    with TraceReader(path) as r:
        assert (r.schema_version, r.has_digest) == (2, True)
        assert r.info == before[0] and r.layers == before[1]
        for a, b in zip(before[2], [r.read(x.name) for x in r.gemm_layers], strict=True):
            assert np.array_equal(a, b)


def test_writer_validates_info_and_params(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="TraceInfo.weights must be one of trained, random"):
        TraceWriter(tmp_path / "t.h5", replace(INFO, weights="pretrained"))
    with pytest.raises(TraceError, match="layer 'l': params must be JSON-serialisable"):
        with TraceWriter(tmp_path / "t.h5", INFO) as w:
            w.add_layer(LayerRecord("l", LayerKind.LIF, {"neurons": 3, "note": object()}))
    assert os.listdir(tmp_path) == []


def test_temp_name(tmp_path: Path) -> None:
    with TraceWriter(tmp_path / "t.h5", INFO) as w:
        assert w.tmp_path.parent == tmp_path
        assert w.tmp_path.name.startswith(f"t.h5.tmp-{os.getpid()}-")
        assert os.listdir(tmp_path) == [w.tmp_path.name]


def test_layout_mismatch_on_read(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    write_simple_v1(path)
    tamper(path, lambda f: f["layers/00000"].attrs.__setitem__("layout", "T,B,K"))
    assert open_error(path).endswith("layer 'fc_0': layout 'T,B,K' does not match the shape (3, 5)")
    path = tmp_path / "t2.h5"
    write_simple(path)
    edit_meta(path, lambda d: d["layers"][0].__setitem__("layout", "T,B,K"))
    assert open_error(path).endswith("layer 'fc_0': layout 'T,B,K' does not match the shape (3, 5)")


# ---------------------------------------------------------------------------- compression


@pytest.mark.parametrize("compression", list(Compression))
def test_every_compression_round_trips(tmp_path: Path, compression: Compression) -> None:
    rng = np.random.default_rng(7)
    big = rng.random((40, 5000)) < 0.1  # 25 kB packed: chunked, so the filter applies
    levels = rng.integers(0, 3, (30, 700)).astype(np.uint8)  # 21 kB: chunked multi-level
    path = tmp_path / f"{compression}.h5"
    with TraceWriter(path, INFO, compression=compression) as w:
        w.add_layer(fc("big", k=5000), big)
        w.add_layer(fc("lv", k=700), levels)
        w.begin_layer(fc("stream", k=5000, shape=(0, 5000)))
        w.append("stream", big[:25])
        w.append("stream", big[25:])
    with h5py.File(path, "r") as f:  # the filter HDF5 recorded with each data set
        for key in ("00000", "00001", "00002"):
            ds = f[f"data/{key}"]
            ids = {ds.id.get_create_plist().get_filter(i)[0]
                   for i in range(ds.id.get_create_plist().get_nfilters())}
            want = {Compression.NONE: set(), Compression.LZF: {h5py.h5z.FILTER_LZF},
                    Compression.ZSTD: {32015}}.get(compression, {32026})
            assert ids == want, (key, ids)
    with TraceReader(path) as r:
        assert np.array_equal(r.read("big"), big) and np.array_equal(r.read("stream"), big)
        assert np.array_equal(r.read("lv"), levels)
        assert r.nnz("big") == int(big.sum()) and r.verify() == 3


def test_default_compression_is_zstd_and_lzf_traces_still_read(tmp_path: Path) -> None:
    assert DEFAULT_COMPRESSION is Compression.ZSTD
    data = np.random.default_rng(3).random((40, 5000)) < 0.1
    for compression in (None, Compression.LZF):
        path = tmp_path / f"{compression}.h5"
        kw = {} if compression is None else {"compression": compression}
        with TraceWriter(path, INFO, **kw) as w:
            w.add_layer(fc("big", k=5000), data)
        with h5py.File(path, "r") as f:
            plist = f["data/00000"].id.get_create_plist()
            assert plist.get_filter(0)[0] == (32015 if compression is None else h5py.h5z.FILTER_LZF)
        with TraceReader(path) as r:
            assert np.array_equal(r.read("big"), data)


def test_unknown_compression_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="unknown compression 'brotli' \\(one of none, lzf"):
        TraceWriter(tmp_path / "t.h5", INFO, compression="brotli")


def test_missing_filter_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.h5"
    with TraceWriter(path, INFO) as w:
        w.add_layer(fc("big", k=5000), np.ones((40, 5000), dtype=bool))
    # an installation without hdf5plugin: the Zstd filter is not available
    monkeypatch.setattr(trace_layout, "register_plugins", lambda: False)
    real = h5py.h5z.filter_avail
    monkeypatch.setattr(h5py.h5z, "filter_avail", lambda fid: fid != 32015 and real(fid))
    with TraceReader(path) as r, pytest.raises(
        TraceError, match="layer 'big': its data needs HDF5 filter 32015, which this "
        r"installation lacks \(is hdf5plugin installed\?\)"
    ):
        r.read("big")


# ---------------------------------------------------------------------------- the pool


def test_small_layers_share_the_pool_and_big_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(5)
    big = rng.random((40, 5000)) < 0.1
    with TraceWriter(path, INFO) as w:
        w.add_layer(fc("fc_0"), np.eye(3, 5, dtype=bool))
        w.add_layer(fc("big", k=5000), big)
        w.add_layer(fc("fc_1", k=4), np.array([[0, 2, 1, 0], [2, 2, 0, 1]], dtype=np.uint8))
    with h5py.File(path, "r") as f:
        assert sorted(f) == ["data", "meta", "pool"] and sorted(f["data"]) == ["00001"]
        assert f["pool"][()].tolist() == [0x80, 0x40, 0x20, 0, 2, 1, 0, 2, 2, 0, 1]
    with TraceReader(path) as r:
        assert np.array_equal(r.read("fc_0"), np.eye(3, 5)) and np.array_equal(r.read("big"), big)
        first = r.read("fc_1")
        first[:] = 9  # a caller's copy: the reader's window is untouched
        assert r.read("fc_1").tolist() == [[0, 2, 1, 0], [2, 2, 0, 1]]
        assert r.read_range("fc_0", 0, 1, 3).tolist() == np.eye(3, 5)[1:3].tolist()
        assert [s.tolist() for s in r.iter_chunks("fc_1", 1)] == [[[0, 2, 1, 0]], [[2, 2, 0, 1]]]


def test_pool_spanning_chunks(tmp_path: Path) -> None:
    """2,000 layers of 1,000 bytes: the pool spans two HDF5 chunks of 1 MiB, and a layer
    may straddle their border."""
    path = tmp_path / "t.h5"
    rng = np.random.default_rng(9)
    layers = [rng.integers(0, 3, (10, 100)).astype(np.uint8) for _ in range(2000)]
    with TraceWriter(path, INFO) as w:
        for i, a in enumerate(layers):
            w.add_layer(fc(f"l{i}", k=100), a)
    with h5py.File(path, "r") as f:
        assert f["pool"].shape == (2_000_000,) and f["pool"].chunks == (1 << 20,)
    with TraceReader(path) as r:
        for i in (1999, 0, 1048, 1049, 1000):  # out of order; 1048 straddles the border
            assert np.array_equal(r.read(f"l{i}"), layers[i]), i
        assert r.verify() == 2000


def test_first_v2_layout_still_reads(tmp_path: Path) -> None:
    """Traces written by the first v2 writer (each layer its own data set, compact below
    16 KiB, LZF above) read with identical values."""
    path = tmp_path / "old.h5"
    big = np.random.default_rng(2).random((40, 5000)) < 0.1
    with first_v2_layout():
        a = write_simple(path)
        with TraceWriter(tmp_path / "big.h5", INFO) as w:
            w.add_layer(fc("big", k=5000), big)
    with h5py.File(path, "r") as f:
        assert "pool" not in f and sorted(f["data"]) == ["00000", "00002"]
        assert f["data/00000"].id.get_create_plist().get_layout() == h5py.h5d.COMPACT
        assert "pool" not in json.loads(f["meta"][()].tobytes())["layers"][0]
    with TraceReader(path) as r:
        assert np.array_equal(r.read("fc_0"), a) and r.nnz("fc_1") == 5
        assert r.read("fc_1").tolist() == [[0, 2, 1, 0], [2, 2, 0, 1]] and r.verify() == 2
    with TraceReader(tmp_path / "big.h5") as r:
        assert np.array_equal(r.read("big"), big)


def test_small_streamed_layers_join_the_pool(tmp_path: Path) -> None:
    """begin_layer with the full shape of a small layer: its slabs wait in memory and go
    to /pool at end_layer (two layers open at once, ended in reverse order); with an
    unknown first axis (0) the layer gets its own data set."""
    path = tmp_path / "t.h5"
    a = np.random.default_rng(1).random((6, 9)) < 0.5
    b = np.random.default_rng(2).integers(0, 3, (4, 5)).astype(np.uint8)
    with TraceWriter(path, INFO) as w:
        w.begin_layer(fc("a", k=9, shape=(6, 9)))
        w.begin_layer(fc("b", shape=(4, 5), levels=(0, 1, 2)))
        for i in range(2):
            w.append("a", np.packbits(a[3 * i : 3 * i + 3], axis=-1), packed=True)
            w.append("b", b[2 * i : 2 * i + 2])
        assert w.end_layer("b").shape == (4, 5)
        w.end_layer("a")
        w.begin_layer(fc("c", k=9, shape=(0, 9)))
        w.append("c", a)
    with h5py.File(path, "r") as f:
        assert sorted(f["data"]) == ["00002"] and f["pool"].shape == (20 + 12,)
        places = [r.get("pool") for r in json.loads(f["meta"][()].tobytes())["layers"]]
        assert places == [[20, 12], [0, 20], None]  # b was ended first
    with TraceReader(path) as r:
        assert np.array_equal(r.read("a"), a) and np.array_equal(r.read("b"), b)
        assert np.array_equal(r.read("c"), a) and r.record("b").levels == (0, 1, 2)
