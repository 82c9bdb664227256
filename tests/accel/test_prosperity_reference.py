"""Prosperity against the authors' simulator: every number of the official JSONs.

``official-sim/lenet5_mnist.json`` (real LeNet-5 spikes) and the four synthetic
transformer traces with their ``*.official.json``: totals, compute, memory-stall and
preprocessing-stall cycles, DRAM bits, densities, per-layer numbers (incl. the LIF
overlap latency), issue type 1, bit/dense ablations and the tile sweeps of Figure 7.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from prosparsity.accel.prosperity import ProsperityConfig
from prosparsity.analysis.network import Workload
from tests.conftest import REFERENCE, run_model

SYNTHETIC = ("spikformer_cifar10", "sdt_cifar10", "spikebert_sst2", "spikingbert_sst2")
SWEEP = ("M32_K16", "M64_K16", "M128_K16", "M512_K16", "M1024_K16", "M2048_K16",
         "M256_K4", "M256_K8", "M256_K32", "M256_K64", "M256_K128")
VARIANTS = ("", "bit", "dense", "issue1")
TOTALS = ("total_cycles", "compute_cycles", "mem_stall_cycles", "preprocess_stall_cycles",
          "dram_bits")


def _paths(name: str) -> tuple[Path, Path]:
    if name == "lenet5_mnist":
        return (REFERENCE / "traces" / "lenet5_mnist.npz",
                REFERENCE / "official-sim" / "lenet5_mnist.json")
    return (REFERENCE / "synthetic" / f"{name}.npz",
            REFERENCE / "synthetic" / f"{name}.official.json")


@cache
def _workload(name: str) -> Workload:
    npz, _ = _paths(name)
    return Workload.from_paper(name, arrays=np.load(npz))


def simulate(workload: Workload, config: ProsperityConfig | None = None):
    """Count what the config needs, then price: the pure model on the statistics."""
    return run_model("prosperity", workload, config)


@cache
def _official(name: str) -> dict:
    return json.loads(_paths(name)[1].read_text())["runs"]


def _config(variant: str) -> ProsperityConfig:
    if variant == "bit":
        return ProsperityConfig(sparsity="bit")
    if variant == "dense":
        return ProsperityConfig(sparsity="dense")
    if variant == "issue1":
        return ProsperityConfig(issue_type=1)
    if variant.startswith("M"):
        m, k = variant[1:].split("_K")
        return ProsperityConfig(tile_m=int(m), tile_k=int(k))
    return ProsperityConfig()


def _check(name: str, variant: str) -> None:
    if not _paths(name)[1].is_file():
        pytest.skip(f"reference data not found at {REFERENCE}")
    key = f"Prosperity:{variant}" if variant else "Prosperity"
    ref = _official(name)[key]
    bd = simulate(_workload(name), _config(variant))
    got = {f: getattr(bd, f) for f in TOTALS} | dict(bd.extra)
    for f, want in ref.items():
        if f == "per_layer":
            continue
        assert got[f] == want, f"{name} {key} {f}"
    if "per_layer" in ref:
        # the official JSONs leave out max-pool layers (they cost nothing)
        mine = {layer.name: layer for layer in bd.layers if layer.op != "maxpool2d"}
        assert list(mine) == list(ref["per_layer"]), "layer names and order"
        assert all(layer.total_cycles == 0 for layer in bd.layers if layer.op == "maxpool2d")
        for lname, want in ref["per_layer"].items():
            layer = mine[lname]
            got_l = {f: getattr(layer, f) for f in TOTALS}
            got_l["lif_latency"] = layer.extra["lif_latency"]
            assert got_l == {f: want[f] for f in got_l}, f"{name} {key} {lname}"


@pytest.mark.parametrize("variant", VARIANTS + SWEEP)
def test_lenet5_official(variant: str) -> None:
    _check("lenet5_mnist", variant)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_transformers_official(name: str, variant: str) -> None:
    _check(name, variant)


@pytest.mark.parametrize(
    "variant", [pytest.param(v, marks=pytest.mark.slow) for v in SWEEP])
@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_transformers_tile_sweep(name: str, variant: str) -> None:
    _check(name, variant)


def test_lenet5_densities_match_spec() -> None:
    """Spec §4's quoted densities for LeNet-5 at 256 x 16."""
    if not _paths("lenet5_mnist")[0].is_file():
        pytest.skip(f"reference data not found at {REFERENCE}")
    bd = simulate(_workload("lenet5_mnist"))
    assert bd.extra["bit_density"] == 0.2536399466271977
    assert bd.extra["product_density"] == 0.015613787226408325
