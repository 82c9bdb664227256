"""Report builders: the records they produce, hand-checked."""

from __future__ import annotations

import pytest

from prosparsity.core.measures import geometric_mean
from prosparsity.reports.build import accelerator_report
from prosparsity.reports.metrics import Metric
from prosparsity.reports.model import Record, Report, ReportKind
from prosparsity.reports.rows import AccelRow


def _get(report: Report, workload: str, accelerator: str, metric: str, **kw: str) -> Record:
    found = [r for r in report.records if (r.workload, r.accelerator, r.metric) ==
             (workload, accelerator, metric) and all(getattr(r, k) == v for k, v in kw.items())]
    assert len(found) == 1, found
    return found[0]


def test_geometric_mean() -> None:
    assert geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert geometric_mean([]) is None
    assert geometric_mean([0.0, -1.0]) is None


def test_density_report(density: Report) -> None:
    assert density.kind is ReportKind.DENSITY
    rf = _get(density, "lenet5_mnist", "Prosperity", Metric.REDUCTION_FACTOR)
    assert rf.value == pytest.approx(0.2536399466271977 / 0.015613787226408325)
    assert rf.reference == pytest.approx(rf.value, rel=1e-12) and not rf.flagged
    bit = _get(density, "lenet5_mnist", "Prosperity", Metric.BIT_DENSITY)
    assert abs(bit.rel_diff) < 1e-9 and bit.config == "M256_K16"
    # No paper value for a model that is not a paper workload; spread only with samples.
    assert _get(density, "digits-cnn", "Prosperity", Metric.BIT_DENSITY).reference is None
    assert _get(density, "digits-cnn", "Prosperity", Metric.BIT_DENSITY_STD).value == 0.01
    assert not [r for r in density.records
                if r.workload == "lenet5_mnist" and r.metric == Metric.BIT_DENSITY_STD]
    assert density.flagged() == ()


def test_accelerator_report_speedups_and_geomeans(accelerators: Report) -> None:
    sp = _get(accelerators, "toy", "Prosperity", "speedup_vs_eyeriss")
    assert sp.value == pytest.approx(8.0) and sp.reference is None
    assert _get(accelerators, "toy", "Prosperity", "speedup_vs_ptb").value == pytest.approx(4.0)
    eff = _get(accelerators, "toy", "Prosperity", "energy_efficiency_vs_eyeriss")
    assert eff.value == pytest.approx(8.0)
    # vgg16: Eyeriss latency 0.452082992 over 0.05, the paper's ratio as reference.
    vgg = _get(accelerators, "vgg16_cifar10", "Prosperity", "speedup_vs_eyeriss")
    assert vgg.value == pytest.approx(0.452082992 / 0.05)
    assert vgg.reference == pytest.approx(0.452082992 / 0.021503906)
    gm = _get(accelerators, "geomean", "Prosperity", "speedup_vs_eyeriss")
    assert gm.value == pytest.approx((8.0 * 0.452082992 / 0.05) ** 0.5)
    assert gm.reference is None  # the paper has no "toy"
    lat = _get(accelerators, "vgg16_cifar10", "Prosperity", Metric.LATENCY_S)
    assert lat.flagged and lat.reference == pytest.approx(0.021503906)
    eyeriss = _get(accelerators, "vgg16_cifar10", "Eyeriss", Metric.ENERGY_MJ)
    assert eyeriss.rel_diff == pytest.approx(0.0, abs=1e-12) and not eyeriss.flagged
    assert not [r for r in accelerators.records if r.metric == "speedup_vs_a100"]


def test_accelerator_report_falls_back_to_another_baseline() -> None:
    rep = accelerator_report([
        AccelRow("m", "PTB", 2.0), AccelRow("m", "Prosperity", 0.5),
        AccelRow("m", "gpu-a100", 1.0),
    ], also=("PTB", "gpu-a100"))  # baselines as reports spell them
    assert any("normalised to PTB" in n for n in rep.notes)
    assert _get(rep, "m", "Prosperity", "speedup_vs_ptb").value == pytest.approx(4.0)
    assert _get(rep, "m", "Prosperity", "speedup_vs_gpu-a100").value == pytest.approx(2.0)
    assert not [r for r in rep.records if r.metric.startswith("energy_efficiency")
                and r.value is not None]


def test_sweep_report_normalises_and_compares_with_fig7(sweep: Report) -> None:
    m32 = _get(sweep, "sdt_cifar10", "Prosperity", Metric.NORMALIZED_LATENCY, config="M32_K16")
    assert m32.value == pytest.approx(0.570316715) and not m32.flagged
    k8 = _get(sweep, "sdt_cifar10", "Prosperity", Metric.NORMALIZED_LATENCY, config="M256_K8")
    assert k8.reference == pytest.approx(0.475689470568095) and not k8.flagged
    dens = _get(sweep, "sdt_cifar10", "Prosperity", Metric.PRODUCT_DENSITY, config="M256_K8")
    assert dens.flagged  # 0.05 vs the paper's 0.04477
    default = _get(sweep, "sdt_cifar10", "Prosperity", Metric.NORMALIZED_LATENCY,
                   config="M256_K16")
    assert default.rel_diff == pytest.approx(0.5 / 0.402328112794035 - 1)


def test_layer_report(layers: Report) -> None:
    assert [r.metric for r in layers.records if r.layer == "lif_1"][:2] == [
        Metric.TOTAL_CYCLES, Metric.ADDED_CYCLES]
    assert not [r for r in layers.records if r.layer == "lif_1" and r.metric ==
                Metric.BIT_DENSITY]
    assert _get(layers, "toy", "Prosperity", Metric.DRAM_BITS, layer="fc_0").value == 4096


def test_geomean_reference_only_when_every_workload_has_one() -> None:
    rep = accelerator_report([
        AccelRow("vgg16_cifar10", "Eyeriss", 0.45), AccelRow("vgg16_cifar10", "Prosperity", 0.02),
        AccelRow("sdt_cifar10", "Eyeriss", 0.08), AccelRow("sdt_cifar10", "Prosperity", 0.006),
    ])
    gm = _get(rep, "geomean", "Prosperity", "speedup_vs_eyeriss")
    paper = ((0.452082992 / 0.021503906) * (0.078773364 / 0.006058754)) ** 0.5
    assert gm.reference == pytest.approx(paper)
    assert gm.value == pytest.approx(((0.45 / 0.02) * (0.08 / 0.006)) ** 0.5)
