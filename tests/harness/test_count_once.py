"""Count once, price many: the ProSparsity kernel runs once per operand and tile size.

Spies on the kernel's two entry points (``analysis.kernel._run_grid``, which every
``prosparsity_stats`` call goes through, and ``_run_packed``, the fused path of
``packed_stats``) record each call; a spy on the sample being counted
(``analysis.density._Sample``: its layers, then its result) attributes the calls to
counting passes, one per sample and tile.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import prosparsity as ps
from prosparsity.accel.base import Needs
from prosparsity.accel.registry import registry
from prosparsity.analysis import density, kernel, store
from prosparsity.analysis.counters import CounterError, CounterKey, LayerSpikes, register_counter
from prosparsity.analysis.network import Workload
from prosparsity.analysis.stats import ModelStats
from prosparsity.engine import count_for
from prosparsity.sweep.cache import ResultCache
from prosparsity.traces.importer import import_dump
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.harness.test_reproduce_glue import _run


class Spy:
    """Kernel calls ``(M, K, tile_m, tile_k)`` and counting passes with their calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, int, int, int]] = []
        self.passes: list[tuple[ModelStats, list[tuple[int, int, int, int]]]] = []
        run_grid, run_packed = kernel._run_grid, kernel._run_packed
        next_layer, result = density._Sample.next_layer, density._Sample.result
        counting: dict[int, list[tuple[int, int, int, int]]] = {}  # by sample being counted

        def spy_grid(S8: np.ndarray, tile_m: int, tile_k: int, *rest: object) -> None:
            self.calls.append((*S8.shape, tile_m, tile_k))
            run_grid(S8, tile_m, tile_k, *rest)  # type: ignore[arg-type]

        def spy_packed(packed: np.ndarray, gemm: kernel.PackedGemm, tile_m: int, tile_k: int,
                       *rest: object) -> None:
            self.calls.append((gemm.m, gemm.k, tile_m, tile_k))
            run_packed(packed, gemm, tile_m, tile_k, *rest)  # type: ignore[arg-type]

        # a counting pass is one sample's layers (count, or count_samples interleaving
        # the samples layer by layer), closed by its result
        def spy_next_layer(sample: density._Sample, *args: object) -> object:
            before = len(self.calls)
            item = next_layer(sample, *args)  # type: ignore[arg-type]
            counting.setdefault(id(sample), []).extend(self.calls[before:])
            return item

        def spy_result(sample: density._Sample, *args: object) -> ModelStats:
            stats = result(sample, *args)  # type: ignore[arg-type]
            self.passes.append((stats, counting.pop(id(sample), [])))
            return stats

        monkeypatch.setattr(kernel, "_run_grid", spy_grid)
        monkeypatch.setattr(kernel, "_run_packed", spy_packed)
        monkeypatch.setattr(density._Sample, "next_layer", spy_next_layer)
        monkeypatch.setattr(density._Sample, "result", spy_result)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    yield Spy(monkeypatch)


def _operands(stats: ModelStats) -> Counter[tuple[int, int, int, int]]:
    """One kernel call per GEMM operand and bit plane (an attention role's head slices
    are one stacked operand), at the statistics' tile."""
    out: Counter[tuple[int, int, int, int]] = Counter()
    for layer in stats.layers:
        for g in layer.gemms:
            rows = g.m if g.copies == 1 else g.copies * g.row_tiles * stats.tile_m
            out[(rows, g.k, stats.tile_m, stats.tile_k)] += 1
    return out


