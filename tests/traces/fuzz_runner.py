"""Run CLI commands on mutated traces in forked workers, each run with a kill timeout.

``python tests/traces/fuzz_runner.py`` is a worker server: it imports the CLI once, then
for each job line (a JSON list of CLI arguments) on stdin forks a child that runs
:func:`prosparsity.harness.cli.main` in-process with its output captured, kills it if it
outlives the time limit, and answers one JSON line ``[code, stdout, stderr]`` (code
``HANG`` for a killed run). :func:`run_all` drives several servers in parallel. Used by
``tests/traces/test_fuzz.py`` and ``make fuzz``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HANG = -999


@dataclass(frozen=True)
class Outcome:
    """What one run did."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str


def _run_child(args: list[str], wfd: int) -> None:  # pragma: no cover - forked child
    import io
    import traceback

    from prosparsity.harness.cli import main
    from prosparsity.harness.console import Output, set_output

    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    set_output(Output(out, err, width=200, color=False))
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is exactly what the fuzz looks for
        err.write(traceback.format_exc())
        code = 1
    data = json.dumps([code, out.getvalue(), err.getvalue()]).encode()
    with os.fdopen(wfd, "wb") as fh:
        fh.write(data)
    os._exit(0)


def _fork_run(args: list[str], timeout_s: float) -> list:
    """``[code, stdout, stderr]`` of one run in a forked child, killed at the limit."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(rfd)
        _run_child(args, wfd)
    os.close(wfd)
    chunks, result = [], None
    while True:
        ready, _, _ = select.select([rfd], [], [], timeout_s)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            result = [HANG, "", "killed after the time limit"]
            break
        chunk = os.read(rfd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    if result is None:
        try:
            result = json.loads(b"".join(chunks))
        except ValueError:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1
            result = [code, "", f"worker died without a result (status {status})"]
    return result


def run_forked(args: Sequence[str], timeout_s: float = 60.0) -> Outcome:
    """Run one argument list through the CLI in a child forked from this process (which
    has imported what the command needs), killed after ``timeout_s``."""
    code, out, err = _fork_run(list(args), timeout_s)
    return Outcome(tuple(args), code, out, err)


def serve(timeout_s: float) -> None:  # pragma: no cover - runs in the worker server
    import io

    import rich.table  # noqa: F401 - imported once, before every fork
    import typer._adapters  # noqa: F401 - typer imports it on the first call

    import prosparsity.traces.reader  # noqa: F401
    import prosparsity.traces.shapes  # noqa: F401
    from prosparsity.harness.cli import main
    from prosparsity.harness.console import Output, set_output

    set_output(Output(io.StringIO(), io.StringIO(), width=200, color=False))
    try:  # warm-up: whatever the first call of the app loads, load it here once
        main(["trace", "workloads"])
    except SystemExit:
        pass
    set_output(None)

    for line in sys.stdin:
        args = json.loads(line)
        result = _fork_run(args, timeout_s)
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


def run_all(
    jobs: Sequence[Sequence[str]], timeout_s: float = 20.0, workers: int = 2
) -> list[Outcome]:
    """Run every argument list through the CLI, ``workers`` servers in parallel."""
    results: list[Outcome | None] = [None] * len(jobs)
    env = {**os.environ, "COLUMNS": "200"}

    def drive(indices: list[int]) -> None:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(timeout_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for i in indices:
                proc.stdin.write(json.dumps(list(jobs[i])) + "\n")
                proc.stdin.flush()
                code, out, err = json.loads(proc.stdout.readline())
                results[i] = Outcome(tuple(jobs[i]), code, out, err)
        finally:
            proc.stdin.close()
            proc.wait(30)

    threads = [threading.Thread(target=drive, args=(list(range(w, len(jobs), workers)),))
               for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def mutate(raw: bytes, patches: Sequence[tuple[int, int]]) -> bytes:
    """``raw`` with each ``(offset, value)`` patch applied (offsets taken modulo size)."""
    data = bytearray(raw)
    for offset, value in patches:
        data[offset % len(data)] = value
    return bytes(data)


if __name__ == "__main__":  # pragma: no cover
    serve(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
