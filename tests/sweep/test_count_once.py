"""Count once, price many, in a sweep: the ProSparsity kernel runs once per operand of
each (trace, sample, tile), however many configurations are priced, and a later sweep
that adds configurations prices them on the cached statistics without counting again.

The spies are tests/harness/test_count_once.py's: every kernel call goes through
``analysis.kernel._run_grid``, every counting pass (the sweep's too) through
``analysis.density._Sample``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from prosparsity.analysis.stats import ModelStats
from prosparsity.sweep.engine import plan_sweep, run_sweep
from prosparsity.sweep.spec import load_spec
from tests.harness.test_count_once import Spy, _operands

#: 2 tiles x (3 adders x 2 issue types x 2 sparsities) Prosperity configurations, 2 PTB,
#: 2 SATO, MINT and Eyeriss: 32 configurations on each count.
SPEC = """
traces = ["one.h5", "two.h5"]
[tiles]
tile_m = [32, 256]
tile_k = [16]
[accelerators.prosperity]
adders = [64, 128, 256]
issue_type = [1, 2]
sparsity = ["product", "bit"]
[accelerators.ptb]
time_window_steps = [2, 4]
[accelerators.sato]
pes = [64, 128]
[accelerators.mint]
[accelerators.eyeriss]
"""


def test_the_samples_of_a_trace_are_counted_in_one_block_per_tile(
        traces: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The count tasks of one trace at one tile run as one block (its samples counted
    layer by layer, each chunk decompressed once), each sample's statistics still its
    own result, equal to its count alone."""
    from prosparsity.sweep import engine, stages

    spec_path = traces["one"].parent / "blocks.toml"
    spec_path.write_text(SPEC)
    blocks: list[tuple[str, tuple[int, ...], int, int]] = []
    real = engine.count_block

    def spy(trace: str, which: tuple[int, ...], samples: int, tile_m: int, tile_k: int,
            counters: tuple) -> tuple[ModelStats, ...]:
        blocks.append((Path(trace).name, tuple(which), tile_m, tile_k))
        return real(trace, which, samples, tile_m, tile_k, counters)

    monkeypatch.setattr(engine, "count_block", spy)
    outcome = run_sweep(load_spec(spec_path), tmp_path / "out", workers=0, dashboard=False)
    assert sorted(blocks) == sorted((name, which, tile_m, 16) for name, which in
                                    [("one.h5", (0,)), ("two.h5", (0, 1))]
                                    for tile_m in (32, 256))
    assert outcome.computed == len(outcome.plan.counts) + len(outcome.plan.prices)
    counters = next(iter(outcome.plan.counts)).counters
    for b in range(2):
        alone = stages.count(str(traces["two"]), b, 2, 256, 16, counters)
        block = stages.count_block(str(traces["two"]), (1, 0), 2, 256, 16, counters)
        assert block[1 - b] == alone


def test_the_kernel_runs_once_per_trace_sample_and_tile(
        traces: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path = traces["one"].parent / "count_once.toml"
    spec_path.write_text(SPEC)
    spy = Spy(monkeypatch)
    outcome = run_sweep(load_spec(spec_path), tmp_path / "out", workers=0, dashboard=False)
    samples = 3  # one.h5: 1, two.h5: 2
    configs = 2 * 12 + 2 + 2 + 1 + 1
    assert (len(outcome.plan.counts), len(outcome.plan.prices)) == (samples * 2,
                                                                     samples * configs)
    assert outcome.computed == samples * (2 + configs)
    # one counting pass per (trace, sample, tile), every operand through the kernel once
    assert sorted((s.model, s.tile) for s, _ in spy.passes) == sorted(
        ("lenet5_mnist", tile) for tile in [(32, 16), (256, 16)] * samples)
    for stats, calls in spy.passes:
        assert Counter(calls) == _operands(stats)
    assert sum(len(calls) for _, calls in spy.passes) == len(spy.calls)
    # the untiled models' counters were counted in the first tile's pass
    first = [s for s, _ in spy.passes if s.tile == (32, 16)]
    assert all(len(s.counters) == 4 for s in first)  # PTB x 2 windows, SATO x 2 PE counts
    assert all(not s.counters for s, _ in spy.passes if s.tile == (256, 16))

    # more configurations on the same counts: priced from the cached statistics
    spy.calls.clear()
    spy.passes.clear()
    more = spec_path.with_name("count_once_more.toml")
    more.write_text(SPEC.replace("adders = [64, 128, 256]", "adders = [64, 128, 256, 512]"))
    again = run_sweep(load_spec(more), tmp_path / "out", workers=0, dashboard=False)
    assert again.computed == samples * 2 * 2 * 2  # the new adders' configurations only
    assert spy.calls == [] and spy.passes == []
    # statistics that no longer load are counted again (that count only)
    npz = sorted((tmp_path / "out" / "cache" / "v1" / "stats").rglob("*.npz"))[0]
    broken = ModelStats.load(npz.with_suffix(""))
    npz.write_bytes(b"not a zip")
    evenmore = spec_path.with_name("count_once_evenmore.toml")
    evenmore.write_text(SPEC.replace("adders = [64, 128, 256]", "adders = [32]"))
    third = run_sweep(load_spec(evenmore), tmp_path / "out", workers=0, dashboard=False)
    assert [stats for stats, _ in spy.passes] == [broken]
    assert third.computed == 1 + samples * 2 * 2 * 2
    old = {(t.count.trace.sha256, t.count.sample, t.config_text): p
           for t, p in outcome.prices.items()}
    for task, priced in again.prices.items():
        key = (task.count.trace.sha256, task.count.sample, task.config_text)
        if key in old:
            assert priced == old[key]


def test_samples_limits_the_samples_swept(traces: dict[str, Path]) -> None:
    spec_path = traces["one"].parent / "count_once.toml"
    spec_path.write_text(SPEC)
    plan = plan_sweep(dataclasses.replace(load_spec(spec_path), samples=1))
    assert [(c.trace.path, c.sample) for c in plan.counts] == [
        (str(traces["one"]), 0)] * 2 + [(str(traces["two"]), 0)] * 2
