"""Relative differences, tolerances and flags; reference values of the authors' simulator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prosparsity.reports.compare import (
    OfficialSimReferences,
    Reference,
    first_reference,
    relative_difference,
)
from prosparsity.reports.metrics import Metric, Tolerance
from prosparsity.reports.model import Record
from prosparsity.reports.paper import paper_reference


def test_relative_difference() -> None:
    assert relative_difference(1.1, 1.0) == pytest.approx(0.1)
    assert relative_difference(0.9, -1.0) == pytest.approx(1.9)
    assert relative_difference(0.0, 0.0) == 0.0
    assert relative_difference(2.0, 0.0) == math.inf
    assert relative_difference(-2.0, 0.0) == -math.inf


@pytest.mark.parametrize(
    ("metric", "ours", "ref", "flagged"),
    [
        (Metric.BIT_DENSITY, 0.2500005, 0.25, True),  # rel 2e-6 > 1e-6
        (Metric.BIT_DENSITY, 0.25000012, 0.25, False),  # rel 4.8e-7
        (Metric.LATENCY_S, 1.0099, 1.0, False),  # 0.99 %
        (Metric.ENERGY_MJ, 0.989, 1.0, True),  # -1.1 %
        (Metric.NORMALIZED_LATENCY, 0.5051, 0.5, True),
        (Metric.TOTAL_CYCLES, 41178.0, 41178.0, False),
        (Metric.TOTAL_CYCLES, 41179.0, 41178.0, True),  # any cycle is a difference
    ],
)
def test_flag_thresholds(metric: Metric, ours: float, ref: float, flagged: bool) -> None:
    rec = Record.of("w", "Prosperity", metric, ours, Reference(ref, "src"))
    assert rec.flagged is flagged
    assert rec.rel_diff == pytest.approx((ours - ref) / ref)


def test_record_without_reference_is_never_flagged() -> None:
    rec = Record.of("w", "a", Metric.LATENCY_S, 3.0)
    assert rec.rel_diff is None and not rec.flagged
    assert rec.unit == "s" and rec.tolerance is Tolerance.COST
    assert Record.of("w", "a", "speedup_vs_eyeriss", 2.0).unit == "x"


def test_record_dict_round_trip() -> None:
    rec = Record.of("w", "a", Metric.DRAM_BITS, 12.0, Reference(10.0, "s"), layer="fc_0")
    data = rec.to_dict()
    assert data["rel_diff"] == pytest.approx(0.2) and data["flagged"] is True
    assert Record.from_dict(data) == rec


TINY_DOC = {
    "workload": "tiny",
    "default_config": {"tile_m": 256, "tile_k": 16, "freq_hz": 1000.0},
    "runs": {
        "Prosperity": {"total_cycles": 100.0, "compute_cycles": 90, "dram_bits": 64.0,
                       "product_density": 0.25,
                       "per_layer": {"fc_0": {"total_cycles": 70, "lif_latency": 0},
                                     "lif_1": {"total_cycles": 30, "lif_latency": 12}}},
        "Prosperity:M32_K16": {"total_cycles": 120.0},
        "PTB": {"total_cycles": 200},
    },
}


def test_official_sim_lookup_on_a_hand_written_document() -> None:
    refs = OfficialSimReferences.from_documents([(TINY_DOC, "tiny.json")])
    assert refs.workloads == ("tiny",)
    assert refs(Metric.TOTAL_CYCLES, "tiny", "prosperity") == Reference(100.0, "tiny.json")
    assert refs(Metric.LATENCY_S, "tiny", "PTB") == Reference(0.2, "tiny.json")
    assert refs(Metric.TOTAL_CYCLES, "tiny", "Prosperity", 32, 16).value == 120.0
    assert refs(Metric.TOTAL_CYCLES, "tiny", "Prosperity", 64, 16) is None
    assert refs(Metric.TOTAL_CYCLES, "tiny", "Prosperity", layer="fc_0").value == 70.0
    assert refs(Metric.ADDED_CYCLES, "tiny", "Prosperity", layer="lif_1").value == 12.0
    assert refs(Metric.ADDED_CYCLES, "tiny", "Prosperity", layer="fc_0") is None
    assert refs(Metric.TOTAL_CYCLES, "tiny", "Prosperity", layer="fc_9") is None
    assert refs(Metric.PRODUCT_DENSITY, "tiny", "PTB") is None
    assert refs(Metric.TOTAL_CYCLES, "other", "PTB") is None
    assert refs(Metric.ENERGY_MJ, "tiny", "Prosperity") is None


def test_first_reference_prefers_earlier_sources() -> None:
    refs = OfficialSimReferences.from_documents([(
        {**TINY_DOC, "workload": "lenet5_mnist"}, "tiny.json")])
    got = first_reference((paper_reference, refs), Metric.PRODUCT_DENSITY, "lenet5_mnist",
                          "Prosperity")
    assert got is not None and "Fig. 11" in got.source
    got = first_reference((refs, paper_reference), Metric.PRODUCT_DENSITY, "lenet5_mnist",
                          "Prosperity")
    assert got == Reference(0.25, "tiny.json")


def test_official_sim_lenet5_file(reference_dir: Path) -> None:
    doc = json.loads((reference_dir / "official-sim" / "lenet5_mnist.json").read_text())
    refs = OfficialSimReferences.from_documents([(doc, "official-sim")])
    assert refs(Metric.TOTAL_CYCLES, "lenet5_mnist", "Prosperity").value == 41178.0
    assert refs(Metric.TOTAL_CYCLES, "lenet5_mnist", "Prosperity:bit").value == 183492.0
    assert refs(Metric.TOTAL_CYCLES, "lenet5_mnist", "MINT").value == 196013.0
    assert refs(Metric.ADDED_CYCLES, "lenet5_mnist", "Prosperity", layer="lif_2").value == 2048
    assert refs(Metric.PRODUCT_DENSITY, "lenet5_mnist", "Prosperity", 256, 128).value == (
        pytest.approx(0.0218368765697883))
