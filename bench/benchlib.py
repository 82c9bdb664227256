"""What the benchmarks share: the reference data beside the checkout, the machine's
load, the installed console script. (Run as ``python bench/NAME.py``, this folder is on
``sys.path``.)"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

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
