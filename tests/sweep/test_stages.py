"""The stage functions on their own: one count per sample and tile with the counters
asked for, models without a figure or an energy, samples, summaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from prosparsity.accel.ptb import PTBConfig
from prosparsity.analysis.ops import operations_of
from prosparsity.core.errors import TraceError
from prosparsity.sweep.stages import (
    CountSummary,
    Priced,
    count,
    needs,
    open_sample,
    price,
    summarise,
    trace_meta,
)
from tests.counting import analyze_samples


def test_meta_and_counts_per_sample(traces: dict[str, Path]) -> None:
    meta = trace_meta(traces["two"])
    assert (meta.samples, meta.workload, meta.synthetic) == (2, "lenet5_mnist", True)
    assert len(meta.sha256) == 64
    spread = analyze_samples(traces["two"], 64, 8)
    ptb = PTBConfig().counter
    for b in range(2):
        stats = count(meta.path, b, 2, 64, 8, [ptb])
        want = spread.samples[b]  # what analyze counts, plus PTB's counter
        assert (stats.tile, stats.layers, stats.counts) == (want.tile, want.layers, want.counts)
        assert set(stats.counters) == {ptb} and not want.counters
        summary = summarise(stats)
        assert summary.ops == operations_of(stats).total
        assert summary.bit_density == spread.samples[b].bit_density
        assert CountSummary.from_json(summary.to_json()) == summary
    with open_sample(meta.path, 1, 2) as wl:
        assert wl.batch == 1 and all(r.params.get("batch", 1) == 1 for r in wl.layers)
        assert wl.data("fc_0").shape == (32, 1, 576)


def test_needs_name_the_counters_of_a_config() -> None:
    assert needs("ptb", {}).counters == {PTBConfig().counter}
    assert needs("ptb", {"time_window_steps": 2}).counters == {
        PTBConfig(time_window_steps=2).counter}
    assert needs("prosperity", {"tile_m": 32, "tile_k": 16}).tile == (32, 16)
    assert needs("eyeriss", {}).counters == frozenset()


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


def test_a_missing_counter_is_one_clear_error(traces: dict[str, Path]) -> None:
    from prosparsity.core.errors import ConfigError

    stats = count(str(traces["one"]), 0, 1, 256, 16)  # counted without PTB's counter
    with pytest.raises(ConfigError, match="counted without"):
        price(stats, "ptb", {})


def test_a_sample_without_a_b_axis(traces: dict[str, Path]) -> None:
    with pytest.raises(TraceError, match="no B axis"):
        count(str(traces["one"]), 0, 2, 256, 16)  # one.h5 has the dump layouts: no B axis
