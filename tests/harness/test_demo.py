"""`prosparsity demo`: the main job end to end on the embedded trained model(s).

Checks the rendered reports and reads every export back; nothing from ../shared is used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prosparsity.reports.export import read_csv, read_json
from tests.browser import Chromium, check_page, chromium  # noqa: F401  (fixture)
from tests.harness.test_reproduce_glue import _run
from tests.reports.test_plots import _check_png


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    out = tmp_path_factory.mktemp("demo")
    code, stdout, stderr = _run(["demo", "--samples", "2", "--out", str(out)])
    assert code == 0, stdout + stderr
    return out, stdout, stderr


def test_density_has_mean_and_spread_over_samples(demo_run: tuple[Path, str, str]) -> None:
    out, stdout, _ = demo_run
    report = read_json(out / "density.json")
    by_metric = {(r.workload, r.metric): r.value for r in report.records}
    workloads = sorted({w for w, _ in by_metric})
    assert "digits-cnn" in workloads
    assert by_metric[("digits-cnn", "n_samples")] == 2
    bit, prod = by_metric[("digits-cnn", "bit_density")], by_metric[("digits-cnn",
                                                                     "product_density")]
    assert 0 < prod < bit < 1
    assert by_metric[("digits-cnn", "bit_density_std")] >= 0
    assert by_metric[("digits-cnn", "reduction_factor")] == pytest.approx(bit / prod)
    assert "Bit and product density (paper Fig. 11)" in stdout
    assert f"{bit:.6f} ± " in stdout


def test_demo_covers_a_trained_model_of_each_family(demo_run: tuple[Path, str, str]) -> None:
    """The registry's trained entries: a spiking CNN, a Spikformer, a Spike-driven
    Transformer and a SpikeBERT, none of them marked as random weights."""
    out, stdout, _ = demo_run
    report = read_json(out / "density.json")
    assert {r.workload for r in report.records} == {
        "digits-cnn", "digits-spikformer", "digits-sdt", "listops-spikebert"}
    assert "random weights" not in stdout


def test_accelerators_and_speedup(demo_run: tuple[Path, str, str]) -> None:
    out, stdout, _ = demo_run
    rows = {(r.workload, r.accelerator, r.metric): r for _, r in
            read_csv(out / "accelerators.csv")}
    prosperity = rows[("digits-cnn", "Prosperity", "latency_s")].value
    ptb = rows[("digits-cnn", "PTB", "latency_s")].value
    assert rows[("digits-cnn", "Prosperity", "speedup_vs_ptb")].value == pytest.approx(
        ptb / prosperity)
    assert rows[("digits-cnn", "Prosperity", "energy_mj")].value > 0
    gpu = sorted({a for _, a, _ in rows if a.startswith("gpu-")})
    assert gpu, "the GPU-equivalent model is simulated"
    assert rows[("digits-cnn", gpu[0], "latency_s")].value > prosperity
    # one normalisation in every command: PTB by default (Eyeriss is not simulated: not
    # a column, no note)
    assert "not simulated" not in stdout and "vs PTB" in stdout
    # a GPU's figure is its latency: no cycles; it has no energy model
    assert rows[("digits-cnn", gpu[0], "total_cycles")].value is None
    assert "No reference values for these workloads." in stdout


def test_titles_say_the_totals_exclude_layers_skipped_at_capture(
        demo_run: tuple[Path, str, str]) -> None:
    """digits-cnn's first conv takes the analog image: capture skips it, and every report
    says so in its title and names the layer."""
    out, stdout, _ = demo_run
    flat = " ".join(stdout.split())
    assert ("Accelerator comparison (paper Fig. 8) — totals exclude GEMMs skipped at "
            "capture: digits-cnn, digits-spikformer, digits-sdt, listops-spikebert") in flat
    assert ("digits-cnn: skipped at capture, in no total (input not spikes): conv1 "
            "(analog input, declared by the model).") in flat
    assert read_json(out / "density.json").title.startswith(
        "Bit and product density (paper Fig. 11) — totals exclude")


def test_throughput_report(demo_run: tuple[Path, str, str]) -> None:
    """Table 4 in the demo (means over the samples of per-sample GOP/s and GOP/J; the
    exact ops / latency rule is tested on one sample in test_reproduce_glue): the GPU has
    GOP/s but no GOP/J (no energy model) and carries its band."""
    out, _, _ = demo_run
    rows = {(r.workload, r.accelerator, r.metric): r.value for _, r in
            read_csv(out / "throughput.csv")}
    for acc in ("Prosperity", "PTB", "gpu-a100"):
        assert rows[("digits-cnn", acc, "gop_per_s")] > 0, acc
    assert rows[("digits-cnn", "Prosperity", "gop_per_s")] > rows[
        ("digits-cnn", "PTB", "gop_per_s")]
    assert rows[("digits-cnn", "Prosperity", "gop_per_j")] > 0
    assert rows[("digits-cnn", "gpu-a100", "gop_per_j")] is None
    low = rows[("digits-cnn", "gpu-a100", "latency_low_s")]
    high = rows[("digits-cnn", "gpu-a100", "latency_high_s")]
    assert low < rows[("digits-cnn", "gpu-a100", "latency_s")] < high


def test_layers_sweep_and_plots(demo_run: tuple[Path, str, str]) -> None:
    out, stdout, _ = demo_run
    layers = [r for _, r in read_csv(out / "layers_digits-cnn.csv")]
    gemm_cycles = [r.value for r in layers if r.accelerator == "Prosperity"
                   and r.metric == "total_cycles"]
    assert gemm_cycles and all(v >= 0 for v in gemm_cycles)
    sweep = [r for _, r in read_csv(out / "sweep.csv") if r.metric == "normalized_latency"]
    assert len(sweep) == 12 and all(0 < r.value <= 1.0 for r in sweep)
    for name in ("density", "accelerators", "throughput", "sweep_tile_m", "sweep_tile_k",
                 "layers_digits-cnn"):
        _check_png(out / f"{name}.png")
    assert (out / "summary.md").read_text().startswith("# prosparsity demo")


def test_report_html_renders_every_table_and_plot(demo_run: tuple[Path, str, str],
                                                  chromium: Chromium) -> None:  # noqa: F811
    """report.html in a real headless Chromium: one table per report the terminal
    printed (density, accelerators, throughput, sweep, layers), every PNG written,
    decoded; no error logged, nothing fetched."""
    out, stdout, _ = demo_run
    pngs = sorted(out.glob("*.png"))
    shown = check_page(chromium, out / "report.html", tables=5, images=len(pngs))
    assert len(pngs) == 6 and shown.title == "prosparsity demo"
    assert "prosparsity-harness" in shown.text and "input digits-cnn" in shown.text
    for heading in shown.headings[:-1]:  # every table of the page is one of the run's
        assert heading.split(" (")[0] in stdout
