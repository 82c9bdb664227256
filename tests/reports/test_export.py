"""Exports parsed back: CSV (long form), JSON and Markdown."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from prosparsity.reports.export import (
    CSV_FIELDS,
    atomic_write,
    export_report,
    read_csv,
    read_json,
    to_csv,
    to_markdown,
)
from prosparsity.reports.model import Report


@pytest.mark.parametrize("name", ["density", "accelerators", "sweep", "layers"])
def test_csv_and_json_read_back_identical(name: str, request, tmp_path: Path) -> None:
    report: Report = request.getfixturevalue(name)
    paths = export_report(report, tmp_path, plot=False)
    assert sorted(p.name for p in paths) == sorted(f"{report.kind}.{s}" for s in
                                                    ("csv", "json", "md"))
    rows = read_csv(tmp_path / f"{report.kind}.csv")
    assert [rec for _, rec in rows] == list(report.records)
    assert {kind for kind, _ in rows} == {str(report.kind)}
    assert read_json(tmp_path / f"{report.kind}.json") == report
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_csv_is_long_form_with_derived_columns(accelerators: Report, tmp_path: Path) -> None:
    path = atomic_write(tmp_path / "a.csv", to_csv([accelerators]))
    with open(path, newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert tuple(lines[0]) == CSV_FIELDS
    assert len(lines) == len(accelerators.records)
    keys = [(r["workload"], r["accelerator"], r["metric"], r["layer"], r["config"])
            for r in lines]
    assert len(set(keys)) == len(keys)  # one row per workload x accelerator x metric
    ptb = next(r for r in lines if (r["workload"], r["accelerator"], r["metric"]) ==
               ("vgg16_cifar10", "PTB", "latency_s"))
    assert float(ptb["value"]) == 0.2 and ptb["unit"] == "s"
    assert float(ptb["reference"]) == pytest.approx(0.145917404)
    assert float(ptb["rel_diff"]) == pytest.approx(0.2 / 0.145917404 - 1)
    assert ptb["flagged"] == "true" and "Fig. 8" in ptb["reference_source"]


def test_json_carries_rel_diff_and_flags(density: Report, tmp_path: Path) -> None:
    export_report(density, tmp_path, plot=False)
    doc = json.loads((tmp_path / "density.json").read_text())
    assert doc["kind"] == "density" and doc["row_keys"] == ["workload"]
    bit = next(r for r in doc["records"] if r["workload"] == "lenet5_mnist"
               and r["metric"] == "bit_density")
    assert abs(bit["rel_diff"]) < 1e-9 and bit["flagged"] is False


def test_markdown_table(layers: Report) -> None:
    md = to_markdown(layers).splitlines()
    assert md[0] == "### Per-layer breakdown: toy"
    assert md[2].startswith("| Accelerator | Layer | Cycles | Adds | Compute |")
    assert md[3] == "|:---|:---|" + "---:|" * 8
    assert md[4] == "| Prosperity | fc_0 | 110 |  | 100 | 10 | 0 | 4,096 | 0.2500 | 0.1250 |"
    assert md[5].startswith("| Prosperity | lif_1 | 50 | 20 | 50 |")
    assert md[-1].startswith("- Cycles: the layer standalone")


def test_atomic_write_respects_the_umask(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "x.md", "text")
    finally:
        os.umask(mask)
    assert path.read_text() == "text"
    assert path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x.csv", 12345)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
