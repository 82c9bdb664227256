"""The headline builder: the abstract's claim, Figure 8 reduced the same way, ours.

Expected values are computed here from the paper's CSVs in ``../shared/reference/paper``
(independently of ``prosparsity.paper``, which transcribes them)."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import pytest

from prosparsity.core.errors import ConfigError
from prosparsity.reports.headline import Comparison, MeanKind, TraceKind, headline
from prosparsity.reports.rows import AccelRow

TRANSFORMERS = ("spikformer_cifar10", "sdt_cifar10", "spikebert_sst2", "spikingbert_sst2")


def _csv(path: Path) -> dict[str, dict[str, float]]:
    with path.open() as f:
        rows = list(csv.reader(f))
    header = rows[0][1:]
    return {row[0]: {w: float(v) for w, v in zip(header, row[1:], strict=True) if v}
            for row in rows[1:]}


@pytest.fixture(scope="module")
def fig8(reference_dir: Path) -> tuple[dict, dict]:
    paper = reference_dir / "paper"
    return (_csv(paper / "fig8_latency_seconds.csv"),
            _csv(paper / "fig8_energy_millijoules.csv"))


def _ratios(table: dict, base: str, workloads: list[str] | None = None) -> list[float]:
    names = workloads or [w for w in table["Prosperity"] if w in table[base]]
    return [table[base][w] / table["Prosperity"][w] for w in names]


def _geo(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def test_figure8_fed_as_ours_gives_the_issue_numbers(fig8: tuple[dict, dict]) -> None:
    latency, energy = fig8
    rows = [AccelRow(w, acc, latency[acc][w], energy[acc][w])
            for acc in ("Prosperity", "PTB", "A100") for w in latency[acc]]
    head = headline(rows)
    assert len(head.rows) == 8  # 2 baselines x 2 comparisons x 2 means

    ptb = head.row("PTB", Comparison.SPEEDUP, MeanKind.GEOMETRIC)
    assert len(ptb.workloads) == 16 and ptb.paper_all_workloads == 16
    assert ptb.claim == 7.4
    assert ptb.ours == ptb.paper == ptb.paper_all == pytest.approx(_geo(_ratios(latency, "PTB")))
    assert round(ptb.paper, 2) == 7.31
    arith = head.row("PTB", Comparison.SPEEDUP, MeanKind.ARITHMETIC)
    assert arith.paper == pytest.approx(statistics.fmean(_ratios(latency, "PTB")))
    assert round(arith.paper, 2) == 7.46

    a100 = head.row("A100", Comparison.SPEEDUP, MeanKind.GEOMETRIC)
    assert len(a100.workloads) == 12 and a100.claim == 1.8
    assert a100.paper == pytest.approx(_geo(_ratios(latency, "A100")))
    assert round(a100.paper, 2) == 1.79

    eff = head.row("PTB", Comparison.ENERGY_EFFICIENCY, MeanKind.GEOMETRIC)
    assert eff.claim == 8.0
    assert eff.paper == pytest.approx(_geo(_ratios(energy, "PTB")))
    assert round(eff.paper, 2) == 8.08
    gpu = head.row("A100", Comparison.ENERGY_EFFICIENCY, MeanKind.GEOMETRIC)
    assert gpu.claim == 193.0
    # the abstract's 193x is neither mean of Figure 8's own A100 energies
    assert gpu.paper == pytest.approx(_geo(_ratios(energy, "A100")))
    assert round(gpu.paper, 1) == 185.3
    gpu_arith = head.row("A100", Comparison.ENERGY_EFFICIENCY, MeanKind.ARITHMETIC)
    assert round(gpu_arith.paper, 1) == 224.5


def test_lenet_plus_synthetic_transformers(fig8: tuple[dict, dict]) -> None:
    latency, energy = fig8
    # ours: made-up results, 4x over PTB everywhere, 2x over the A100 where it exists
    rows = [AccelRow("lenet5_mnist", "Prosperity", 1e-3, 1.0),
            AccelRow("lenet5_mnist", "ptb", 4e-3, 5.0)]
    for w in TRANSFORMERS:
        rows += [AccelRow(w, "Prosperity", 1e-2, 2.0), AccelRow(w, "PTB", 4e-2, 20.0),
                 AccelRow(w, "A100", 2e-2, 100.0, reported=True)]
    traces = {"lenet5_mnist": "real", **dict.fromkeys(TRANSFORMERS, TraceKind.SYNTHETIC)}
    head = headline(rows, traces)

    ptb = head.row("PTB", Comparison.SPEEDUP)
    assert ptb.workloads == ("lenet5_mnist", *TRANSFORMERS)
    assert ptb.ours == pytest.approx(4.0)
    # Figure 8 has no LeNet-5: the paper column reduces the four transformers only
    assert ptb.paper_workloads == TRANSFORMERS
    assert ptb.paper == pytest.approx(_geo(_ratios(latency, "PTB", list(TRANSFORMERS))))
    assert ptb.paper_all == pytest.approx(_geo(_ratios(latency, "PTB")))
    assert ptb.trace_summary() == ("1 real (lenet5_mnist), 4 synthetic (spikformer_cifar10, "
                                   "sdt_cifar10, spikebert_sst2, spikingbert_sst2)")
    eff = head.row("PTB", Comparison.ENERGY_EFFICIENCY, MeanKind.ARITHMETIC)
    assert eff.ours == pytest.approx((5.0 + 4 * 10.0) / 5)
    assert eff.paper == pytest.approx(statistics.fmean(_ratios(energy, "PTB",
                                                               list(TRANSFORMERS))))

    a100 = head.row("A100", Comparison.SPEEDUP)
    assert a100.workloads == TRANSFORMERS and a100.ours == pytest.approx(2.0)
    assert a100.paper == pytest.approx(_geo(_ratios(latency, "A100", list(TRANSFORMERS))))
    assert head.row("A100", Comparison.ENERGY_EFFICIENCY).ours == pytest.approx(50.0)
    assert head.row("A100", Comparison.SPEEDUP).label == "speedup over A100 (geometric mean)"

    doc = head.to_json()
    assert doc["rows"][0]["workloads"][0] == {"workload": "lenet5_mnist", "trace": "real"}
    assert doc["rows"][0]["claim"] == 7.4 and "abstract" in doc["sources"][0]


def test_missing_numbers_leave_a_workload_out_of_that_row_only() -> None:
    rows = [AccelRow("a", "Prosperity", 1.0, None), AccelRow("a", "PTB", 3.0, 9.0),
            AccelRow("b", "Prosperity", 1.0, 1.0), AccelRow("b", "PTB", 2.0, 4.0)]
    head = headline(rows, baselines=("PTB", "gpu-a100"))
    speed = head.row("PTB", Comparison.SPEEDUP, MeanKind.ARITHMETIC)
    assert speed.workloads == ("a", "b") and speed.ours == pytest.approx(2.5)
    assert speed.traces == (TraceKind.UNKNOWN, TraceKind.UNKNOWN)
    assert speed.paper is None and speed.paper_workloads == ()  # not paper workloads
    energy = head.row("PTB", Comparison.ENERGY_EFFICIENCY, MeanKind.ARITHMETIC)
    assert energy.workloads == ("b",) and energy.ours == pytest.approx(4.0)
    # a baseline the abstract and Figure 8 do not have: no claim, no paper column
    gpu = head.row("gpu-a100", Comparison.SPEEDUP)
    assert (gpu.claim, gpu.paper, gpu.ours, gpu.paper_all) == (None, None, None, None)
    assert gpu.trace_summary() == "none"


def test_bad_input_is_named() -> None:
    with pytest.raises(ConfigError, match=r"headline\.traces\.x"):
        headline([AccelRow("x", "Prosperity", 1.0)], {"x": "imagined"})
    with pytest.raises(ConfigError, match="no row"):
        headline([]).row("Eyeriss", Comparison.SPEEDUP)
