"""Prosperity's cost model on hand-computed cases, its config and its properties."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prosparsity.accel import prosperity as P
from prosparsity.accel import prosperity_layers as L
from prosparsity.accel.prosperity import ProsperityConfig, Sparsity, dram_bits
from prosparsity.accel.registry import registry
from prosparsity.analysis.density import count
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.paper.energy import PROSPERITY_DRAM_BITS
from prosparsity.traces.schema import LayerRecord
from prosparsity.traces.workloads import WORKLOADS
from tests.conftest import run_model

# Four time steps of one token, K = 4 (rows m = t): the rank-one rule by hand, one tile.
#   row 0 {0,1}   : identical row 1 has a larger index -> no prefix, residual 2
#   row 1 {0,1}   : prefix row 0 (identical, smaller index) -> exact match, residual 0
#   row 2 {0,1,2} : prefix row 0 (popcount 2, tie with row 1 -> smaller index), residual 1
#   row 3 {3}     : popcount 1 -> no prefix, residual 1
SPIKES = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)


def simulate(workload: Workload, config: ProsperityConfig | None = None):
    """Count what the config needs, then price: the pure model on the statistics."""
    return run_model("prosperity", workload, config)


def _tiny(spikes: np.ndarray = SPIKES, out_features: int = 2) -> Workload:
    t, k = spikes.shape
    layers = [
        LayerRecord("fc_0", "linear", {"in_features": k, "out_features": out_features,
                                       "time_steps": t}, shape=(t, k), layout="T,K",
                    levels=(0, 1)),
        LayerRecord("lif_0", "lif", {"neurons": out_features, "time_steps": t}),
    ]
    return Workload.from_arrays("tiny", layers, {"fc_0": spikes})


def test_tiny_linear_by_hand() -> None:
    bd = simulate(_tiny())
    fc, lif = bd.layers
    # compute = nN*(R + EM) = 1*(4 + 1); preprocessing = P + M//8 = 3 + 0 -> no stall
    assert fc.compute_cycles == 5 and fc.preprocess_stall_cycles == 0
    # DRAM = K*N*8*ceil(M/256) + M*K*nN = 64 + 16; init = 4*2*8 + 4*4 = 80 -> 0 stall
    assert fc.dram_bits == 80 and fc.mem_stall_cycles == 0 and fc.total_cycles == 5
    # LIF: ceil(2/32)*T*2 = 8 cycles; latency min(ceil((256*128//4)/32)*8, 8) = 8
    assert (lif.total_cycles, lif.extra["lif_latency"], lif.dram_bits) == (8, 8, 0)
    assert bd.total_cycles == 5 + 8 and bd.compute_cycles == 13
    assert bd.extra == {"bit_density": 8 / 16, "product_density": 4 / 16}


@pytest.mark.parametrize(("sparsity", "compute"), [("bit", 8), ("dense", 16)])
def test_tiny_ablations(sparsity: str, compute: int) -> None:
    fc = simulate(_tiny(), ProsperityConfig(sparsity=sparsity)).layers[0]
    assert fc.compute_cycles == compute
    assert fc.dram_bits == 80  # tile by tile: 4*4 spikes (fit the buffer) + 4*2*8 weights


def test_preprocessing_bound_layer_stalls() -> None:
    """Rows of popcount 2 with no reuse: compute R = 2 per row, detection 1 per row +
    M//8; with 256 identical rows compute collapses to R=2 + 255 EM, detection 256 + 32."""
    spikes = np.zeros((256, 4), dtype=bool)
    spikes[:, :2] = True
    fc = simulate(_tiny(spikes)).layers[0]
    assert fc.compute_cycles == 256 + 32  # max(257, 288)
    assert fc.preprocess_stall_cycles == 288 - 257


def test_output_passes_scale_compute_and_spike_traffic() -> None:
    one = simulate(_tiny(out_features=128)).layers[0]
    two = simulate(_tiny(out_features=129)).layers[0]
    assert two.compute_cycles == 2 * one.compute_cycles
    assert two.dram_bits - 4 * 129 * 8 == 2 * (one.dram_bits - 4 * 128 * 8)


def test_lif_cost_and_buffer() -> None:
    cost, on_chip = L.lif_cost(2304, 1, 32, P.PAPER)
    assert (cost.compute, cost.lif_latency, cost.dram_bits, on_chip) == (4608, 2048, 73728, False)
    cost, on_chip = L.lif_cost(120, 1, 32, P.PAPER)  # 3840 bits < 4096: stays on chip
    assert (cost.compute, cost.lif_latency, cost.dram_bits, on_chip) == (256, 256, 0, True)


