"""Weights: weights_only loading, safetensors files, key-mismatch messages, refusing
code-carrying pickles and corrupt safetensors; user factories and input tensor files; the
registry's errors."""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_state_dict,
    save_checkpoint,
)
from prosparsity.models.registry import ModelEntry, get_model, list_models, register_model
from prosparsity.models.user import build_user_model, load_input_tensor, parse_factory


def small() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def test_save_then_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src, dst = small(), small()
    path = save_checkpoint(src, tmp_path / "w.pt")
    loaded = load_checkpoint(dst, path)
    for a, b in zip(src.state_dict().values(), dst.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    import hashlib

    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]  # no temp file left


def test_key_mismatch_lists_missing_unexpected_and_shapes(tmp_path: Path) -> None:
    state = small().state_dict()
    state["2.weight"] = torch.zeros(1)  # unexpected
    del state["1.bias"]  # missing
    state["0.weight"] = torch.zeros(5, 3)  # wrong shape
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(small(), path)
    msg = str(err.value)
    assert msg.startswith(f"checkpoint {path}: does not fit the model:")
    assert "missing keys (1): 1.bias" in msg
    assert "unexpected keys (1): 2.weight" in msg
    assert "shape mismatches (1): 0.weight (5, 3) vs model (4, 3)" in msg


def test_wrapped_and_dataparallel_state_dicts_load(tmp_path: Path) -> None:
    torch.manual_seed(1)
    src = small()
    wrapped = {"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}, "epoch": 3}
    torch.save(wrapped, tmp_path / "w.pt")
    dst = small()
    load_checkpoint(dst, tmp_path / "w.pt")
    assert torch.equal(dst[0].weight, src[0].weight)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_code_carrying_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"w": _Evil(str(marker))}, path)  # torch.save pickles the object
    with pytest.raises(CheckpointError, match=r"evil\.pt: cannot be loaded with .*weights_only"):
        read_state_dict(path)
    assert not marker.exists()
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(CheckpointError, match="cannot be loaded"):
        read_state_dict(raw)
    assert not marker.exists()


def test_not_a_state_dict_and_missing_file(tmp_path: Path) -> None:
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="is not a state dict"):
        read_state_dict(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="file not found"):
        read_state_dict(tmp_path / "nope.pt")


# -- safetensors ---------------------------------------------------------------------------


