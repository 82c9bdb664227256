"""The component model: actions counted by hand on a tiny trace, the pricing equation,
every design point of the suite, the baselines' consistent mode, the result's JSON, and a
CACTI binary (a stand-in that answers like one)."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path

import numpy as np
import pytest

from prosparsity.accel.energy import EnergyArea, EnergyReport
from prosparsity.accel.energy.actions import prosperity_actions, shape_work, trace_activities
from prosparsity.accel.energy.cacti import CactiRunner, cacti_config
from prosparsity.accel.energy.designs import DEFAULT_COMPONENTS, ComponentConfig, design_of
from prosparsity.accel.energy.fitted import (
    CALIBRATION_FACTOR,
    ENERGY_ERROR_RANGE,
    POWER_ERROR_RANGE,
)
from prosparsity.accel.energy.model import component_energy, price
from prosparsity.accel.eyeriss import EyerissConfig
from prosparsity.accel.prosperity import PAPER, ProsperityConfig
from prosparsity.analysis.density import count
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerRecord
from tests.accel.test_prosperity import SPIKES, _tiny, simulate

UNCALIBRATED = ComponentConfig(calibration=1.0)


def run(workload: Workload, names: list[str], overrides: dict | None = None
        ) -> dict[str, EnergyReport | None]:
    """Both energy models of each accelerator on one sample (:func:`prosparsity.simulate`,
    the front door)."""
    from prosparsity.engine import simulate as front_door

    sim = front_door(workload, names, overrides=overrides)
    return {name: None if result is None else result.runs[0].energy_area
            for name, result in sim.accelerators.items()}


def test_prosperity_actions_by_hand() -> None:
    """The tiny trace of test_prosperity (4 rows x K=4, N=2, one tile): R=4, EM=1, PM=1,
    3 rows of popcount >= 2, no zero row, one output pass, 80 DRAM bits (64 of weights),
    one LIF layer of 2 neurons x T=4."""
    wl = _tiny()
    stats = count(wl)
    bd = simulate(wl)
    design = design_of("prosperity", PAPER, UNCALIBRATED)
    assert design is not None
    acts = prosperity_actions(PAPER, design, trace_activities(stats, 16), shape_work(wl), 80.0,
                              UNCALIBRATED)
    assert acts["adders"] == {"add": 4 * 2}  # R x N
    assert acts["weight_buffer"] == {"read": 4, "write": 64 / 1024}  # a row per residual one
    assert acts["spike_buffer"] == {"read": 16 / 32, "write": (80 - 64 + 8) / 32}
    assert acts["output_buffer_0"] == {"read": 4, "write": 4}  # a psum row per row slice
    assert acts["output_buffer_1"] == {"read": 8, "write": 8}  # 16 bits: two 128-B accesses
    assert acts["tcam"] == {"write_row": 4, "search": 3}
    assert acts["popcount"] == {"add": 4 * 15}
    assert acts["pruner"] == {"compare": 3 * 256}
    assert acts["forest"] == {"write": 2, "read": 2}
    assert acts["dispatcher"] == {"write": 4, "read": 4}
    assert acts["dispatcher_sort"] == {"compare": 4 * 8}  # log2(256) compares per row
    assert acts["lif"] == {"update": 8} and acts["dram"] == {"bit": 80}
    # bit sparsity: every one adds, no detector work; dense: every bit
    bit = prosperity_actions(ProsperityConfig(sparsity="bit"), design,
                             trace_activities(stats, 16), shape_work(wl), 80.0, UNCALIBRATED)
    assert bit["adders"] == {"add": 8 * 2} and "tcam" not in bit
    dense = prosperity_actions(ProsperityConfig(sparsity="dense"), design,
                               trace_activities(stats, 16), shape_work(wl), 80.0,
                               UNCALIBRATED)
    assert dense["adders"] == {"add": 16 * 2} and dense["weight_buffer"]["read"] == 16
    # the pricing equation: dynamic sum plus leakage x latency, the factor on chip only
    e = component_energy("prosperity", PAPER, stats, bd, UNCALIBRATED)
    assert e is not None and e.latency_s == bd.latency_s
    dyn = sum(n * design.component(c).action_pj[a] for c, by in acts.items()
              for a, n in by.items())
    leak = design.leak_mw * bd.latency_s
    assert e.energy_mj == pytest.approx(dyn * 1e-9 + leak, rel=1e-12)
    assert e.dram_mj == pytest.approx(80 * 12.45e-9, rel=1e-12)
    assert e.power_mw == pytest.approx((e.energy_mj - e.dram_mj) / bd.latency_s, rel=1e-12)
    k = component_energy("prosperity", PAPER, stats, bd)
    assert k is not None and k.calibration == CALIBRATION_FACTOR
    assert k.energy_mj - k.dram_mj == pytest.approx(CALIBRATION_FACTOR * (e.energy_mj
                                                                         - e.dram_mj))
    assert k.area_mm2 == e.area_mm2 == design.area_mm2  # no factor on area
    low, high = ENERGY_ERROR_RANGE
    assert (k.energy_low_mj, k.energy_high_mj) == (k.energy_mj / (1 + high),
                                                   k.energy_mj / (1 + low))
    p_low, p_high = POWER_ERROR_RANGE
    assert k.power_low_mw == pytest.approx(k.power_mw / (1 + p_high), rel=1e-12)
    assert k.power_high_mw == pytest.approx(k.power_mw / (1 + p_low), rel=1e-12)
    assert e.energy_low_mj is None  # another factor than the fitted one: no band


def test_energy_follows_the_work_not_only_the_latency() -> None:
    """Two traces of one shape and the same cycles cost different energy when their spikes
    differ: here the same residual work but more ones to detect."""
    one = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 1]], dtype=bool)
    other = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    runs = []
    for spikes in (one, other):
        wl = _tiny(spikes)
        runs.append((simulate(wl), component_energy("prosperity", PAPER, count(wl),
                                                    simulate(wl), UNCALIBRATED)))
    (bd1, e1), (bd2, e2) = runs
    assert e1 is not None and e2 is not None
    assert bd1.total_cycles == bd2.total_cycles  # same latency ...
    assert e1.energy_mj != e2.energy_mj  # ... different work: another energy


def test_price_refuses_an_action_a_component_lacks() -> None:
    design = design_of("prosperity", PAPER)
    assert design is not None
    with pytest.raises(ConfigError, match="energy.prosperity.adders"):
        price(design, {"adders": {"fly": 1.0}}, 1e-3)
    with pytest.raises(ConfigError, match="unknown components"):
        price(design, {"warp_drive": {"add": 1.0}}, 1e-3)


@pytest.fixture(scope="module")
def lenet(lenet5_npz: Path) -> Workload:
    return Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))


def test_every_design_point_has_energy_power_and_area(lenet: Workload) -> None:
    """The paper's energy where it applies (reported), the component model everywhere."""
    from prosparsity.accel.suite import select
    from prosparsity.engine import count_for
    from prosparsity.engine import price as engine_price

    default = run(lenet, ["prosperity", "ptb", "loas"])
    rep = default["prosperity"]
    assert rep is not None and rep.reported is rep.paper and rep.paper is not None
    assert rep.paper.power_mw == 446.5 and rep.paper.area_mm2 is None
    assert rep.component is not None and rep.component.area_mm2 == pytest.approx(0.3765,
                                                                                  abs=1e-4)
    loas = default["loas"]
    assert loas is not None and loas.paper is None
    assert loas.reported is loas.component is not None
    areas = []
    for tile_m in (32, 256, 2048):
        rep = run(lenet, ["prosperity"], {"tile_m": tile_m, "adders": 256})["prosperity"]
        assert rep is not None and rep.paper is None and "adders=256" in (rep.paper_note or "")
        c = rep.component
        assert c is not None and c.mode == "component"
        assert c.energy_low_mj < c.energy_mj < c.energy_high_mj  # type: ignore[operator]
        assert c.power_low_mw < c.power_mw < c.power_high_mw  # type: ignore[operator]
        assert c.energy_mj == pytest.approx(sum(x.energy_mj for x in c.components))
        areas.append(c.area_mm2)
    assert areas[0] < areas[1] < areas[2]  # bigger tiles: more detector and buffer
    selections, _, _ = select(["prosperity"], {})
    stats = count_for(lenet, [s.needs for s in selections])
    off = engine_price(stats, selections, energy=False)["prosperity"]
    assert off is not None and off.runs[0].energy_area is None


