"""`prosparsity capture` / `prosparsity models`, and the trained embedded digits-cnn."""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from prosparsity.core.errors import HarnessError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.models.checkpoint import CHECKPOINT_DIR, load_checkpoint, read_state_dict
from prosparsity.models.data import digits_split, upscale
from prosparsity.models.registry import get_model
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.writer import TraceWriter
from tests.models.user_models import make_mlp


@pytest.fixture()
def out() -> Iterator[tuple[StringIO, StringIO]]:
    stdout, stderr = StringIO(), StringIO()
    set_output(Output(stdout, stderr, width=200, color=False))
    yield stdout, stderr
    set_output(None)


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_models_lists_the_registry(out: tuple[StringIO, StringIO]) -> None:
    result = invoke("models")
    assert result.exit_code == 0, result.output
    table = out[0].getvalue()
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if "│" in line}
    assert "trained" in rows["digits-cnn"] and "random" in rows["vgg16"]
    assert "snntorch" in rows["snntorch-lenet5"]


def test_capture_digits_cnn_uses_the_packaged_trained_weights(
    tmp_path: Path, out: tuple[StringIO, StringIO]
) -> None:
    path = tmp_path / "t.h5"
    result = invoke("capture", "digits-cnn", "-o", str(path), "--samples", "2")
    assert result.exit_code == 0, result.output
    ckpt = CHECKPOINT_DIR / "digits-cnn.safetensors"
    with TraceReader(path) as r:
        info = r.info
        assert (info.model, info.weights, info.samples, info.time_steps) == (
            "digits-cnn", "trained", 2, 8,
        )  # fmt: skip
        assert info.checkpoint_sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()
        assert info.dataset == "sklearn digits (test split)"
        shapes = {g.name: g.shape for g in r.gemm_layers}
        assert shapes == {
            "conv2": (8, 2, 6, 16, 16),  # the paper's LeNet-5 conv2d_1 input
            "fc1": (8, 2, 576),
            "fc2": (8, 2, 120),
            "fc3": (8, 2, 84),
        }
        density = r.nnz("conv2") / np.prod(shapes["conv2"])
        assert 0.01 < density < 0.6  # a trained network spikes, but sparsely
    assert "conv2" in out[0].getvalue()
    assert "skipped, not spiking GEMMs (not in any total): conv1 (analog input" in out[1].getvalue()
    assert "random weights" not in out[1].getvalue()


def test_packaged_checkpoint_reaches_its_stated_accuracy() -> None:
    meta = json.loads((CHECKPOINT_DIR / "digits-cnn.json").read_text())
    assert meta["test_accuracy"] > 0.9
    assert meta["command"].startswith("python -m prosparsity.models.train digits-cnn")
    path = CHECKPOINT_DIR / "digits-cnn.safetensors"
    # the packaged checkpoints are safetensors files since 2026-12-08 (338,115 bytes as a .pt)
    assert path.stat().st_size < 2_000_000 and meta["checkpoint_bytes"] == path.stat().st_size
    entry = get_model("digits-cnn")
    net = entry.build(time_steps=meta["time_steps"])
    load_checkpoint(net, path)
    net.eval()
    split = digits_split()
    x = upscale(torch.from_numpy(np.array(split.x_test))[:, None], 4)
    with torch.no_grad():
        pred = net(x.unsqueeze(0).repeat(meta["time_steps"], 1, 1, 1, 1)).argmax(1)
    accuracy = float((pred.numpy() == split.y_test).mean())
    assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-9)


def test_random_weights_are_marked(tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    path = tmp_path / "t.h5"
    result = invoke("capture", "digits-cnn", "--random-weights", "-T", "2", "-o", str(path))
    assert result.exit_code == 0, result.output
    with TraceReader(path) as r:
        assert r.info.weights == "random" and r.info.checkpoint == ""
        assert r.info.time_steps == 2 and r.record("fc1").shape[0] == 2
    assert "random weights: the densities of this trace are meaningless" in out[1].getvalue()


def test_user_factory_with_input_file(tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    x = (torch.rand(4, 3, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    torch.save(x, tmp_path / "x.pt")
    path = tmp_path / "t.h5"
    args = ("--model", "tests.models.user_models:make_mlp", "--input", str(tmp_path / "x.pt"))
    result = invoke("capture", *args, "-o", str(path))
    assert result.exit_code == 0, result.output
    net = make_mlp()
    with TraceReader(path) as r, torch.no_grad():
        assert r.info.weights == "unknown" and r.info.samples == 3 and r.info.time_steps == 4
        assert [str(rec.kind) for rec in r.layers] == ["linear", "lif", "linear"]
        np.testing.assert_array_equal(r.read("fc1"), x.numpy())
        np.testing.assert_array_equal(r.read("fc2"), net.act(net.fc1(x)).numpy())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "tests.models.user_models:make_mlp"), "a user model needs --input"),
        (("digits-cnn", "--model", "a.b:c"), "give exactly one model"),
        (("nope",), "unknown model 'nope'"),
        (("digits-cnn", "--samples", "999"), "samples: must be in 1..450"),
        (("snntorch-lenet5", "--runner", "multi"), "runs as 'loop'"),
    ],
)
def test_bad_invocations_are_user_errors(
    args: tuple[str, ...], message: str, tmp_path: Path, out: tuple[StringIO, StringIO]
) -> None:
    path = tmp_path / "t.h5"
    result = invoke("capture", *args, "-o", str(path))
    assert isinstance(result.exception, HarnessError), result.output
    assert message in str(result.exception)
    assert not path.exists()


