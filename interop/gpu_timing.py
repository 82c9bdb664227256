"""The GPU-equivalent model against a real GPU: every GEMM of a trace timed with PyTorch.

:func:`measure_gemms` multiplies each linear / conv layer's spike matrix by random FP32
weights with ``torch.matmul`` on the local CUDA device (or the CPU, for tests) and returns
the measured median beside the model's time for the same GEMM; ``prosparsity gpu-error
--measure`` prints it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from prosparsity.accel.gpu import GPUSpec
    from prosparsity.analysis.network import Workload

__all__ = ["MeasuredGemm", "measure_gemms"]


@dataclass(frozen=True)
class MeasuredGemm:
    """One GEMM of a trace timed on the local GPU.

    Attributes:
        layer: layer name.
        m: rows, k: columns of the spike matrix, n: output features.
        measured_s: median time of ``torch.matmul`` (CUDA events), s.
        model_device_s: the model's device time ``max(FLOPs/peak, bytes/bandwidth)``, s.
        model_layer_s: the model's layer time incl. host-side kernel overheads, s.
    """

    layer: str
    m: int
    k: int
    n: int
    measured_s: float
    model_device_s: float
    model_layer_s: float


def _spec(gpu: str | None, device_name: str) -> GPUSpec:
    """The GPU model's spec: ``gpu`` (``a100`` or ``h100``), else guessed from the device
    name (an H100 or H200 is priced as the H100)."""
    from prosparsity.accel.gpu import A100_SXM_40GB, H100_SXM

    if gpu is None:
        gpu = "h100" if ("H100" in device_name or "H200" in device_name) else "a100"
    return H100_SXM if gpu == "h100" else A100_SXM_40GB


def _timed_median(torch: ModuleType, fn: Callable[[], object], device: torch.device,
                  repeats: int, warmup: int) -> float:
    """Median wall time of ``fn()`` in s: CUDA events on a GPU, ``perf_counter`` otherwise."""
    import time

    samples = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            elapsed = start.elapsed_time(end) / 1e3
        else:
            t0 = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - t0
        if i >= warmup:
            samples.append(elapsed)
    return statistics.median(samples)


def measure_gemms(workload: Workload, gpu: str | None = None, repeats: int = 20,
                  warmup: int = 3, device: str = "cuda") -> tuple[str, list[MeasuredGemm]]:
    """Time every linear / conv GEMM of ``workload`` on the local CUDA GPU.

    The spike matrix of each layer (from :mod:`prosparsity.analysis.gemm`) is
    multiplied, as dense FP32 (TF32 off, PyTorch's default for matmul), by random FP32
    weights; the median of ``repeats`` runs (after ``warmup``) is reported beside the
    model's time for the same GEMM. ``device="cpu"`` runs the same loop on the CPU
    (tests; the model is still the GPU's).

    Returns:
        ``(device name, rows)``.

    Raises:
        ConfigError: no CUDA GPU (``torch.cuda.is_available()`` is False).
    """
    import torch

    from prosparsity.accel.gpu import GPUConfig, family_of, layer_time, layer_work
    from prosparsity.analysis.gemm import gemms_of
    from prosparsity.core.errors import ConfigError
    from prosparsity.traces.schema import LayerKind

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--measure", "no CUDA GPU: torch.cuda.is_available() is False "
                          "(the model needs none: run `prosparsity gpu-error` without --measure)")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    config = GPUConfig(spec=_spec(gpu, name))
    kernel_s = config.host.kernel_s_of(family_of(workload))
    gen = torch.Generator(device=dev).manual_seed(0)
    rows: list[MeasuredGemm] = []
    for record in workload.layers:
        if record.kind not in (LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D):
            continue
        work = layer_work(workload, record, config, single_step=False)
        times = []
        dims = (0, 0, 0)
        for gemm in gemms_of(record, workload.data(record.name)):
            s = torch.from_numpy(gemm.matrix(0 if gemm.binary else None)).to(dev)
            s = s.to(torch.float32)
            w = torch.randn(gemm.k, gemm.n, device=dev, generator=gen)
            times.append(_timed_median(torch, lambda s=s, w=w: torch.matmul(s, w), dev,
                                       repeats, warmup))
            dims = (gemm.m, gemm.k, gemm.n)
        model = layer_time(work, config.spec, kernel_s)
        rows.append(MeasuredGemm(record.name, *dims, sum(times), model.device_s, model.total_s))
    return name, rows
