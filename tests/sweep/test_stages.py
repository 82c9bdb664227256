"""The stage functions on their own: models without a figure or an energy, samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from prosparsity.analysis.density import analyze_samples
from prosparsity.core.errors import TraceError
from prosparsity.sweep.stages import CountStats, Priced, count, price, sample_workload, trace_meta


def test_meta_and_counts_per_sample(traces: dict[str, Path]) -> None:
    meta = trace_meta(traces["two"])
    assert (meta.samples, meta.workload, meta.synthetic) == (2, "lenet5_mnist", True)
    assert len(meta.sha256) == 64
    spread = analyze_samples(traces["two"], 64, 8)
    for b in range(2):
        stats = count(meta.path, b, 2, 64, 8)
        assert dict(stats.counts) == vars(spread.samples[b].counts)
        assert CountStats.from_json(stats.to_json()) == stats
    wl = sample_workload(meta.path, 1, 2)
    assert wl.batch == 1 and all(r.params.get("batch", 1) == 1 for r in wl.layers)
    assert wl.data("fc_0").shape == (32, 1, 576)


def test_models_without_a_figure_or_an_energy(traces: dict[str, Path]) -> None:
    meta = trace_meta(traces["one"])
    stats = count(meta.path, 0, 1, 256, 16)
    a100 = price(stats, "a100", {})  # the paper measured transformers only
    assert a100 == Priced(None, None, None, None, a100.note)
    assert "no figure for workload lenet5_mnist" in a100.note
    gpu = price(stats, "gpu-a100", {})
    assert gpu.latency_s is not None and gpu.latency_s > 0
    assert gpu.energy_mj is None and gpu.note == "gpu-a100 has no energy model"
    assert Priced.from_json(gpu.to_json()) == gpu
    with pytest.raises(TypeError):
        Priced.from_json({**gpu.to_json(), "latency_s": "fast"})


def test_a_sample_without_a_b_axis(traces: dict[str, Path]) -> None:
    with pytest.raises(TraceError, match="no B axis"):
        sample_workload(traces["one"], 0, 2)  # one.h5 has the dump layouts: no B axis
