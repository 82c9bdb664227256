"""The example plugin (``examples/plugin``), installed with pip into a temporary folder
as a third party's package would be, runs through the command line, the API and an
in-process sweep, its counter inside the one counting pass; a plugin that fails to
import or to price is one line naming it and its package, and the others still run.

pip builds a copy of the project in the test's own folder (a build writes ``build/``
and ``*.egg-info`` beside the sources) and installs it with ``--target``: the project's
virtual environment is never touched. The subprocesses see it on ``PYTHONPATH``, where
``importlib.metadata`` finds its entry points.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prosparsity.accel.base import Needs
from prosparsity.analysis.network import Workload
from prosparsity.engine import count_for
from prosparsity.traces.importer import import_dump
from tests.conftest import REPO
from tests.plugins.test_reference_traces import _conv_rows

PROSPARSITY = Path(sys.executable).with_name("prosparsity")
LABEL = "first-order model, no reference simulator"


def _pip_install(project: Path, target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-deps", "--no-build-isolation", "--no-index", "--target",
                    str(target), str(project)], check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin, pip-installed into a folder of its own."""
    work = tmp_path_factory.mktemp("example-plugin")
    shutil.copytree(REPO / "examples" / "plugin", work / "src")
    _pip_install(work / "src", work / "site")
    assert (work / "site" / "rowskip.py").is_file()
    return work / "site"


