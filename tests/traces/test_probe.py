"""`prosparsity.traces.probe.verify_bounded`: verification in a child process with a time
limit (the stall case itself, a real v1 file on which HDF5 stalls, is in test_fuzz.py)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from prosparsity.core.errors import TraceError
from prosparsity.traces import probe
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

from .legacy import write_v1

INFO = TraceInfo(model="probe", time_steps=2)
FC = LayerRecord("fc", LayerKind.LINEAR, {"in_features": 9, "out_features": 2}, layout="T,K")
DATA = np.eye(2, 9, dtype=bool)


def test_good_traces(tmp_path: Path) -> None:
    v2 = tmp_path / "v2.h5"
    with TraceWriter(v2, INFO) as w:
        w.add_layer(FC, DATA)
        w.add_layer(LayerRecord("lif", LayerKind.LIF, {"neurons": 2}))
    with TraceReader(v2) as r:
        digest = r.digest
    assert probe.verify_bounded(v2) == probe.Verified(str(v2), 2, 2, 1, digest)
    v1 = write_v1(tmp_path / "v1.h5", INFO, [(FC, DATA)])
    assert probe.verify_bounded(v1, 30) == probe.Verified(str(v1), 1, 1, 1, "")


def test_errors_of_the_child_keep_file_and_layer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a trace at all" * 100)
    with pytest.raises(TraceError) as exc:
        probe.verify_bounded(bad)
    assert str(exc.value) == f"{bad}: not an HDF5 file (is this a trace?)"
    with pytest.raises(TraceError, match="file not found"):
        probe.verify_bounded(tmp_path / "missing.h5")


def _segfault(path: str, conn) -> None:  # noqa: ANN001 - the child's signature
    probe._quiet()
    os.kill(os.getpid(), signal.SIGSEGV)


def _stall(path: str, conn) -> None:  # noqa: ANN001
    probe._quiet()
    time.sleep(60)


def test_a_crashing_reader_is_one_error(tmp_path: Path, monkeypatch) -> None:
    """What HDF5 does on some crafted files, done for real: the child dies of SIGSEGV."""
    path = write_v1(tmp_path / "v1.h5", INFO, [(FC, DATA)])
    monkeypatch.setattr(probe, "_child", _segfault)
    with pytest.raises(TraceError) as exc:
        probe.verify_bounded(path, 30)
    assert str(exc.value) == (f"{path}: damaged or crafted trace: reading it crashed the "
                              "reader process (signal 11)")


def test_a_stalled_reader_is_killed_at_the_limit(tmp_path: Path, monkeypatch) -> None:
    path = write_v1(tmp_path / "v1.h5", INFO, [(FC, DATA)])
    monkeypatch.setattr(probe, "_child", _stall)
    start = time.monotonic()
    with pytest.raises(TraceError, match=r"not checked: its check did not finish within the "
                       r"time limit of 0\.5 s"):
        probe.verify_bounded(path, 0.5)
    assert time.monotonic() - start < 20  # killed, not waited for (no timing threshold
    # on speed: 60 s of sleep would exceed this by far)


def test_default_timeout_grows_with_the_file(tmp_path: Path) -> None:
    small = write_v1(tmp_path / "v1.h5", INFO, [(FC, DATA)])
    assert probe.default_timeout(small) == pytest.approx(60 + small.stat().st_size / (10 << 20))
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(100 << 20)  # sparse: 100 MiB
    assert probe.default_timeout(big) == pytest.approx(70.0)
    assert probe.default_timeout(tmp_path / "none") == 60.0
    with pytest.raises(ValueError, match=r"timeout_s must be in \(0, 86400\]"):
        probe.verify_bounded(small, 0)
