"""`prosparsity reproduce` with stand-in cost models that return the authors' simulator
output: checks the glue (rows, references, exports, summary, --strict), not the models."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prosparsity.accel import registry
from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import HarnessError
from prosparsity.harness import cli
from prosparsity.harness.commands import reproduce as reproduce_cmd
from prosparsity.harness.console import Output, set_output
from prosparsity.reports.export import read_csv


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    tile_m: int = 256
    tile_k: int = 16
    sparsity: str = "product"
    issue_type: int = 2


class FakeModel:
    """Returns the official run of ``key`` (``key:M.._K..`` / ablations by config)."""

    def __init__(self, runs: dict[str, Any], key: str, off_by: float = 0.0) -> None:
        self.runs, self.key, self.off_by = runs, key, off_by

    def simulate(self, stats: ModelStats, config: FakeConfig) -> Breakdown:
        key = self.key
        if config.sparsity != "product":
            key += f":{config.sparsity}"
        elif config.issue_type == 1:
            key += ":issue1"
        elif (config.tile_m, config.tile_k) != (256, 16):
            key += f":M{config.tile_m}_K{config.tile_k}"
        run = self.runs[key]
        layers = tuple(
            LayerBreakdown(name=name, op="lif" if name.startswith("lif") else "gemm",
                           total_cycles=v["total_cycles"], compute_cycles=v["compute_cycles"],
                           mem_stall_cycles=v["mem_stall_cycles"],
                           preprocess_stall_cycles=v.get("preprocess_stall_cycles", 0),
                           dram_bits=v["dram_bits"],
                           added_cycles=v.get("lif_latency") if name.startswith("lif") else None)
            for name, v in run.get("per_layer", {}).items())
        return Breakdown(accelerator=self.key, workload="lenet5_mnist",
                         total_cycles=run["total_cycles"] + self.off_by,
                         compute_cycles=run["compute_cycles"],
                         mem_stall_cycles=run["mem_stall_cycles"],
                         preprocess_stall_cycles=run["preprocess_stall_cycles"],
                         dram_bits=run["dram_bits"], clock_hz=5e8, layers=layers)


@pytest.fixture
def official(reference_dir: Path) -> Path:
    return reference_dir / "official-sim" / "lenet5_mnist.json"


def _tiled(config: FakeConfig) -> Needs:
    return Needs(spikes=True, tile=(config.tile_m, config.tile_k))


def _fake_pipeline(monkeypatch: pytest.MonkeyPatch, official: Path, off_by: float = 0.0) -> None:
    """Stand-in cost models in the registry; counting (the real analysis) is unchanged."""
    real = registry.registry()  # the built-in models register first, with their facts
    runs = json.loads(official.read_text())["runs"]
    fakes = {}
    for name in ("Prosperity", "PTB", "Eyeriss", "SATO", "MINT"):
        model = FakeModel(runs, name, off_by if name == "PTB" else 0.0)
        fakes[name.lower()] = dataclasses.replace(
            real[name.lower()], simulate=model.simulate, config_type=FakeConfig,
            needs_fn=_tiled)
    monkeypatch.setattr(registry, "_REGISTRY", fakes)


def _run(args: list[str]) -> tuple[int, str, str]:
    """Run the CLI as ``main`` does: a HarnessError is printed on stderr, exit status 2."""
    out, err = io.StringIO(), io.StringIO()
    output = Output(stdout=out, stderr=err, width=220, color=False)
    set_output(output)
    try:
        result = CliRunner().invoke(cli.app, args)
    finally:
        set_output(None)
    code = result.exit_code
    if isinstance(result.exception, HarnessError):
        output.error(str(result.exception))
        code = 2
    elif result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return code, out.getvalue(), err.getvalue()


def test_reproduce_matches_figure11_and_official_cycles(
        monkeypatch: pytest.MonkeyPatch, lenet5_npz: Path, official: Path,
        tmp_path: Path) -> None:
    _fake_pipeline(monkeypatch, official)
    code, out, err = _run(["reproduce", "--data", str(lenet5_npz), "--official",
                           str(official.parent), "--out", str(tmp_path), "--no-plots"])
    assert code == 0, err
    assert "differ" in out and " 0 differ." in out
    rows = {(r.accelerator, r.metric, r.config, r.layer): r
            for kind, r in read_csv(tmp_path / "density.csv")}
    bit = rows[("Prosperity", "bit_density", "M256_K16", "")]
    prod = rows[("Prosperity", "product_density", "M256_K16", "")]
    assert "Fig. 11" in bit.reference_source
    assert abs(bit.rel_diff) < 1e-9 and abs(prod.rel_diff) < 1e-9
    acc = {(r.workload, r.accelerator, r.metric): r
           for _, r in read_csv(tmp_path / "accelerators.csv")}
    for name, cycles in (("Prosperity", 41178), ("PTB", 62319), ("Eyeriss", 114178),
                         ("SATO", 61012), ("MINT", 196013), ("Prosperity:bit", 183492),
                         ("Prosperity:issue1", 88245), ("Prosperity:dense", 715999)):
        rec = acc[("lenet5_mnist", name, "total_cycles")]
        assert rec.value == cycles and rec.reference == cycles and not rec.flagged
    assert acc[("geomean", "Prosperity", "speedup_vs_eyeriss")].value == pytest.approx(
        114178 / 41178)
    sweep = [r for _, r in read_csv(tmp_path / "sweep.csv") if r.metric == "total_cycles"]
    assert len(sweep) == 12 and all(r.reference == r.value for r in sweep)
    layers = read_csv(tmp_path / "layers_lenet5_mnist.csv")
    lif2 = [r for _, r in layers if (r.accelerator, r.layer, r.metric) ==
            ("Prosperity", "lif_2", "added_cycles")]
    assert lif2[0].value == 2048 == lif2[0].reference
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# prosparsity reproduce") and "### Tile-size" in summary


def test_strict_fails_on_a_difference(monkeypatch: pytest.MonkeyPatch, lenet5_npz: Path,
                                      official: Path, tmp_path: Path) -> None:
    _fake_pipeline(monkeypatch, official, off_by=1.0)
    code, out, _ = _run(["reproduce", "--data", str(lenet5_npz), "--official", str(official),
                         "--out", str(tmp_path), "--no-plots", "--no-sweep", "--strict"])
    assert code == 1
    assert "✗ lenet5_mnist PTB total_cycles: ours 62320, ref 62319" in out


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    code, _, err = _run(["reproduce", "--data", str(tmp_path / "nope")])
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "mine.npz").write_bytes(b"")
    code, _, err = _run(["reproduce", "--data", str(tmp_path)])
    assert code == 2 and "'mine' is not a paper workload" in err
    assert "no spike dump named after a paper workload" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    (tmp_path / "lenet5_mnist.npz").write_bytes(b"")
    code, _, err = _run(["reproduce", "--data", str(tmp_path), "--official", str(bad)])
    assert code == 2 and "bad.json: not a readable JSON document" in err


def test_find_dumps_prefers_the_authors_pickle(tmp_path: Path) -> None:
    for name in ("lenet5_mnist.npz", "lenet5_mnist.pkl", "vgg16_cifar10.npz", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert reproduce_cmd.find_dumps(tmp_path) == [
        ("lenet5_mnist", tmp_path / "lenet5_mnist.pkl"),
        ("vgg16_cifar10", tmp_path / "vgg16_cifar10.npz"),
    ]


def test_official_output_beside_the_dump_is_used(
        monkeypatch: pytest.MonkeyPatch, official: Path, tmp_path: Path) -> None:
    _fake_pipeline(monkeypatch, official, off_by=1.0)
    data = tmp_path / "data"
    data.mkdir()
    (data / "lenet5_mnist.npz").write_bytes((official.parent.parent / "traces" /
                                             "lenet5_mnist.npz").read_bytes())
    (data / "lenet5_mnist.official.json").write_text(official.read_text())
    code, out, _ = _run(["reproduce", "--data", str(data), "--out", str(tmp_path / "out"),
                         "--no-plots", "--no-sweep"])
    assert code == 0  # differences are reported, not fatal, without --strict
    acc = {(r.accelerator, r.metric): r for _, r in read_csv(tmp_path / "out" /
                                                               "accelerators.csv")}
    ptb = acc[("PTB", "total_cycles")]
    assert (ptb.value, ptb.reference, ptb.flagged) == (62320, 62319, True)
    assert "official-sim lenet5_mnist.official.json" in ptb.reference_source
    assert "1 differ." in out


def test_a_bad_dump_is_skipped_and_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "lenet5_mnist.npz").write_bytes(b"not an npz")
    code, _, err = _run(["reproduce", "--data", str(data), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "nothing reproduced: lenet5_mnist:" in err and "lenet5_mnist.npz" in err