@pytest.fixture(scope="module")
def spikformer_trace(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    src = reference_dir / "synthetic" / "spikformer_cifar10.npz"
    return import_dump(src, "spikformer_cifar10", tmp_path_factory.mktemp("t") / "sf.h5")


def test_simulate_with_every_accelerator_counts_each_operand_once(
    spy: Spy, spikformer_trace: Path
) -> None:
    code, out, err = _run(["analyze", str(spikformer_trace), "--json"])
    assert code == 0, err
    (analysed, analyse_calls), = spy.passes
    assert Counter(analyse_calls) == _operands(analysed)  # no operand twice
    assert len(analyse_calls) == sum(len(layer.gemms) for layer in analysed.layers)

    spy.calls.clear()
    spy.passes.clear()
    code, out, err = _run(["simulate", str(spikformer_trace), "--json"])
    assert code == 0, err
    assert set(json.loads(out)["data"]["accelerators"]) >= {"prosperity", "ptb", "sato", "mint",
                                                    "loas", "eyeriss", "gpu-a100"}
    (stats, calls), = spy.passes  # one counting pass for all of them
    assert calls == spy.calls
    # T = 4 = LoAS's time groups: its OR-ed rows are the operands themselves, so every
    # counter (PTB, SATO, LoAS, and the plugins' Phi and Bishop, found through their
    # entry points) counts inside the analysis' own kernel calls
    assert Counter(calls) == Counter(analyse_calls)
    assert {c.kind for c in stats.counters} == {"ptb_rows", "sato_loads", "loas_groups",
                                                "phi_histogram", "bishop_bundles"}


def test_loas_groups_of_several_steps_are_one_kernel_call_more(spy: Spy,
                                                                lenet5_npz: Path) -> None:
    """LeNet-5 (T = 32): LoAS's groups of 8 steps are operands of their own, one kernel
    call per weight-GEMM layer inside the same pass."""
    workload = Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))
    plain = count_for(workload, [Needs(spikes=True)])[0]
    analyse_calls = list(spy.calls)
    spy.calls.clear()
    spy.passes.clear()
    every = count_for(workload, [entry.needs() for entry in registry().values()])[0]
    (stats, calls), = spy.passes
    extra = Counter(calls) - Counter(analyse_calls)
    assert Counter(calls) - extra == Counter(analyse_calls)
    assert sorted(extra) == sorted((g.m // 8, g.k, 256, 16) for layer in plain.layers
                                   for g in layer.gemms)  # T/8 rows per group of 8 steps
    assert every.layers == plain.layers


@register_counter
@dataclass(frozen=True)
class SpyRows(CounterKey):
    """A plugin counter defined here: the spiking rows of each operand, and which pass
    (by the number of kernel calls made so far) each layer was counted in."""

    kind: ClassVar[str] = "test_spy_rows"
    calls: ClassVar[list[tuple[str, int]]] = []
    fail_on: str = ""

    def count(self, layer: LayerSpikes) -> list[int]:
        SpyRows.calls.append((layer.name, len(_ACTIVE[0].calls) if _ACTIVE else -1))
        if layer.name == self.fail_on:
            raise ValueError(f"no rows for {layer.name}")
        return [int(np.count_nonzero(op.row_nnz)) for op in layer.operands]


_ACTIVE: list[Spy] = []


def test_a_plugin_counter_runs_inside_the_single_counting_pass(
        spy: Spy, spikformer_trace: Path, tmp_path: Path) -> None:
    _ACTIVE[:] = [spy]
    SpyRows.calls.clear()
    with TraceReader(spikformer_trace) as reader:
        workload = Workload.from_reader(reader)
        plain = count_for(workload, [Needs(spikes=True)])[0]
        analyse_calls = list(spy.calls)
        spy.calls.clear()
        spy.passes.clear()
        needs = [entry.needs() for entry in registry().values()]
        plugin = Needs(spikes=True, counters=frozenset({SpyRows()}))
        stats = count_for(workload, [*needs, plugin])[0]
    (counted, calls), = spy.passes  # the plugin's counter did not add a pass
    assert counted is stats and Counter(calls) == Counter(analyse_calls)
    weight = [layer for layer in plain.layers if layer.kind != "attention"]
    assert [name for name, _ in SpyRows.calls] == [layer.name for layer in weight]
    assert all(0 < made <= len(calls) for _, made in SpyRows.calls)  # during the pass
    rows = stats.counter(SpyRows())
    with TraceReader(spikformer_trace) as reader:  # the operands' spiking rows, from S
        expected = {rec.name: [int(g.matrix().any(axis=1).sum()) for g in gemms]
                    for rec, gemms in density.layer_gemms(Workload.from_reader(reader))
                    if rec.kind != "attention"}
    assert dict(rows) == expected and all(r[0] > 0 for r in expected.values())
    # ... and its results travel with the statistics, as a sweep's cache stores them
    cache = ResultCache(tmp_path / "cache")
    cache.put_stats("ab" * 32, stats)
    back = cache.get_stats("ab" * 32)
    assert back is not None and back.counter(SpyRows()) == rows and back == stats


def test_a_failing_counter_fails_only_its_own_result(spy: Spy, spikformer_trace: Path) -> None:
    _ACTIVE[:] = [spy]
    SpyRows.calls.clear()
    with TraceReader(spikformer_trace) as reader:
        workload = Workload.from_reader(reader)
        builtin = [entry.needs() for entry in registry().values()]
        good = count_for(workload, builtin)[0]
        failing = SpyRows(fail_on="conv2d_2_sps")
        stats = count_for(workload, [*builtin, Needs(spikes=True,
                                                     counters=frozenset({failing}))])[0]
    assert stats.layers == good.layers  # the grids are whole
    assert dict(stats.counters) == dict(good.counters)  # so are the other counters
    assert SpyRows.calls[-1][0] == "conv2d_2_sps"  # not asked again after its failure
    with pytest.raises(CounterError) as caught:
        stats.counter(failing)
    message = str(caught.value)
    assert "counter 'test_spy_rows' (module tests.harness.test_count_once) failed" in message
    assert "layer conv2d_2_sps" in message and str(spikformer_trace) in message
    assert "ValueError: no rows for conv2d_2_sps" in message
    doc, arrays = store.serialise(stats)
    back = store.deserialise(json.loads(json.dumps(doc)), arrays)
    with pytest.raises(CounterError, match="no rows for conv2d_2_sps"):
        back.counter(failing)
    # every model whose counters counted prices as it would without the failing one
    for entry in registry().values():
        assert entry.simulate(stats, entry.default_config()) == entry.simulate(
            good, entry.default_config()), entry.name


def test_demo_counts_each_sample_once_per_tile(spy: Spy, tmp_path: Path) -> None:
    code, out, err = _run(["demo", "--samples", "2", "--no-plots", "--out", str(tmp_path)])
    assert code == 0, err
    tiles = Counter(stats.tile for stats, _ in spy.passes)
    models = tiles[(256, 16)] // 2
    assert models == 4 and tiles[(256, 16)] == 2 * models  # every sample of the 4 models
    assert all(n == 1 for tile, n in tiles.items() if tile != (256, 16))  # the sweep
    assert len(tiles) == 12
    for stats, calls in spy.passes:
        assert Counter(calls) == _operands(stats), stats.model
    assert sum(len(calls) for _, calls in spy.passes) == len(spy.calls)


def _two_samples(path: Path, data: np.ndarray) -> Path:
    """A trace as capture writes it: every record carries the batch (= samples) and T."""
    stamp = {"batch": data.shape[1], "time_steps": data.shape[0]}
    fc = LayerRecord("fc", LayerKind.LINEAR, {"in_features": 24, "out_features": 40,
                                              **stamp}, layout="T,B,L,K")
    lif = LayerRecord("lif", LayerKind.LIF, {"neurons": 240, **stamp})
    with TraceWriter(path, TraceInfo(model="two", time_steps=data.shape[0],
                                     batch_size=data.shape[1],
                                     samples=data.shape[1])) as w:
        w.add_layer(fc, data)
        w.add_layer(lif)
    return path


def test_simulate_and_analyze_agree_on_the_per_sample_convention(tmp_path: Path) -> None:
    data = np.random.default_rng(11).random((8, 2, 6, 24)) < 0.3
    both = _two_samples(tmp_path / "both.h5", data)
    alone = [_two_samples(tmp_path / f"s{b}.h5", data[:, b : b + 1]) for b in range(2)]
    accel = ["-a", "prosperity", "-a", "ptb", "-a", "sato"]

    def doc(*args: str) -> dict:
        code, out, err = _run(list(args))
        assert code == 0, err
        return json.loads(out)["data"]

    sim = doc("simulate", str(both), "--json", *accel)
    one = [doc("simulate", str(p), "--json", *accel) for p in alone]
    ana = doc("analyze", str(both), "--json")
    ana_one = [doc("analyze", str(p), "--json") for p in alone]
    assert sim["samples"] == ana["samples"] == 2
    for name in ("prosperity", "ptb", "sato"):
        got, per = sim["accelerators"][name], [o["accelerators"][name] for o in one]
        assert got["samples"] == 2
        for key in ("total_cycles", "latency_s", "dram_bits"):
            if name == "sato" and key == "dram_bits":  # no DRAM model: no figure, not 0
                assert got[key] is None and all(p[key] is None for p in per)
                continue
            assert got[key] == pytest.approx(sum(p[key] for p in per) / 2), (name, key)
        cycles = [p["total_cycles"] for p in per]
        assert got["total_cycles_std"] == pytest.approx(np.std(cycles, ddof=1))
        assert [layer["total_cycles"] for layer in got["layers"]] == pytest.approx(
            [sum(p["layers"][i]["total_cycles"] for p in per) / 2
             for i in range(len(per[0]["layers"]))])
    assert ana["product_density_mean"] == pytest.approx(
        sum(a["product_density"] for a in ana_one) / 2)
    # --batched folds the samples into one GEMM, in both commands
    batched = doc("simulate", str(both), "--json", "--batched", *accel)
    assert batched["samples"] == 1 and "samples" not in batched["accelerators"]["prosperity"]
    assert batched["accelerators"]["prosperity"]["total_cycles"] != sim["accelerators"][
        "prosperity"]["total_cycles"]
    assert doc("analyze", str(both), "--json", "--batched")["product_density"] == (
        ps.count(both, batched=True).stats.product_density)


def test_a_command_opens_the_trace_once(
    monkeypatch: pytest.MonkeyPatch, spikformer_trace: Path
) -> None:
    """Issue 13's "open once": every layer, accelerator and tile reads through one reader
    (the reader reads the file's metadata when it opens, and only then)."""
    from prosparsity.traces.reader import TraceReader

    opened: list[Path] = []
    open_ = TraceReader.open

    def spy_open(self: TraceReader) -> None:
        opened.append(self.path)
        open_(self)

    monkeypatch.setattr(TraceReader, "open", spy_open)
    for args in (["simulate", str(spikformer_trace), "--json", "--tile-m", "64"],
                 ["analyze", str(spikformer_trace), "--json"]):
        opened.clear()
        code, _, err = _run(args)
        assert code == 0, err
        assert opened == [spikformer_trace], args[0]


def test_simulate_json_says_why_energy_is_null(spikformer_trace: Path) -> None:
    """``energy_mj: null`` comes with an ``energy_note``: LoAS has no energy model;
    Prosperity off the paper's tile has its energy withheld, naming the field; at the
    paper's design the note is null beside the figure."""
    accel = ["-a", "prosperity", "-a", "loas"]
    code, out, err = _run(["simulate", str(spikformer_trace), "--json", *accel])
    assert code == 0, err
    paper = json.loads(out)["data"]["accelerators"]
    assert paper["prosperity"]["energy_mj"] > 0 and paper["prosperity"]["energy_note"] is None
    assert paper["loas"]["energy_mj"] is None
    assert paper["loas"]["energy_note"] == "LoAS has no energy model"
    code, out, err = _run(["simulate", str(spikformer_trace), "--json", "--tile-m", "32",
                           *accel])
    assert code == 0, err
    off = json.loads(out)["data"]["accelerators"]["prosperity"]
    assert off["energy_mj"] is None and "tile_m=32 (default 256)" in off["energy_note"]
    assert off["total_cycles"] != paper["prosperity"]["total_cycles"]
