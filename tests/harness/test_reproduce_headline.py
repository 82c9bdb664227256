"""`prosparsity reproduce` on the LeNet-5 trace plus the four synthetic transformer
traces: the headline section with its three columns (the abstract's claim, Figure 8
reduced the same way over the same workloads, ours), each row naming its workloads and
their traces; Table 4's GOP/s = ops / latency and GOP/J = ops / energy."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import pytest

from prosparsity.reports.export import read_csv
from tests.harness.test_reproduce_glue import _run

SYNTHETIC = ("sdt_cifar10", "spikebert_sst2", "spikformer_cifar10", "spikingbert_sst2")
#: the authors' operation count of LeNet-5 (tests/analysis/test_ops.py checks it)
LENET5_OPS = 3_545_271


@pytest.fixture(scope="module")
def reproduced(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, str]:
    data = tmp_path_factory.mktemp("data")
    (data / "lenet5_mnist.npz").symlink_to(reference_dir / "traces" / "lenet5_mnist.npz")
    for name in SYNTHETIC:
        (data / f"{name}.npz").symlink_to(reference_dir / "synthetic" / f"{name}.npz")
    out = tmp_path_factory.mktemp("out")
    args = ["reproduce", "--data", str(data), "--out", str(out), "--no-sweep", "--no-plots"]
    for name in SYNTHETIC:
        args += ["--synthetic", name]
    code, stdout, stderr = _run(args)
    assert code == 0, stdout + stderr
    return out, stdout


def _fig8(reference_dir: Path, name: str) -> dict[str, dict[str, float]]:
    with (reference_dir / "paper" / name).open() as f:
        rows = list(csv.reader(f))
    return {row[0]: {w: float(v) for w, v in zip(rows[0][1:], row[1:], strict=True) if v}
            for row in rows[1:]}


def _geo(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def test_headline_has_claim_paper_and_ours(reproduced: tuple[Path, str],
                                           reference_dir: Path) -> None:
    out, stdout = reproduced
    doc = json.loads((out / "headline.json").read_text())
    rows = {(r["baseline"], r["comparison"], r["mean"]): r for r in doc["rows"]
            if r["accelerator"] == "Prosperity"}
    assert len(rows) == 8
    latency = _fig8(reference_dir, "fig8_latency_seconds.csv")
    ours_latency = {(r.workload, r.accelerator): r.value
                    for _, r in read_csv(out / "accelerators.csv") if r.metric == "latency_s"}

    ptb = rows[("PTB", "speedup", "geometric")]
    assert ptb["claim"] == 7.4
    assert [w["workload"] for w in ptb["workloads"]] == ["lenet5_mnist", *SYNTHETIC]
    assert {w["workload"]: w["trace"] for w in ptb["workloads"]} == {
        "lenet5_mnist": "real", **dict.fromkeys(SYNTHETIC, "synthetic")}
    assert ptb["paper_workloads"] == list(SYNTHETIC)  # Figure 8 has no LeNet-5
    assert ptb["paper"] == pytest.approx(_geo(
        [latency["PTB"][w] / latency["Prosperity"][w] for w in SYNTHETIC]))
    assert ptb["ours"] == pytest.approx(_geo(
        [ours_latency[(w, "PTB")] / ours_latency[(w, "Prosperity")]
         for w in ("lenet5_mnist", *SYNTHETIC)]))
    a100 = rows[("A100", "speedup", "arithmetic")]
    assert a100["claim"] == 1.8 and [w["workload"] for w in a100["workloads"]] == list(
        SYNTHETIC)  # the A100 was measured on the transformers only
    assert a100["ours"] == pytest.approx(statistics.fmean(
        ours_latency[(w, "A100")] / ours_latency[(w, "Prosperity")] for w in SYNTHETIC))
    assert all(r["claim"] and r["paper"] and r["ours"] for r in rows.values())

    # terminal and Markdown: one line per row with all three numbers
    flat = " ".join(stdout.split())
    assert "Headline: Prosperity against PTB and the A100" in flat
    line = next(x for x in stdout.splitlines() if "speedup over PTB (geometric mean)" in x)
    cells = [c.strip() for c in line.strip("│").split("│")]
    assert cells[1:4] == ["7.40×", f"{ptb['paper']:.2f}×", f"{ptb['ours']:.2f}×"]
    assert cells[4].startswith("1 real (lenet5_mnist), 4 synthetic (sdt_cifar10")
    md = (out / "headline.md").read_text()
    assert "spikingbert_sst2); not in Figure 8: lenet5_mnist |" in md
    assert f"| speedup over PTB (geometric mean) | 7.40× | {ptb['paper']:.2f}× |" in md
    assert md in (out / "summary.md").read_text()
    # the reports say which traces are synthetic, and which models are first-order
    assert ("Accelerator comparison (paper Fig. 8) — Phi, Bishop: first-order model, no "
            "reference simulator — synthetic spikes: sdt_cifar10, spikebert_sst2, "
            "spikformer_cifar10, spikingbert_sst2") in flat


def test_phi_and_bishop_beside_prosperity(reproduced: tuple[Path, str]) -> None:
    """The plugins are priced with the others on every workload they apply to (Bishop:
    the transformers), labelled in Figure 8's table and in the headline, whose rows set
    their speedup over PTB beside Prosperity's and Phi's claim over Stellar (no Stellar
    figure on these workloads: ours is empty there), and whose notes keep Bishop's claim
    over unnamed baselines."""
    out, stdout = reproduced
    figure8 = {(r.workload, r.accelerator) for _, r in read_csv(out / "accelerators.csv")
               if r.metric == "latency_s"}
    assert {w for w, a in figure8 if a == "Phi"} == {"lenet5_mnist", *SYNTHETIC}
    assert {w for w, a in figure8 if a == "Bishop"} == set(SYNTHETIC)
    doc = json.loads((out / "headline.json").read_text())
    rows = {(r["accelerator"], r["baseline"], r["comparison"], r["mean"]): r
            for r in doc["rows"]}
    latency = {(r.workload, r.accelerator): r.value
               for _, r in read_csv(out / "accelerators.csv") if r.metric == "latency_s"}
    bishop = rows[("Bishop", "PTB", "speedup", "geometric")]
    assert bishop["caveat"] == "first-order model, no reference simulator"
    assert bishop["claim"] is None and bishop["paper"] is None
    assert bishop["ours"] == pytest.approx(_geo(
        [latency[(w, "PTB")] / latency[(w, "Bishop")] for w in SYNTHETIC]))
    phi = rows[("Phi", "Stellar", "speedup", "geometric")]
    assert phi["claim"] == 3.45 and phi["ours"] is None and phi["workloads"] == []
    assert ("Phi", "PTB", "energy_efficiency", "geometric") not in rows  # no energy model
    md = (out / "headline.md").read_text()
    assert md.startswith("### Headline: Prosperity against PTB and the A100 (the paper's "
                         "abstract) — Phi, Bishop: first-order model, no reference simulator")
    assert "Bishop claims 5.91× speedup, 6.11× energy efficiency over baselines its " in md


def test_gop_per_second_and_per_joule_on_a_paper_workload(
        reproduced: tuple[Path, str]) -> None:
    """GOP/s = ops / latency and GOP/J = ops / energy with LeNet-5's operation count, for
    every accelerator priced; Prosperity's ablations share it."""
    out, stdout = reproduced
    rows = {(r.accelerator, r.metric): r.value for _, r in read_csv(out / "throughput.csv")
            if r.workload == "lenet5_mnist"}
    accelerators = {a for a, _ in rows}
    assert {"Prosperity", "PTB", "Eyeriss", "SATO", "MINT", "LoAS", "gpu-a100",
            "Prosperity:bit"} <= accelerators
    assert "Stellar" not in accelerators and "A100" not in accelerators  # no figure
    for acc in accelerators:
        latency, energy = rows[(acc, "latency_s")], rows[(acc, "energy_mj")]
        assert rows[(acc, "gop_per_s")] == pytest.approx(LENET5_OPS / 1e9 / latency), acc
        if energy is None:
            assert rows[(acc, "gop_per_j")] is None, acc
        else:
            assert rows[(acc, "gop_per_j")] == pytest.approx(
                LENET5_OPS / 1e9 / (energy * 1e-3)), acc
    assert rows[("Prosperity", "gop_per_s")] == pytest.approx(43.048, abs=1e-3)
    assert "Throughput and energy efficiency (paper Table 4)" in stdout


def test_synthetic_names_must_be_dumps(reference_dir: Path, tmp_path: Path) -> None:
    code, _, err = _run(["reproduce", "--data", str(reference_dir / "traces" /
                                                    "lenet5_mnist.npz"),
                         "--synthetic", "vgg9_cifar10", "--out", str(tmp_path)])
    assert code == 2 and "--synthetic vgg9_cifar10: no such dump in --data" in err
