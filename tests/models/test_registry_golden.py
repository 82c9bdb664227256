"""Registry traces hold the same records and stored spike bytes as the golden recorded
before the capture engine was rebuilt (``tests/models/registry_golden.py`` says how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.models.registry_golden import CASES, GOLDEN, TINY, capture_registry, capture_tiny

GOLD = json.loads(GOLDEN.read_text())
SLOW = {"vgg16", "resnet19", "spikformer-s", "sdt-8-384"}  # 3-5 s each on 2 cores


def _compare(name: str, got: list[dict]) -> None:
    want = GOLD[name]
    assert [r["name"] for r in got] == [r["name"] for r in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, g["name"]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES]
)
def test_registry_model_captures_as_the_golden(name: str, tmp_path: Path) -> None:
    _compare(name, capture_registry(name, tmp_path))


@pytest.mark.parametrize("name", TINY)
def test_tiny_transformer_captures_as_the_golden(name: str, tmp_path: Path) -> None:
    _compare(name, capture_tiny(name, tmp_path))


def test_the_golden_is_not_vacuous() -> None:
    """Every model of the golden records spike data, and the trained ones spike."""
    assert set(GOLD) == set(CASES) | set(TINY)
    for name, records in GOLD.items():
        assert any("sha256" in r for r in records), name
    rates = [r["params"]["spikes"] for r in GOLD["digits-spikformer"] if r["kind"] == "lif"]
    assert min(rates) > 0
