"""Bishop's paradigm on hand-made tiles: token-time bundles, the stratifier's split,
error-constrained pruning, its counter (JSON round trip, the densities it reports) and
the first-order cost model."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import prosparsity as ps
from prosparsity.accel.registry import registry
from prosparsity.analysis.counters import counter_from_json
from prosparsity.analysis.density import layer_spikes
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.engine import count_for
from prosparsity.plugins import bishop
from prosparsity.plugins.bishop.bundles import BundleCounts, group_sizes
from prosparsity.plugins.bishop.model import gemm_cost
from prosparsity.traces.schema import LayerRecord


def _tile() -> np.ndarray:
    """``(L=3, T=3, K=3)``; bundles of 2 tokens x 2 steps x 2 columns (last groups of 1).

    Bundle (tokens 0-1, steps 0-1, columns 0-1): 8 bits, 4 spikes (density 0.5: dense),
    fibers: column 0 {x[0,0,0], x[1,1,0]}, column 1 {x[0,1,1], x[1,0,1]}.
    Bundle (tokens 0-1, step 2, columns 0-1): 4 bits, 1 spike x[0,2,0] (sparse).
    Bundle (token 2, step 2, column 2): 1 bit, 1 spike (dense). The other five are silent.
    """
    x = np.zeros((3, 3, 3), dtype=bool)
    for t, s, k in ((0, 0, 0), (1, 1, 0), (0, 1, 1), (1, 0, 1), (0, 2, 0), (2, 2, 2)):
        x[t, s, k] = True
    return x


HAND = BundleCounts(
    elements=27, nnz=6, bundles=8, active_bundles=3, active_elements=8 + 4 + 1,
    fibers=12, active_fibers=4, active_fiber_elements=4 + 4 + 2 + 1,
    dense_bundles=2, dense_elements=9, dense_nnz=5, dense_fiber_elements=9,
    dense_active_fibers=3,
)


def test_bundles_by_hand() -> None:
    assert group_sizes(5, 2).tolist() == [2, 2, 1]
    counts = bishop.bundle_counts(_tile(), 2, 2, 2, threshold=0.5)
    assert counts == HAND
    assert (counts.sparse_nnz, counts.sparse_active_fibers) == (1, 1)
    # a threshold above 0.5 leaves the 4-of-8 bundle on the sparse core
    strict = bishop.bundle_counts(_tile(), 2, 2, 2, threshold=0.75)
    assert (strict.dense_bundles, strict.dense_nnz, strict.dense_fiber_elements) == (1, 1, 1)
    # one bundle per column with one token and one step: bundles are the bits
    bits = bishop.bundle_counts(_tile(), 1, 1, 1, threshold=1.0)
    assert bits.active_elements == bits.nnz == bits.dense_nnz == 6


def test_error_constrained_pruning_by_hand() -> None:
    q = np.zeros((4, 2, 3), dtype=bool)  # (L, T, D): bundles of 2 tokens x 2 steps
    q[0, 0, 1] = True  # bundle of tokens 0-1: 1 spike -> cleared at bound 1
    q[2, 0, 0] = q[2, 1, 1] = q[3, 1, 2] = True  # tokens 2-3: 3 spikes -> kept
    pruned, removed = bishop.ecp_prune(q, 2, 2, bound=1)
    assert removed == 1
    assert not pruned[:2].any() and np.array_equal(pruned[2:], q[2:])
    keys = np.ones((5, 3), dtype=np.int64)  # any binary keys
    error = np.abs(q.reshape(-1, 3) @ keys.T - pruned.reshape(-1, 3) @ keys.T)
    assert error.max() <= 1  # every score moves by at most the bound
    same, none = bishop.ecp_prune(q, 2, 2, bound=0)  # the exact mode prunes nothing
    assert none == 0 and np.array_equal(same, q)
    with pytest.raises(ConfigError, match="bishop.ecp_bound"):
        bishop.ecp_prune(q, 2, 2, bound=-1)


def _tiny(samples: int = 1, n: int = 200) -> Workload:
    """One linear layer whose every sample holds :func:`_tile`, and its LIF layer."""
    data = np.stack([_tile().transpose(1, 0, 2)] * samples, axis=1)  # (T, B, L, K)
    rec = LayerRecord("fc", "linear", {"in_features": 3, "out_features": n, "seq_len": 3,
                                       "time_steps": 3, "batch": samples}, layout="T,B,L,K",
                      shape=data.shape)
    lif = LayerRecord("lif", "lif", {"neurons": 3 * n, "time_steps": 3, "batch": samples})
    return Workload.from_arrays("tiny", [rec, lif], {"fc": data}, time_steps=3,
                                batch=samples)


def test_counter_sums_samples_and_round_trips_through_json() -> None:
    key = bishop.BishopBundles(tokens=2, steps=2, features=2, threshold=0.5)
    # two samples counted as one batch: bundles never span samples
    value = key.count(layer_spikes(_tiny(samples=2), "fc"))
    assert value == (HAND + HAND,)
    back = counter_from_json(json.loads(json.dumps(key.to_json())))
    assert back == key and hash(back) == hash(key)
    assert key.value_from_json(json.loads(json.dumps(key.value_to_json(value)))) == value
    with pytest.raises(ConfigError, match="bishop_bundles.threshold"):
        bishop.BishopBundles(threshold=1.5)
    with pytest.raises(ConfigError, match="bishop.bundle_tokens"):
        bishop.BishopConfig(bundle_tokens=0)
    with pytest.raises(ConfigError, match="bishop.threshold"):
        bishop.BishopConfig(threshold=-0.1)


def test_gemm_cost_formula() -> None:
    cfg = bishop.BishopConfig(bundle_tokens=2, bundle_steps=2, bundle_features=2,
                              sparse_efficiency=0.5)
    cost = gemm_cost(SimpleNamespace(m=9, k=3, n=128), HAND, cfg)
    # 1 pass x (9 dense fiber bits + ceil(1 sparse spike / 0.5)); ceil(8 bundles / 8)
    assert (cost.compute, cost.preprocess, cost.extra_dram_bits) == (11, 1, 0)
    two = gemm_cost(SimpleNamespace(m=9, k=3, n=129), HAND, bishop.BishopConfig())
    assert two.compute == 2 * (9 + 1)


def test_densities_and_breakdown_on_a_tiny_layer() -> None:
    wl = _tiny()
    cfg = bishop.BishopConfig(bundle_tokens=2, bundle_steps=2, bundle_features=2)
    stats = count_for(wl, [bishop.needs(cfg)])[0]
    model, (layer,) = bishop.densities(stats, cfg)
    # 2 passes (N = 200): every count doubles, the densities do not
    assert (model.elements, model.nnz, model.active_elements) == (54, 12, 26)
    assert model.bundle_density == pytest.approx(13 / 27)
    assert model.fiber_density == pytest.approx(11 / 27)
    assert model.dense_share == pytest.approx(5 / 6)
    assert model.bit_density == pytest.approx(stats.bit_density)
    bd = bishop.simulate(stats, cfg)
    gemm = next(lb for lb in bd.layers if lb.layer == "fc")
    assert gemm.compute_cycles == 2 * (9 + 1)  # the stratifier's ceil(8/8) is hidden
    base = registry()["prosperity"].simulate(
        stats, registry()["prosperity"].config_type(sparsity="bit"))
    assert gemm.dram_bits == next(lb for lb in base.layers if lb.layer == "fc").dram_bits
    assert [lb for lb in bd.layers if lb.op == "lif"] == [
        lb for lb in base.layers if lb.op == "lif"]
    assert bd.notes[0] == "Bishop: first-order model, no reference simulator"
    assert "exact mode: no BSA training, no pruning" in bd.notes
    # what ``analyze --counter bishop_bundles`` shows beside bit and product density
    counted = ps.count(wl, counters=[cfg.counter])
    assert counted.density_names == ("bundle_density", "dense_share")
    assert counted.counter_density("bundle_density").mean == pytest.approx(13 / 27)
    assert counted.counter_density("dense_share").mean == pytest.approx(5 / 6)


def test_bishop_prices_spiking_transformers_only() -> None:
    """Its registration applies to networks with an attention block: elsewhere it is
    skipped with that reason, named or not, and the others run."""
    assert registry()["bishop"].why_not(_tiny().network) == (
        "prices spiking transformers only (this network has no attention block)")
    sim = ps.simulate(_tiny(), ["prosperity", "bishop"])
    assert "bishop" not in sim.accelerators and "prosperity" in sim.accelerators
    assert "transformers only" in sim.skipped["bishop"]


def test_statistics_round_trip_through_the_counters_entry_point(tmp_path) -> None:
    from prosparsity.analysis.stats import ModelStats

    wl = _tiny(n=8)
    cfg = bishop.BishopConfig(bundle_tokens=2, bundle_steps=2, bundle_features=2)
    stats = count_for(wl, [bishop.needs(cfg)])[0]
    stats.save(tmp_path / "s")
    back = ModelStats.load(tmp_path / "s")
    assert back.counter(cfg.counter) == stats.counter(cfg.counter) == {"fc": (HAND,)}
    assert bishop.simulate(back, cfg) == bishop.simulate(stats, cfg)
