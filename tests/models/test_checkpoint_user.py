"""Weights: weights_only loading, key-mismatch messages, refusing code-carrying pickles;
user factories and input tensor files; the registry's errors."""

from __future__ import annotations

import os
import pickle
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


# -- registry ------------------------------------------------------------------------------


def test_registry_lists_every_family_module() -> None:
    names = {e.name for e in list_models()}
    assert {"digits-cnn", "lenet5", "vgg9", "vgg16", "resnet18", "resnet19"} <= names
    assert "snntorch-lenet5" in names
    assert get_model("snntorch-lenet5").runner == "loop"
    assert get_model("digits-cnn").checkpoint == "digits-cnn.pt"


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
