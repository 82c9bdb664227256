"""What the benchmarks share: the reference data beside the checkout, the machine's
load, the installed console script, best-of timing, the synthetic paper workloads.
(Run as ``python bench/NAME.py``, this folder is on ``sys.path``.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: Seed of the synthetic traces of the paper's workloads.
SEED = 2025

#: ``../shared/reference`` beside the checkout (the authors' dumps, official outputs).
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def require_reference() -> Path:
    """:data:`REFERENCE`, or exit with one line when it is missing."""
    if not REFERENCE.is_dir():
        sys.exit(f"reference data not found at {REFERENCE}")
    return REFERENCE


def load_average() -> float:
    """The 1-minute load average (NaN where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def console_script() -> str:
    """The ``prosparsity`` console script beside this interpreter, or exit."""
    exe = shutil.which("prosparsity", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("the prosparsity console script is not installed beside this python")
    return exe


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def wall(argv: list[str], repeats: int) -> float:
    """The fastest of ``repeats`` runs of the command ``argv`` (output discarded), s."""
    return best_of(lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL), repeats)


def synthesize(names: list[str], folder: Path) -> list[Path]:
    """``folder/NAME.h5`` for each paper workload: synthetic spikes at its Figure 11 bit
    density (:data:`SEED`), written when missing."""
    from prosparsity.paper.fig11 import FIG11_BIT_DENSITY
    from prosparsity.traces.synth import SynthSpec, write_synthetic

    paths = []
    for name in names:
        path = folder / f"{name}.h5"
        if not path.exists():
            write_synthetic(SynthSpec(name, FIG11_BIT_DENSITY[name], seed=SEED), path)
        paths.append(path)
    return paths


def builtin_accelerators() -> list[str]:
    """The accelerators of the host (the paper's comparison: its models, reported figures
    and GPU models), without the plugins (Phi, Bishop, a third party's). The speed targets
    of ``make bench`` were set on this set; the plugins' own cost is reported beside it."""
    from prosparsity.accel.registry import registry

    return [m.name for m in registry().values() if not m.plugin]


def accel_flags(names: list[str]) -> list[str]:
    """``--accel NAME`` for each name (``prosparsity simulate``'s selection)."""
    return [flag for name in names for flag in ("--accel", name)]
