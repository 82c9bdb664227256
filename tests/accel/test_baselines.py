"""Baseline models on hand-computed cases: counting (StSAP packing, SATO dealing, LoAS
grouping) and pricing formulas, configs, batch handling, reported figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prosparsity.accel.eyeriss import EyerissConfig, layer_cycles
from prosparsity.accel.loas import LoASConfig, LoASCounts
from prosparsity.accel.mint import MINTConfig, gemm_cycles
from prosparsity.accel.ptb import PTBConfig, price_gemm
from prosparsity.accel.registry import registry
from prosparsity.accel.sato import SATOConfig, lif_cycles
from prosparsity.analysis.counters._kernels import stsap_rows as _stsap_rows
from prosparsity.analysis.counters.loas import loas_rows
from prosparsity.analysis.counters.ptb import packed_rows, window_spikes
from prosparsity.analysis.counters.sato import pe_loads_max
from prosparsity.analysis.density import layer_spikes
from prosparsity.analysis.layers import LayerGemm, next_power_of_two
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerRecord
from tests.conftest import run_model


def _stsap_oracle(patterns: np.ndarray, lanes: int) -> int:
    """The authors' greedy, literally: pair each untaken row with the first later
    untaken row whose lanes are disjoint."""
    full = (1 << lanes) - 1
    total = 0
    for group in patterns:
        rows = [int(p) for p in group if 0 < p < full]
        taken = [False] * len(rows)
        pairs = 0
        for i in range(len(rows) - 1):
            if taken[i]:
                continue
            for j in range(i + 1, len(rows)):
                if not taken[j] and rows[i] & rows[j] == 0:
                    taken[j] = True
                    pairs += 1
                    break
        total += len(rows) - pairs + int(np.sum(group == full))
    return total


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 40), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_stsap_kernel_equals_the_literal_greedy(groups: int, cols: int, lanes: int,
                                                seed: int) -> None:
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 1 << lanes, size=(groups, cols)).astype(np.int64)
    assert _stsap_rows(patterns, lanes) == _stsap_oracle(patterns, lanes)


def _view(columns: list[list[int]], windows: int = 8) -> np.ndarray:
    """(L=1, T=4*windows, K) spikes whose column k fires in the listed windows."""
    view = np.zeros((1, 4 * windows, len(columns)), dtype=bool)
    for k, wins in enumerate(columns):
        for w in wins:
            view[0, 4 * w + 1, k] = True
    return view


def test_stsap_by_hand() -> None:
    cfg = PTBConfig()
    # patterns 0b01, 0b10, 0b11, all eight lanes: (0,1) pair, (2) alone, full row alone
    assert packed_rows(_view([[0], [1], [0, 1], list(range(8))]),
                       one_token_linear=False, counter=cfg.counter) == 3
    # order matters: 0b01 skips the overlapping 0b11 and pairs with 0b10; 0b11 stays alone
    assert packed_rows(_view([[0], [0, 1], [1]]), one_token_linear=False, counter=cfg.counter) == 2
    # silent columns cost nothing; without StSAP every (group, column) row counts
    assert packed_rows(_view([[], [3]]), one_token_linear=False, counter=cfg.counter) == 1
    assert packed_rows(_view([[], [3]]), one_token_linear=False,
                       counter=PTBConfig(stsap=False).counter) == 2
    # a one-token linear layer: one row per column that spikes at all
    assert packed_rows(_view([[], [3], [0, 5], []]), one_token_linear=True,
                       counter=cfg.counter) == 2


def test_time_windows_pad_to_a_power_of_two() -> None:
    view = np.zeros((2, 5, 3), dtype=bool)
    view[1, 4, 2] = True  # step 4 -> window 1 of T' = 8
    win = window_spikes(view, 4)
    assert win.shape == (2, 2, 3)
    assert win[1, 1, 2] and win.sum() == 1
    assert next_power_of_two(5) == 8 and next_power_of_two(1) == 1
    assert window_spikes(np.ones((1, 2, 1), bool), 4).shape == (1, 1, 1)  # T=2 -> one window


def test_ptb_pricing_by_hand() -> None:
    # LeNet-5 fc_0: 304 spiking columns, N=120 -> 8 passes of 16 outputs
    g = LayerGemm("fc_0", time_steps=32, batch=1, positions=1, k=576, n=120)
    layer = price_gemm(g, 304, PTBConfig())
    assert layer.compute_cycles == 304 * 8 * 4 + 1 * 16 * 2
    assert layer.dram_bits == 32 * 576 + 576 * 120 * 8 + 32 * 120
    assert layer.mem_stall_cycles == 1536 // 1024 + max(0, (575232 - 1536) // 1024 - 9760)
    assert layer.total_cycles == 9761


def test_sato_deals_rows_to_the_least_loaded_pe() -> None:
    # rows in the authors' order (time step major): loads 5, 3, 3, 1 on 2 PEs -> 5+1, 3+3
    view = np.zeros((2, 2, 8), dtype=bool)  # (L, T, K)
    view[0, 0, :5] = True  # t0 l0: 5
    view[1, 0, :3] = True  # t0 l1: 3
    view[0, 1, :3] = True  # t1 l0: 3
    view[1, 1, :1] = True  # t1 l1: 1
    assert pe_loads_max(view, pes=2) == 6
    assert pe_loads_max(view, pes=1) == 12
    # LIF: neurons * (log2 T + 1), log2 in float32 as the authors' torch code
    assert lif_cycles(84, 32, 1, SATOConfig()) == 84 * 6.0
    assert lif_cycles(10, 10, 1, SATOConfig()) == 10 * (float(np.log2(np.float32(10))) + 1)
    assert lif_cycles(10, 10, 1, SATOConfig()) != 10 * (math.log2(10) + 1)


def test_mint_one_cycle_per_spike_and_pass() -> None:
    assert gemm_cycles(1000, 128, MINTConfig()) == 1000
    assert gemm_cycles(1000, 129, MINTConfig()) == 2000


def _workload(records: list[LayerRecord], arrays: dict | None = None) -> Workload:
    return Workload.from_arrays("tiny", records, arrays or {}, time_steps=4)


def test_eyeriss_formulas_by_hand() -> None:
    fc = LayerRecord("fc", "linear", {"in_features": 100, "out_features": 25, "seq_len": 7,
                                      "time_steps": 4})
    lif = LayerRecord("lif", "lif", {"neurons": 1000, "time_steps": 4})
    lif24 = LayerRecord("lif24", "lif", {"neurons": 1000, "time_steps": 24})
    att = LayerRecord("att", "attention", {"dim": 64, "seq_len": 16, "heads": 4,
                                           "variant": "spikformer", "time_steps": 4})
    ln = LayerRecord("ln", "layernorm", {"dim": 64, "seq_len": 16, "time_steps": 4})
    wl = _workload([fc, lif, lif24, att, ln])
    cfg, lin = EyerissConfig(), EyerissConfig(price_transformer_ops=True)
    assert layer_cycles(wl, fc, cfg) == 3 * (100 * 28 // 14)
    assert layer_cycles(wl, lif, cfg) == 0  # T // 12 = 0: the authors' slip
    assert layer_cycles(wl, lif, EyerissConfig(paper_compatible=False)) == 1000 // 14
    assert layer_cycles(wl, lif24, cfg) == 2 * 1000 // 14
    assert layer_cycles(wl, att, cfg) is None
    assert layer_cycles(wl, att, lin) == 2 * 16 * 16 * 4 * 16 * 4 // 168
    size = 4 * 16 * 64 * 8  # bits of the 8-bit activations: the authors' slip
    assert layer_cycles(wl, ln, lin) == (3 * size + 2 * (size // 64)) // 168
    size = 4 * 16 * 64
    assert layer_cycles(wl, ln, EyerissConfig(price_transformer_ops=True,
                                              paper_compatible=False)) == (
        (3 * size + 2 * (size // 64)) // 168)
    sdt = LayerRecord("a", "attention", {"dim": 64, "seq_len": 16, "heads": 4,
                                         "variant": "sdt", "time_steps": 4})
    assert layer_cycles(_workload([sdt]), sdt, lin) == 4 * 16 * 16 * 4 * 4 // 168
    with pytest.raises(ConfigError, match="variant"):  # typed params refuse it when built
        LayerRecord("b", "attention", {"dim": 64, "seq_len": 16, "heads": 4,
                                       "variant": "nope", "time_steps": 4})


def test_loas_groups_and_counts_by_hand() -> None:
    view = np.zeros((1, 8, 4), dtype=bool)  # T=8 -> 4 groups of 2 steps
    view[0, 0, 0] = view[0, 1, 1] = True  # group 0: columns 0, 1
    view[0, 2, 0] = view[0, 3, 1] = view[0, 3, 2] = True  # group 1: columns 0, 1, 2
    rows = loas_rows(view)
    assert rows.shape == (4, 4)
    assert rows[0].tolist() == [True, True, False, False]
    assert rows[1].tolist() == [True, True, True, False]
    rec = LayerRecord("fc", "linear", {"in_features": 4, "out_features": 10, "time_steps": 8},
                      layout="T,L,K")
    spikes = layer_spikes(Workload.from_arrays("w", [rec], {"fc": view.transpose(1, 0, 2)}),
                          "fc")
    counts = LoASCounts.of(LoASConfig().counter.count(spikes), n=10)
    assert counts.pseudo_acc == 5 * 10
    assert counts.pseudo_acc_prosparsity == 3 * 10  # row 1 reuses row 0: residual {2}
    assert counts.dense_acc == 16 * 10


def _linear_workload(batch: int, rng: np.random.Generator) -> tuple[Workload, np.ndarray]:
    rec = LayerRecord("fc", "linear", {"in_features": 24, "out_features": 40, "seq_len": 6,
                                       "time_steps": 8, "batch": batch}, layout="T,B,L,K")
    data = rng.random((8, batch, 6, 24)) < 0.3
    lif = LayerRecord("lif", "lif", {"neurons": 240, "time_steps": 8, "batch": batch})
    return Workload.from_arrays("b", [rec, lif], {"fc": data}, time_steps=8, batch=batch), data


@pytest.mark.parametrize("name", ["ptb", "sato", "mint", "loas"])
def test_batch_samples_add_up(name: str) -> None:
    rng = np.random.default_rng(7)
    both, data = _linear_workload(2, rng)
    total = run_model(name, both)
    parts = []
    for b in range(2):
        rec = LayerRecord("fc", "linear", {"in_features": 24, "out_features": 40, "seq_len": 6,
                                           "time_steps": 8, "batch": 1}, layout="T,B,L,K")
        lif = LayerRecord("lif", "lif", {"neurons": 240, "time_steps": 8, "batch": 1})
        one = Workload.from_arrays("b", [rec, lif], {"fc": data[:, b:b + 1]}, time_steps=8)
        parts.append(run_model(name, one))
    assert total.compute_cycles == pytest.approx(sum(p.compute_cycles for p in parts))


def test_configs_validate_and_name_the_field() -> None:
    with pytest.raises(ConfigError, match="ptb.array_rows"):
        PTBConfig(array_rows=0)
    with pytest.raises(ConfigError, match="sato.pes"):
        SATOConfig(pes=0)
    with pytest.raises(ConfigError, match="mint.pes"):
        MINTConfig(pes=0)
    with pytest.raises(ConfigError, match="eyeriss.pe_rows"):
        EyerissConfig(pe_rows=0)
    with pytest.raises(ConfigError, match="loas.time_groups"):
        LoASConfig(time_groups=0)


def test_registry_entries() -> None:
    reg = registry()
    for name in ("ptb", "sato", "mint", "loas"):
        assert reg[name].needs().spikes
    for name in ("eyeriss", "eyeriss-linear", "stellar", "a100"):
        assert not reg[name].needs().spikes
    assert reg["eyeriss-linear"].default_config().price_transformer_ops
    assert {reg[n].energy_key for n in ("ptb", "sato", "mint", "eyeriss", "stellar")} == {
        "PTB", "SATO", "MINT", "Eyeriss", "Stellar"}


def test_reported_figures_apply_only_to_their_workloads() -> None:
    assert run_model("a100", Workload.from_paper("lenet5_mnist")) is None
    assert run_model("stellar", Workload.from_paper("sdt_cifar10")) is None
    vgg = run_model("stellar", Workload.from_paper("vgg16_cifar10"))
    assert vgg.latency_s == 0.040187906 and vgg.total_cycles == pytest.approx(0.040187906 * 5e8)
    a100 = run_model("a100", Workload.from_paper("spikformer_cifar10"))
    assert a100.energy_mj == pytest.approx(96 * 1000 * 0.019)
    trace = _workload([LayerRecord("lif", "lif", {"neurons": 4, "time_steps": 4})])
    assert run_model("a100", trace) is None and run_model("stellar", trace) is None


def test_loas_cycles_at_an_equal_adder_budget() -> None:
    view = np.zeros((8, 1, 4), dtype=bool)  # (T, L=1 as "T,K" below), K=4
    view[0, 0, 0] = view[1, 0, 1] = True
    view[2, 0, 0] = view[3, 0, 1] = view[3, 0, 2] = True
    rec = LayerRecord("fc", "linear", {"in_features": 4, "out_features": 10, "seq_len": 1,
                                       "time_steps": 8}, layout="T,K")
    wl = Workload.from_arrays("l", [rec], {"fc": view[:, 0]}, time_steps=8)
    plain = run_model("loas", wl, LoASConfig(adders=4))
    pro = run_model("loas", wl, LoASConfig(adders=4, prosparsity=True))
    assert plain.total_cycles == math.ceil(50 * 2 / 4)  # 2 steps per group
    assert pro.total_cycles == math.ceil(30 * 2 / 4)
    assert plain.extra["bit_density"] == 50 / 160
    assert plain.extra["product_density"] == 30 / 160


def test_ptb_corrected_grouping() -> None:
    rng = np.random.default_rng(3)
    fixed = PTBConfig(paper_compatible=False)
    # W = 8 windows: the authors' grouping is already one token per group
    view = rng.random((5, 32, 40)) < 0.2
    assert packed_rows(view, one_token_linear=False, counter=fixed.counter) == packed_rows(
        view, one_token_linear=False, counter=PTBConfig().counter)
    # W = 1 (T = 4): the authors mix 8 tokens per group; corrected: one token per group,
    # so every spiking (token, column) is its own row and nothing pairs (lanes overlap)
    view = rng.random((16, 4, 10)) < 0.3
    assert packed_rows(view, one_token_linear=False, counter=fixed.counter) == int(
        view.any(axis=1).sum())
    # one-token linear: corrected packing never needs more rows than the authors' count
    cols = _view([[0], [1], [0, 1], [2], []])
    assert packed_rows(cols, one_token_linear=True, counter=PTBConfig().counter) == 4
    assert packed_rows(cols, one_token_linear=True, counter=fixed.counter) == 2  # (0,1), (2,3)
