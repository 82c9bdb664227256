"""Writes that fail cleanly: a real full tmpfs, injected I/O faults, bad output paths,
Ctrl-C; and `trace verify` / `trace upgrade` through the CLI entry point."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prosparsity.core.atomic import is_temp_name
from prosparsity.core.errors import TraceError, WriteError
from prosparsity.harness.cli import main
from prosparsity.harness.console import Output, set_output
from prosparsity.reports.export import atomic_write
from prosparsity.traces import writer as tio
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.faults import Faulty

from .legacy import write_v1

INFO = TraceInfo(model="w", time_steps=4)


def fc(name: str, k: int) -> LayerRecord:
    return LayerRecord(name, LayerKind.LINEAR, {"in_features": k, "out_features": 3},
                       layout="T,K")


def big_trace(path: Path, layers: int = 6) -> None:
    rng = np.random.default_rng(0)
    with TraceWriter(path, INFO) as w:
        for i in range(layers):
            w.add_layer(fc(f"fc_{i}", 32768), rng.random((32, 32768)) < 0.5)


def run_cli(args: list[str], capsys=None) -> tuple[int, str, str]:
    """``prosparsity ARGS`` through :func:`main` (exit status, stdout, stderr); a narrow
    console, so that a message longer than it must still stay on one line."""
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=60, color=False))
    try:
        with pytest.raises(SystemExit) as exc:
            main(args)
    finally:
        set_output(None)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def test_full_disk_is_one_clean_error(small_tmpfs: Path) -> None:
    target = small_tmpfs / "big.h5"
    with pytest.raises(TraceError) as exc:
        big_trace(target)
    assert str(exc.value) == f"{target}: cannot write the trace: No space left on device"
    assert list(small_tmpfs.iterdir()) == []  # temp removed, no target
    with pytest.raises(WriteError) as exc2:
        atomic_write(small_tmpfs / "r.csv", b"x" * (400 << 10))
    assert str(exc2.value) == (
        f"{small_tmpfs / 'r.csv'}: cannot write the report: No space left on device")
    assert list(small_tmpfs.iterdir()) == []


def test_full_disk_through_the_cli(small_tmpfs: Path, tmp_path: Path) -> None:
    """The issue's repro: a large dump imported onto a tiny tmpfs, in a fresh process."""
    rng = np.random.default_rng(1)
    dump = tmp_path / "big.npz"
    np.savez(dump, **{f"fc_{i}": rng.random((32, 16384)) < 0.5 for i in range(6)})
    target = small_tmpfs / "big.h5"
    proc = subprocess.run(
        [sys.executable, "-c", "from prosparsity.harness.cli import main; main()",
         "trace", "import", str(dump), "-o", str(target)],
        capture_output=True, text=True, check=False, timeout=120,
    )
    assert (proc.returncode, proc.stderr) == (
        2, f"error: {target}: cannot write the trace: No space left on device\n")
    assert list(small_tmpfs.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EIO, errno.EDQUOT, errno.ENOSPC])
@pytest.mark.parametrize("budget", [0, 2000, 200_000])
def test_injected_write_faults(tmp_path: Path, monkeypatch, code: int, budget: int) -> None:
    monkeypatch.setattr(tio, "_open_temp", lambda p: Faulty(p, "x+b"))
    monkeypatch.setattr(Faulty, "budget", budget)
    monkeypatch.setattr(Faulty, "code", code)
    target = tmp_path / "t.h5"
    with pytest.raises(TraceError) as exc:
        big_trace(target, layers=2)
    assert str(exc.value) == f"{target}: cannot write the trace: {os.strerror(code)}"
    assert list(tmp_path.iterdir()) == []


