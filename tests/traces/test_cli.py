"""`prosparsity trace info / import / workloads`, rendered with a fixed colourless console."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prosparsity.harness import cli
from prosparsity.harness.console import Output, set_output


@pytest.fixture
def console() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=200, color=False))
    yield out, err
    set_output(None)


def table_rows(text: str, key: int = 0) -> dict[str, list[str]]:
    """Body rows of a rich table (header excluded), keyed by one of their cells."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            rows[cells[key]] = cells
    return rows


def test_import_then_info(tmp_path: Path, lenet5_npz: Path, console) -> None:
    out, err = console
    trace = tmp_path / "lenet.h5"
    runner = CliRunner()
    res = runner.invoke(
        cli.app,
        ["trace", "import", str(lenet5_npz), "--workload", "lenet5_mnist", "-o", str(trace)],
    )
    assert res.exit_code == 0, res.output
    assert err.getvalue().strip() == (
        f"wrote {trace}: 8 records, 5 with spike data, 2 not part of the simulated network"
    )
    res = runner.invoke(cli.app, ["trace", "info", str(trace)])
    assert res.exit_code == 0, res.output
    text = out.getvalue()
    with np.load(lenet5_npz) as z:
        dens = {k: f"{z[k].mean():.4f}" for k in z}
    rows = table_rows(text)
    # the GEMM operand's density (im2col) is analyze's (0.2536, the authors' too); the raw
    # stored tensor's is nnz / size; a linear layer's operand is its input
    assert rows["conv2d_1"] == [
        "conv2d_1", "1", "conv2d", "4,608", "150", "16", "", "0.2536", dens["conv2d_1"],
        "0,1", "yes", "32x6x16x16 T,C,H,W",
    ]  # fmt: skip
    assert rows["fc_0"] == [
        "fc_0", "3", "linear", "32", "576", "120", "", dens["fc_0"], dens["fc_0"], "0,1",
        "yes", "32x576 T,K",
    ]  # fmt: skip
    # an imported dump records no neuron spikes: the rate is not known
    assert rows["lif_2"] == ["lif_2", "2", "lif", "—", "—", "—", "—", "—", "—", "—", "yes",
                             "—"]
    assert rows["conv2d_0"][3:6] == ["—", "—", "—"] and rows["conv2d_0"][-2] == "no"
    layers = list(rows)[list(rows).index("conv2d_0"):]
    assert layers == [
        "conv2d_0", "conv2d_1", "lif_2", "fc_0", "lif_3", "fc_1", "lif_4", "fc_2",
    ]  # fmt: skip
    assert "(GEMM operand)" in text and "(raw input)" in text and "Neuron" in text
    # the file's attributes: a report of their own, one row each
    assert rows["workload"] == ["workload", "lenet5_mnist"]
    assert rows["source"] == ["source", "lenet5_mnist.npz"]


