"""Helper of ``test_engine``: run a sweep on a local cluster and kill this whole process
group with SIGKILL (``kill -9``: no cleanup, no ``finally``) right after the N-th task
result is stored. Usage: ``python kill_after.py SPEC OUT N``."""

from __future__ import annotations

import os
import signal
import sys

from prosparsity.sweep.engine import run_sweep
from prosparsity.sweep.spec import load_spec


class KillAfter:
    def __init__(self, n: int) -> None:
        self.n, self.done = n, 0

    def started(self, total: int, cached: int, dashboard: str | None) -> None:
        pass

    def completed(self, stage: str) -> None:
        self.done += 1
        if self.done >= self.n:
            os.killpg(os.getpgid(0), signal.SIGKILL)


if __name__ == "__main__":
    spec, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run_sweep(load_spec(spec), out, workers=2, dashboard=False, observer=KillAfter(n))
    sys.exit("the sweep finished before it was killed")