#: A distribution with two plugins that fail: one on import, one when it prices.
BROKEN = {
    "pyproject.toml": """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "prosparsity-broken"
version = "0.0.1"

[tool.setuptools]
py-modules = ["broken_import", "broken_price"]

[project.entry-points."prosparsity.accelerators"]
nolib = "broken_import:MODEL"
overflow = "broken_price:MODEL"
""",
    "broken_import.py": 'raise ImportError("libfancy.so: cannot open shared object file")\n',
    "broken_price.py": """\
from dataclasses import dataclass

from prosparsity.accel.registry import AcceleratorModel


@dataclass(frozen=True)
class Config:
    pass


def simulate(stats, config):
    raise OverflowError("cycle counter wrapped")


MODEL = AcceleratorModel(name="overflow", simulate=simulate, config_type=Config)
""",
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("broken-plugin")
    (work / "src").mkdir()
    for name, text in BROKEN.items():
        (work / "src" / name).write_text(text)
    _pip_install(work / "src", work / "site")
    return work / "site"


def _cli(site: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run([str(PROSPARSITY), *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def lenet_trace(lenet5_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_dump(lenet5_npz, "lenet5_mnist", tmp_path_factory.mktemp("t") / "lenet.h5")


def _busy(rows: np.ndarray, width: int) -> int:
    m, k = rows.shape
    padded = np.zeros((m, -(-k // width) * width), dtype=bool)
    padded[:, :k] = rows
    return int(padded.reshape(m, -1, width).any(axis=2).sum())


def _expected_cycles(lenet5_npz: Path, width: int) -> int:
    """RowSkip on LeNet-5 by hand: ``ceil(N / 128)`` times the busy row segments of each
    weight GEMM's rows, built with numpy (im2col of the conv input)."""
    dump = np.load(lenet5_npz)
    rows = {"conv2d_1": _conv_rows(dump["conv2d_1"], 5), "fc_0": dump["fc_0"],
            "fc_1": dump["fc_1"]}
    stats = count_for(Workload.from_paper("lenet5_mnist", arrays=dump), [Needs(spikes=True)])[0]
    return sum(-(-stats.layer(name).n // 128) * _busy(r.astype(bool), width)
               for name, r in rows.items())


def test_the_cli_lists_and_prices_the_installed_plugin(site: Path, lenet5_npz: Path) -> None:
    listed = _cli(site, "accelerators", "--json")
    assert listed.returncode == 0, listed.stderr
    models = {m["name"]: m for m in json.loads(listed.stdout)["data"]["accelerators"]}
    assert models["rowskip"]["package"] == "prosparsity-rowskip"
    assert models["rowskip"]["version"] == "0.1.0" and models["rowskip"]["plugin"]
    assert models["phi"]["label"] == models["bishop"]["label"] == LABEL

    run = _cli(site, "simulate", str(lenet5_npz), "--accel", "rowskip", "--accel",
               "prosperity", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)["data"]
    entry = data["accelerators"]["rowskip"]
    assert entry["model"] == {"name": "rowskip", "display": "RowSkip",
                              "package": "prosparsity-rowskip", "version": "0.1.0",
                              "label": "example plugin"}
    assert entry["total_cycles"] == _expected_cycles(lenet5_npz, 16) == 35444
    assert entry["dram_bits"] is None and entry["energy_mj"] is None
    assert data["accelerators"]["prosperity"]["total_cycles"] == 41178  # unchanged

    table = _cli(site, "simulate", str(lenet5_npz), "--accel", "rowskip")
    assert table.returncode == 0, table.stderr
    assert ("Accelerator comparison (paper Fig. 8) — RowSkip: example plugin"
            in " ".join(table.stdout.split()))  # the title, wrapped at the table's width


def test_the_api_the_spy_and_a_sweep(site: Path, lenet_trace: Path, lenet5_npz: Path,
                                     tmp_path: Path) -> None:
    """In a process that has the plugin: ``prosparsity.simulate`` counts once for
    Prosperity and RowSkip (the spy: one counting pass, no kernel call beyond the
    operands', the plugin's counter called on every weight-GEMM layer inside that
    pass), ``prosparsity.count`` shows its density, and ``prosparsity.explore`` sweeps
    its width in this process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    done = subprocess.run([sys.executable, "-m", "tests.plugins.example_session",
                           str(lenet_trace), str(tmp_path)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "rowskip" in seen["registered"] and "phi" in seen["registered"]
    assert seen["passes"] == 1 and seen["kernel_calls_are_the_operands"]
    assert seen["counter_calls"] == [["conv2d_1", True], ["fc_0", True], ["fc_1", True]]
    assert seen["counters"] == ["busy_segments"]  # Prosperity needs no counter
    assert seen["api"]["total_cycles"] == _expected_cycles(lenet5_npz, 16)
    assert seen["api"]["model"]["package"] == "prosparsity-rowskip" and seen["api"]["plugin"]
    assert seen["api"]["title"].endswith("— RowSkip: example plugin")
    assert 0 < seen["busy_segment_share"] < 1
    assert seen["sweep"] == {"8": _expected_cycles(lenet5_npz, 8),
                             "16": _expected_cycles(lenet5_npz, 16)}
    assert seen["sweep_reports"][0] == ("rowskip: best configuration per workload and "
                                        "accelerator — RowSkip: example plugin")


def test_a_failing_plugin_is_one_line_and_the_others_run(site: Path, broken_site: Path,
                                                         lenet5_npz: Path) -> None:
    both = os.pathsep.join([str(site), str(broken_site)])
    listed = _cli(both, "accelerators")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.strip().splitlines() == [
        "warning: accelerator plugin 'nolib' of prosparsity-broken 0.0.1 not loaded: "
        "ImportError: libfancy.so: cannot open shared object file"]
    assert "rowskip" in listed.stdout and "overflow" in listed.stdout

    run = _cli(both, "simulate", str(lenet5_npz), "--accel", "overflow", "--accel",
               "rowskip", "--accel", "prosperity", "--json")
    assert run.returncode == 0, run.stderr
    failure = ("accelerator plugin 'overflow' (prosparsity-broken 0.0.1) failed to price "
               "paper:lenet5_mnist: OverflowError: cycle counter wrapped")
    lines = run.stderr.strip().splitlines()
    assert f"warning: {failure}" in lines and len(lines) == 2  # and the import failure
    data = json.loads(run.stdout)["data"]
    assert set(data["accelerators"]) == {"prosperity", "rowskip"}
    assert data["failed"] == {"overflow": failure} and data["skipped"] == {}
    assert data["accelerators"]["rowskip"]["total_cycles"] == 35444
