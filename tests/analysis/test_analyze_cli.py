"""`prosparsity analyze`: JSON document and table, rendered with a fixed console."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.traces.io import TraceWriter
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo

from .test_density import lenet_trace  # noqa: F401  (fixture)


@pytest.fixture
def output() -> io.StringIO:
    stdout, stderr = io.StringIO(), io.StringIO()
    set_output(Output(stdout, stderr, width=200, color=False))
    yield stdout
    set_output(None)


def test_json(lenet_trace: Path, output: io.StringIO) -> None:  # noqa: F811
    result = CliRunner().invoke(app, ["analyze", str(lenet_trace), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(output.getvalue())
    assert doc["tile_m"] == 256 and doc["tile_k"] == 16
    assert doc["bit_density"] == 0.2536399466271977
    assert doc["product_density"] == pytest.approx(0.015613787226408325, abs=1e-12)
    assert [(d["name"], d["m"], d["k"], d["n"], d["binary"]) for d in doc["layers"]] == [
        ("conv2d_1", 4608, 150, 16, True),
        ("fc_0", 32, 576, 120, True),
        ("fc_1", 32, 120, 84, True),
    ]
    fc0 = doc["layers"][1]
    assert (fc0["em_rows"], fc0["residual_nnz"], fc0["nnz"]) == (480, 868, 5036)
    assert {"pm_rows", "bit_density", "product_density"} <= fc0.keys()


def test_json_at_another_tile(lenet_trace: Path, output: io.StringIO) -> None:  # noqa: F811
    args = ["analyze", str(lenet_trace), "--tile-m", "32", "--tile-k", "16", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(output.getvalue())
    assert doc["product_density"] == pytest.approx(0.01997275296017223, abs=1e-12)


def test_table(lenet_trace: Path, output: io.StringIO) -> None:  # noqa: F811
    result = CliRunner().invoke(app, ["analyze", str(lenet_trace)])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in output.getvalue().splitlines()]
    assert lines[0].strip() == "lenet5_mnist.h5: ProSparsity at tile 256x16"
    assert lines[2:10] == [
        "┃ layer    ┃ kind   ┃    M ┃   K ┃   N ┃ GEMMs ┃ bit density ┃ product density ┃ EM rows ┃ PM rows ┃ binary ┃",  # noqa: E501
        "┡━━━━━━━━━━╇━━━━━━━━╇━━━━━━╇━━━━━╇━━━━━╇━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━┩",  # noqa: E501
        "│ conv2d_1 │ conv2d │ 4608 │ 150 │  16 │     1 │      0.2536 │          0.0145 │   26947 │    2494 │  yes   │",  # noqa: E501
        "│ fc_0     │ linear │   32 │ 576 │ 120 │     1 │      0.2732 │          0.0471 │     480 │     467 │  yes   │",  # noqa: E501
        "│ fc_1     │ linear │   32 │ 120 │  84 │     1 │      0.1755 │          0.0669 │      84 │      82 │  yes   │",  # noqa: E501
        "├──────────┼────────┼──────┼─────┼─────┼───────┼─────────────┼─────────────────┼─────────┼─────────┼────────┤",  # noqa: E501
        "│ total    │        │      │     │     │       │      0.2536 │          0.0156 │   27511 │    3043 │  yes   │",  # noqa: E501
        "└──────────┴────────┴──────┴─────┴─────┴───────┴─────────────┴─────────────────┴─────────┴─────────┴────────┘",  # noqa: E501
    ]


def test_bad_tile_and_bad_file(tmp_path: Path, output: io.StringIO) -> None:
    trace = tmp_path / "t.h5"
    with TraceWriter(trace, TraceInfo(model="m")) as w:
        w.add_layer(
            LayerRecord(
                "fc", LayerKind.LINEAR, {"in_features": 4, "out_features": 2}, layout="T,K"
            ),
            np.ones((2, 4), bool),
        )
    result = CliRunner().invoke(app, ["analyze", str(trace), "--tile-k", "200"])
    assert isinstance(result.exception, ConfigError) and "tile_k" in str(result.exception)
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "missing.h5")])
    assert isinstance(result.exception, TraceError) and "file not found" in str(result.exception)


@pytest.mark.parametrize("command", ["analyze", "simulate"])
def test_a_dump_imported_without_workload_says_how_to_fix_it(
    command: str, lenet5_npz: Path, tmp_path: Path, output: io.StringIO
) -> None:
    """The authors' dumps hold no layer shapes: without --workload they are unknown, and
    the error says so, with the command that fixes it."""
    from prosparsity.traces.importer import import_dump

    trace = import_dump(lenet5_npz, None, tmp_path / "bare.h5")
    result = CliRunner().invoke(app, [command, str(trace)])
    assert isinstance(result.exception, TraceError)
    message = str(result.exception)
    assert message.startswith(f"{trace}: conv2d_0.params.out_channels: missing")
    assert "imported from lenet5_mnist.npz without --workload" in message
    assert "prosparsity trace import DUMP --workload NAME" in message
