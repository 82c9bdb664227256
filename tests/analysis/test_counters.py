"""The counters: their compiled paths (bit-packed operands, the kernel's row sums, the
kernel's grid) equal the reference definitions on the spike views for every geometry;
StSAP equals the authors' greedy literally; the registry finds counters by kind, also
from an installed package's entry point, and names a plugin's package when it fails."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prosparsity.analysis.counters import (
    CounterKey,
    LayerSpikes,
    LoASGroups,
    OperandSpikes,
    PTBRows,
    SATOLoads,
    counter_class,
    counter_from_json,
    counter_package,
    register_counter,
)
from prosparsity.analysis.counters._kernels import stsap_rows
from prosparsity.analysis.counters.loas import loas_rows
from prosparsity.analysis.counters.ptb import packed_rows
from prosparsity.analysis.counters.sato import pe_loads_max
from prosparsity.analysis.density import layer_spikes
from prosparsity.analysis.kernel import prosparsity_stats
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord
from tests.accel.test_baselines import _stsap_oracle


def _reference(key: Any, spikes: LayerSpikes) -> Any:
    """``key``'s value by its definition, from the ``(B, L, T, K)`` views."""
    views = spikes.views()
    if isinstance(key, PTBRows):
        return tuple(sum(packed_rows(s, one_token_linear=spikes.one_token_linear, counter=key)
                         for s in v) for v in views)
    if isinstance(key, SATOLoads):
        return tuple(pe_loads_max(s, key.pes) for v in views for s in v)
    ones = residual = elements = 0
    for v in views:
        rows = np.concatenate([loas_rows(s, key.time_groups) for s in v])
        ones += int(rows.sum())
        residual += prosparsity_stats(rows, key.tile_m, key.tile_k).total("residual_nnz")
        elements += rows.size
    return ones, residual, elements


def _value(key: Any, spikes: LayerSpikes) -> Any:
    got = key.count(spikes)
    return (got.ones, got.residual_ones, got.elements) if isinstance(key, LoASGroups) else got


def _unpacked(spikes: LayerSpikes) -> LayerSpikes:
    """The same layer without its bit-packed operands (the counters' view path)."""
    return dataclasses.replace(spikes, operands=tuple(
        OperandSpikes(op.gemm, op.plane, op.grid, op.row_nnz, op.shape)
        for op in spikes.operands))


def _check(keys: list[Any], spikes: LayerSpikes, fused: bool = True) -> None:
    assert all((op.packed is not None) == fused for op in spikes.operands)
    for key in keys:
        try:
            want = _reference(key, spikes)
        except ConfigError as exc:  # a window / groups not dividing the padded T
            for path in (spikes, _unpacked(spikes)):
                with pytest.raises(ConfigError, match=str(exc.problem)):
                    key.count(path)
            continue
        assert _value(key, spikes) == want, key
        assert _value(key, _unpacked(spikes)) == want, key


KEYS = st.lists(st.one_of(
    st.builds(PTBRows, window=st.integers(1, 4), lanes=st.integers(1, 16),
              stsap=st.booleans(), paper_grouping=st.booleans()),
    st.builds(SATOLoads, pes=st.integers(1, 9)),
    st.builds(LoASGroups, time_groups=st.sampled_from([1, 2, 4]),
              tile_m=st.sampled_from([8, 256]), tile_k=st.sampled_from([5, 16])),
), min_size=1, max_size=4)


@settings(max_examples=50, deadline=None)
@given(t=st.integers(1, 9), b=st.integers(1, 2), c=st.integers(1, 4), h=st.integers(2, 8),
       w=st.integers(2, 11), k=st.integers(1, 3), s=st.integers(1, 2), p=st.integers(0, 1),
       d=st.integers(1, 2), grouped=st.booleans(), density=st.floats(0, 1),
       tile=st.sampled_from([(8, 5), (256, 16)]), seed=st.integers(0, 99), keys=KEYS)
def test_counters_of_conv_layers_equal_their_definitions(
    t: int, b: int, c: int, h: int, w: int, k: int, s: int, p: int, d: int, grouped: bool,
    density: float, tile: tuple[int, int], seed: int, keys: list[Any],
) -> None:
    span = d * (k - 1) + 1
    if h + 2 * p < span or w + 2 * p < span:
        return
    groups = c if grouped else 1
    rec = LayerRecord("c", LayerKind.CONV2D, {
        "in_channels": c, "out_channels": 2 * groups, "kernel": k, "stride": s, "padding": p,
        "dilation": d, "groups": groups, "input_hw": [h, w], "time_steps": t, "batch": b},
        layout="T,B,C,H,W")
    x = np.random.default_rng(seed).random((t, b, c, h, w)) < density
    _check(keys, layer_spikes(Workload.from_arrays("w", [rec], {"c": x}), "c", *tile))


@settings(max_examples=50, deadline=None)
@given(t=st.integers(1, 9), b=st.integers(1, 3), tokens=st.integers(1, 40),
       k=st.integers(1, 200), density=st.floats(0, 1),
       tile=st.sampled_from([(8, 5), (256, 16)]), seed=st.integers(0, 99), keys=KEYS)
