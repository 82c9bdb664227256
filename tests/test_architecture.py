"""The dependency rules of the house, checked by the real import-linter (``lint-imports``)
on the installed package, with the contracts of ``pyproject.toml``."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.conftest import REPO
from tests.lint_imports import LINT_IMPORTS, lint


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    assert LINT_IMPORTS.is_file(), f"{LINT_IMPORTS} missing: import-linter is in requirements.lock"
    return lint(config)


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_contract_is_kept() -> None:
    result = _lint_imports(REPO / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = _pyproject()["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


def test_every_installed_package_is_under_the_contracts() -> None:
    """A new top-level folder must be placed in the house's layers (README, Dependency
    rules): every installed subpackage and every module of the package root is named."""
    config = _pyproject()["tool"]
    installed = set(config["setuptools"]["package-dir"]) - {"prosparsity"}
    installed |= {f"prosparsity.{p.stem}" for p in (REPO / "api").glob("*.py")
                  if p.stem != "__init__"}
    house = next(c for c in config["importlinter"]["contracts"] if c["type"] == "layers")
    placed = {m.strip() for layer in house["layers"] for m in layer.split("|")}
    assert installed == placed


def test_a_broken_rule_is_reported(tmp_path: Path) -> None:
    """The linter reads the real import graph, external packages included: rules the code
    breaks fail, naming the import (Prosperity's cost model reads the analysis; capture
    imports torch), so the contracts above are not kept vacuously."""
    roots = _pyproject()["tool"]["importlinter"]["root_packages"]
    config = tmp_path / "contracts.toml"
    config.write_text(
        "[tool.importlinter]\n"
        f"root_packages = {roots!r}\n"
        "include_external_packages = true\n"
        "[[tool.importlinter.contracts]]\n"
        'name = "accel does not read the analysis"\n'
        'type = "forbidden"\n'
        'source_modules = ["prosparsity.accel"]\n'
        'forbidden_modules = ["prosparsity.analysis"]\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "models does not import torch"\n'
        'type = "forbidden"\n'
        'source_modules = ["prosparsity.models"]\n'
        'forbidden_modules = ["torch"]\n'
    )
    result = _lint_imports(config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 2 broken." in result.stdout
    assert "prosparsity.accel.prosperity -> prosparsity.analysis" in result.stdout
    assert "-> torch" in result.stdout


def test_nothing_in_the_harness_is_typed_any() -> None:
    """The harness talks to the user through typed rows and documents: no
    ``typing.Any`` in its annotations; JSON is :data:`prosparsity.core.jsonvalue.JSON`."""
    import ast

    offenders = []
    for path in sorted((REPO / "harness").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "Any":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
            elif isinstance(node, ast.Attribute) and node.attr == "Any":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom) and any(a.name == "Any" for a in node.names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
