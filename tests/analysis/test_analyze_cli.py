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
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

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
    envelope = json.loads(output.getvalue())
    assert envelope["command"] == "analyze" and envelope["tile"] == {"tile_m": 256,
                                                                    "tile_k": 16}
    assert envelope["input"]["path"] == str(lenet_trace)
    assert envelope["input"]["kind"] == "trace" and envelope["input"]["trace_schema"] == 2
    doc = envelope["data"]
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
    doc = json.loads(output.getvalue())["data"]
    assert doc["product_density"] == pytest.approx(0.01997275296017223, abs=1e-12)


def test_table(lenet_trace: Path, output: io.StringIO) -> None:  # noqa: F811
    result = CliRunner().invoke(app, ["analyze", str(lenet_trace)])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in output.getvalue().splitlines()]
    assert lines[0].strip() == "lenet5_mnist.h5: ProSparsity at tile 256x16"
    # the reports' renderer: a layer's kind and shape, each neuron layer's spike rate
    # ("—": not recorded by the importer), the GEMM operand's densities, then the total
    assert lines[2:12] == [
        "┃ Layer    ┃ Kind   ┃ M (per sample) ┃   K ┃   N ┃ GEMMs ┃ Neuron spike rate ┃ Bit density (GEMM operand) ┃ Product density (GEMM operand) ┃ EM rows ┃ PM rows ┃ Binary ┃",  # noqa: E501
        "┡━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━╇━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━┩",  # noqa: E501
        "│ conv2d_1 │ conv2d │          4,608 │ 150 │  16 │     1 │                   │                     0.2536 │                         0.0145 │  26,947 │   2,494 │ yes    │",  # noqa: E501
        "│ lif_2    │ lif    │                │     │     │       │                 — │                            │                                │         │         │        │",  # noqa: E501
        "│ fc_0     │ linear │             32 │ 576 │ 120 │     1 │                   │                     0.2732 │                         0.0471 │     480 │     467 │ yes    │",  # noqa: E501
        "│ lif_3    │ lif    │                │     │     │       │                 — │                            │                                │         │         │        │",  # noqa: E501
        "│ fc_1     │ linear │             32 │ 120 │  84 │     1 │                   │                     0.1755 │                         0.0669 │      84 │      82 │ yes    │",  # noqa: E501
        "│ lif_4    │ lif    │                │     │     │       │                 — │                            │                                │         │         │        │",  # noqa: E501
        "│ total    │        │                │     │     │       │                   │                     0.2536 │                         0.0156 │  27,511 │   3,043 │ yes    │",  # noqa: E501
        "└──────────┴────────┴────────────────┴─────┴─────┴───────┴───────────────────┴────────────────────────────┴────────────────────────────────┴─────────┴─────────┴────────┘",  # noqa: E501
    ]
    assert "docs/capture.md#neuron-spike-rate-gemm-operand-density" in output.getvalue()


def test_an_npz_dump_is_analysed_like_its_imported_trace(
    lenet_trace: Path, lenet5_npz: Path, output: io.StringIO  # noqa: F811
) -> None:
    """`analyze` takes what `simulate` takes: the authors' .npz (named after its paper
    workload, or with --workload) gives the imported trace's numbers."""
    def data(*args: str) -> dict:
        output.seek(0)
        output.truncate()
        result = CliRunner().invoke(app, ["analyze", *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(output.getvalue())

    trace, dump = data(str(lenet_trace)), data(str(lenet5_npz), "--workload", "lenet5_mnist")
    assert dump["input"]["kind"] == "dump" and dump["input"]["workload"] == "lenet5_mnist"
    assert {k: v for k, v in dump["data"].items()} == trace["data"]
    result = CliRunner().invoke(app, ["analyze", "lenet5_mnist"])
    assert isinstance(result.exception, ConfigError)
    assert "layer shapes only, no spikes, so there is nothing to analyse" in str(
        result.exception)


def test_neuron_spike_rate_beside_the_gemm_operand_density(
    tmp_path: Path, output: io.StringIO
) -> None:
    """A lif record's recorded spikes / elements is its spike rate; the conv after it
    shows the im2col operand's density (padding adds zeros: 4 of the 3x3 windows of a
    2x2 all-ones input hold 4 ones each, of 9 x 4 = 36 values)."""
    trace = tmp_path / "t.h5"
    with TraceWriter(trace, TraceInfo(model="m", time_steps=1)) as w:
        w.add_layer(LayerRecord("lif", LayerKind.LIF, {"neurons": 4, "spikes": 3,
                                                       "elements": 8}))
        w.add_layer(LayerRecord("conv", LayerKind.CONV2D, {
            "in_channels": 1, "out_channels": 2, "kernel": 3, "padding": 1},
            layout="T,C,H,W"), np.ones((1, 1, 2, 2), bool))
    result = CliRunner().invoke(app, ["analyze", str(trace), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(output.getvalue())["data"]
    assert doc["neuron_layers"] == [{"name": "lif", "neurons": 4, "spikes": 3,
                                     "elements": 8, "spike_rate": 0.375}]
    assert doc["layers"][0]["bit_density"] == 16 / 36
    output.seek(0)
    output.truncate()
    result = CliRunner().invoke(app, ["analyze", str(trace)])
    rows = {line.split("│")[1].strip(): line for line in output.getvalue().splitlines()
            if line.startswith("│")}
    assert "0.3750" in rows["lif"] and "0.4444" in rows["conv"]


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
    # refused where the option is parsed, with its limits (a usage error, exit 2)
    assert result.exit_code == 2 and "'--tile-k': 200 is outside 1..128" in result.output
    result = CliRunner().invoke(app, ["analyze", str(tmp_path / "missing.h5")])
    assert isinstance(result.exception, TraceError) and "file not found" in str(result.exception)


@pytest.mark.parametrize("command", ["analyze", "simulate"])
def test_a_dump_imported_without_workload_says_how_to_fix_it(
    command: str, lenet5_npz: Path, tmp_path: Path, output: io.StringIO
) -> None:
    """The authors' dumps hold no layer shapes: without --workload they are unknown, and
    the error says so, with the command that fixes it."""
    from prosparsity.traces.importer import import_dump

    dump = tmp_path / "mine.npz"  # a name that names no workload: kinds are guessed
    dump.write_bytes(lenet5_npz.read_bytes())
    trace = import_dump(dump, None, tmp_path / "bare.h5")
    result = CliRunner().invoke(app, [command, str(trace)])
    assert isinstance(result.exception, TraceError)
    message = str(result.exception)
    assert message.startswith(f"{trace}: conv2d_0.params.out_channels: missing")
    assert "imported from mine.npz without --workload" in message
    assert "prosparsity trace import DUMP --workload NAME" in message
