"""prosparsity: a trace-driven benchmarking harness for spiking-neural-network accelerators.

The front door every client uses (the ``prosparsity`` command line, notebooks, the
sweep's tasks, the NIR and NeuroBench bridges); after ``make demo``::

    import prosparsity as ps

    with ps.open("out/demo/traces/digits-cnn.h5") as trace:    # a trace, a dump, a name
        counted = ps.count(trace)                               # bit / product density
        sim = ps.simulate(trace, ["prosperity", "ptb"])         # count once, price many
    print(f"product density {counted.product_density.mean:.4f}")
    for name in ("prosperity", "ptb"):
        run = sim[name]
        print(name, run.total_cycles, run.latency_s, run.energy_mj, sim.speedup(name))
    frame = sim.to_frame()                                      # the long form, pandas
    sim.write_html("digits-cnn.html")                           # one page to share

(``ps.explore`` runs a design-space sweep, ``ps.zoo`` lists the models ``ps.capture``
knows: the subpackages ``prosparsity.sweep`` and ``prosparsity.models`` keep their names.)
Results are frozen values (:mod:`prosparsity.results`) that convert to pandas and Arrow
and show themselves in a terminal and a notebook. Importing this package loads neither
torch, numba nor scipy; each function imports what it needs when called. Nothing here
prints: diagnostics go through :mod:`warnings` and :mod:`logging`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prosparsity.accel.registry import AcceleratorModel
    from prosparsity.densities import DensityResult
    from prosparsity.engine import count, simulate
    from prosparsity.inputs import Source, Trace, open
    from prosparsity.models.capture import CaptureResult
    from prosparsity.results import AcceleratorResult, Simulation
    from prosparsity.studies import Study, demo, explore, reproduce

__all__ = [
    "AcceleratorModel",
    "AcceleratorResult",
    "CaptureResult",
    "DensityResult",
    "Simulation",
    "Source",
    "Study",
    "Trace",
    "__version__",
    "accelerators",
    "capture",
    "count",
    "demo",
    "explore",
    "open",
    "reproduce",
    "simulate",
    "workloads",
    "zoo",
]

#: Public name -> the module that defines it (imported on first use).
_LAZY = {
    "open": "prosparsity.inputs",
    "Trace": "prosparsity.inputs",
    "Source": "prosparsity.inputs",
    "count": "prosparsity.engine",
    "simulate": "prosparsity.engine",
    "AcceleratorResult": "prosparsity.results",
    "DensityResult": "prosparsity.densities",
    "Simulation": "prosparsity.results",
    "Study": "prosparsity.studies",
    "demo": "prosparsity.studies",
    "reproduce": "prosparsity.studies",
    "explore": "prosparsity.studies",
    "AcceleratorModel": "prosparsity.accel.registry",
    "CaptureResult": "prosparsity.models.capture",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if name == "__version__":
            from prosparsity.core.version import tool_version

            return tool_version()
        raise AttributeError(f"module 'prosparsity' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def capture(model: str, out: str, **options: Any) -> CaptureResult:
    """Capture the spikes of a registry model (or ``package.module:factory``) into a
    trace at ``out``; ``options`` are :func:`prosparsity.models.capture.capture_model`'s
    (``samples``, ``time_steps``, ``batch_size``, ``seed``, ``random_weights``, ...)."""
    from prosparsity.core.logs import quiet_notices
    from prosparsity.models.capture import capture_model

    with quiet_notices():
        return capture_model(model, out, **options)


def accelerators() -> dict[str, AcceleratorModel]:
    """The registered accelerator models (built-ins, then installed plugins), by name."""
    from prosparsity.accel.registry import registry

    return dict(registry())


def workloads() -> tuple[str, ...]:
    """The paper's workloads (layer shapes known by name)."""
    from prosparsity.traces.workloads import WORKLOADS

    return tuple(WORKLOADS)


def zoo() -> tuple[Any, ...]:
    """The model registry's entries as plain data (name, family, dataset, trained, ...),
    without importing torch: what :func:`capture` takes by name."""
    from prosparsity.models.registry import catalog

    return catalog()
