"""Shared test fixtures.

Reference data lives in ``../shared/reference/`` beside the checkout (CI has it); tests
that need it skip with a clear reason only where that folder is absent.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture(scope="session", autouse=True)
def _verdict_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Remembered v1 verdicts (``prosparsity.traces.probe``) go to a folder of this
    session, never to the user's cache folder (subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("prosparsity-cache")
    old = os.environ.get("PROSPARSITY_CACHE_DIR")
    os.environ["PROSPARSITY_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("PROSPARSITY_CACHE_DIR", None)
    else:
        os.environ["PROSPARSITY_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference``, or skip the test when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(
            f"reference data not found at {REFERENCE} (CI has ../shared beside the checkout)"
        )
    return REFERENCE


@pytest.fixture(scope="session")
def lenet5_npz(reference_dir: Path) -> Path:
    return reference_dir / "traces" / "lenet5_mnist.npz"


def run_model(name: str, workload: object, config: object | None = None) -> object:
    """One accelerator's breakdown on a workload: what its config (default: the published
    design) needs counted, then its pure pricing function (no energy attached)."""
    from prosparsity.accel.registry import registry
    from prosparsity.accel.suite import Selection, stats_for
    from prosparsity.engine import count_for

    entry = registry()[name]
    selection = Selection(entry, entry.default_config() if config is None else config)
    stats = count_for(workload, [selection.needs])  # type: ignore[arg-type]
    return entry.simulate(stats_for(selection, stats), selection.config)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 256 kB tmpfs (CI runs as root); skipped where mounting is refused."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
