"""The statistics object: counters in one pass, serialisation without pickle, stacking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from prosparsity.accel.loas import LoASConfig
from prosparsity.accel.ptb import PTBConfig
from prosparsity.accel.registry import registry
from prosparsity.accel.sato import SATOConfig
from prosparsity.analysis import store
from prosparsity.analysis.counters import LoASGroups, LoASLayer, PTBRows, SATOLoads
from prosparsity.analysis.density import _stacked_grid, count
from prosparsity.analysis.kernel import prosparsity_stats
from prosparsity.analysis.network import Workload
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError

COUNTERS = (PTBRows(), SATOLoads(), LoASGroups(), PTBRows(paper_grouping=False),
            SATOLoads(pes=7))


@pytest.fixture(scope="module")
def spikformer(reference_dir: Path) -> Workload:
    """A transformer (attention, LayerNorm) with real spike data, at its paper shapes."""
    return Workload.from_paper(
        "spikformer_cifar10", arrays=np.load(reference_dir / "synthetic" /
                                             "spikformer_cifar10.npz"))


def test_counters_in_one_pass_equal_each_alone(spikformer: Workload) -> None:
    together = count(spikformer, 256, 16, COUNTERS)
    for key in COUNTERS:
        alone = count(spikformer, 256, 16, [key])
        assert together.counter(key) == alone.counter(key), key
    assert together.layers == count(spikformer, 256, 16).layers  # counters change no grid
    with pytest.raises(ConfigError, match="counted without"):
        count(spikformer, 256, 16).counter(PTBRows())


def test_round_trip_through_json_and_npz(spikformer: Workload, tmp_path: Path) -> None:
    stats = count(spikformer, 128, 8, COUNTERS)
    json_path, npz_path = stats.save(tmp_path / "stats")
    assert json.loads(json_path.read_text())["format"] == 1
    with np.load(npz_path, allow_pickle=False) as npz:  # plain int64 arrays only
        assert all(npz[k].dtype == np.int64 for k in npz.files)
    back = ModelStats.load(tmp_path / "stats")
    assert back == stats
    assert back.network == stats.network  # the typed layer metadata comes back too
    assert isinstance(back.counter(LoASGroups()).get("conv2d_1_sps"), LoASLayer)
    # priced from the restored statistics, every model gives the same numbers
    for name, config in (("prosperity", registry()["prosperity"].config_type(
            tile_m=128, tile_k=8)), ("ptb", PTBConfig()), ("sato", SATOConfig()),
            ("loas", LoASConfig()), ("mint", None), ("eyeriss-linear", None)):
        entry = registry()[name]
        assert entry.simulate(back, config) == entry.simulate(stats, config), name
    assert sorted(tmp_path.iterdir()) == [json_path, npz_path]  # no temporary left


def test_shapes_only_statistics_round_trip(tmp_path: Path) -> None:
    stats = count(Workload.from_paper("vgg16_cifar10"))
    assert not stats.has_data and stats.layers == ()
    stats.save(tmp_path / "s")
    back = ModelStats.load(tmp_path / "s")
    assert back == stats and back.network == stats.network
    entry = registry()["eyeriss"]
    assert entry.simulate(back, None) == entry.simulate(stats, None)


def test_bad_documents_are_refused(spikformer: Workload) -> None:
    doc, arrays = store.serialise(count(Workload.from_paper("lenet5_mnist")))
    with pytest.raises(ConfigError, match="unsupported format"):
        store.deserialise({**doc, "format": 99}, arrays)
    del doc["layers"]
    with pytest.raises(ConfigError, match="missing 'layers'"):
        store.deserialise(doc, arrays)


def test_a_stacked_grid_equals_each_matrix_alone() -> None:
    """Attention roles are counted in one kernel call: zero-row padding to whole row tiles
    changes no count (zero_rows corrected), so each copy's tiles equal its own grid."""
    rng = np.random.default_rng(4)
    mats = rng.random((5, 37, 20)) < 0.3
    mats[:, 1::2] = mats[:, ::2][:, : mats[:, 1::2].shape[1]]
    stacked = _stacked_grid(mats, 16, 8)
    n_tm = 3
    for c, mat in enumerate(mats):
        alone = prosparsity_stats(mat, 16, 8)
        for name in ("rows", "nnz", "residual_nnz", "zero_rows", "em_rows", "pm_rows",
                     "other_rows", "ge2_rows", "forest_depth"):
            part = getattr(stacked, name)[c * n_tm : (c + 1) * n_tm]
            np.testing.assert_array_equal(part, getattr(alone, name), err_msg=name)
    assert stacked.m == 5 * 37 and stacked.elements == 5 * 37 * 20


def test_densities_at_another_adder_width(spikformer: Workload) -> None:
    stats = count(spikformer)
    assert stats.densities(stats.adders) == (stats.bit_density, stats.product_density)
    bit, product = stats.densities(4096)  # one pass for every GEMM: unweighted ratios
    layers = [g for layer in stats.layers for g in layer.gemms]
    ones = sum(g.grid.total("nnz") for g in layers)
    assert bit == ones / sum(g.grid.elements for g in layers)
    assert product <= bit
