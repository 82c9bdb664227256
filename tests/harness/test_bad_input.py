"""Bad input through the real entry point: one ``error:`` line, exit status 2, no
traceback and no file left behind (the cases an adversarial sweep of the CLI found)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from prosparsity.harness.cli import main
from prosparsity.harness.console import Output, set_output


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run ``prosparsity ARGS`` through :func:`main`; return (exit status, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=400, color=False))
    monkeypatch.setattr(sys, "argv", ["prosparsity", *args])
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        set_output(None)
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), err.getvalue()


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*"))


def test_import_onto_a_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lenet5_npz: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    code, err = _main(monkeypatch, "trace", "import", str(lenet5_npz), "-w", "lenet5_mnist",
                      "-o", str(target))
    assert code == 2
    assert err == f"error: {target}: is a directory; give a file name for the trace\n"
    assert _files(tmp_path) == ["out"]  # no temporary file beside it


def test_import_under_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lenet5_npz: Path
) -> None:
    parent = tmp_path / "plain.txt"
    parent.write_text("x")
    target = parent / "t.h5"
    code, err = _main(monkeypatch, "trace", "import", str(lenet5_npz), "-w", "lenet5_mnist",
                      "-o", str(target))
    assert code == 2
    assert err == f"error: {target}: cannot create the trace: {parent} is not a directory\n"
    assert _files(tmp_path) == ["plain.txt"]


def test_import_bad_values_name_the_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lenet5_npz: Path
) -> None:
    with np.load(lenet5_npz) as src:
        halves = {k: src[k].astype(np.float32) * 0.5 for k in src.files}
    dump = tmp_path / "halves.npz"
    np.savez(dump, **halves)
    target = tmp_path / "t.h5"
    code, err = _main(monkeypatch, "trace", "import", str(dump), "-w", "lenet5_mnist",
                      "-o", str(target))
    assert code == 2
    # the dump is at fault, not the trace being written
    assert err == (f"error: {dump}, layer 'conv2d_0': values must be whole numbers "
                   "(spike counts)\n")
    assert _files(tmp_path) == ["halves.npz"]


@pytest.mark.parametrize("content", [b"", b"hello\n"])
@pytest.mark.parametrize("command", ["import", "simulate"])
def test_npz_that_is_not_an_archive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, command: str
) -> None:
    dump = tmp_path / "lenet5_mnist.npz"
    dump.write_bytes(content)
    args = (["trace", "import", str(dump), "-w", "lenet5_mnist", "-o", str(tmp_path / "t.h5")]
            if command == "import" else ["simulate", str(dump), "--workload", "lenet5_mnist"])
    code, err = _main(monkeypatch, *args)
    # an empty file used to end in typer's "Aborted." (exit 1), a text file in numpy's
    # "contains pickled (object) data"
    assert code == 2
    what = "an empty file" if content == b"" else "a text file"
    assert err == f"error: {dump}: cannot read .npz file: not a zip archive (it is {what})\n"
    assert _files(tmp_path) == ["lenet5_mnist.npz"]


def test_simulate_a_directory_or_missing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "t.h5"
    folder.mkdir()
    code, err = _main(monkeypatch, "simulate", str(folder))
    assert (code, err) == (2, f"error: {folder}: is a directory, not a trace file\n")
    missing = tmp_path / "missing.h5"
    code, err = _main(monkeypatch, "simulate", str(missing))
    assert (code, err) == (2, f"error: {missing}: file not found\n")


@pytest.mark.parametrize("command", ["reproduce", "demo"])
def test_out_that_is_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lenet5_npz: Path, command: str
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    args = ["--out", str(plain)] + (["--data", str(lenet5_npz)] if command == "reproduce" else [])
    code, err = _main(monkeypatch, command, *args)
    assert (code, err) == (2, f"error: --out {plain}: not a folder\n")
    nested = plain / "sub"
    code, err = _main(monkeypatch, command, *args[:1], str(nested), *args[2:])
    assert (code, err) == (2, f"error: --out {nested}: not a folder ({plain} is not a folder)\n")
    assert plain.read_text() == "x"


@pytest.mark.parametrize("spec", ["a.b:", ":make", "1bad.mod:make"])
def test_malformed_model_spec_reported_before_missing_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spec: str
) -> None:
    code, err = _main(monkeypatch, "capture", "--model", spec, "-o", str(tmp_path / "t.h5"))
    assert (code, err) == (
        2, f"error: --model '{spec}': expected package.module:factory (e.g. mypkg.nets:make_snn)\n")


def test_factory_that_needs_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    batch = tmp_path / "x.npy"
    np.save(batch, np.zeros((4, 1, 8, 8), np.float32))
    code, err = _main(monkeypatch, "capture", "--model", "json:loads", "--input", str(batch),
                      "-o", str(tmp_path / "t.h5"))
    assert code == 2  # was a TypeError traceback from calling loads()
    assert err == ("error: --model 'json:loads': the factory 'loads' cannot be called with no "
                   "arguments (or time_steps= only): missing a required argument: 's'\n")
    assert _files(tmp_path) == ["x.npy"]


def test_input_the_model_cannot_take(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    batch = tmp_path / "x.npy"  # time-first as asked, but 8x8 images for a 32x32 network
    np.save(batch, np.zeros((8, 2, 1, 8, 8), np.float32))
    code, err = _main(monkeypatch, "capture", "digits-cnn", "--input", str(batch),
                      "-o", str(tmp_path / "t.h5"))
    assert code == 2  # was a RuntimeError traceback from inside torch's conv2d
    assert err.startswith(f"error: model 'digits-cnn': the forward pass failed on --input "
                          f"{batch} of shape (8, 2, 1, 8, 8) (RuntimeError: ")
    assert err.endswith("Kernel size can't be greater than actual input size)\n")
    assert "Traceback" not in err
    assert _files(tmp_path) == ["x.npy"]


@pytest.mark.parametrize(("args", "message"), [
    (["trace", "import", "{d}", "-w", "lenet5_mnist", "-o", "{t}"],
     "error: {d}: is a directory, not a spike dump"),
    (["capture", "digits-cnn", "--input", "{d}", "-o", "{t}"],
     "error: input {d}: is a directory, not a file"),
    (["capture", "digits-cnn", "--checkpoint", "{d}", "-o", "{t}"],
     "error: checkpoint {d}: is a directory, not a file"),
])
def test_directory_given_for_an_input_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "dump.npz"
    folder.mkdir()
    fill = {"d": str(folder), "t": str(tmp_path / "t.h5")}
    code, err = _main(monkeypatch, *(a.format(**fill) for a in args))
    assert (code, err) == (2, message.format(**fill) + "\n")  # was "file not found"
    assert _files(tmp_path) == ["dump.npz"]


@pytest.mark.parametrize("option", ["--input", "--checkpoint"])
def test_code_carrying_pickle_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    import os
    import pickle

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"x": os.getcwd}))
    code, err = _main(monkeypatch, "capture", "digits-cnn", option, str(evil),
                      "-o", str(tmp_path / "t.h5"))
    what = "input" if option == "--input" else "checkpoint"
    # torch's own text advises weights_only=False, and its protocol UserWarning came first
    assert (code, err) == (2, f"error: {what} {evil}: cannot be loaded with "
                              "torch.load(weights_only=True): the file holds objects other "
                              "than tensors (refused: unpickling it could run code)\n")
    assert _files(tmp_path) == ["evil.pt"]


def test_text_file_as_checkpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    code, err = _main(monkeypatch, "capture", "digits-cnn", "--checkpoint", str(text),
                      "-o", str(tmp_path / "t.h5"))
    assert (code, err) == (2, f"error: checkpoint {text}: cannot be loaded with "
                              "torch.load(weights_only=True): not a file written by torch.save "
                              "(it is a text file)\n")


def test_truncated_safetensors_checkpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from torch import nn

    from prosparsity.models.checkpoint import save_checkpoint

    whole = save_checkpoint(nn.Linear(64, 64), tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").unlink()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(whole[: len(whole) // 2])  # a download that stopped half way
    code, err = _main(monkeypatch, "capture", "digits-cnn", "--checkpoint", str(cut),
                      "-o", str(tmp_path / "t.h5"))
    assert (code, err) == (2, f"error: checkpoint {cut}: is not a readable safetensors file "
                              "(incomplete metadata, file not fully covered)\n")
    assert _files(tmp_path) == ["cut.safetensors"]


def test_import_onto_its_own_dump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lenet5_npz: Path
) -> None:
    dump = tmp_path / "lenet5_mnist.npz"
    dump.write_bytes(lenet5_npz.read_bytes())
    code, err = _main(monkeypatch, "trace", "import", str(dump), "-w", "lenet5_mnist",
                      "-o", str(dump))
    # it used to replace the dump with an HDF5 trace still named .npz
    assert (code, err) == (2, f"error: {dump}: the output would overwrite the dump being "
                              "imported; choose another -o file\n")
    assert dump.read_bytes() == lenet5_npz.read_bytes()


@pytest.mark.parametrize("option", ["--input", "--checkpoint"])
def test_capture_onto_its_own_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, option: str
) -> None:
    source = tmp_path / "x.npy"
    np.save(source, np.zeros((8, 1, 1, 32, 32), np.float32))
    before = source.read_bytes()
    code, err = _main(monkeypatch, "capture", "digits-cnn", option, str(source),
                      "-o", str(source))
    assert (code, err) == (2, f"error: -o {source}: would overwrite the {option} file; "
                              "choose another\n")
    assert source.read_bytes() == before
