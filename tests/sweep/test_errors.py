"""A sweep over bad input: one ``error:`` line naming the file (and the task), exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.sweep.conftest import run_main


def _spec(folder: Path, trace: str) -> Path:
    path = folder / "s.toml"
    path.write_text(f'traces = ["{trace}"]\n[accelerators.prosperity]\n')
    return path


def test_a_file_that_is_not_a_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    code, out, err = run_main(monkeypatch, "sweep", str(_spec(tmp_path, "bad.h5")), "--out",
                              str(tmp_path / "out"), "--workers", "0")
    assert code == 2 and out == ""
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert str(tmp_path / "bad.h5") in line and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_task_failing_on_its_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = tmp_path / "t.h5"
    with TraceWriter(trace, TraceInfo(model="m", time_steps=4)) as writer:
        record = LayerRecord("fc", LayerKind.LINEAR, {"in_features": 8}, layout="T,K")
        writer.add_layer(record, np.ones((4, 8), dtype=bool))  # no out_features
    code, out, err = run_main(monkeypatch, "sweep", str(_spec(tmp_path, "t.h5")), "--out",
                              str(tmp_path / "out"), "--workers", "0", "--no-dashboard")
    assert code == 2, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: counting {trace} sample 0 at tile 256x16: {trace}")
    assert "fc.params.out_features" in line and "Traceback" not in err
    assert not (tmp_path / "out" / "results.parquet").exists()


@pytest.mark.parametrize("where", ["out", "out/sub"])
def test_out_that_cannot_be_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     where: str) -> None:
    (tmp_path / "t.h5").write_bytes(b"")
    (tmp_path / "out").write_text("a file")
    code, _, err = run_main(monkeypatch, "sweep", str(_spec(tmp_path, "t.h5")), "--out",
                            str(tmp_path / where), "--workers", "0")
    assert code == 2
    parent = "" if where == "out" else f" ({tmp_path / 'out'} is not a folder)"
    assert err == f"error: --out {tmp_path / where}: not a folder{parent}\n"
    (tmp_path / "cache").write_text("a file")
    code, _, err = run_main(monkeypatch, "sweep", str(_spec(tmp_path, "t.h5")), "--out",
                            str(tmp_path / "o"), "--cache", str(tmp_path / "cache"))
    assert code == 2 and "--cache" in err and "not a directory" in err