def test_baselines_consistent_mode(lenet: Workload) -> None:
    from prosparsity.engine import simulate as front_door

    sim = front_door(lenet, ["prosperity", "ptb", "sato", "mint", "eyeriss", "gpu-a100"])
    res = {n: r.runs[0] for n, r in sim.accelerators.items() if r is not None}
    ptb = res["ptb"].energy_area.component  # type: ignore[union-attr]
    assert ptb is not None and ptb.dram_mj == pytest.approx(res["ptb"].dram_bits * 12.45e-9)
    sato = res["sato"].energy_area.component  # type: ignore[union-attr]
    prosperity_bits = res["prosperity"].dram_bits
    assert sato is not None and sato.dram_mj == pytest.approx(
        4.85 * prosperity_bits * 12.45e-9, rel=1e-9)  # the paper's ratio x Prosperity's
    assert "4.85" in (sato.note or "")
    eyeriss = design_of("eyeriss", EyerissConfig())
    assert eyeriss is not None
    assert [c.name for c in eyeriss.components][:4] == ["macs", "mac_adders", "scratchpads",
                                                        "global_buffer"]
    assert "110,592 B SRAM" in eyeriss.component("global_buffer").detail  # 108 KB
    gpu = res["gpu-a100"].energy_area
    assert gpu is not None and gpu.component is None
    assert gpu.component_note == "gpu-a100 has no component design"
    for acc in ("ptb", "sato", "mint", "eyeriss"):
        rep = res[acc].energy_area
        assert rep is not None and rep.paper is not None and rep.component is not None
        assert rep.reported is rep.paper  # both modes, one run; the paper's is reported