def test_injected_fault_in_an_export(tmp_path: Path, monkeypatch) -> None:
    import builtins

    real_open = builtins.open

    def faulty_open(path, mode="r", *a, **k):
        if "x" in mode:
            monkeypatch.setattr(Faulty, "budget", 10)
            return Faulty(path, "xb")
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr(builtins, "open", faulty_open)
    with pytest.raises(WriteError) as exc:
        atomic_write(tmp_path / "a.md", "x" * 100)
    assert str(exc.value) == f"{tmp_path / 'a.md'}: cannot write the report: Input/output error"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", ".: is a directory, not a file name"),  # typer reads "" as Path(".")
        (".", ".: is a directory, not a file name; give a file name for the trace"),
        ("{d}/", "{d}: is a directory; give a file name for the trace"),
        ("{d}/" + "n" * 300 + ".h5", "file name too long (303 bytes; at most"),
        ("{d}/" + "n" * 240 + ".h5", "file name too long (243 bytes; at most"),  # temp suffix
    ],
)
def test_bad_output_paths(tmp_path: Path, capsys, target: str, message: str) -> None:
    dump = tmp_path / "d.npz"
    np.savez(dump, fc_0=np.ones((2, 5), bool))
    target = target.format(d=tmp_path)
    code, out, err = run_cli(["trace", "import", str(dump), "-o", target], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert message.format(d=tmp_path) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
    with pytest.raises(WriteError, match="file name too long"):
        atomic_write(tmp_path / ("r" * 250), "x")
    with pytest.raises(WriteError, match="'': empty report path; give a file name"):
        atomic_write("", "x")  # type: ignore[arg-type]


def test_verify_and_upgrade_through_the_cli(tmp_path: Path, capsys) -> None:
    data = np.random.default_rng(2).random((8, 40)) < 0.3
    v1 = write_v1(tmp_path / "v1.h5", INFO, [(fc("fc_0", 40), data)])
    v2 = tmp_path / "v2.h5"
    with TraceWriter(v2, INFO) as w:
        w.add_layer(fc("fc_0", 40), data)
    bad = tmp_path / "bad.h5"
    raw = bytearray(v2.read_bytes())
    raw[-10] ^= 0x40
    bad.write_bytes(bytes(raw))
    code, out, err = run_cli(["trace", "verify", str(v1), str(v2), str(bad)], capsys)
    assert code == 2
    with TraceReader(v2) as r:
        digest = r.digest
    assert out.splitlines() == [
        f"ok {v1}: schema v1, 1 records, 1 with data; no digest (schema v1: structure, "
        "checksums and values checked)",
        f"ok {v2}: schema v2, 1 records, 1 with data; sha256 {digest[:16]}... verified",
    ]
    assert err == (f"error: {bad}: damaged trace: the SHA-256 of its content does not match "
                   "the digest in its header (the file was altered or corrupted)\n")
    code, out, err = run_cli(["trace", "upgrade", str(v1)], capsys)
    assert code == 0 and err.startswith(f"wrote {v1}: schema v1 -> v2, 1 records, sha256 ")
    with TraceReader(v1) as a, TraceReader(v2) as b:
        assert a.has_digest and a.layers == b.layers
        assert np.array_equal(a.read("fc_0"), b.read("fc_0"))


def test_ctrl_c_exits_130_with_one_line_and_no_file(tmp_path: Path) -> None:
    """SIGINT at a few moments of an import: exit 130, the one line, and no file but a
    whole one.

    The signal is sent once the writer's temporary file exists (the command is running,
    its handler installed: a SIGINT during the interpreter's own start-up is Python's,
    not ours), then after a further delay. A signal that lands after the final rename
    may still end the process before it prints ``wrote``, or after (exit 130): the file
    is then whole, which is what "never a half-written file" asks."""
    rng = np.random.default_rng(3)
    dump = tmp_path / "d.npz"
    np.savez(dump, **{f"fc_{i}": rng.random((32, 8192)) < 0.5 for i in range(40)})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    interrupted = 0
    for delay in (0.0, 0.05, 0.2, 0.5):
        target = tmp_path / "out" / "t.h5"
        proc = subprocess.Popen(
            [sys.executable, "-c", "from prosparsity.harness.entry import main; main()",
             "trace", "import", str(dump), "-o", str(target)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not (
            target.parent.is_dir() and any(is_temp_name(p) for p in target.parent.iterdir())
        ):
            time.sleep(0.005)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if err.startswith("wrote "):  # finished before the signal: the file is whole
            # (a signal between the last line and the exit still meets our handler: 130)
            assert proc.returncode in (0, 130, -signal.SIGINT)
        else:
            assert (proc.returncode, err, out) == (130, "interrupted\n", ""), err
        left = sorted(target.parent.iterdir()) if target.parent.exists() else []
        if left:  # the signal came after the rename: the one file, whole
            assert left == [target], left
            TraceReader(target).open()
            target.unlink()
        elif not err.startswith("wrote "):
            interrupted += 1
    assert interrupted
