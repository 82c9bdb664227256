"""NeuroBench workload metrics: product density and Prosperity cycles in a NeuroBench run.

NeuroBench (``neurobench`` 2.3, optional extra ``prosparsity[neurobench]``) takes metric
*classes* in a ``Benchmark``'s metric list and instantiates each with no arguments; a
metric is called after every batch as ``metric(model, preds, data)``. The classes here
follow that contract (``AccumulatedMetric``: ``reset``, ``__call__``, ``compute``):

* :class:`ProductDensity`: mean over samples of the product density of the GEMM
  operands (spec section 4, tile 256 x 16, batch 1);
* :class:`BitDensity`: the same for the bit density;
* :class:`ProsperityCycles`: mean over samples of Prosperity's cycles (paper
  configuration, batch 1);
* :class:`NeuronSpikeRates`: per neuron layer, spikes / output elements over all
  samples: the complement of NeuroBench's own ``ActivationSparsityByLayer``.

Example::

    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import ActivationSparsity
    from prosparsity.interop.neurobench import ProductDensity, ProsperityCycles

    bench = Benchmark(SNNTorchModel(net), loader, [], [],
                      [[], [ActivationSparsity, ProductDensity, ProsperityCycles]])
    print(bench.run())   # {..., "ProductDensity": 0.03, "ProsperityCycles": 12974.0}

How a batch is measured. NeuroBench's hooks keep what its own metrics need, not the
spike tensors of every GEMM in execution order, so the first of these metrics to see
a batch runs the network once more on the batch's input (``data[0]``, NeuroBench's
``[B, T, ...]`` layout) through the capture loop every capture uses
(:func:`prosparsity.models.capture.run_capture`, NeuroBench's model wrapper stepping the
network), writes a trace to a temporary folder, and measures it with
:func:`prosparsity.interop.measure.measure_trace`; the other metrics of the same batch
reuse that result. NeuroBench's hook buffers are restored after the extra run (its probe
pass included), so its own metrics see one run only. The re-run sees
the batch as NeuroBench hands it to metrics, before pre-processors: with
pre-processors that change the input, capture the pre-processed data with
``prosparsity capture`` instead.

Set :attr:`ProsperityMetric.trace_dir` to keep the traces (``batch-00000.h5``, ...).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import torch
from neurobench.metrics.abstract.workload_metric import AccumulatedMetric

from prosparsity.interop.measure import TraceFigures, measure_trace
from prosparsity.models.adapters import resolve_neurons
from prosparsity.models.capture import DEFAULT_BATCH_SIZE, run_capture
from prosparsity.models.engine import CaptureConfig, Layout
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import TraceInfo

__all__ = [
    "BitDensity",
    "NeuronSpikeRates",
    "ProductDensity",
    "ProsperityCycles",
    "ProsperityMetric",
    "measure_batch",
]

# NeuroBench's hook objects and the lists in which they keep each run's tensors
_HOOK_LISTS = (
    "activation_outputs",
    "activation_inputs",
    "pre_fire_mem_potential",
    "post_fire_mem_potential",
    "inputs",
)


@contextmanager
def _neurobench_hooks_restored(model: Any) -> Iterator[None]:
    """Undo what NeuroBench's own hooks record during our extra run."""
    hooks = list(getattr(model, "activation_hooks", [])) + list(
        getattr(model, "connection_hooks", [])
    )
    lengths = [
        {n: len(getattr(h, n)) for n in _HOOK_LISTS if isinstance(getattr(h, n, None), list)}
        for h in hooks
    ]
    try:
        yield
    finally:
        for hook, sizes in zip(hooks, lengths, strict=True):
            for name, n in sizes.items():
                del getattr(hook, name)[n:]


