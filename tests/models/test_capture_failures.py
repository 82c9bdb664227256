"""Captures that fail end cleanly: a full disk (a real small tmpfs; ENOSPC, EDQUOT and EIO
injected into the trace's temporary file while the passes stream into it), Ctrl-C,
SIGTERM and SIGKILL of a capturing process, the temporary file named after the output and
removed on every exit path (as stale by the next writer after SIGKILL), and captures
larger than the machine refused before they start."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from prosparsity.core.errors import HarnessError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.models.capture import CaptureConfig, capture_to_file
from prosparsity.models.engine import ResourceError
from prosparsity.models.engine import probe as probe_module
from prosparsity.models.engine import store as store_module
from prosparsity.traces import layout as trace_layout
from prosparsity.traces import writer as writer_module
from prosparsity.traces.io import TraceReader
from prosparsity.traces.schema import TraceInfo
from prosparsity.traces.writer import TraceWriteError
from tests.faults import Faulty
from tests.models import reference_models as rm

ROOT = Path(__file__).resolve().parents[2]


def spikes(*shape: int, seed: int = 0) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.5).float()


def cli(args: list[str]) -> tuple[int, str]:
    err = StringIO()
    set_output(Output(StringIO(), err, width=400, color=False))
    try:
        result = CliRunner().invoke(app, args)
    finally:
        set_output(None)
    if isinstance(result.exception, HarnessError):
        return 2, err.getvalue() + f"error: {result.exception}\n"
    return result.exit_code, err.getvalue()


def test_full_disk_while_the_passes_stream_is_one_clean_error(small_tmpfs: Path) -> None:
    """The pieces stream into the trace pass by pass: 512 kB of packed spikes onto 256 kB
    fail in the writer's thread, and the capturing thread says so in one line."""
    out = small_tmpfs / "t.h5"
    x = spikes(rm.T, 256, 4096)
    with pytest.raises(TraceWriteError) as exc:
        capture_to_file(rm.make_wide(), x, out, TraceInfo(model="wide"),
                        CaptureConfig(rm.T, memory_bytes=0), batch_size=32, size_check=False)
    assert str(exc.value) == f"{out}: cannot write the trace: No space left on device"
    assert list(small_tmpfs.iterdir()) == []


def test_full_disk_through_the_cli(small_tmpfs: Path, tmp_path: Path) -> None:
    torch.save(spikes(rm.T, 256, 4096), tmp_path / "x.pt")
    out = small_tmpfs / "t.h5"
    args = ["capture", "--model", "tests.models.reference_models:make_wide", "--input",
            str(tmp_path / "x.pt"), "-o", str(out)]
    code, err = cli(args)  # the estimate refuses it first, with the figures
    assert code == 2 and "would write about 512.0 KiB of spikes" in err, err
    assert "256.0 KiB free" in err and "--no-size-check" in err
    assert list(small_tmpfs.iterdir()) == []
    code, err = cli([*args, "--no-size-check"])  # then the trace writer meets the full disk
    assert code == 2
    assert err.splitlines()[-1] == f"error: {out}: cannot write the trace: No space left on device"
    assert list(small_tmpfs.iterdir()) == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_injected_faults_while_the_passes_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 code: int) -> None:
    """A few chunks land, then the device fails under the writer's thread: one line, no
    file, and the capture stops at the next pass instead of running the rest. (Chunks of
    64 KiB, 32 samples: one written every second pass.)"""
    monkeypatch.setattr(trace_layout, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setattr(writer_module, "_open_temp", lambda p: Faulty(p, "x+b"))
    monkeypatch.setattr(Faulty, "budget", 200_000)
    monkeypatch.setattr(Faulty, "code", code)
    passes = {"n": 0}
    real = store_module.Store.submit

    def submit(self, pieces):  # type: ignore[no-untyped-def]
        passes["n"] += 1
        return real(self, pieces)

    monkeypatch.setattr(store_module.Store, "submit", submit)
    out = tmp_path / "t.h5"
    with pytest.raises(TraceWriteError) as exc:
        capture_to_file(rm.make_wide(), spikes(rm.T, 512, 4096), out, TraceInfo(model="w"),
                        CaptureConfig(rm.T, memory_bytes=0), batch_size=16)
    assert str(exc.value) == f"{out}: cannot write the trace: {os.strerror(code)}"
    assert 4 <= passes["n"] < 16  # about three chunks land, then the error stops it
    assert list(tmp_path.iterdir()) == []


def test_the_passes_stream_into_the_temporary_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """While the passes run, the trace grows in its temporary file beside the output
    (named like every writer's) a chunk at a time (64 KiB here: every second pass); at the
    end only the trace is left, equal to the input."""
    monkeypatch.setattr(trace_layout, "CHUNK_BYTES", 64 << 10)
    sizes: list[tuple[str, int]] = []
    real = store_module.Store.submit

    def submit(self, pieces):  # type: ignore[no-untyped-def]
        real(self, pieces)  # with no memory to spare, returns once the last pass is written
        sizes.extend((p.name, p.stat().st_size) for p in tmp_path.iterdir())

    monkeypatch.setattr(store_module.Store, "submit", submit)
    out = tmp_path / "t.h5"
    x = spikes(rm.T, 96, 4096, seed=1)
    capture_to_file(rm.make_wide(), x, out, TraceInfo(model="w"),
                    CaptureConfig(rm.T, memory_bytes=0), batch_size=16)
    names = {n for n, _ in sizes}
    assert len(names) == 1 and next(iter(names)).startswith("t.h5.tmp-")
    grown = [size for _, size in sizes]
    assert len(grown) == 6 and grown == sorted(grown) and grown[-1] > grown[1] + 120_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]
    with TraceReader(out) as r:
        assert (r.read("fc") == x.numpy()).all()


