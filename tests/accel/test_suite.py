"""Running the registered accelerators together: :func:`prosparsity.simulate` (what
`prosparsity simulate` does), count once, price many."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from prosparsity.accel.registry import registry
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.core.version import tool_version
from prosparsity.engine import simulate
from prosparsity.traces.reader import TraceReader


@pytest.fixture(scope="module")
def lenet(lenet5_npz: Path) -> Workload:
    return Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))


def test_prosperity_json_shape_and_values(lenet: Workload, reference_dir: Path) -> None:
    official = json.loads((reference_dir / "official-sim" / "lenet5_mnist.json").read_text())
    ref = official["runs"]["Prosperity"]
    doc = simulate(lenet, ["prosperity"]).to_json()
    assert list(doc) == ["workload", "ops", "samples", "accelerators", "skipped", "failed",
                         "baseline", "held_out"]
    assert list(doc["accelerators"]) == ["prosperity"]
    entry = doc["accelerators"]["prosperity"]
    assert entry["model"] == {"name": "prosperity", "display": "Prosperity",
                              "package": "prosparsity-harness", "version": tool_version(),
                              "label": ""}
    assert list(entry) == ["model", "total_cycles", "clock_hz", "latency_s", "energy_mj",
                           "energy_note", "dram_bits", "extra", "gop_per_s", "gop_per_j",
                           "energy_area", "layers"]
    assert entry["energy_note"] is None  # a figure needs no note
    # both energy models; the paper's is the one reported at the paper's design
    assert entry["energy_area"]["reported"] == "paper"
    assert entry["energy_area"]["paper"]["energy_mj"] == entry["energy_mj"]
    assert entry["energy_area"]["component"]["mode"] == "component"
    assert entry["extra"] == {"bit_density": 0.2536399466271977,
                              "product_density": pytest.approx(0.015613787226408325)}
    assert entry["total_cycles"] == ref["total_cycles"]
    assert entry["dram_bits"] == ref["dram_bits"]
    assert entry["latency_s"] == ref["total_cycles"] / 500e6
    # energy: 446.5 mW * latency + 12.45 pJ/bit * own DRAM traffic (not a paper-table row)
    assert math.isclose(entry["energy_mj"],
                        446.5 * entry["latency_s"] + 12.45e-9 * ref["dram_bits"])
    layers = {layer["name"]: layer for layer in entry["layers"]}
    for name, want in ref["per_layer"].items():
        assert list(layers[name]) == ["name", "total_cycles", "compute_cycles",
                                      "mem_stall_cycles", "dram_bits"]
        assert {k: layers[name][k] for k in want if k in layers[name]} == {
            k: v for k, v in want.items() if k in layers[name]}
    json.dumps(doc)  # plain JSON types only


def test_overrides_reach_configs_that_have_them(lenet: Workload,
                                                reference_dir: Path) -> None:
    official = json.loads((reference_dir / "official-sim" / "lenet5_mnist.json").read_text())
    result = simulate(lenet, ["prosperity"], overrides={"tile_m": 64, "tile_k": 16,
                                                        "nonsense": 3, "issue_type": None})
    assert result["prosperity"].total_cycles == (
        official["runs"]["Prosperity:M64_K16"]["total_cycles"])
    assert result["prosperity"].config == "tile_m=64"  # the published design's tile_k is 16
    assert result.unused_overrides == ("nonsense",)
    with pytest.raises(ConfigError, match="prosperity.tile_k"):
        simulate(lenet, ["prosperity"], overrides={"tile_k": 1000})
    assert simulate(lenet, ["prosperity"], tile=(64, 16))["prosperity"].total_cycles == (
        result["prosperity"].total_cycles)


def test_applicability() -> None:
    shapes = Workload.from_paper("lenet5_mnist")
    result = simulate(shapes)
    spiking = {n for n, e in registry().items() if e.needs().spikes}
    assert "prosperity" in spiking and spiking <= set(result.skipped)
    assert not spiking & set(result.accelerators)
    with pytest.raises(ConfigError, match="accel.prosperity"):
        simulate(shapes, ["prosperity"])
    with pytest.raises(ConfigError, match="unknown accelerator"):
        simulate(shapes, ["tpu"])
    # what is needed is the config's, not the model's default: dense Prosperity reads
    # shapes only (Prosperity's docstring), so it runs on a shapes-only workload
    dense = simulate(shapes, ["prosperity"], overrides={"sparsity": "dense"})["prosperity"]
    assert dense.total_cycles == 715_999


def test_every_registered_accelerator_runs_on_lenet(lenet: Workload) -> None:
    result = simulate(lenet, list(registry()))  # named: reported figures stay, as None
    # every one but Bishop, whose registration prices spiking transformers only
    assert list(result.accelerators) == [n for n in registry() if n != "bishop"]
    assert list(result.skipped) == ["bishop"]
    for name, r in result.accelerators.items():
        if r is not None:
            assert r.runs[0].total_cycles >= 0 and r.latency_s >= 0, name
    assert result.accelerators["stellar"] is None  # reported for VGG-16 only


def test_order_is_the_registrys_whatever_the_request(lenet: Workload) -> None:
    result = simulate(lenet, ["gpu-a100", "PTB", "prosperity"])  # the paper's spelling too
    assert list(result.accelerators) == ["prosperity", "ptb", "gpu-a100"]


def test_from_trace_matches_the_npz(lenet5_npz: Path, tmp_path: Path, lenet: Workload) -> None:
    """An imported trace file simulates exactly like the dump it came from."""
    from prosparsity.traces.importer import import_dump

    trace = import_dump(lenet5_npz, "lenet5_mnist", tmp_path / "lenet5.h5")
    with TraceReader(trace) as reader:  # one open file for every read of the run
        wl = Workload.from_reader(reader)
        assert wl.paper_workload == "lenet5_mnist" and wl.time_steps == 32
        assert [r.name for r in wl.ops()] == [r.name for r in lenet.ops()]
        a = simulate(wl, ["prosperity"]).to_json()
    b = simulate(lenet, ["prosperity"]).to_json()
    assert a == b


def test_from_trace_attention_operands(reference_dir: Path, tmp_path: Path) -> None:
    """Attention operands of an imported transformer trace are found by their records."""
    from prosparsity.traces.importer import import_dump

    src = reference_dir / "synthetic" / "sdt_cifar10.npz"
    with TraceReader(import_dump(src, "sdt_cifar10", tmp_path / "sdt.h5")) as reader:
        wl = Workload.from_reader(reader)
        attention = wl.layer("attention_enc_0")
        assert set(wl.operand_records(attention)) == {"q", "k", "v"}
        assert "attention_enc_0_q" not in [r.name for r in wl.ops()]
        assert wl.attention_operand(attention, "k").shape == (4, 64, 512)


def test_paper_workload_corrections_reach_the_records() -> None:
    """vgg9's last LIF has the authors' 4096 neurons unless corrected to 1024."""
    paper = Workload.from_paper("vgg9_cifar10")
    fixed = Workload.from_paper("vgg9_cifar10", corrected=True)
    assert paper.layer("lif_6").params["neurons"] == 4096
    assert fixed.layer("lif_6").params["neurons"] == 1024
    assert paper.paper_workload == fixed.paper_workload == "vgg9_cifar10"