def test_counters_of_linear_layers_equal_their_definitions(
    t: int, b: int, tokens: int, k: int, density: float, tile: tuple[int, int], seed: int,
    keys: list[Any],
) -> None:
    rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": k, "out_features": 3,
                                              "seq_len": tokens, "time_steps": t, "batch": b},
                      layout="T,B,L,K")
    x = np.random.default_rng(seed).random((t, b, tokens, k)) < density
    spikes = layer_spikes(Workload.from_arrays("w", [rec], {"f": x}, batch=b), "f", *tile)
    assert spikes.one_token_linear == (tokens == 1)
    _check(keys, spikes)


@pytest.mark.parametrize("layout", ["T,B,L,K", "B,T,L,K"])
def test_counters_of_multi_level_and_sample_streamed_layers(layout: str) -> None:
    """Bit planes (values 0..5: three planes) and a batch stored sample-first (read by
    samples, without a bit-packed input): the counters count each operand's own rows."""
    rng = np.random.default_rng(4)
    x = (rng.random((5, 3, 7, 90)) < 0.3) * rng.integers(1, 6, (5, 3, 7, 90))
    if layout.startswith("B"):
        x = (x > 0).transpose(1, 0, 2, 3)  # binary, three samples stored first
    rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": 90, "out_features": 3,
                                              "seq_len": 7, "time_steps": 5, "batch": 3},
                      layout=layout, shape=x.shape, levels=tuple(np.unique(x).tolist()))
    spikes = layer_spikes(Workload.from_arrays("w", [rec], {"f": x}, batch=3), "f", 16, 8)
    assert len(spikes.operands) == (1 if layout.startswith("B") else 3)
    keys = [PTBRows(), PTBRows(window=2, lanes=5, paper_grouping=False), SATOLoads(pes=4),
            LoASGroups(), LoASGroups(time_groups=8, tile_m=16, tile_k=8)]
    _check(keys, spikes, fused=False)


def test_ptb_by_hand_through_the_bit_packed_path() -> None:
    """One token, T = 32 (8 windows of 4 steps); column k fires in the listed windows."""
    def spikes(columns: list[list[int]], tokens: int = 1) -> LayerSpikes:
        x = np.zeros((32, tokens, len(columns)), dtype=bool)
        for col, wins in enumerate(columns):
            for win in wins:
                x[4 * win + 1, 0, col] = True
        rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": len(columns),
                                                  "out_features": 2, "seq_len": tokens,
                                                  "time_steps": 32}, layout="T,L,K")
        return layer_spikes(Workload.from_arrays("w", [rec], {"f": x}), "f")

    paper, fixed = PTBRows(), PTBRows(paper_grouping=False)
    # two tokens (the second silent; 8 windows x 2 tokens read as 8 lanes: one group per
    # token): 0b01 and 0b10 pair, 0b11 alone, a full row alone
    assert paper.count(spikes([[0], [1], [0, 1], list(range(8))], tokens=2)) == (3,)
    # order matters: 0b01 skips the overlapping 0b11 and pairs with 0b10
    assert paper.count(spikes([[0], [0, 1], [1]], tokens=2)) == (2,)
    # one token: the authors count the spiking columns; the corrected grouping packs
    assert paper.count(spikes([[0], [1], [0, 1], [2], []])) == (4,)
    assert fixed.count(spikes([[0], [1], [0, 1], [2], []])) == (2,)
    # without StSAP every (group, column) row counts: 2 groups (8 windows x 2 tokens read
    # as 8 lanes) x 2 columns, spiking or not
    assert PTBRows(stsap=False).count(spikes([[], [3]], tokens=2)) == (4,)


@settings(max_examples=80, deadline=None)
@given(groups=st.integers(1, 3), cols=st.integers(1, 200), lanes=st.integers(1, 16),
       dense=st.floats(0, 1), sparse=st.floats(0, 1), share=st.floats(0, 0.3),
       seed=st.integers(0, 2**32 - 1))
def test_stsap_equals_the_literal_greedy_across_words(
        groups: int, cols: int, lanes: int, dense: float, sparse: float, share: float,
        seed: int) -> None:
    """Long groups (several 64-column words) of dense and sparse rows mixed, up to 16
    lanes: partners are found in later words too."""
    rng = np.random.default_rng(seed)
    density = np.where(rng.random((groups, cols, 1)) < share, sparse, dense)
    bits = rng.random((groups, cols, lanes)) < density
    patterns = (bits * (1 << np.arange(lanes))).sum(axis=2).astype(np.int64)
    assert stsap_rows(patterns, lanes) == _stsap_oracle(patterns, lanes)


