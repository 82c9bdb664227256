"""The benchmarks of `make bench` are not run by the suite (they time things), so a name
they import from the package can vanish unnoticed when the package moves it: every
``from prosparsity... import name`` in ``bench/`` must resolve."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _imports(path: Path) -> list[tuple[str, str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.module, alias.name, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prosparsity")
        for alias in node.names
    ]


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_name_a_benchmark_imports_exists(path: Path) -> None:
    missing = []
    for module_name, name, line in _imports(path):
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            continue
        try:
            importlib.import_module(f"{module_name}.{name}")
        except ImportError:
            missing.append(f"{path.name}:{line}: {module_name}.{name}")
    assert not missing, "names gone from the package: " + ", ".join(missing)


def test_the_check_finds_a_missing_name(tmp_path: Path) -> None:
    bench = tmp_path / "bench_gone.py"
    bench.write_text("def f():\n    from prosparsity.engine import no_such_name\n")
    assert _imports(bench) == [("prosparsity.engine", "no_such_name", 2)]
    assert not hasattr(importlib.import_module("prosparsity.engine"), "no_such_name")
