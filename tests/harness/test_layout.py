"""The package installs as ``prosparsity`` (the front door, folder ``api/``) with each
other top-level folder as one of its subpackages, and the CLI starts without importing
torch."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from tests.conftest import REPO


def test_every_source_package_is_declared() -> None:
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([pkg, *rel.parts]))
    assert found == declared


def test_no_generic_top_level_names() -> None:
    import prosparsity
    import prosparsity.models
    import prosparsity.traces

    assert prosparsity.models.__name__ == "prosparsity.models"
    assert prosparsity.__file__.endswith("api/__init__.py")  # the root: the front door
    assert "prosparsity.traces" in sys.modules
    assert "models" not in sys.modules and "api" not in sys.modules


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from prosparsity.harness.cli import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'torch' not in sys.modules and 'h5py' not in sys.modules, 'heavy import'\n"
        "print(r.output)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "prosparsity" in out.stdout.lower() or "Usage" in out.stdout