def test_workloads_listing(console) -> None:
    out, _ = console
    res = CliRunner().invoke(cli.app, ["trace", "workloads"])
    assert res.exit_code == 0
    rows = table_rows(out.getvalue())
    assert len(rows) == 19
    assert rows["lenet5_mnist"] == ["lenet5_mnist", "lenet5", "mnist", "32", "6", "3"]
    assert rows["spikebert_mr"] == ["spikebert_mr", "spikebert", "mr", "4", "168", "48"]


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["prosparsity", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    return int(exc.value.code or 0)


def test_errors_exit_2_with_message(
    tmp_path: Path, lenet5_npz: Path, console, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, err = console
    code = run_main(
        monkeypatch, "trace", "import", str(lenet5_npz), "-w", "vgg16_cifar10", "-o",
        str(tmp_path / "x.h5"),
    )  # fmt: skip
    assert code == 2
    msg = " ".join(err.getvalue().split())
    assert msg == (
        f"error: {lenet5_npz}, layer 'conv2d_1': shape (32, 6, 16, 16) does not match "
        "workload vgg16_cifar10: expected (32, 64, 32, 32) (T,C,H,W)"
    )
    assert not (tmp_path / "x.h5").exists()

    err.seek(0)
    err.truncate()
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"hello")
    assert run_main(monkeypatch, "trace", "info", str(bogus)) == 2
    assert err.getvalue().strip() == f"error: {bogus}: not an HDF5 file (is this a trace?)"


def test_info_shows_the_attention_gemms(tmp_path: Path, reference_dir: Path, console) -> None:
    """An attention record shows its two per-head GEMMs: Spikformer CIFAR-10 has dim 384,
    12 heads (dh = 32) and L = 64 tokens, so k^T·v is 32x64x32 and q·(kv) is 64x32x32."""
    out, _ = console
    trace = tmp_path / "spikformer.h5"
    npz = reference_dir / "synthetic" / "spikformer_cifar10.npz"
    runner = CliRunner()
    res = runner.invoke(
        cli.app,
        ["trace", "import", str(npz), "--workload", "spikformer_cifar10", "-o", str(trace)],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli.app, ["trace", "info", str(trace)])
    assert res.exit_code == 0, res.output
    row = table_rows(out.getvalue())["attention_enc_0"]
    assert row[2:7] == ["attention", "32 / 64", "64 / 32", "32 / 32", ""]


def test_info_of_many_layers_is_a_plain_table(tmp_path: Path, console) -> None:
    """Past RICH_ROWS records `trace info` prints the same columns as aligned plain text;
    layer i holds i % 17 spikes in 4x16, so its density is (i % 17) / 64."""
    from prosparsity.reports.render import RICH_ROWS
    from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
    from prosparsity.traces.writer import TraceWriter

    out, _ = console
    n = RICH_ROWS + 1
    trace = tmp_path / "many.h5"
    with TraceWriter(trace, TraceInfo(model="many", time_steps=4)) as w:
        for i in range(n):
            data = np.zeros((4, 16), dtype=bool)
            data.reshape(-1)[: i % 17] = True
            params = {"in_features": 16, "out_features": 8}
            w.add_layer(LayerRecord(f"fc_{i}", LayerKind.LINEAR, params, layout="T,K"), data)
    res = CliRunner().invoke(cli.app, ["trace", "info", str(trace)])
    assert res.exit_code == 0, res.output
    lines = out.getvalue().splitlines()
    start = lines.index(f"Layers (execution order, {n:,} records)")
    header, rule, *rest = lines[start + 1 :]
    body, caption = rest[:n], rest[n:]
    # a column no layer has a figure in (no neuron layer here) is left out
    assert header.split() == ["Layer", "#", "Kind", "M", "(per", "sample)", "K", "N",
                              "Bit", "density", "(GEMM", "operand)", "Bit", "density", "(raw",
                              "input)", "Levels", "In", "network", "Input", "shape"]
    assert set(rule) == {"-", " "} and caption[0].startswith("neuron spike rate:")
    for i in (0, 16, 17, 500):  # a linear layer's GEMM operand is its raw input
        density = f"{(i % 17) / 64:.4f}"
        assert body[i].split() == [f"fc_{i}", str(i), "linear", "4", "16", "8", density,
                                   density, "0,1", "yes", "4x16", "T,K"]
    assert "│" not in out.getvalue().split("Layers (execution order")[1]


def test_a_v1_trace_analyses_and_simulates_identically(tmp_path: Path, lenet5_npz: Path) -> None:
    """The LeNet-5 trace written as v2 (the importer) and again as v1 (the v1 writer's
    layout, same records and spikes): ``analyze --json`` and ``simulate --json`` give the
    same data, ``trace info`` the same layers; the v1 runs say on stderr, in one line,
    that the file has no digest and how to upgrade it."""
    import json

    from prosparsity.traces.importer import import_dump
    from prosparsity.traces.reader import TraceReader
    from tests.harness.test_reproduce_glue import _run

    from .legacy import write_v1

    v2 = import_dump(lenet5_npz, "lenet5_mnist", tmp_path / "v2.h5")
    with TraceReader(v2) as r:
        layers = [(rec, r.read(rec.name) if rec.has_data else None) for rec in r.layers]
        info = r.info
    v1 = write_v1(tmp_path / "v1.h5", info, layers)
    with TraceReader(v1) as r:
        assert r.schema_version == 1 and not r.has_digest
    for command in (["analyze"], ["simulate"], ["trace", "info"]):
        docs, errs = [], []
        for path in (v2, v1):
            code, out, err = _run([*command, str(path), "--json"])
            assert code == 0, err
            docs.append(json.loads(out))
            errs.append(err)
        assert docs[0]["data"] == docs[1]["data"], command
        assert (docs[0]["input"]["trace_schema"], docs[1]["input"]["trace_schema"]) == (2, 1)
        assert "v1" not in errs[0]
        (line,) = [ln for ln in errs[1].splitlines() if "schema v1" in ln]
        assert line.startswith("warning: ") and f"trace upgrade {v1}" in line
    assert docs[0]["data"]["layers"][0]["name"] == layers[0][0].name
