"""Run import-linter on the package as it installs.

``prosparsity`` is a regular package (folder ``api/``) whose subpackages live in the
repository's other top-level folders (``package-dir`` in ``pyproject.toml``); an editable
install maps them with an import hook, which import-linter's graph builder does not
follow. So the tree is assembled as a wheel would lay it out, in a temporary folder, and
``lint-imports`` runs there with the project's contracts. ``make lint`` and
``tests/test_architecture.py`` use it.

Usage: ``python -m tests.lint_imports [--config PYPROJECT]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def assemble(root: Path, pyproject: Path = REPO / "pyproject.toml") -> Path:
    """Copy every package of ``package-dir`` to where an installed wheel has it; returns
    the folder to put on ``PYTHONPATH``."""
    mapping = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        target = root.joinpath(*package.split("."))
        shutil.copytree(REPO / folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def lint(config: Path = REPO / "pyproject.toml") -> subprocess.CompletedProcess[str]:
    """``lint-imports --config CONFIG`` on the assembled tree."""
    with tempfile.TemporaryDirectory(prefix="prosparsity-lint-") as tmp:
        tree = assemble(Path(tmp) / "site")
        env = {**os.environ, "PYTHONPATH": str(tree)}
        return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
                              capture_output=True, text=True, cwd=tmp, env=env, timeout=300)


if __name__ == "__main__":
    args = sys.argv[1:]
    config = Path(args[args.index("--config") + 1]) if "--config" in args else (
        REPO / "pyproject.toml")
    result = lint(config.resolve())
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    raise SystemExit(result.returncode)