def measure_batch(model: Any, inputs: torch.Tensor, out: Path) -> TraceFigures:
    """Capture one NeuroBench batch (``[B, T, ...]``) of ``model`` into ``out``; measure it.

    Args:
        model: a NeuroBench model (``__net__()`` gives the network, calling it runs the
            batch) or a plain ``nn.Module`` taking ``[B, T, ...]``.
        inputs: the batch, batch-first.
        out: the trace to write.
    """
    net = model.__net__() if hasattr(model, "__net__") else model
    found = resolve_neurons(net)
    config = CaptureConfig(
        time_steps=int(inputs.shape[1]),
        runner=found.runner or Runner.MULTI,
        layout=Layout.BT,
        input_batch_axis=0,
        batches=-(-int(inputs.shape[0]) // DEFAULT_BATCH_SIZE),
    )
    info = TraceInfo(
        model=type(net).__name__,
        dataset="NeuroBench batch",
        time_steps=config.time_steps,
    )
    was_training = net.training
    where = next((p.device for p in net.parameters()), None)
    try:
        with _neurobench_hooks_restored(model):
            run_capture(net, inputs.detach().cpu(), out, info, config, call=model,
                        device=where if where is not None and where.type != "cpu" else None,
                        allow_empty=True)
    finally:
        net.train(was_training)
    return measure_trace(out)


class _BatchCache:
    """The figures of the batch being measured, shared by the metrics of one run."""

    key: tuple[int, str, tuple[int, ...]] | None = None
    figures: TraceFigures | None = None
    count = 0


class ProsperityMetric(AccumulatedMetric):
    """Base of the harness's NeuroBench metrics: measures each batch once, accumulates.

    Attributes:
        trace_dir: where to keep each batch's trace (``None``: a temporary folder).
    """

    trace_dir: ClassVar[Path | None] = None
    _cache: ClassVar[_BatchCache] = _BatchCache()

    def __init__(self) -> None:
        super().__init__(requires_hooks=False)
        self.reset()

    def reset(self) -> None:
        """Forget what was measured (NeuroBench calls it at the start of every run)."""
        self.batches: list[TraceFigures] = []
        cache = ProsperityMetric._cache
        cache.key, cache.figures, cache.count = None, None, 0

    def _figures(self, model: Any, data: Any) -> TraceFigures:
        inputs = data[0] if isinstance(data, tuple | list) else data
        digest = hashlib.blake2b(inputs.detach().cpu().numpy().tobytes(), digest_size=16)
        key = (id(model), digest.hexdigest(), tuple(inputs.shape))
        cache = ProsperityMetric._cache
        if cache.key != key or cache.figures is None:
            if self.trace_dir is not None:
                Path(self.trace_dir).mkdir(parents=True, exist_ok=True)
                out = Path(self.trace_dir) / f"batch-{cache.count:05d}.h5"
                cache.figures = measure_batch(model, inputs, out)
            else:
                with tempfile.TemporaryDirectory(prefix="prosparsity-nb-") as tmp:
                    cache.figures = measure_batch(model, inputs, Path(tmp) / "batch.h5")
            cache.key = key
            cache.count += 1
        return cache.figures

    def __call__(self, model: Any, preds: Any, data: Any) -> Any:
        self.batches.append(self._figures(model, data))
        return self.compute()

    def _mean(self, field: str) -> float | None:
        """The mean over samples; ``None`` (no figure) when no sample has one (a
        network in which no spiking GEMM was captured)."""
        values = [v for f in self.batches for v in getattr(f, field) if v is not None]
        return sum(values) / len(values) if values else None


class ProductDensity(ProsperityMetric):
    """Mean per-sample product density of the spiking GEMM operands (tile 256 x 16)."""

    def compute(self) -> float | None:
        return self._mean("product_density")


class BitDensity(ProsperityMetric):
    """Mean per-sample bit density of the spiking GEMM operands (im2col)."""

    def compute(self) -> float | None:
        return self._mean("bit_density")


class ProsperityCycles(ProsperityMetric):
    """Mean per-sample cycles of Prosperity (paper configuration, batch 1)."""

    def compute(self) -> float | None:
        return self._mean("prosperity_cycles")


class NeuronSpikeRates(ProsperityMetric):
    """Per neuron layer: spikes / output elements over all samples so far."""

    def compute(self) -> dict[str, float]:
        totals: dict[str, list[int]] = {}
        for figures in self.batches:
            for name, (spikes, elements) in figures.neurons.items():
                t = totals.setdefault(name, [0, 0])
                t[0] += spikes
                t[1] += elements
        return {k: s / e if e else 0.0 for k, (s, e) in totals.items()}
