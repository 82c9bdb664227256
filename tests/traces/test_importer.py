"""Importing the authors' spike dumps: .npz, torch.save and plain pickles, refusals."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.importer import expected_dump_shape, guess_record, import_dump, load_dump
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind
from prosparsity.traces.shapes import GemmShape, gemm_shape


def lenet_arrays(lenet5_npz: Path) -> dict[str, np.ndarray]:
    with np.load(lenet5_npz) as z:
        return {k: z[k] for k in z}


def test_lenet_import(tmp_path: Path, lenet5_npz: Path) -> None:
    out = import_dump(lenet5_npz, "lenet5_mnist", tmp_path / "lenet.h5")
    arrays = lenet_arrays(lenet5_npz)
    with TraceReader(out) as r:
        info = r.info
        assert (info.model, info.dataset, info.workload, info.time_steps) == (
            "lenet5",
            "mnist",
            "lenet5_mnist",
            32,
        )
        assert info.extra["source"] == "lenet5_mnist.npz"
        assert len(info.extra["source_sha256"]) == 64
        names = [(x.name, x.kind, x.in_network) for x in r.layers]
        assert names == [
            ("conv2d_0", LayerKind.CONV2D, False),  # the encoded image: kept, not simulated
            ("conv2d_1", LayerKind.CONV2D, True),
            ("lif_2", LayerKind.LIF, True),
            ("fc_0", LayerKind.LINEAR, True),
            ("lif_3", LayerKind.LIF, True),
            ("fc_1", LayerKind.LINEAR, True),
            ("lif_4", LayerKind.LIF, True),
            ("fc_2", LayerKind.LINEAR, False),
        ]
        conv = r.record("conv2d_1")
        assert conv.layout == "T,C,H,W" and conv.shape == (32, 6, 16, 16)
        assert gemm_shape(conv) == GemmShape(4608, 150, 16, 5)
        assert gemm_shape(r.record("fc_0")) == GemmShape(32, 576, 120)
        assert r.record("lif_2").params["neurons"] == 12 * 12 * 16
        for name, arr in arrays.items():
            assert np.array_equal(r.read(name), arr), name


def test_import_without_workload(tmp_path: Path, reference_dir: Path) -> None:
    src = reference_dir / "traces" / "alexnet_cifar10_loas.npz"
    with TraceReader(import_dump(src, None, tmp_path / "a.h5")) as r:
        assert r.info.model == "alexnet_cifar10_loas" and r.info.time_steps == 4
        assert r.info.workload == ""
        kinds = {x.name: (x.kind, x.layout, dict(x.params)) for x in r.layers}
        assert kinds["conv2d_01"] == (
            LayerKind.CONV2D,
            "T,C,H,W",
            {"in_channels": 64, "input_hw": 8},
        )
        assert kinds["linear_00"] == (LayerKind.LINEAR, "T,K", {"in_features": 1024})
        with np.load(src) as z:
            assert np.array_equal(r.read("conv2d_03"), z["conv2d_03"])


def test_transformer_import(tmp_path: Path, reference_dir: Path) -> None:
    src = reference_dir / "synthetic" / "spikingbert_sst2.npz"
    with TraceReader(import_dump(src, "spikingbert_sst2", tmp_path / "sb.h5")) as r:
        names = [x.name for x in r.layers]
        i = names.index("attention_enc_0")
        assert names[i - 4 : i + 2] == [
            "fc_qkv_enc_0",
            "lif_kv_enc_0",
            "attention_enc_0_k",
            "attention_enc_0_v",
            "attention_enc_0",
            "lif_attn_enc_0",
        ]
        k = r.record("attention_enc_0_k")
        assert k.kind is LayerKind.ATTENTION_OPERAND and k.layout == "T,L,D"
        assert dict(k.params) == {
            "operand": "k",
            "attention": "attention_enc_0",
            "dim": 768,
            "seq_len": 128,
            "heads": 12,
            "batch": 1,
            "time_steps": 16,
        }
        assert all(x.in_network for x in r.layers)
        assert "attention_enc_0_q" not in names
        assert r.record("attention_enc_0").params["variant"] == "spikingbert"


def test_spikformer_has_q(tmp_path: Path, reference_dir: Path) -> None:
    src = reference_dir / "synthetic" / "spikformer_cifar10.npz"
    with TraceReader(import_dump(src, "spikformer_cifar10", tmp_path / "sf.h5")) as r:
        ops = [x.params["operand"] for x in r.layers if x.kind is LayerKind.ATTENTION_OPERAND]
        assert ops == ["q", "k", "v"] * 4
        assert r.record("fc_2_enc_3").shape == (4, 64, 1536)


def test_shape_mismatch_names_layer_and_shapes(tmp_path: Path, lenet5_npz: Path) -> None:
    arrays = lenet_arrays(lenet5_npz)
    arrays["fc_0"] = arrays["fc_0"][:, :500]
    src = tmp_path / "bad.npz"
    np.savez(src, **arrays)
    with pytest.raises(TraceError) as exc:
        import_dump(src, "lenet5_mnist", tmp_path / "out.h5")
    assert str(exc.value) == (
        f"{src}, layer 'fc_0': shape (32, 500) does not match workload lenet5_mnist: "
        "expected (32, 576) (T,K)"
    )
    assert not (tmp_path / "out.h5").exists()
    assert sorted(os.listdir(tmp_path)) == ["bad.npz"]  # no temporary left behind


def test_missing_layer(tmp_path: Path, lenet5_npz: Path) -> None:
    arrays = lenet_arrays(lenet5_npz)
    del arrays["fc_1"]
    src = tmp_path / "bad.npz"
    np.savez(src, **arrays)
    with pytest.raises(TraceError) as exc:
        import_dump(src, "lenet5_mnist", tmp_path / "out.h5")
    assert str(exc.value) == (
        f"{src}, layer 'fc_1': layer missing from the dump (workload lenet5_mnist needs it)"
    )


def test_unknown_workload(tmp_path: Path, lenet5_npz: Path) -> None:
    with pytest.raises(ConfigError, match="unknown workload 'lenet'"):
        import_dump(lenet5_npz, "lenet", tmp_path / "out.h5")


def test_torch_saved_pickle(tmp_path: Path, lenet5_npz: Path) -> None:
    arrays = lenet_arrays(lenet5_npz)
    src = tmp_path / "lenet5_mnist.pkl"
    torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, src)
    with TraceReader(import_dump(src, "lenet5_mnist", tmp_path / "t.h5")) as r:
        assert r.record("conv2d_1").in_network and not r.record("conv2d_0").in_network
        for name, arr in arrays.items():
            assert np.array_equal(r.read(name), arr), name


def test_plain_pickle_like_the_authors(tmp_path: Path, lenet5_npz: Path) -> None:
    """The authors write their dumps with pickle.dump (networks.py reads them with pickle)."""
    arrays = lenet_arrays(lenet5_npz)
    src = tmp_path / "lenet5_mnist.pkl"
    with src.open("wb") as fh:
        pickle.dump({k: torch.from_numpy(v).float() for k, v in arrays.items()}, fh)
    with TraceReader(import_dump(src, "lenet5_mnist", tmp_path / "t.h5")) as r:
        assert np.array_equal(r.read("fc_0"), arrays["fc_0"])
        assert r.record("fc_0").levels == (0, 1)


def test_plain_pickle_of_numpy_arrays(tmp_path: Path) -> None:
    src = tmp_path / "np.pkl"
    data = {"fc_0": np.eye(4, dtype=bool), "fc_1": np.array([[0, 2], [1, 0]], dtype=np.int64)}
    src.write_bytes(pickle.dumps(data))
    with TraceReader(import_dump(src, None, tmp_path / "t.h5")) as r:
        assert np.array_equal(r.read("fc_0"), data["fc_0"])
        assert r.record("fc_1").levels == (0, 1, 2)
        assert r.read("fc_1").tolist() == [[0, 2], [1, 0]]


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("writer", ["pickle", "torch"])
def test_malicious_pickle_is_refused(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    src = tmp_path / "evil.pkl"
    payload = {"fc_0": torch.zeros(2, 3, dtype=torch.bool), "x": Evil(marker)}
    if writer == "pickle":
        src.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, src)
    with pytest.raises(TraceError) as exc:
        import_dump(src, None, tmp_path / "out.h5")
    msg = str(exc.value)
    assert msg.startswith(f"{src}: refused to unpickle")
    if writer == "pickle":
        assert "it asks for 'posix.system', but a spike dump may hold only tensors" in msg
    else:
        assert "unsupported GLOBAL posix.system" in msg
    assert not marker.exists()  # the command did NOT run
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda p: torch.save([torch.zeros(2)], p), "expected a dict of layer name -> tensor"),
        (lambda p: torch.save({"fc": "text"}, p), "layer 'fc': expected a tensor or array"),
        (lambda p: torch.save({1: torch.zeros(2, 2)}, p), "dump keys must be layer names"),
        (lambda p: p.write_bytes(b"\x80\x04not really"), "cannot read pickle"),
        (lambda p: p.write_bytes(b""), "not a pickle or a torch.save file: it is an empty "
                                        "file"),
    ],
)
def test_bad_pickles(tmp_path: Path, content, message: str) -> None:
    src = tmp_path / "d.pkl"
    content(src)
    with pytest.raises(TraceError, match=message):
        import_dump(src, None, tmp_path / "out.h5")


def test_bad_npz_and_suffix(tmp_path: Path) -> None:
    obj = tmp_path / "obj.npz"
    np.savez(obj, fc_0=np.array([{"a": 1}], dtype=object))
    with pytest.raises(TraceError, match="layer 'fc_0': cannot read array: Object arrays"):
        import_dump(obj, None, tmp_path / "out.h5")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(TraceError, match="junk.npz: cannot read .npz file"):
        load_dump(junk)
    with pytest.raises(TraceError, match="file not found"):
        load_dump(tmp_path / "none.npz")


def test_unknown_suffix(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("1,0\n")
    with pytest.raises(TraceError, match="unknown dump type '.csv'"):
        load_dump(src)


def test_guess_record_rules() -> None:
    op = guess_record("attention_enc_0_q", (4, 64, 384))
    assert op.kind is LayerKind.ATTENTION_OPERAND
    assert dict(op.params) == {
        "operand": "q",
        "attention": "attention_enc_0",
        "dim": 384,
        "seq_len": 64,
    }
    assert guess_record("conv1d_a", (4, 3, 10)).kind is LayerKind.CONV1D
    assert guess_record("x", (4, 3, 5, 6)).params == {"in_channels": 3}
    assert guess_record("fc_0", (4, 64, 10)).layout == "T,L,K"
    with pytest.raises(ConfigError, match="x.shape: cannot guess the layer kind of a rank-5"):
        guess_record("x", (1, 2, 3, 4, 5))
    with pytest.raises(ConfigError, match="rank-3"):
        guess_record("conv2d_9", (1, 2, 3))


def test_unguessable_dump_array(tmp_path: Path) -> None:
    src = tmp_path / "d.npz"
    np.savez(src, blob=np.zeros((1, 2, 3, 4, 5), dtype=bool))
    with pytest.raises(TraceError) as exc:
        import_dump(src, None, tmp_path / "out.h5")
    assert str(exc.value) == (
        f"{src}, layer 'blob': cannot guess the layer kind of a rank-5 array (1, 2, 3, 4, 5)"
    )


def test_expected_dump_shape() -> None:
    from prosparsity.traces.workloads import get_workload

    wl = get_workload("sdt_cifar10")
    assert expected_dump_shape(wl.layer("conv2d_2_sps")) == ((4, 128, 32, 32), "T,C,H,W")
    assert expected_dump_shape(wl.layer("fc_2_enc_0")) == ((4, 64, 2048), "T,L,K")
    with pytest.raises(ConfigError, match="no dump layout for kind 'lif'"):
        expected_dump_shape(wl.layer("lif_q_enc_0"))


def test_npz_shapes_come_from_the_headers(tmp_path: Path) -> None:
    """Matching a dump to its workload reads each member's .npy header, not its data; a
    member whose data is cut short is refused from its header and its size alone."""
    import io as _io
    import zipfile

    npz = tmp_path / "d.npz"
    arrays = {"fc_0": np.ones((4, 9), dtype=bool), "fc_1": np.zeros((2, 3, 5), np.uint8)}
    np.savez(npz, **arrays)
    dump = load_dump(npz)
    assert {k: dump.shape(k) for k in dump} == {"fc_0": (4, 9), "fc_1": (2, 3, 5)}
    head = _io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "|b1", "fortran_order": False, "shape": (1000, 1000)}
    )
    cut = tmp_path / "cut.npz"
    with zipfile.ZipFile(cut, "w") as z:
        z.writestr("fc_0.npy", head.getvalue() + b"\x01" * 10)  # 10 of 10^6 bytes
    dump = load_dump(cut)
    # the header's size is checked against the member's before anything is allocated
    lie = (r"layer 'fc_0': damaged array: its header declares shape \(1000, 1000\) of bool "
           r"\(1,000,000 bytes\) but the member holds 10 bytes")
    with pytest.raises(TraceError, match=lie):
        dump.shape("fc_0")
    with pytest.raises(TraceError, match=lie):
        dump["fc_0"]
