"""`prosparsity simulate`: rendered output, JSON and errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=160, color=False))
    try:
        result = CliRunner().invoke(app, ["simulate", *args])
    finally:
        set_output(None)
    return result.exit_code, out.getvalue(), err.getvalue() + result.output


#: The rendered tables of `simulate` on LeNet-5 at a 160-column console.
EXPECTED = (Path(__file__).parent / "golden" / "simulate_lenet5.txt").read_text()


def test_table(lenet5_npz: Path) -> None:
    """The reports' accelerator comparison, throughput table and per-layer breakdown (the
    renderers demo and reproduce use): speedups over PTB (the default baseline), GOP/s
    and GOP/J, the GPU's latency and band and no cycles, "—" for what a model has no
    figure for."""
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "-a", "ptb", "-a", "gpu-a100",
                          "--layers")
    assert code == 0, err
    assert "\n".join(line.rstrip() for line in out.splitlines()) + "\n" == EXPECTED


def test_json_with_knobs(lenet5_npz: Path, reference_dir: Path) -> None:
    official = json.loads((reference_dir / "official-sim" / "lenet5_mnist.json").read_text())
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "--json",
                          "--tile-m", "256", "--tile-k", "16", "--issue-type", "1")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["tile"] == {"tile_m": 256, "tile_k": 16}
    assert doc["data"]["accelerators"]["prosperity"]["total_cycles"] == (
        official["runs"]["Prosperity:issue1"]["total_cycles"])
    # issue type 1 is other issue logic: the paper's power does not describe it
    assert doc["data"]["accelerators"]["prosperity"]["energy_mj"] is None
    assert "prosperity: energy not reported: issue_type=1 (default 2)" in err
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "--json", "--sparsity", "bit")
    bit = json.loads(out)["data"]["accelerators"]["prosperity"]
    assert bit["dram_bits"] == official["runs"]["Prosperity:bit"]["dram_bits"]
    assert bit["energy_mj"] is not None and "energy" not in err  # a mode of the same chip


def test_energy_withheld_off_the_papers_design(lenet5_npz: Path) -> None:
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "-a", "ptb", "--tile-m", "32")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "Energy (mJ)" in line).split("┃")
    column = next(i for i, cell in enumerate(header) if "Energy (mJ)" in cell)
    row = next(line for line in out.splitlines() if "│ Prosperity" in line)
    assert row.split("│")[column].strip() == "—"
    assert "prosperity: energy not reported: tile_m=32 (default 256) changes the hardware" in (
        " ".join(err.split()))


def test_json_envelope_gop_and_no_dram(lenet5_npz: Path) -> None:
    """The envelope names the input file (its sha256), the tile and the command; GOP/s =
    ops / latency and GOP/J = ops / energy for every accelerator (LeNet-5: the authors'
    3,545,271 operations); a model without a DRAM model has no DRAM figure (null, not 0);
    the GPU keeps its prediction band."""
    import hashlib

    code, out, err = _run(str(lenet5_npz), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["tool"], doc["command"], doc["schema_version"]) == (
        "prosparsity-harness", "simulate", 3)
    assert doc["input"]["kind"] == "dump" and doc["input"]["workload"] == "lenet5_mnist"
    assert doc["input"]["sha256"] == hashlib.sha256(lenet5_npz.read_bytes()).hexdigest()
    data = doc["data"]
    assert data["ops"] == 3_545_271 and data["baseline"] == "ptb"
    accelerators = data["accelerators"]
    # left out by default: the reported figures have no number for LeNet-5, and Bishop
    # (a plugin) prices spiking transformers only
    assert "stellar" not in accelerators and "a100" not in accelerators
    assert set(data["skipped"]) == {"stellar", "a100", "bishop"}
    assert "phi" in accelerators
    for name, entry in accelerators.items():
        assert entry["gop_per_s"] == pytest.approx(3_545_271 / 1e9 / entry["latency_s"]), name
        if entry["energy_mj"] is None:
            assert entry["gop_per_j"] is None, name
        else:
            assert entry["gop_per_j"] == pytest.approx(
                3_545_271 / 1e9 / (entry["energy_mj"] * 1e-3)), name
    assert accelerators["prosperity"]["gop_per_s"] == pytest.approx(43.0481, abs=1e-4)
    for name in ("eyeriss", "sato", "mint", "loas"):
        assert accelerators[name]["dram_bits"] is None, name
    gpu = accelerators["gpu-a100"]
    assert gpu["extra"]["latency_low_s"] < gpu["latency_s"] < gpu["extra"]["latency_high_s"]


def test_a_reported_figure_named_explicitly_shows_dashes(lenet5_npz: Path) -> None:
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "-a", "stellar")
    assert code == 0, err
    assert not [line for line in out.splitlines() if "│ Stellar" in line]  # no row
    assert "no figure for this workload: stellar" in " ".join(out.split())
    assert "n/a" not in out
    code, out, _ = _run(str(lenet5_npz), "-a", "prosperity", "-a", "stellar", "--json")
    assert json.loads(out)["data"]["accelerators"]["stellar"] is None


def test_stellar_has_no_shared_operation_count(lenet5_npz: Path) -> None:
    """Every accelerator but Stellar shares the workload's operation count (GOP/s =
    ops / latency); Stellar's paper counts its own."""
    from prosparsity.accel.base import Breakdown
    from prosparsity.accel.registry import registry
    from prosparsity.results import AcceleratorResult

    figure = Breakdown("stellar", "lenet5_mnist", 1e6, 1e6, 0, 0, 0, 5e8,
                       latency_s_override=2e-3, energy_mj=1.0)
    stellar = AcceleratorResult(registry()["stellar"], "lenet5_mnist", (figure,), (3_545_271,))
    ptb = AcceleratorResult(registry()["ptb"], "lenet5_mnist", (figure,), (3_545_271,))
    assert stellar.gop_per_s is None and stellar.gop_per_j is None
    assert ptb.gop_per_s == pytest.approx(3_545_271 / 1e9 / 2e-3)
    assert ptb.gop_per_j == pytest.approx(3_545_271 / 1e9 / 1e-3)


