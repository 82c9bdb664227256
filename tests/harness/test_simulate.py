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
    set_output(Output(out, err, width=100, color=False))
    try:
        result = CliRunner().invoke(app, ["simulate", *args])
    finally:
        set_output(None)
    return result.exit_code, out.getvalue(), err.getvalue() + result.output


EXPECTED = """\
simulate: lenet5_mnist
┏━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┓
┃             ┃        ┃ latency ┃ energy ┃   DRAM ┃  latency ÷ ┃
┃ accelerator ┃ cycles ┃    (ms) ┃   (mJ) ┃ (Mbit) ┃ prosperity ┃
┡━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━┩
│ prosperity  │ 41,178 │  0.0824 │ 0.0505 │  1.103 │      1.00x │
└─────────────┴────────┴─────────┴────────┴────────┴────────────┘
prosperity: per layer
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━┓
┃ layer               ┃ op     ┃  total ┃ compute ┃ mem stall ┃  added ┃ DRAM bits ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━┩
│ conv2d_1_kernel5_fc │ conv2d │ 36,968 │  36,962 │         6 │ 36,968 │   373,248 │
│ lif_2               │ lif    │  4,608 │   4,608 │         0 │  2,048 │    73,728 │
│ fc_0                │ linear │  1,363 │   1,348 │        15 │  1,363 │   571,392 │
│ lif_3               │ lif    │    256 │     256 │         0 │    256 │         0 │
│ fc_1                │ linear │    351 │     341 │        10 │    351 │    84,480 │
│ lif_4               │ lif    │    192 │     192 │         0 │    192 │         0 │
└─────────────────────┴────────┴────────┴─────────┴───────────┴────────┴───────────┘
"""


def test_table(lenet5_npz: Path) -> None:
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "--layers")
    assert code == 0, err
    assert "\n".join(line.rstrip() for line in out.splitlines()) + "\n" == EXPECTED


def test_json_with_knobs(lenet5_npz: Path, reference_dir: Path) -> None:
    official = json.loads((reference_dir / "official-sim" / "lenet5_mnist.json").read_text())
    code, out, err = _run(str(lenet5_npz), "-a", "prosperity", "--json",
                          "--tile-m", "256", "--tile-k", "16", "--issue-type", "1")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["accelerators"]["prosperity"]["total_cycles"] == (
        official["runs"]["Prosperity:issue1"]["total_cycles"])
    code, out, _ = _run(str(lenet5_npz), "-a", "prosperity", "--json", "--sparsity", "bit")
    assert json.loads(out)["accelerators"]["prosperity"]["dram_bits"] == (
        official["runs"]["Prosperity:bit"]["dram_bits"])


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


def test_npz_needs_a_paper_workload(tmp_path: Path) -> None:
    import numpy as np

    from prosparsity.core.errors import TraceError
    from prosparsity.harness.pipeline import open_workload

    path = tmp_path / "mine.npz"
    np.savez(path, fc_0=np.zeros((2, 4), dtype=bool))
    with pytest.raises(TraceError, match="--workload"), open_workload(str(path)):
        pass
    with open_workload(str(path), "lenet5_mnist") as wl:
        assert wl.paper_workload == "lenet5_mnist"