def test_result_json_round_trip_keeps_the_design_order(lenet: Workload) -> None:
    rep = run(lenet, ["prosperity"], {"tile_m": 64})["prosperity"]
    assert rep is not None
    doc = rep.to_json()
    assert doc["reported"] == "component" and doc["paper"] is None
    assert "tile_m=64" in doc["paper_note"]
    c = doc["component"]
    assert list(c["components"])[:3] == ["adders", "tcam", "popcount"]
    sorted_keys = json.loads(json.dumps(c, sort_keys=True))  # a store that sorts keys
    back = EnergyArea.from_json(sorted_keys)
    assert back == rep.component
    assert isinstance(EnergyReport(None, back).reported, EnergyArea)


def _fake_cacti(folder: Path, report: str, status: int = 0) -> Path:
    """A stand-in executable that prints a CACTI-style report (and records its input)."""
    script = folder / "cacti"
    script.write_text("#!/bin/sh\n"
                      f"cp \"$2\" {folder}/seen.cfg\n"
                      f"cat <<'EOF'\n{report}\nEOF\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


REPORT = """
    Access time (ns): 0.184484
    Total dynamic read energy per access (nJ): 0.00228658
    Total dynamic write energy per access (nJ): 0.00181224
    Total leakage power of a bank (mW): 4.57759
    Cache height x width (mm): 0.5 x 0.25
"""


def test_a_cacti_binary_sizes_the_buffers(tmp_path: Path) -> None:
    binary = _fake_cacti(tmp_path, REPORT)
    runner = CactiRunner(binary)
    f = runner.figures(8192, 4)
    assert (f.read_pj, f.write_pj, f.leak_mw, f.area_mm2, f.rule) == (
        pytest.approx(2.28658), pytest.approx(1.81224), 4.57759, 0.125, "cacti")
    seen = (tmp_path / "seen.cfg").read_text()
    assert seen == cacti_config(8192, 4)
    assert "-size (bytes) 8192" in seen and "-output/input bus width 32" in seen
    assert "-technology (u) 0.028" in seen
    design = design_of("prosperity", PAPER, ComponentConfig(cacti=str(binary)))
    assert design is not None and design.component("weight_buffer").area_mm2 == 0.125
    with pytest.raises(ConfigError, match="no such file"):
        CactiRunner(tmp_path / "missing")
    with pytest.raises(ConfigError, match="exit status 3"):
        CactiRunner(_fake_cacti(tmp_path, "oops", 3)).figures(512, 4)
    with pytest.raises(ConfigError, match="dynamic read energy"):
        CactiRunner(_fake_cacti(tmp_path, "no figures here")).figures(512, 4)


def test_options_validate() -> None:
    with pytest.raises(ConfigError, match="energy.buffer_tiles"):
        ComponentConfig(buffer_tiles=0)
    with pytest.raises(ConfigError, match="energy.calibration"):
        ComponentConfig(calibration=-1.0)
    assert DEFAULT_COMPONENTS.calibration == CALIBRATION_FACTOR
    assert design_of("gpu-a100", None) is None and design_of("nochip", None) is None


def test_shapes_only_dense_prosperity_is_priced() -> None:
    """Dense mode prices a shapes-only workload: its actions come from the shapes."""
    wl = Workload.from_paper("lenet5_mnist")
    rep = run(wl, ["prosperity"], {"sparsity": "dense"})["prosperity"]
    c = None if rep is None else rep.component
    assert c is not None and c.energy_mj > 0 and math.isfinite(c.energy_mj)


def test_layer_record_shapes_feed_the_shape_work() -> None:
    layers = [LayerRecord("ln", "layernorm", {"dim": 8, "seq_len": 3, "time_steps": 2}),
              LayerRecord("lif", "lif", {"neurons": 5, "time_steps": 2})]
    wl = Workload.from_arrays("ln", layers, {})
    work = shape_work(wl)
    rows = 2 * 3  # T x L vectors of width 8
    assert (work.adds, work.multiplies, work.divides, work.lif_updates) == (
        3 * rows * 8, rows * 8, 2 * rows, 5 * 2)
    assert SPIKES.shape == (4, 4)