@pytest.mark.parametrize("partner", [0b1110, 0b1100, 0b0010])
def test_stsap_finds_a_partner_words_away(partner: int) -> None:
    # the first row (0b0001) pairs with the last, three words on, disjoint (the whole
    # complement, or a part of it); every 0b0011 row between overlaps and stays alone
    patterns = np.array([[0b0001] + [0b0011] * 190 + [partner]], dtype=np.int64)
    assert stsap_rows(patterns, 4) == _stsap_oracle(patterns, 4) == 1 + 190
    # the same lane: nothing is disjoint, every row stays; full rows always stay alone
    patterns[0, -1] = 0b0001
    assert stsap_rows(patterns, 4) == _stsap_oracle(patterns, 4) == 2 + 190
    patterns[0, 5] = patterns[0, 64] = 0b1111
    assert stsap_rows(patterns, 4) == _stsap_oracle(patterns, 4) == 2 + 190


# ------------------------------------------------------------------------- registry


@register_counter
@dataclass(frozen=True)
class _Ones(CounterKey):
    kind: ClassVar[str] = "test_registry_ones"
    scale: int = 1

    def count(self, layer: LayerSpikes) -> int:
        return self.scale * sum(int(op.row_nnz.sum()) for op in layer.operands)


def test_registry_finds_builtin_and_registered_counters_by_kind() -> None:
    assert counter_class("ptb_rows") is PTBRows and counter_class("loas_groups") is LoASGroups
    assert counter_from_json(PTBRows(window=2).to_json()) == PTBRows(window=2)
    assert counter_from_json({"kind": "test_registry_ones", "scale": 3}) == _Ones(scale=3)
    assert register_counter(_Ones) is _Ones  # again: nothing changes
    assert counter_package(PTBRows()).startswith("prosparsity-harness ")
    assert counter_package(_Ones) == "module tests.analysis.test_counters"
    with pytest.raises(ConfigError, match=r"unknown counter 'nope' \(known: .*ptb_rows.*"
                                          r"'prosparsity.counters'"):
        counter_from_json({"kind": "nope"})
    with pytest.raises(ConfigError, match="counters.test_registry_ones: .*unexpected keyword"):
        counter_from_json({"kind": "test_registry_ones", "lanes": 3})


def test_registry_refuses_a_taken_kind_and_incomplete_classes() -> None:
    @dataclass(frozen=True)
    class Clash(_Ones):
        pass

    Clash.__module__ = "elsewhere"
    with pytest.raises(ConfigError, match="'test_registry_ones' is already registered by "
                                          "tests.analysis.test_counters._Ones"):
        register_counter(Clash)

    class NoKind:
        pass

    with pytest.raises(ConfigError, match="NoKind has no string 'kind'"):
        register_counter(NoKind)

    class NoCount:
        kind = "test_no_count"

    with pytest.raises(ConfigError, match="lacks count, to_json, value_to_json"):
        register_counter(NoCount)


PLUGIN = '''
from dataclasses import dataclass
from typing import ClassVar

from prosparsity.analysis.counters import CounterKey


@dataclass(frozen=True)
class PluginRows(CounterKey):
    kind: ClassVar[str] = "{kind}"
    every: int = 1

    def count(self, layer):
        return [int((op.row_nnz > 0).sum()) // self.every for op in layer.operands]
'''


def _install(tmp_path: Path, kind: str, module: str, body: str) -> None:
    """A package ``tmpplug 1.2`` on ``sys.path`` advertising ``module:PluginRows`` under
    ``kind`` in the entry-point group ``prosparsity.counters``."""
    (tmp_path / f"{module}.py").write_text(body)
    info = tmp_path / "tmpplug-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tmpplug\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text(
        f"[prosparsity.counters]\n{kind} = {module}:PluginRows\n")


def test_a_counter_advertised_by_an_installed_package_is_loaded_by_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, module = "tmpplug_rows", f"tmpplug_mod_{tmp_path.name.replace('-', '_')}"
    _install(tmp_path, kind, module, PLUGIN.format(kind=kind))
    monkeypatch.syspath_prepend(str(tmp_path))
    key = counter_from_json({"kind": kind, "every": 2})
    assert type(key).__module__ == module and key.every == 2
    assert counter_package(key) == "tmpplug 1.2"
    x = np.zeros((2, 3, 5), dtype=bool)
    x[0, 0, 1] = x[1, 2, 4] = True  # rows (token 0, t 0) and (token 2, t 1) spike
    rec = LayerRecord("f", LayerKind.LINEAR, {"in_features": 5, "out_features": 2,
                                              "seq_len": 3, "time_steps": 2}, layout="T,L,K")
    assert key.count(layer_spikes(Workload.from_arrays("w", [rec], {"f": x}), "f")) == [1]
    monkeypatch.delitem(sys.modules, module)


def test_a_plugin_that_fails_to_load_is_named_with_its_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, module = "tmpplug_broken", f"tmpplug_bad_{tmp_path.name.replace('-', '_')}"
    _install(tmp_path, kind, module, "raise ImportError('needs a GPU')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=rf"counter plugin {module}:PluginRows \(tmpplug 1.2\)"
                                          r" failed to load: ImportError: needs a GPU"):
        counter_from_json({"kind": kind})