def _child(args: list[str], out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", "from prosparsity.harness.entry import main; main()", *args,
         "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_forward_passes_ends_it_cleanly(tmp_path: Path, sig: int) -> None:
    """SIGINT (Ctrl-C) or SIGTERM once the forward passes run: exit 130, one line, and no
    file left (neither trace nor scratch)."""
    torch.save(spikes(rm.T, 400, 64), tmp_path / "x.pt")
    out = tmp_path / "out" / "t.h5"
    out.parent.mkdir()
    proc = _child(["capture", "--model", "tests.models.reference_models:make_slow", "--input",
                   str(tmp_path / "x.pt"), "--batch-size", "1"], out)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "capturing ...: 0/400 samples": the passes have begun
    assert ": 0/400 samples" in line, line + proc.stderr.read()
    time.sleep(0.3)
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "interrupted\n")
    assert list(out.parent.iterdir()) == []


SPILL = """
import sys, torch
from prosparsity.models.capture import CaptureConfig, capture_to_file
from prosparsity.traces.schema import TraceInfo
from tests.models.reference_models import T, make_slow
x = (torch.rand(T, 400, 64) < 0.5).float()
capture_to_file(make_slow(), x, sys.argv[1], TraceInfo(model="slow"),
                CaptureConfig(T, memory_bytes=0), batch_size=1)
"""


def test_sigkill_leaves_a_temporary_file_the_next_capture_removes(tmp_path: Path) -> None:
    out = tmp_path / "t.h5"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")])}
    proc = subprocess.Popen([sys.executable, "-c", SPILL, str(out)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not any(
            p.name.startswith("t.h5.tmp-") for p in tmp_path.iterdir()):
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=60)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f"t.h5.tmp-{proc.pid}-")  # SIGKILL: no cleanup
    capture_to_file(rm.make_wide(), spikes(rm.T, 2, 4096), out, TraceInfo(model="w"),
                    CaptureConfig(rm.T))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.h5"]  # removed as stale


def test_a_capture_larger_than_the_memory_is_refused_before_it_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's ``capture digits-cnn -T 100000`` (13.5 GB when it ran): refused from a
    one-step probe, with the figure and the flag, on a machine with 8 GiB available."""
    monkeypatch.setattr(probe_module, "available_memory", lambda: 8 << 30)
    out = tmp_path / "t.h5"
    code, err = cli(["capture", "digits-cnn", "-T", "100000", "-o", str(out)])
    assert code == 2
    last = err.splitlines()[-1]
    assert last.startswith("error: capturing digits-cnn at T=100000, 1 sample(s) would need "
                           "about 22.9 GiB of memory"), last
    assert "but 8.0 GiB are available" in last and "--no-size-check" in last
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ResourceError):  # the library refuses alike
        from prosparsity.models.capture import capture_model

        capture_model("digits-cnn", out, time_steps=100000)
