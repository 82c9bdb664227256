"""Start-up: the light commands import neither torch, numba nor scipy, and the compiled
kernels load from numba's cache without compiling on a second run (fresh processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prosparsity.traces.importer import import_dump

HEAVY = ("torch", "numba", "scipy")

#: Runs the CLI in this process, then prints which heavy modules it imported.
_RUN_AND_REPORT = f"""
import json, sys
from prosparsity.harness.cli import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("\\n" + json.dumps({{"code": code,
                          "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""

#: Runs ``analyze`` and ``simulate`` (every accelerator) on a trace, then prints the cache
#: hits and misses of every compiled function of the analysis.
_COMPILED = """
import json, sys
from prosparsity.harness.cli import main
for args in (["analyze", sys.argv[1]], ["simulate", sys.argv[1]]):
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code == 0, args
from numba.core.registry import CPUDispatcher
from prosparsity.analysis import kernel
from prosparsity.analysis.counters import _kernels
stats = {}
for module in (kernel, _kernels):
    for name, obj in vars(module).items():
        if isinstance(obj, CPUDispatcher):
            s = obj.stats
            stats[module.__name__ + "." + name] = [sum(s.cache_hits.values()),
                                                   sum(s.cache_misses.values())]
print("\\n" + json.dumps(stats))
"""


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def lenet_trace(tmp_path_factory: pytest.TempPathFactory, lenet5_npz: Path) -> Path:
    return Path(import_dump(lenet5_npz, "lenet5_mnist", tmp_path_factory.mktemp("s") / "l.h5"))


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["trace", "workloads"],
                                  ["trace", "info", "TRACE"]])
def test_light_commands_import_no_torch_numba_or_scipy(argv: list[str],
                                                       lenet_trace: Path) -> None:
    argv = [str(lenet_trace) if a == "TRACE" else a for a in argv]
    done = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT, *argv], capture_output=True,
                          text=True, timeout=120)
    report = _last_json(done.stdout)
    assert report["code"] in (0, None), done.stderr
    assert report["heavy"] == [], f"prosparsity {' '.join(argv)} imported {report['heavy']}"
    assert "digits-cnn" in done.stdout if argv == ["models"] else True


def test_the_analysis_imports_no_scipy(lenet_trace: Path) -> None:
    code = ("import sys\nimport prosparsity as ps\n"
            f"ps.count({str(lenet_trace)!r})\nprint('scipy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=True)
    assert done.stdout.split()[-1] == "False"


def test_second_run_loads_every_kernel_from_the_cache(lenet_trace: Path) -> None:
    def run() -> dict[str, list[int]]:
        done = subprocess.run([sys.executable, "-c", _COMPILED, str(lenet_trace)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return _last_json(done.stdout)

    run()  # compiles what the cache lacks (nothing, once any test has run a kernel)
    stats = run()
    compiled = {name: misses for name, (_, misses) in stats.items() if misses}
    assert compiled == {}, f"compiled again instead of loading from the cache: {compiled}"
    loaded = {name for name, (hits, _) in stats.items() if hits}
    assert {"prosparsity.analysis.kernel._bit_grid_stats",
            "prosparsity.analysis.counters._kernels._ptb_groups",
            "prosparsity.analysis.counters._kernels.sato_max_loads"} <= loaded


def test_pricing_and_statistics_load_no_kernel() -> None:
    """The cost models, the statistics objects and the sweep's planning read tile grids
    and counter keys without loading numba or the compiled kernel (the sweep's scheduler
    process and a shapes-only simulate count nothing)."""
    code = ("import json, sys\n"
            "import prosparsity.accel.suite, prosparsity.analysis.stats, prosparsity.sweep.engine\n"
            "print(json.dumps(sorted(m for m in ('numba', 'prosparsity.analysis.kernel',\n"
            "    'prosparsity.analysis.counters._kernels') if m in sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