def test_layernorm_cost_by_hand() -> None:
    cost = L.layernorm_cost(dim=128, rows=300, cfg=P.PAPER)
    adders = 3 * (256 * 128 // 128) + 3 * (44 * 128 // 128)
    others = 2 * 256 + 256 * 128 // 32
    assert cost.compute == adders + others and cost.dram_bits == 2 * 300 * 128 * 8


def test_overlap_rule() -> None:
    rec = {k: LayerRecord(k, k if k != "fc" else "linear") for k in ("fc", "attention")}
    lif = LayerRecord("lif", "lif")
    long_lif = L.Cost(compute=1000, mem_stall=0, preprocess_stall=0, dram_bits=0,
                       lif_latency=100)
    short_attention = L.Cost(50, 0, 0, 0)
    long_attention = L.Cost(950, 0, 0, 0)
    assert P._network_total([(rec["fc"], short_attention), (lif, long_lif)]) == [50, 100]
    # after attention: latency when attention + latency >= LIF time, else the difference
    assert P._network_total([(rec["attention"], long_attention), (lif, long_lif)]) == [950, 100]
    assert P._network_total([(rec["attention"], short_attention), (lif, long_lif)]) == [50, 950]
    assert P._network_total([(lif, long_lif)]) == [1000]


def test_issue_type_one_is_never_faster() -> None:
    rng = np.random.default_rng(0)
    spikes = rng.random((512, 64)) < 0.3
    spikes[1::2] = spikes[::2]  # reuse between time steps: deep forests
    wl = _tiny(spikes)
    for compat in (True, False):
        two = simulate(wl, ProsperityConfig(paper_compat=compat)).layers[0]
        one = simulate(wl, ProsperityConfig(issue_type=1, paper_compat=compat)).layers[0]
        assert one.compute_cycles >= two.compute_cycles


def test_sparsity_modes_are_ordered() -> None:
    rng = np.random.default_rng(1)
    wl = _tiny(rng.random((300, 40)) < 0.2)
    cycles = [simulate(wl, ProsperityConfig(sparsity=s)).layers[0].compute_cycles
              for s in ("product", "bit", "dense")]
    assert cycles[0] <= cycles[1] <= cycles[2] == 300 * 40


@pytest.mark.parametrize(("field", "value"), [
    ("tile_m", 0), ("tile_k", 129), ("tile_m", 5000), ("adders", -1), ("issue_type", 3),
    ("sparsity", "sparse"), ("clock_hz", 0), ("weight_bits", 1.5),
])
def test_config_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"prosperity.{field}"):
        ProsperityConfig(**{field: value})


def test_paper_preset() -> None:
    cfg = ProsperityConfig()
    assert (cfg.tile_m, cfg.tile_k, cfg.adders, cfg.lif_units, cfg.popcount_units) == (
        256, 16, 128, 32, 8)
    assert (cfg.weight_bits, cfg.mem_bits_per_cycle, cfg.clock_hz) == (8, 1024, 500e6)
    assert cfg.issue_type == 2 and cfg.sparsity is Sparsity.PRODUCT and cfg.paper_compat
    assert cfg.act_buffer_bits == 4096 and cfg.wgt_buffer_bits == 16384
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tile_m = 1  # type: ignore[misc]


def test_registered() -> None:
    entry = registry()["prosperity"]
    assert entry.config_type is ProsperityConfig and entry.needs().spikes
    assert entry.energy_key == "Prosperity"
    assert run_model("prosperity", _tiny()).total_cycles == 13


@pytest.mark.parametrize("name", sorted(PROSPERITY_DRAM_BITS))
def test_shape_only_dram_reproduces_the_paper_table(name: str) -> None:
    assert dram_bits(Workload.from_paper(name)) == PROSPERITY_DRAM_BITS[name]


def test_shapes_only_workload() -> None:
    wl = Workload.from_paper("lenet5_mnist")
    with pytest.raises(TraceError, match="spike data"):
        simulate(wl)
    # dense mode needs shapes only (official Prosperity:dense total for LeNet-5)
    assert simulate(wl, ProsperityConfig(sparsity="dense")).total_cycles == 715999.0
    assert "lenet5_mnist" in WORKLOADS


def test_attention_slip_is_optional() -> None:
    """paper_compat doubles attention compute/stall sums, never the attention total."""
    rng = np.random.default_rng(2)
    t, seq, dim, heads = 2, 16, 32, 2
    ops = {o: rng.random((t, seq, dim)) < 0.3 for o in "qkv"}
    layers = [LayerRecord("attention_0", "attention", {
        "dim": dim, "seq_len": seq, "heads": heads, "variant": "spikformer", "time_steps": t})]
    wl = Workload.from_arrays("attn", layers, {f"attention_0_{o}": a for o, a in ops.items()})
    compat = simulate(wl).layers[0]
    fixed = simulate(wl, ProsperityConfig(paper_compat=False)).layers[0]
    assert compat.total_cycles == fixed.total_cycles
    assert compat.compute_cycles == 2 * fixed.compute_cycles
    assert fixed.total_cycles == fixed.compute_cycles + fixed.mem_stall_cycles


@pytest.mark.parametrize("issue_type", [1, 2])
def test_streaming_by_row_blocks_changes_nothing(issue_type: int) -> None:
    rng = np.random.default_rng(3)
    spikes = rng.random((1000, 40)) < 0.25
    spikes[1::2] = spikes[::2]
    wl = _tiny(spikes)
    cfg = ProsperityConfig(issue_type=issue_type)
    whole = P.simulate(count(wl), cfg)
    # one row tile per block: four blocks, counted block by block
    assert P.simulate(count(wl, block_bytes=1), cfg) == whole
    assert whole == simulate(wl, cfg)
