"""Breakdowns add up; every model is priced from statistics and says what it needs."""

from __future__ import annotations

import numpy as np
import pytest

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs
from prosparsity.accel.loas import LoASConfig
from prosparsity.accel.prosperity import ProsperityConfig
from prosparsity.accel.ptb import PTBConfig
from prosparsity.accel.registry import registry
from prosparsity.accel.sato import SATOConfig
from prosparsity.analysis.counters import LoASGroups, PTBRows, SATOLoads
from prosparsity.analysis.density import count
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerRecord


def _bd(cycles: float, layers: tuple[LayerBreakdown, ...] = (), **kw: object) -> Breakdown:
    return Breakdown.of_layers("ptb", "w", 5e8, layers) if layers else Breakdown(
        "ptb", "w", cycles, cycles - 1, 1, 0, 8, 5e8, **kw)  # type: ignore[arg-type]


def test_breakdowns_add_like_two_runs_one_after_the_other() -> None:
    a = Breakdown.of_layers("ptb", "w", 5e8, (
        LayerBreakdown("fc", "gemm", 10, 8, 2, 0, 64),
        LayerBreakdown("lif", "lif", 6, 6, added_cycles=1),
    ), energy_mj=1.0)
    b = Breakdown.of_layers("ptb", "w", 5e8, (LayerBreakdown("fc", "gemm", 4, 4),),
                            energy_mj=0.5)
    assert a.total_cycles == 11 and a.compute_cycles == 14  # overlap in the total only
    s = a + b
    assert (s.total_cycles, s.compute_cycles, s.mem_stall_cycles, s.dram_bits) == (
        15, 18, 2, 64)
    assert s.energy_mj == 1.5 and s.latency_s == a.latency_s + b.latency_s
    assert [layer.name for layer in s.layers] == ["fc", "lif", "fc"] and s.extra == {}
    assert (a + _bd(3)).energy_mj is None  # an unknown energy stays unknown
    with pytest.raises(ConfigError, match="cannot add"):
        a + Breakdown("sato", "w", 1, 1, 0, 0, 0, 5e8)
    with pytest.raises(ConfigError, match="reported figure"):
        a + _bd(1, latency_s_override=0.1)


def test_layer_parts_add_up() -> None:
    one = LayerBreakdown("conv", "gemm", 10, 9, 1, 0, 100, extra={"packed_rows": 3.0})
    two = LayerBreakdown("conv", "gemm", 5, 5, 0, 0, 50, extra={"packed_rows": 2.0})
    both = one + two
    assert (both.total_cycles, both.compute_cycles, both.dram_bits) == (15, 14, 150)
    assert both.extra == {"packed_rows": 5.0} and both.added_cycles is None
    with pytest.raises(ConfigError, match="cannot add layer"):
        one + LayerBreakdown("fc", "gemm", 1)


def test_models_say_what_their_config_needs() -> None:
    reg = registry()
    assert reg["prosperity"].needs() == Needs(spikes=True, tile=(256, 16))
    assert reg["prosperity"].needs(ProsperityConfig(tile_m=64, tile_k=8)).tile == (64, 8)
    assert reg["prosperity"].needs(ProsperityConfig(sparsity="bit")) == Needs(spikes=True)
    assert reg["prosperity"].needs(ProsperityConfig(sparsity="dense")) == Needs()
    assert reg["ptb"].needs(PTBConfig(time_window_steps=2)).counters == {
        PTBRows(window=2, lanes=8, stsap=True, paper_grouping=True)}
    assert reg["sato"].needs(SATOConfig(pes=64)).counters == {SATOLoads(pes=64)}
    assert reg["loas"].needs(LoASConfig(tile_m=32)).counters == {LoASGroups(tile_m=32)}
    assert reg["mint"].needs() == Needs(spikes=True)
    for name in ("eyeriss", "eyeriss-linear", "stellar", "a100", "gpu-a100", "gpu-h100"):
        assert reg[name].needs() == Needs(), name
    assert list(reg)[:11] == ["prosperity", "ptb", "eyeriss", "eyeriss-linear", "sato", "mint",
                              "loas", "stellar", "a100", "gpu-a100", "gpu-h100"]


def test_every_fact_is_declared_on_the_registration() -> None:
    """What reports and the result model need to know about each built-in (how the paper
    spells it, whether its figure is a latency or cycles, whether it counts DRAM traffic,
    its energy-model key, whether GOP/s divides the shared operation count) comes from
    its registration."""
    facts = {name: (m.display, m.kind, m.gpu, m.dram, m.energy_key, m.op_count, m.cycles)
             for name, m in registry().items()}
    assert facts["prosperity"] == ("Prosperity", "model", False, True, "Prosperity", True,
                                   True)
    assert facts["ptb"] == ("PTB", "model", False, True, "PTB", True, True)
    assert facts["eyeriss-linear"] == ("Eyeriss_linear", "model", False, False, "Eyeriss",
                                       True, True)
    assert facts["loas"] == ("LoAS", "model", False, False, None, True, True)
    assert facts["stellar"] == ("Stellar", "reported", False, False, "Stellar", False, False)
    assert facts["a100"] == ("A100", "reported", True, False, None, True, False)
    assert facts["gpu-a100"] == ("gpu-a100", "model", True, True, None, True, False)
    assert all(m.package == "prosparsity-harness" for m in registry().values())


def test_built_ins_name_the_installed_harness_version() -> None:
    """A built-in registers no version of its own; ``accelerators`` (table and JSON) and
    every priced entry name the installed harness's, as they do for the host's plugins."""
    from importlib.metadata import version

    from prosparsity.describe import accelerators_report

    installed = version("prosparsity-harness")
    models = registry()
    assert models["prosperity"].version == ""
    assert models["prosperity"].to_json()["version"] == installed
    assert models["ptb"].origin == f"prosparsity-harness {installed}"
    report = accelerators_report(models.values())
    cells = {r.accelerator: r.text for r in report.records if r.metric == "package"}
    assert cells["prosperity"] == cells["phi"] == f"prosparsity-harness {installed}"


def _tiny() -> Workload:
    rng = np.random.default_rng(0)
    rec = LayerRecord("fc", "linear", {"in_features": 20, "out_features": 8}, shape=(8, 20),
                      layout="T,K", levels=(0, 1))
    lif = LayerRecord("lif", "lif", {"neurons": 8})
    return Workload.from_arrays("t", [rec, lif], {"fc": rng.random((8, 20)) < 0.3},
                                time_steps=8)


def test_pricing_refuses_statistics_it_cannot_use() -> None:
    stats = count(_tiny(), 256, 16)
    with pytest.raises(ConfigError, match="counted at tile 256x16, the config prices 64x16"):
        registry()["prosperity"].simulate(stats, ProsperityConfig(tile_m=64))
    with pytest.raises(ConfigError, match="counted without"):
        registry()["ptb"].simulate(stats, PTBConfig())
    # bit sparsity needs only tile-independent counts: any tile serves
    bit = ProsperityConfig(sparsity="bit")
    assert registry()["prosperity"].simulate(count(_tiny(), 32, 4), bit) == (
        registry()["prosperity"].simulate(stats, bit))
