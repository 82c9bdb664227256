"""Fixtures of the sweep tests: tiny traces (synthetic LeNet-5, ~70 kbit each) and a
runner of the real CLI entry point."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from prosparsity.harness.cli import main
from prosparsity.harness.console import Output, set_output
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.synth import SynthSpec, write_synthetic
from prosparsity.traces.writer import TraceWriter


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """``prosparsity ARGS`` through :func:`main`: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=250, color=False))
    monkeypatch.setattr(sys, "argv", ["prosparsity", *args])
    code: int | str | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    finally:
        set_output(None)
    return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()


def extract_sample(src: Path, sample: int, dst: Path) -> Path:
    """A one-sample trace holding sample ``sample`` of ``src`` (B axis of length 1,
    ``batch`` 1), written with the trace writer, independently of the sweep's code."""
    from dataclasses import replace

    with TraceReader(src) as reader, TraceWriter(dst, replace(
            reader.info, batch_size=1, samples=1, tool_version="", created="")) as writer:
        for rec in reader.layers:
            params = {**rec.params, "batch": 1} if "batch" in rec.params else rec.params
            if not rec.has_data:
                writer.add_layer(replace(rec, params=params))
                continue
            axis = rec.axes.index("B")
            data = np.asarray(reader.read_range(rec.name, axis, sample, sample + 1))
            shape = list(rec.shape)
            shape[axis] = 1
            writer.add_layer(replace(rec, params=params, shape=tuple(shape)), data)
    return dst


@pytest.fixture(scope="session")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``one``: one sample (seed 1); ``two``: two samples (seed 2); ``two_0``/``two_1``:
    each sample of ``two`` as a one-sample trace."""
    folder = tmp_path_factory.mktemp("sweep-traces")
    one = write_synthetic(SynthSpec("lenet5_mnist", 0.25, samples=1, seed=1), folder / "one.h5")
    two = write_synthetic(SynthSpec("lenet5_mnist", 0.2, samples=2, seed=2), folder / "two.h5")
    return {
        "one": one,
        "two": two,
        "two_0": extract_sample(two, 0, folder / "two_0.h5"),
        "two_1": extract_sample(two, 1, folder / "two_1.h5"),
    }
