"""Regression guard: stored per-layer breakdowns of every registered accelerator.

``tests/accel/regression/<workload>.json`` holds, for each accelerator that applies to
the workload, its totals, latency, energy and every layer's breakdown. Any change to a
cost model changes these numbers and fails this test. After an intended change,
regenerate on purpose::

    PROSPARSITY_REGEN=1 .venv/bin/python -m pytest tests/accel/test_regression.py

and review the diff of the JSON files in the commit. An accelerator registered but
missing from a file also fails (a new model must add its numbers).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prosparsity.accel.base import Breakdown
from prosparsity.accel.suite import select
from prosparsity.analysis.network import Workload
from prosparsity.engine import simulate
from tests.conftest import REFERENCE

HERE = Path(__file__).parent / "regression"
REGEN = os.environ.get("PROSPARSITY_REGEN") == "1"

#: workload -> where its spikes come from (None: layer shapes only)
CASES: dict[str, Path | None] = {
    "lenet5_mnist": REFERENCE / "traces" / "lenet5_mnist.npz",
    "spikformer_cifar10": REFERENCE / "synthetic" / "spikformer_cifar10.npz",
    "vgg16_cifar10": None,
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


def _snapshot(bd: Breakdown | None) -> dict[str, Any] | None:
    if bd is None:
        return None
    keys = ("total_cycles", "compute_cycles", "mem_stall_cycles", "preprocess_stall_cycles",
            "dram_bits")
    return _plain({
        **{k: getattr(bd, k) for k in keys},
        "latency_s": bd.latency_s,
        "energy_mj": bd.energy_mj,
        "extra": dict(bd.extra),
        "layers": [
            {"name": layer.name, "op": layer.op, **{k: getattr(layer, k) for k in keys},
             "added_cycles": layer.network_cycles, "extra": dict(layer.extra)}
            for layer in bd.layers
        ],
    })


def _close(got: Any, want: Any, path: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: keys differ"
        for k in want:
            _close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{path}: length differs"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and isinstance(got, int | float):
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-15), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_regression(name: str) -> None:
    source = CASES[name]
    if source is not None and not source.is_file():
        pytest.skip(f"reference data not found at {source}")
    workload = Workload.from_paper(name, arrays=None if source is None else np.load(source))
    applies = [s.name for s in select(None, has_data=workload.has_data)[0]]
    result = simulate(workload, applies)  # named: a reported figure without one is None
    got = {"workload": name, "accelerators": {
        accel: _snapshot(None if r is None else r.runs[0])
        for accel, r in result.accelerators.items()}}
    path = HERE / f"{name}.json"
    if REGEN:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(got, indent=1) + "\n")
        tmp.replace(path)
        pytest.skip(f"regenerated {path.name}")
    assert path.is_file(), f"{path} missing: regenerate with PROSPARSITY_REGEN=1"
    want = json.loads(path.read_text())
    missing = set(got["accelerators"]) - set(want["accelerators"])
    assert not missing, (f"{sorted(missing)} not in {path.name}: regenerate with "
                         "PROSPARSITY_REGEN=1 and review the diff")
    _close(got, want, name)