class _Tied(nn.Module):
    """Two layers sharing one weight, and an integer buffer (BatchNorm's batch count)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.b.weight = self.a.weight
        self.bn = nn.BatchNorm1d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.b(torch.relu(self.a(x))))


def _trained_tied() -> nn.Module:
    torch.manual_seed(2)
    net = _Tied()
    net.train()
    net(torch.randn(8, 4))  # running statistics and the batch count move off their defaults
    return net.eval()


def test_safetensors_round_trip_matches_torch_save(tmp_path: Path) -> None:
    src = _trained_tied()
    path = save_checkpoint(src, tmp_path / "w.safetensors")  # tied weights: saved as copies
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a zip archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]  # no temp file
    state = read_state_dict(path)
    want = src.state_dict()
    assert set(state) == set(want)
    for key, tensor in want.items():
        assert state[key].dtype == tensor.dtype and torch.equal(state[key], tensor), key
    from_st, from_pt = _Tied(), _Tied()
    load_checkpoint(from_st, path)
    load_checkpoint(from_pt, save_checkpoint(src, tmp_path / "w.pt"))
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(from_st.eval()(x), from_pt.eval()(x))
        assert torch.equal(from_st(x), src(x))


def test_safetensors_is_recognised_by_its_content(tmp_path: Path) -> None:
    path = save_checkpoint(small(), tmp_path / "w.safetensors")
    renamed = tmp_path / "w.bin"
    path.rename(renamed)
    state = read_state_dict(renamed)
    assert set(state) == set(small().state_dict())


def _header_end(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


@pytest.mark.parametrize(
    ("name", "cut", "problem"),
    [
        ("w.safetensors", lambda d: d[:20], r"truncated: its header claims \d+ bytes, "
                                            r"the file holds 20"),
        ("w.safetensors", lambda d: d[:-7], "incomplete metadata, file not fully covered"),
        ("w.bin", lambda d: d[:_header_end(d) + 3], "incomplete metadata"),
        ("w.safetensors", lambda d: d[:9] + b"?" * (len(d) - 9), "invalid JSON in header"),
        ("w.safetensors", lambda d: b"", "it is an empty file"),
        ("w.safetensors", lambda d: d[8:], "it is a text file"),  # the length cut off
    ],
)
def test_corrupt_safetensors_is_one_line_naming_the_file(
    tmp_path: Path, name: str, cut: Callable[[bytes], bytes], problem: str
) -> None:
    data = save_checkpoint(small(), tmp_path / "ok.safetensors").read_bytes()
    path = tmp_path / name
    path.write_bytes(cut(data))
    with pytest.raises(CheckpointError) as err:
        read_state_dict(path)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"checkpoint {path}: is not a readable safetensors file (")
    assert re.search(problem, msg), msg


def test_nan_in_a_safetensors_checkpoint_is_refused(tmp_path: Path) -> None:
    net = small()
    with torch.no_grad():
        net[1].bias[0] = float("nan")
    path = save_checkpoint(net, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match=r"holds NaN or infinite values in 1 tensor\(s\): "
                                              r"1\.bias$"):
        read_state_dict(path)


def test_safetensors_dataparallel_prefix_is_removed(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    src = small()
    save_file({f"module.{k}": v for k, v in src.state_dict().items()}, tmp_path / "w.safetensors")
    dst = small()
    load_checkpoint(dst, tmp_path / "w.safetensors")
    assert torch.equal(dst[0].weight, src[0].weight)


# -- user models ---------------------------------------------------------------------------


def test_parse_factory_errors() -> None:
    assert parse_factory("a.b:make") == ("a.b", "make")
    for bad in ("a.b", ":f", "a.b:", "a b:f"):
        with pytest.raises(HarnessError, match="expected package.module:factory"):
            parse_factory(bad)


def test_build_user_model_from_factory() -> None:
    net = build_user_model("tests.models.user_models:make_mlp", time_steps=4)
    assert isinstance(net, nn.Module) and net.time_steps == 4
    with pytest.raises(HarnessError, match="cannot import 'tests.models.nope'"):
        build_user_model("tests.models.nope:f")
    with pytest.raises(HarnessError, match="has no attribute 'missing'"):
        build_user_model("tests.models.user_models:missing")
    with pytest.raises(HarnessError, match="returned int, not a torch.nn.Module"):
        build_user_model("tests.models.user_models:not_a_model")


def test_user_module_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_snn_here.py").write_text(
        "import torch\n\ndef make():\n    return torch.nn.Linear(2, 3)\n"
    )
    monkeypatch.chdir(tmp_path)
    net = build_user_model("my_snn_here:make")
    assert isinstance(net, nn.Linear) and net.out_features == 3
    assert str(tmp_path) not in __import__("sys").path  # the path is restored


def test_input_tensor_files(tmp_path: Path) -> None:
    x = torch.arange(6.0).reshape(2, 3)
    torch.save(x, tmp_path / "x.pt")
    torch.save({"input": x}, tmp_path / "d.pt")
    np.save(tmp_path / "x.npy", x.numpy())
    for name in ("x.pt", "d.pt", "x.npy"):
        assert torch.equal(load_input_tensor(tmp_path / name), x)
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(HarnessError, match="not a plain .npy array"):
        load_input_tensor(tmp_path / "o.npy")
    marker = tmp_path / "pwned"
    torch.save(_Evil(str(marker)), tmp_path / "e.pt")
    with pytest.raises(HarnessError, match="weights_only"):
        load_input_tensor(tmp_path / "e.pt")
    assert not marker.exists()
    with pytest.raises(HarnessError, match="unsupported file type '.csv'"):
        (tmp_path / "x.csv").write_text("1,2")
        load_input_tensor(tmp_path / "x.csv")


def test_input_tensor_safetensors(tmp_path: Path) -> None:
    """A ``.safetensors`` input holds exactly one tensor, read with no unpickling; two
    tensors, a truncated file or a pickle under that suffix are one error each."""
    from safetensors.torch import save_file

    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    save_file({"spikes": x}, tmp_path / "x.safetensors")
    got = load_input_tensor(tmp_path / "x.safetensors")
    assert got.dtype == torch.float32 and torch.equal(got, x)
    save_file({"a": x, "b": x[:1].clone()}, tmp_path / "two.safetensors")
    with pytest.raises(HarnessError, match=r"two.safetensors: expected one tensor, found 2 "
                                           r"\(a, b\)"):
        load_input_tensor(tmp_path / "two.safetensors")
    whole = (tmp_path / "x.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(whole[:40])
    with pytest.raises(HarnessError, match="cut.safetensors: is not a readable safetensors "
                                           "file \\(truncated"):
        load_input_tensor(tmp_path / "cut.safetensors")
    torch.save(x, tmp_path / "p.safetensors")
    with pytest.raises(HarnessError, match=r"p.safetensors: is not a readable safetensors "
                                           r"file \(it is a (zip|pickle)"):
        load_input_tensor(tmp_path / "p.safetensors")


# -- registry ------------------------------------------------------------------------------


def test_registry_lists_every_family_module() -> None:
    names = {e.name for e in list_models()}
    assert {"digits-cnn", "lenet5", "vgg9", "vgg16", "resnet18", "resnet19"} <= names
    assert "snntorch-lenet5" in names
    assert get_model("snntorch-lenet5").runner == "loop"
    assert get_model("digits-cnn").checkpoint == "digits-cnn.safetensors"


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(HarnessError, match=r"unknown model 'nope'\. Known models: .*digits-cnn"):
        get_model("nope")


def test_model_entry_validation_and_double_registration() -> None:
    def build(**_: object) -> nn.Module:
        return small()

    def make(**_: object) -> torch.Tensor:
        return torch.zeros(1)

    with pytest.raises(ValueError, match="ModelEntry.family"):
        ModelEntry("x", "mlp", "", build, make, 1, "")
    with pytest.raises(ValueError, match="ModelEntry.runner"):
        ModelEntry("x", "user", "", build, make, 1, "", runner="scan")
    with pytest.raises(ValueError, match=r"attention_operands\['m'\]"):
        ModelEntry("x", "user", "", build, make, 1, "", attention_operands={"m": ("a", "z")})
    entry = get_model("lenet5")
    assert register_model(entry) is entry  # idempotent
    clone = ModelEntry("lenet5", "cnn", "", build, make, 1, "")
    with pytest.raises(ValueError, match="registered twice"):
        register_model(clone)
