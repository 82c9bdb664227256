"""Phi's paradigm on hand-made tiles: Level 1 / Level 2, k-means in the Hamming metric,
its counters (JSON round trip, the densities they report), held-out calibration through
the front door and the first-order cost model."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace

import numpy as np
import pytest

import prosparsity as ps
from prosparsity.accel.registry import registry
from prosparsity.analysis.counters import counter_from_json
from prosparsity.analysis.density import layer_spikes
from prosparsity.analysis.network import Workload
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.engine import count_for
from prosparsity.plugins import phi
from prosparsity.plugins.phi.counter import histogram_counts
from prosparsity.plugins.phi.model import gemm_cost
from prosparsity.plugins.phi.patterns import (
    SegmentCounts,
    counts_many,
    decompose,
    flatten,
    kmeans_many,
    kmeans_patterns,
    segment_codes,
    segment_counts,
)
from prosparsity.traces.schema import LayerRecord

# Four rows of six columns, two segments of width 3; patterns 0b111 (segment 0) and
# 0b110 (segment 1: columns 4 and 5). Bit j of a code is column segment*3 + j.
ROWS = np.array([
    [1, 1, 0, 0, 0, 1],  # seg0 0b011 -> 0b111 (-1 at col 2); seg1 0b100: tie -> zero, +1 col 5
    [1, 0, 1, 0, 0, 0],  # seg0 0b101 -> 0b111 (-1 at col 1); seg1 zero
    [0, 0, 0, 1, 1, 1],  # seg0 zero; seg1 0b111 -> 0b110 (+1 at col 3)
    [0, 1, 0, 0, 1, 1],  # seg0 0b010: zero is nearer (+1 col 1); seg1 0b110 exact
], dtype=bool)
PATTERNS = ((0b111,), (0b110,))


def test_segment_codes_by_hand() -> None:
    codes = segment_codes(ROWS, 3)
    assert codes.tolist() == [[0b011, 0b100], [0b101, 0], [0, 0b111], [0b010, 0b110]]
    assert segment_codes(np.ones((1, 5), dtype=bool), 4).tolist() == [[0b1111, 0b1]]
    with pytest.raises(ConfigError, match="phi.width"):
        segment_codes(ROWS, 65)


def test_two_levels_by_hand() -> None:
    dec = decompose(ROWS, PATTERNS, 3)
    assert dec.level1.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]
    assert dec.level2.tolist() == [
        [0, 0, -1, 0, 0, 1],
        [0, -1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0, 0],
    ]
    assert np.array_equal(dec.reconstruct(), ROWS.astype(np.int8))  # exact again
    codes = segment_codes(ROWS, 3)
    total = segment_counts(codes[:, 0], PATTERNS[0]) + segment_counts(codes[:, 1], PATTERNS[1])
    assert total == SegmentCounts(segments=8, zero=2, matched=4, nnz=11, plus=3, minus=2)


def test_non_negative_level2_by_hand() -> None:
    """Only patterns inside a row segment match it: no -1 corrections."""
    dec = decompose(ROWS, PATTERNS, 3, signed=False)
    assert dec.level1.tolist() == [[0, 0], [0, 0], [0, 1], [0, 1]]
    assert dec.level2.min() == 0
    assert np.array_equal(dec.reconstruct(), ROWS.astype(np.int8))
    codes = segment_codes(ROWS, 3)
    total = (segment_counts(codes[:, 0], PATTERNS[0], signed=False)
             + segment_counts(codes[:, 1], PATTERNS[1], signed=False))
    assert (total.matched, total.plus, total.minus) == (2, 7, 0)


def test_kmeans_by_hand() -> None:
    # 0b1110 x3 and 0b1100 x2 form one cluster (majority 0b1110), 0b0001 is nearer zero
    codes = np.array([0b1110] * 3 + [0b1100] * 2 + [0b0001], dtype=np.uint64)
    assert kmeans_patterns(codes, 1, 4) == (0b1110,)
    assert segment_counts(codes, (0b1110,)) == SegmentCounts(6, 0, 5, 14, 1, 2)
    # the centre moves: started at 0b0111 (ties: smaller code), the majority of
    # {0111, 1011, 1101} is 1111, which costs 3 corrections instead of 4
    moved = np.array([0b0111, 0b1011, 0b1101], dtype=np.uint64)
    assert kmeans_patterns(moved, 1, 4) == (0b1111,)
    assert segment_counts(moved, (0b1111,)).corrections == 3
    assert segment_counts(moved, (0b0111,)).corrections == 4
    # at most k distinct non-zero codes: they are the patterns, most frequent first
    assert kmeans_patterns(np.array([5, 3, 3, 0], dtype=np.uint64), 4, 3) == (3, 5)
    # weights count a code several times
    assert kmeans_patterns(np.array([5, 3], dtype=np.uint64), 1, 3,
                           weights=np.array([4, 1])) == (5,)


def test_counters_count_a_layer_and_round_trip_through_json() -> None:
    """Both counters on a hand-made layer, as the counting pass hands it to them
    (:func:`~prosparsity.analysis.density.layer_spikes`), and back through JSON by kind
    (their entry points)."""
    rows = np.array([[0, 1, 1, 1]] * 3 + [[0, 0, 1, 1]] * 2 + [[1, 0, 0, 0]], dtype=bool)
    # bit j is column j: rows are codes 0b1110 x3, 0b1100 x2, 0b0001 (the k-means case)
    layer = layer_spikes(_workload(_as_trace(rows, 3, 2)), "fc")
    key = phi.PhiCounts(k=1, width=4)
    value = key.count(layer)
    assert value == (SegmentCounts(6, 0, 5, 14, 1, 2),)
    back = counter_from_json(json.loads(json.dumps(key.to_json())))
    assert back == key and hash(back) == hash(key)
    assert key.value_from_json(json.loads(json.dumps(key.value_to_json(value)))) == value

    hist = phi.PhiHistogram(width=4)
    h = hist.count(layer)
    assert h == ((((0b0001, 0b1100, 0b1110), (1, 2, 3)),),)
    codes, counts = h[0][0]  # compact arrays that behave as the tuples of those ints
    assert np.asarray(codes).dtype == np.uint8 and np.asarray(counts).dtype == np.int32
    assert list(codes) == [1, 12, 14] and hash(codes) == hash((1, 12, 14))
    assert pickle.loads(pickle.dumps(h)) == h and codes != (1, 12)
    assert hist.value_from_json(json.loads(json.dumps(hist.value_to_json(h)))) == h
    assert histogram_counts(h[0], [(0b1110,)]) == value[0]
    assert counter_from_json(hist.to_json()) == hist
    with pytest.raises(ConfigError, match="phi_counts.k"):
        phi.PhiCounts(k=0)
    with pytest.raises(ConfigError, match="counters.phi_counts"):
        counter_from_json({"kind": "phi_counts", "lanes": 3})


def test_the_densities_phi_counts_reports() -> None:
    """``prosparsity.count`` with ``phi_counts`` (its published defaults, by kind) shows
    the pattern and correction densities beside bit and product density: on ROWS with
    the table's patterns (k=1 per 3-column segment: exactly what k-means keeps here),
    4 lookups and 5 corrections of 24 elements."""
    wl = _workload(_as_trace(ROWS, 2, 2))
    counted = ps.count(wl, counters=[phi.PhiCounts(k=1, width=3)])
    assert counted.density_names == ("pattern_density", "correction_density")
    assert counted.counter_density("pattern_density").mean == pytest.approx(4 / 24)
    assert counted.counter_density("correction_density").mean == pytest.approx(5 / 24)
    doc = counted.to_json()
    assert doc["counter_densities"] == {"pattern_density": pytest.approx(4 / 24),
                                        "correction_density": pytest.approx(5 / 24)}
    assert doc["layers"][0]["counter_densities"]["pattern_density"] == pytest.approx(4 / 24)
    by_kind = ps.count(wl, counters=["phi_counts"])  # k=16: every row segment matches
    assert by_kind.counter_density("correction_density").mean == 0.0
    report = counted.layer_report()
    assert {"Pattern density", "Correction density"} <= {c.header for c in report.columns}


def _workload(samples: np.ndarray, n: int = 300) -> Workload:
    """One linear layer (``(T, B, L, K)`` spikes) and its LIF layer."""
    steps, batch, tokens, k = samples.shape
    rec = LayerRecord("fc", "linear", {"in_features": k, "out_features": n, "seq_len": tokens,
                                       "time_steps": steps, "batch": batch}, layout="T,B,L,K",
                      shape=samples.shape)
    lif = LayerRecord("lif", "lif", {"neurons": tokens * n, "time_steps": steps,
                                     "batch": batch})
    return Workload.from_arrays("tiny", [rec, lif], {"fc": samples}, time_steps=steps,
                                batch=batch)


def _as_trace(rows: np.ndarray, tokens: int, steps: int) -> np.ndarray:
    """``(T, 1, L, K)`` data whose GEMM rows are ``rows``."""
    return rows.reshape(tokens, steps, -1).transpose(1, 0, 2)[:, None]


TABLE = phi.PatternTable(k=1, width=3, layers=(("fc", (PATTERNS,)),), samples=(0,))


def test_table_densities_and_cost_by_hand() -> None:
    wl = _workload(_as_trace(ROWS, 2, 2))
    cfg = phi.PhiConfig(k=1, width=3, patterns=TABLE)
    stats = count_for(wl, [phi.needs(cfg)])[0]
    model, layers = phi.densities(stats, cfg)
    # N = 300 on 128 adders: 3 passes; 24 elements, 4 lookups, 5 corrections
    assert (model.elements, model.lookups, model.corrections, model.minus) == (72, 12, 15, 6)
    assert model.pattern_density == pytest.approx(4 / 24)
    assert model.correction_density == pytest.approx(5 / 24)
    assert model.bit_density == pytest.approx(11 / 24) == stats.bit_density
    assert model.coverage == pytest.approx(4 / 6)
    assert [d.name for d in layers] == ["fc"]

    bd = phi.simulate(stats, cfg)
    gemm = next(lb for lb in bd.layers if lb.layer == "fc")
    # compute 3 passes x (4 + 5) = 27; preprocess ceil(8 / 8) = 1
    # PWP: 2 segments x 1 pattern x 300 x (8 + 2) bits x 1 row tile = 6000 bits
    bit_mode = registry()["prosperity"].config_type(sparsity="bit")
    base = registry()["prosperity"].simulate(stats, bit_mode)
    base_fc = next(lb for lb in base.layers if lb.layer == "fc")
    assert gemm.compute_cycles == 27 and gemm.preprocess_stall_cycles == 0
    assert gemm.dram_bits == base_fc.dram_bits + 6000
    init = 6 * 128 * 8 + 6 * 4
    assert gemm.mem_stall_cycles == init // 1024 + max(0, (gemm.dram_bits - init) // 1024 - 27)
    assert gemm.total_cycles == 27 + gemm.mem_stall_cycles
    # the LIF layer is Prosperity's (bit-sparsity mode), overlap rule included
    lif = [lb for lb in bd.layers if lb.op == "lif"]
    assert lif == [lb for lb in base.layers if lb.op == "lif"]
    assert bd.total_cycles == gemm.total_cycles + lif[0].network_cycles
    assert any("calibration sample(s) 0" in n for n in bd.notes)
    assert bd.extra["pattern_density"] == pytest.approx(4 / 24)


def test_gemm_cost_formula() -> None:
    gemm = SimpleNamespace(m=4, k=6, n=300)
    cost = gemm_cost(gemm, SegmentCounts(8, 2, 4, 11, 3, 2), phi.PhiConfig(k=1, width=3))
    assert (cost.compute, cost.preprocess, cost.extra_dram_bits) == (27, 1, 6000)
    on_chip = gemm_cost(gemm, SegmentCounts(8, 2, 4, 11, 3, 2),
                        phi.PhiConfig(k=1, width=3, pwp_in_dram=False))
    assert on_chip.extra_dram_bits == 0


def test_self_calibration_is_said() -> None:
    wl = _workload(_as_trace(ROWS, 2, 2))
    cfg = phi.PhiConfig(k=1, width=3)
    bd = phi.simulate(count_for(wl, [phi.needs(cfg)])[0], cfg)
    assert any("no held-out calibration" in n for n in bd.notes)
    assert bd.notes[0] == "Phi: first-order model, no reference simulator"
    # the histogram (the default counter) and Phi's own counts choose the same patterns
    counts = phi.PhiConfig(k=1, width=3, calibration_samples=())
    assert counts.counter == phi.PhiCounts(k=1, width=3)
    assert cfg.counter == phi.PhiHistogram(3)
    stats = count_for(wl, [phi.needs(cfg), phi.needs(counts)])[0]
    assert phi.simulate(stats, counts).total_cycles == phi.simulate(stats, cfg).total_cycles


def test_fitted_patterns_live_as_long_as_their_statistics() -> None:
    """Pricing one statistics object at many tile points fits its patterns once; the
    fits go with the statistics (a sample's histograms can hold millions of codes)."""
    import gc
    import importlib

    fits = importlib.import_module("prosparsity.plugins.phi.densities")._FITTED
    wl = _workload(_as_trace(ROWS, 2, 2))
    cfg = phi.PhiConfig(k=1, width=3)
    stats = count_for(wl, [phi.needs(cfg)])[0]
    first = phi.simulate(stats, cfg)
    assert id(stats) in fits
    remembered = dict(fits[id(stats)])
    assert phi.simulate(stats, cfg) == first and fits[id(stats)] == remembered
    gone = id(stats)
    del stats
    gc.collect()
    assert gone not in fits


def _three_samples() -> tuple[np.ndarray, Workload]:
    rng = np.random.default_rng(3)
    base = rng.random((2, 4, 12)) < 0.4  # (T, L, K) shared structure
    data = np.stack([base ^ (rng.random(base.shape) < 0.1) for _ in range(3)], axis=1)
    return data, _workload(data)  # (T, B=3, L, K)


def test_held_out_calibration_through_the_front_door() -> None:
    """``prosparsity.simulate`` on three samples: Phi's patterns are chosen on sample 0
    (its ``calibration_samples``), sample 0 is not priced by Phi, samples 1 and 2 are,
    with those patterns; Prosperity prices all three."""
    data, wl = _three_samples()
    sim = ps.simulate(wl, ["prosperity", "phi"], overrides={"k": 2, "width": 4})
    assert sim.held_out == {"phi": (0,)}
    assert sim["phi"].ids == (1, 2) and sim["prosperity"].ids == (0, 1, 2)
    # the table is k-means on sample 0's rows, segment by segment
    rows0 = data[:, 0].transpose(1, 0, 2).reshape(-1, 12)  # (L*T, K), row l*T + t
    codes0 = segment_codes(rows0, 4)
    expected = tuple(kmeans_patterns(codes0[:, s], 2, 4) for s in range(3))
    cfg = phi.PhiConfig(k=2, width=4)
    fitted = phi.calibrate_config(cfg, [count_for(wl.sample(0), [phi.needs(cfg)])[0]])
    assert fitted.patterns.of("fc") == (expected,) and fitted.patterns.samples == (0,)
    # sample 1 priced with it: its costs are the decomposition of its own rows
    rows1 = data[:, 1].transpose(1, 0, 2).reshape(-1, 12)
    dec = decompose(rows1, expected, 4)
    run = sim["phi"].runs[0]
    assert any("calibration sample(s) 0" in n for n in run.notes)
    gemm = next(lb for lb in run.layers if lb.layer == "fc")
    assert gemm.extra["pattern_lookups"] == 3 * int((dec.level1 > 0).sum())
    assert gemm.extra["corrections"] == 3 * int(np.abs(dec.level2).sum())
    assert sim.to_json()["accelerators"]["phi"]["sample_ids"] == [1, 2]
    assert {r["sample"] for r in sim["phi"].records()} == {1, 2}
    # one sample: nothing to hold apart, the patterns are chosen on the priced rows
    one = ps.simulate(wl.sample(0), ["phi"])
    assert one.held_out == {} and any("no held-out calibration" in n
                                      for n in one["phi"].runs[0].notes)
    with pytest.raises(ConfigError, match="phi.calibration_samples.*out of range"):
        ps.simulate(wl, ["phi"], overrides={"calibration_samples": (5,)})


def test_table_json_and_mismatches() -> None:
    back = phi.PatternTable.from_json(json.loads(json.dumps(TABLE.to_json())))
    assert back == TABLE and hash(back) == hash(TABLE) and back.digest == TABLE.digest
    assert phi.PhiConfig(k=1, width=3, patterns=TABLE.to_json()).patterns == TABLE
    with pytest.raises(ConfigError, match="phi.patterns"):
        phi.PhiConfig(k=2, width=3, patterns=TABLE)
    with pytest.raises(ConfigError, match="no calibrated patterns for layer 'other'"):
        TABLE.of("other")
    with pytest.raises(ConfigError, match="phi.calibration_samples"):
        phi.PhiConfig(calibration_samples=(0, 0))


def test_statistics_round_trip_through_the_counters_entry_points(tmp_path) -> None:
    """The counters are entry points of ``prosparsity.counters``: statistics holding
    their values save and load (what a sweep's cache does)."""
    wl = _workload(_as_trace(ROWS, 2, 2))
    keys = [phi.PhiCounts(k=1, width=3), phi.PhiHistogram(3)]
    stats = count_for(wl, [phi.needs(phi.PhiConfig(k=1, width=3, calibration_samples=())),
                           phi.needs(phi.PhiConfig(k=1, width=3, patterns=TABLE))])[0]
    stats.save(tmp_path / "s")
    back = ModelStats.load(tmp_path / "s")
    for key in keys:
        assert back.counter(key) == stats.counter(key)
    cfg = phi.PhiConfig(k=1, width=3, patterns=TABLE)
    assert phi.simulate(back, cfg) == phi.simulate(stats, cfg)


def test_a_bit_plane_the_calibration_did_not_reach_has_no_patterns() -> None:
    """Sample 0 is binary (one plane), sample 1 holds a 2 (two planes): its second plane
    is all Level 2."""
    data = np.zeros((2, 2, 2, 6), dtype=np.int64)  # (T, B, L, K)
    data[:, 0] = _as_trace(ROWS, 2, 2)[:, 0]
    data[:, 1] = _as_trace(ROWS, 2, 2)[:, 0]
    data[0, 1, 0, 0] = 2  # sample 1, step 0, token 0, column 0: planes 1 and 2
    wl = _workload(data)
    cfg = phi.calibrate_config(phi.PhiConfig(k=1, width=3), [count_for(
        wl.sample(0), [phi.needs(phi.PhiConfig(k=1, width=3))])[0]])
    assert len(cfg.patterns.of("fc")) == 1
    stats = count_for(wl.sample(1), [phi.needs(cfg)])[0]
    assert len(stats.layer("fc").gemms) == 2  # two bit planes
    _, (layer,) = phi.densities(stats, cfg)
    rows1 = (data[:, 1] & 1).transpose(1, 0, 2).reshape(-1, 6).astype(bool)
    first = decompose(rows1, cfg.patterns.of("fc")[0], 3)
    # plane 1 of the 2 at (t=0, l=0, k=0) is one spike, a +1 correction, no lookup
    assert layer.lookups == 3 * int((first.level1 > 0).sum())
    assert layer.corrections == 3 * (int(np.abs(first.level2).sum()) + 1)


def _random_view(rng: np.random.Generator, n_segments: int, width: int
                 ) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
    """A histogram view: per segment distinct ascending codes (zero among them at times,
    some segments empty or with few codes) and their counts."""
    view = []
    for _ in range(n_segments):
        distinct = int(rng.choice([0, 1, 3, 8, 40, 200]))
        codes = np.unique(rng.integers(0, 1 << width, size=distinct, dtype=np.uint64))
        counts = rng.integers(1, 50, size=codes.size)
        view.append((tuple(int(c) for c in codes), tuple(int(n) for n in counts)))
    return tuple(view)


@pytest.mark.parametrize("seed", range(6))
def test_all_segments_at_once_are_the_segments_one_by_one(seed: int) -> None:
    """Pricing fits and matches every segment of a view in one set of array operations;
    it must give each segment's own k-means patterns, in order, and the summed counts."""
    rng = np.random.default_rng(seed)
    width = int(rng.choice([4, 8, 16]))
    k = int(rng.choice([1, 4, 16]))
    view = _random_view(rng, 12, width)
    flat = flatten(view)
    one_by_one = tuple(
        kmeans_patterns(np.asarray(codes, dtype=np.uint64), k, width,
                        weights=np.asarray(counts, dtype=np.int64), max_iter=20)
        for codes, counts in view)
    assert kmeans_many(flat, len(view), k, width, max_iter=20) == one_by_one
    for signed in (True, False):
        total = sum((segment_counts(np.asarray(codes, dtype=np.uint64), pats, signed,
                                    weights=np.asarray(counts, dtype=np.int64))
                     for (codes, counts), pats in zip(view, one_by_one, strict=True)),
                    start=SegmentCounts())
        assert counts_many(flat, one_by_one, signed) == total