def test_baseline_option(lenet5_npz: Path) -> None:
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "-a", "eyeriss",
                          "--baseline", "eyeriss")
    assert code == 0, err
    assert "vs Eyeriss" in out
    prosperity = next(line for line in out.splitlines() if "│ Prosperity" in line)
    assert "2.77" in prosperity  # 114,178 / 41,178 cycles
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity")  # PTB not simulated
    assert "No baseline (PTB) among the accelerators: no speedups." in " ".join(out.split())
    code, _, err = _run(str(lenet5_npz), "--baseline", "tpu")
    assert code != 0


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_workload"], "neither a file nor a paper workload"),
    (["lenet5_mnist", "-a", "prosperity"], "needs spike data"),
    (["lenet5_mnist", "-a", "tpu"], "unknown accelerator"),
])
def test_errors_are_user_facing(args: list[str], message: str) -> None:
    from prosparsity.core.errors import HarnessError

    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=200, color=False))
    try:
        result = CliRunner().invoke(app, ["simulate", *args])
    finally:
        set_output(None)
    assert isinstance(result.exception, HarnessError)
    assert message in str(result.exception)


def test_error_exit_status_and_message() -> None:
    proc = subprocess.run([sys.executable, "-m", "prosparsity.harness.cli", "simulate",
                           "no_such_workload"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "neither a file nor a paper workload" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_npz_needs_a_paper_workload(tmp_path: Path, lenet5_npz: Path) -> None:
    import numpy as np

    import prosparsity as ps
    from prosparsity.core.errors import TraceError

    path = tmp_path / "mine.npz"
    np.savez(path, fc_0=np.zeros((2, 4), dtype=bool))
    with pytest.raises(TraceError, match="--workload"), ps.open(str(path)):
        pass
    # a dump read in place is checked as `trace import` checks it: every layer of the
    # workload present, at the workload's shape (this one was analysed without a word)
    with pytest.raises(TraceError, match="layer 'conv2d_1': layer missing from the dump "
                       r"\(workload lenet5_mnist needs it\)"), \
            ps.open(str(path), "lenet5_mnist"):
        pass
    mine = tmp_path / "mine2.npz"
    mine.write_bytes(lenet5_npz.read_bytes())
    with ps.open(str(mine), "lenet5_mnist") as trace:
        assert trace.workload.paper_workload == "lenet5_mnist"