def test_checkpoint_that_does_not_fit(tmp_path: Path, out: tuple[StringIO, StringIO]) -> None:
    state = read_state_dict(CHECKPOINT_DIR / "digits-cnn.safetensors")
    state.pop("fc3.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pt")
    result = invoke("capture", "digits-cnn", "--checkpoint", str(tmp_path / "bad.pt"), "-o", "t.h5")
    assert isinstance(result.exception, HarnessError)
    msg = str(result.exception)
    assert "missing keys (1): fc3.bias" in msg and "unexpected keys (1): extra.weight" in msg


def test_full_disk_is_a_clean_error_and_leaves_no_file(
    tmp_path: Path, out: tuple[StringIO, StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    def append(self: TraceWriter, name: str, chunk: np.ndarray, **kw: bool) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TraceWriter, "append", append)
    path = tmp_path / "t.h5"
    result = invoke("capture", "digits-cnn", "-o", str(path))
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception) == f"cannot write {path}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_user_error_exits_2_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "from prosparsity.harness.cli import main; main()"
    args = ["capture", "--model", "a.b:c", "-o", str(tmp_path / "t.h5")]
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    assert "error: --model 'a.b:c': cannot import 'a.b': No module named 'a'" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_progress_counts_samples_in_plain_throttled_lines(
    tmp_path: Path, out: tuple[StringIO, StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    import prosparsity.harness.commands.capture as command

    args = ("capture", "digits-cnn", "--samples", "3", "--batch-size", "2", "-T", "2",
            "--random-weights")
    result = invoke(*args, "-o", str(tmp_path / "a.h5"))
    assert result.exit_code == 0, result.output
    lines = [x for x in out[1].getvalue().splitlines() if x.startswith("capturing")]
    assert len(lines) == 2 and lines[0].startswith("capturing digits-cnn: 0/3 samples, ")
    assert lines[1].startswith("capturing digits-cnn: 3/3 samples, ")
    monkeypatch.setattr(command, "PLAIN_PROGRESS_EVERY_S", 0.0)
    out[1].truncate(0)
    out[1].seek(0)
    result = invoke(*args, "-o", str(tmp_path / "b.h5"))
    assert result.exit_code == 0, result.output
    lines = [x.split(",")[0] for x in out[1].getvalue().splitlines() if x.startswith("capturing")]
    assert lines == ["capturing digits-cnn: 0/3 samples", "capturing digits-cnn: 2/3 samples",
                     "capturing digits-cnn: 3/3 samples"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_device_cuda_is_refused_cleanly_without_a_gpu(
    tmp_path: Path, out: tuple[StringIO, StringIO]
) -> None:
    from prosparsity.models.capture import capture_model
    from prosparsity.models.prepare import SetupError

    result = invoke("capture", "digits-cnn", "--device", "cuda", "-o", str(tmp_path / "t.h5"))
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception).startswith(
        f"--device 'cuda': torch {torch.__version__} sees no CUDA device")
    result = invoke("capture", "digits-cnn", "--device", "tpu", "-o", str(tmp_path / "t.h5"))
    assert str(result.exception) == "--device 'tpu': expected cpu, cuda or cuda:N"
    with pytest.raises(SetupError, match="^device 'cuda:1': torch .* sees no CUDA device"):
        capture_model("digits-cnn", tmp_path / "t.h5", device="cuda:1")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_device_cuda_captures_what_the_cpu_captures(tmp_path: Path) -> None:
    from prosparsity.models.capture import capture_model

    capture_model("digits-cnn", tmp_path / "cpu.h5", samples=8)
    capture_model("digits-cnn", tmp_path / "gpu.h5", samples=8, device="cuda")
    with TraceReader(tmp_path / "cpu.h5") as a, TraceReader(tmp_path / "gpu.h5") as b:
        assert a.layers == b.layers
        for rec in a.gemm_layers:
            np.testing.assert_array_equal(a.read(rec.name), b.read(rec.name))


def test_capture_options_checked_before_work(tmp_path: Path,
                                             out: tuple[StringIO, StringIO]) -> None:
    result = invoke("capture", "digits-cnn", "--nir-reset", "subtract", "-o",
                    str(tmp_path / "t.h5"))
    assert str(result.exception) == "--nir-reset: only for --nir graphs"
    result = invoke("capture", "--nir", str(tmp_path / "g.nir"), "--nir-reset", "halve",
                    "-o", str(tmp_path / "t.h5"))
    assert str(result.exception) == "--nir-reset halve: expected zero or subtract"
    assert list(tmp_path.iterdir()) == []


def test_the_summary_names_attention_blocks_and_what_layers_saw(
    tmp_path: Path, out: tuple[StringIO, StringIO]
) -> None:
    result = invoke("capture", "digits-spikformer", "-o", str(tmp_path / "t.h5"))
    assert result.exit_code == 0, result.output
    assert "18 GEMMs captured (attention blocks: 2)" in out[1].getvalue()
    table = out[0].getvalue()
    row = next(line for line in table.splitlines() if "│ blocks.0.mlp.fc1.0 " in line)
    assert "T*B,64,16" in row  # a raw conv inside SeqToANNContainer sees the folded batch
    row = next(line for line in table.splitlines() if "│ blocks.0.attn " in line)
    assert "spikformer, 4 heads" in row
