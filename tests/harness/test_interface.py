"""One consistent interface: the common --json envelope of every
command, --version, help text without typer's type labels on flags, the trace info
columns (M per sample, neuron spike rate, GEMM-operand density)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prosparsity.harness import cli
from prosparsity.harness.console import Output, set_output
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

ENVELOPE = {"tool", "tool_version", "schema_version", "command", "input", "tile", "data"}


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """Run ``prosparsity ARGS`` through ``main`` (the console script's path)."""
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=200, color=False))
    monkeypatch.setattr(sys, "argv", ["prosparsity", *args])
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main()
    finally:
        set_output(None)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def two_samples(tmp_path: Path) -> Path:
    """A trace as capture writes it: B = 2 samples, a lif record with its spike count,
    a skipped analog GEMM, a conv fed by the neuron."""
    data = np.random.default_rng(5).random((3, 2, 2, 5, 5)) < 0.4
    stamp = {"batch": 2, "time_steps": 3}
    path = tmp_path / "two.h5"
    extra = {"skipped_gemms": json.dumps([{"layer": "conv0", "reason": "analog input"}]),
             "gemms_without_neuron": "[]"}
    with TraceWriter(path, TraceInfo(model="two", time_steps=3, batch_size=2, samples=2,
                                     extra=extra)) as w:
        w.add_layer(LayerRecord("lif", LayerKind.LIF, {"neurons": 50, "spikes": 120,
                                                       "elements": 300, **stamp}))
        w.add_layer(LayerRecord("conv", LayerKind.CONV2D, {
            "in_channels": 2, "out_channels": 4, "kernel": 3, "padding": 1, **stamp},
            layout="T,B,C,H,W"), data)
    return path


@pytest.mark.parametrize("command", [
    ["analyze"], ["simulate", "-a", "prosperity", "-a", "ptb"], ["trace", "info"]])
def test_every_json_document_shares_the_envelope(
        command: list[str], two_samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _main(monkeypatch, *command, str(two_samples), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == ENVELOPE
    assert doc["command"] == " ".join(c for c in command if not c.startswith("-")
                                      and c not in ("prosperity", "ptb"))
    assert doc["schema_version"] == 3 and doc["tool"] == "prosparsity-harness"
    source = doc["input"]
    assert source["path"] == str(two_samples) and source["kind"] == "trace"
    assert source["sha256"] == hashlib.sha256(two_samples.read_bytes()).hexdigest()
    assert source["skipped_at_capture"] == [{"layer": "conv0", "reason": "analog input"}]
    assert source["synthetic"] is False
    if command[0] == "trace":
        assert doc["tile"] is None
    else:
        assert doc["tile"] == {"tile_m": 256, "tile_k": 16}


def test_models_json_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _main(monkeypatch, "models", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == ENVELOPE and doc["input"] is None and doc["command"] == "models"
    names = {m["name"]: m for m in doc["data"]["models"]}
    assert names["digits-cnn"]["weights"] == "trained" and names["digits-cnn"][
        "time_steps"] == 8
    code, out, _ = _main(monkeypatch, "--version")
    assert code == 0 and out.strip() == f"prosparsity-harness {doc['tool_version']}"


def test_trace_info_shows_per_sample_m_and_both_densities(
        two_samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """M per sample (analyze's convention), the neuron spike rate as captured, the
    GEMM-operand density after im2col (analyze's bit density) beside the raw input's."""
    code, out, err = _main(monkeypatch, "trace", "info", str(two_samples), "--json")
    assert code == 0, err
    layers = {x["name"]: x for x in json.loads(out)["data"]["layers"]}
    assert layers["lif"]["neuron_spike_rate"] == 0.4
    conv = layers["conv"]
    assert conv["gemms"] == [{"m": 3 * 25, "k": 18, "n": 4}]  # T * 5 * 5 rows per sample
    code, out, _ = _main(monkeypatch, "analyze", str(two_samples), "--batched", "--json")
    analysed = json.loads(out)["data"]["layers"][0]
    assert conv["operand_bit_density"] == pytest.approx(analysed["bit_density"])
    assert conv["raw_bit_density"] != pytest.approx(analysed["bit_density"])  # padding
    code, out, _ = _main(monkeypatch, "trace", "info", str(two_samples))
    flat = " ".join(out.split())
    assert ("Layers (execution order, 2 records) — totals exclude GEMMs skipped at capture: "
            "two.h5" in flat)
    assert "skipped at capture, in no total (input not spikes): conv0 (analog input)" in flat


def _help(*args: str) -> str:
    """``--help`` of a command in a fresh process, its panel borders removed."""
    proc = subprocess.run([sys.executable, "-m", "prosparsity.harness.cli", *args, "--help"],
                          capture_output=True, text=True, env={"COLUMNS": "120", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    return " ".join(proc.stdout.replace("│", " ").split())


def test_help_text_has_no_bool_labels_and_names_arguments_in_capitals() -> None:
    root = _help()
    assert "<bool>" not in root and "--version" in root
    simulate = _help("simulate")
    assert "Usage: prosparsity simulate [OPTIONS] TRACE" in simulate
    assert "<bool>" not in simulate and "{trace}" not in simulate
    for default in ("(default: 256, the paper's)", "(default: 16, the paper's)",
                    "(default: 2, the paper's)", "[default: ptb]", "(default: product)",
                    "default: all that apply)"):
        assert default in simulate, default
    info = _help("trace", "info")
    assert "Usage: prosparsity trace info [OPTIONS] FILE" in info and "<bool>" not in info
    for command in ("capture", "reproduce"):
        text = _help(command)
        assert not re.search(r"\w \.(\s|$)", text), command  # "Samples to record ."
        assert "<bool>" not in text, command
