"""Phi and Bishop on the reference traces: the counters read the same GEMM rows as an
independent numpy im2col of the authors' LeNet-5 dump, the cost models run beside
Prosperity on LeNet-5 (Phi) and on the synthetic transformer traces (both), through the
command line as a third party's plugin would, and the layers they do not re-price are
Prosperity's own (bit-sparsity mode)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import prosparsity as ps
from prosparsity.accel.base import Breakdown
from prosparsity.accel.registry import registry
from prosparsity.analysis.network import Workload
from prosparsity.analysis.stats import ModelStats
from prosparsity.engine import count_for
from prosparsity.plugins import bishop, phi
from prosparsity.plugins.phi.patterns import segment_codes
from prosparsity.traces.importer import import_dump
from prosparsity.traces.io import TraceReader
from tests.harness.test_reproduce_glue import _run as cli

PHI, BISHOP = phi.PhiConfig(), bishop.BishopConfig()


def _count(wl: Workload) -> ModelStats:
    pros = registry()["prosperity"]
    return count_for(wl, [pros.needs(), phi.needs(PHI), bishop.needs(BISHOP),
                          phi.needs(phi.PhiConfig(calibration_samples=()))])[0]


def _run(stats: ModelStats) -> dict[str, Breakdown]:
    pros = registry()["prosperity"]
    out = {"prosperity": pros.simulate(stats, pros.default_config()),
           "phi": phi.simulate(stats, PHI), "bishop": bishop.simulate(stats, BISHOP)}
    return {k: v for k, v in out.items() if v is not None}


@pytest.fixture(scope="module")
def lenet(lenet5_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelStats:
    trace = import_dump(lenet5_npz, "lenet5_mnist", tmp_path_factory.mktemp("l") / "l.h5")
    with TraceReader(trace) as reader:
        return _count(Workload.from_reader(reader))


def _conv_rows(x: np.ndarray, kernel: int) -> np.ndarray:
    """Spec §1 rows of a conv input ``(T, C, H, W)`` (stride 1, no padding), built with
    numpy: row ``pixel*T + t``, column ``c*k*k + i*k + j``."""
    steps, chans, _, _ = x.shape
    win = sliding_window_view(x, (kernel, kernel), axis=(2, 3))  # (T, C, H', W', k, k)
    h, w = win.shape[2], win.shape[3]
    return win.transpose(2, 3, 0, 1, 4, 5).reshape(h * w * steps, chans * kernel * kernel)


def _histogram(rows: np.ndarray, width: int) -> tuple:
    codes = segment_codes(rows, width)
    return tuple((tuple(int(c) for c in u), tuple(int(n) for n in k))
                 for u, k in (np.unique(codes[:, s], return_counts=True)
                              for s in range(codes.shape[1])))


def test_counters_read_the_rows_of_an_independent_im2col(lenet: ModelStats,
                                                         lenet5_npz: Path) -> None:
    dump = np.load(lenet5_npz)
    conv = _conv_rows(dump["conv2d_1"], 5)  # (144*32, 150)
    fc0 = dump["fc_0"]  # (32, 576): one token, 32 steps
    hist = lenet.counter(phi.PhiHistogram(16))
    assert hist["conv2d_1"] == (_histogram(conv, 16),)
    assert hist["fc_0"] == (_histogram(fc0, 16),)
    bundles = lenet.counter(BISHOP.counter)
    view = conv.reshape(144, 32, 150)  # (L, T, K)
    assert bundles["conv2d_1"] == (bishop.bundle_counts(view, 4, 4, 16, 0.5),)


def test_lenet5(lenet: ModelStats) -> None:
    runs = _run(lenet)
    pros = runs["prosperity"]
    assert pros.total_cycles == 41178  # the paper's simulator (official-sim/lenet5_mnist.json)
    frame = registry()["prosperity"].simulate(
        lenet, registry()["prosperity"].config_type(sparsity="bit"))
    for name in ("phi", "bishop"):
        bd = runs[name]
        assert bd.accelerator == name and "no reference simulator" in bd.notes[0]
        others = [lb for lb in bd.layers if lb.op not in ("linear", "conv2d")]
        assert others == [lb for lb in frame.layers if lb.op not in ("linear", "conv2d")]
        assert bd.total_cycles == sum(lb.network_cycles for lb in bd.layers)
    # first-order numbers of this harness (docs/phi-and-bishop.md), not the authors'
    assert runs["phi"].total_cycles == 83463
    assert runs["bishop"].total_cycles == 199282
    model, layers = phi.densities(lenet, PHI)
    assert model.bit_density == pytest.approx(0.2536399466271977)  # spec §4
    assert model.product_density == pytest.approx(0.015613787226408325)
    assert [d.name for d in layers] == ["conv2d_1", "fc_0", "fc_1"]
    assert 0 < model.pattern_density < model.bit_density
    bundles, _ = bishop.densities(lenet, BISHOP)
    assert model.bit_density <= bundles.fiber_density <= bundles.bundle_density <= 1


def test_analyze_shows_the_three_paradigms(lenet5_npz: Path) -> None:
    """``analyze --counter phi_counts --counter bishop_bundles``: pattern, correction and
    bundle density and the dense share beside bit and product density, per layer and
    for the model, the same numbers the plugins' own densities give (docs table)."""
    code, out, err = cli(["analyze", str(lenet5_npz), "--counter", "phi_counts",
                          "--counter", "bishop_bundles", "--json"])
    assert code == 0, err
    import json

    doc = json.loads(out)["data"]
    wl = Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))
    stats = count_for(wl, [phi.needs(phi.PhiConfig(calibration_samples=())),
                           bishop.needs(BISHOP)])[0]
    p_model, p_layers = phi.densities(stats, phi.PhiConfig(calibration_samples=()))
    b_model, _ = bishop.densities(stats, BISHOP)
    assert doc["counter_densities"] == {
        "pattern_density": pytest.approx(p_model.pattern_density),
        "correction_density": pytest.approx(p_model.correction_density),
        "bundle_density": pytest.approx(b_model.bundle_density),
        "dense_share": pytest.approx(b_model.dense_share)}
    assert doc["bit_density"] == pytest.approx(p_model.bit_density)
    by_layer = {e["name"]: e["counter_densities"] for e in doc["layers"]}
    assert [by_layer[d.name]["pattern_density"] for d in p_layers] == [
        pytest.approx(d.pattern_density) for d in p_layers]
    code, out, err = cli(["analyze", str(lenet5_npz), "--counter", "phi_counts"])
    assert code == 0, err
    assert "Pattern density" in out and "Correction density" in out
    code, out, err = cli(["analyze", str(lenet5_npz), "--counter", "no_such_kind"])
    assert code == 2 and "unknown counter 'no_such_kind'" in err and "phi_counts" in err


def test_simulate_phi_bishop_and_prosperity_from_the_command_line(
        lenet5_npz: Path, reference_dir: Path) -> None:
    """The Done-when command: on LeNet-5 Phi runs and Bishop (transformers only) is
    skipped with its reason; on a synthetic transformer both run; every entry names its
    model's package, version and label, and the tables' titles carry the label."""
    import json

    args = ["--accel", "phi", "--accel", "bishop", "--accel", "prosperity"]
    code, out, err = cli(["simulate", str(lenet5_npz), *args, "--json"])
    assert code == 0, err
    data = json.loads(out)["data"]
    assert set(data["accelerators"]) == {"prosperity", "phi"}
    assert data["accelerators"]["phi"]["total_cycles"] == 83463
    assert "transformers only" in data["skipped"]["bishop"]
    model = data["accelerators"]["phi"]["model"]
    assert model["package"] == "prosparsity-harness" and model["version"] == ps.__version__
    assert model["label"] == "first-order model, no reference simulator"
    trace = reference_dir / "synthetic" / "spikformer_cifar10.npz"
    code, out, err = cli(["simulate", str(trace), *args])
    assert code == 0, err
    assert ("Accelerator comparison (paper Fig. 8) — Bishop, Phi: first-order model, no "
            "reference simulator") in out
    assert all(f"│ {name} " in out for name in ("Prosperity", "Phi", "Bishop"))


@pytest.mark.parametrize("name", [
    "spikformer_cifar10", "sdt_cifar10",
    pytest.param("spikebert_sst2", marks=pytest.mark.slow),
    pytest.param("spikingbert_sst2", marks=pytest.mark.slow),
])
def test_synthetic_transformers(reference_dir: Path, name: str) -> None:
    wl = Workload.from_paper(name, arrays=np.load(reference_dir / "synthetic" / f"{name}.npz"))
    stats = _count(wl)
    runs = _run(stats)
    pros = runs["prosperity"]
    frame = registry()["prosperity"].simulate(
        stats, registry()["prosperity"].config_type(sparsity="bit"))
    for acc in ("phi", "bishop"):
        bd = runs[acc]
        untouched = [lb for lb in bd.layers if lb.op not in ("linear", "conv2d")]
        assert untouched == [lb for lb in frame.layers if lb.op not in ("linear", "conv2d")]
        assert {lb.op for lb in untouched} >= {"attention", "lif"}
        # plausible beside Prosperity: within the bit-sparsity frame's reach
        ratio = bd.total_cycles / pros.total_cycles
        assert 1 < ratio < frame.total_cycles / pros.total_cycles * 1.5, (acc, ratio)
    # no bundle of these traces reaches the stratifier's threshold: every spike goes to
    # the sparse core at one per cycle, which is Prosperity's bit-sparsity ablation
    assert bishop.densities(stats, BISHOP)[0].dense_share == 0
    assert runs["bishop"].total_cycles == frame.total_cycles
    # patterns chosen from the histograms of the priced sample itself price exactly what
    # the self-calibrating counter counts
    table = phi.calibrate([stats], PHI.k, PHI.width, samples=(0,))
    from_table = phi.densities(stats, phi.PhiConfig(patterns=table))[0]
    counted = phi.densities(stats, phi.PhiConfig(calibration_samples=()))[0]
    assert from_table == counted == phi.densities(stats, PHI)[0]
    assert counted.pattern_density > 0
