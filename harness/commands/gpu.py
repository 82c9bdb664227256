"""`prosparsity gpu-error`: the GPU-equivalent model against measured GPU latencies.

Without options it prints the model's error against the 12 A100 latencies the Prosperity
authors measured (:func:`prosparsity.accel.gpu.a100_error_table`). With ``--measure
TRACE`` it runs the trace's GEMMs (dense FP32, ``torch.matmul`` on CUDA) and prints the
measured time of each beside the model's; without a CUDA GPU it says so and exits 2.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer

from prosparsity.harness.console import get_output


class _GPU(StrEnum):
    a100 = "a100"
    h100 = "h100"


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


def _spec(gpu: _GPU | None, device_name: str) -> Any:
    from prosparsity.accel.gpu import A100_SXM_40GB, H100_SXM

    if gpu is None:
        gpu = _GPU.h100 if ("H100" in device_name or "H200" in device_name) else _GPU.a100
    return H100_SXM if gpu is _GPU.h100 else A100_SXM_40GB


def _timed_median(torch: Any, fn: Any, device: Any, repeats: int, warmup: int) -> float:
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


def measure_gemms(workload: Any, gpu: _GPU | None = None, repeats: int = 20,
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

    from prosparsity.accel.gpu import GPUConfig, layer_work
    from prosparsity.analysis.gemm import gemms_of
    from prosparsity.core.errors import ConfigError
    from prosparsity.traces.schema import LayerKind

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--measure", "no CUDA GPU: torch.cuda.is_available() is False "
                          "(the model needs none: run `prosparsity gpu-error` without --measure)")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    config = GPUConfig(spec=_spec(gpu, name))
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
        spec = config.spec
        device_s = max(work.flops / spec.peak_fp32_flops, work.bytes / spec.memory_bytes_per_s)
        rows.append(MeasuredGemm(record.name, *dims, sum(times), device_s,
                                 device_s + work.kernels * spec.kernel_overhead_s))
    return name, rows


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("gpu-error")
    def gpu_error(
        measure: Annotated[str | None, typer.Option(
            "--measure", metavar="TRACE",
            help="Time this trace's GEMMs on the local CUDA GPU beside the model.")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload", help="Paper workload an .npz dump given to --measure belongs to.")
        ] = None,
        gpu: Annotated[_GPU | None, typer.Option(
            "--gpu", help="GPU preset of the model for --measure (default: from the device).")
        ] = None,
        repeats: Annotated[int, typer.Option("--repeats", min=1,
                                             help="Timed runs per GEMM (--measure).")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """GPU-equivalent model vs the paper's 12 measured A100 latencies (or --measure)."""
        out = get_output()
        if measure is not None:
            from prosparsity.harness.pipeline import open_workload

            with open_workload(measure, workload) as wl:
                name, rows = measure_gemms(wl, gpu, repeats)
            if as_json:
                out.json({"device": name, "gemms": [r.__dict__ for r in rows]})
            else:
                out.print(_measure_table(name, rows))
            return
        from prosparsity.accel.gpu import H100_SXM, GPUConfig, a100_error_table

        table = a100_error_table()
        h100 = {r.workload: r.model_s for r in a100_error_table(GPUConfig(spec=H100_SXM))}
        if as_json:
            out.json({"rows": [{"workload": r.workload, "measured_s": r.measured_s,
                                "model_s": r.model_s, "error": r.error,
                                "h100_model_s": h100[r.workload]} for r in table],
                      "max_abs_error": max(abs(r.error) for r in table)})
            return
        out.print(_error_table(table, h100))


def _error_table(rows: Any, h100: dict[str, float]) -> Any:
    from rich.table import Table

    table = Table(title="GPU-equivalent model vs the A100 latencies measured by the "
                  "Prosperity authors", title_justify="left", min_width=78)
    for col in ("workload", "A100 meas. ms", "A100 model ms", "error", "H100 model ms"):
        table.add_column(col, justify="left" if col == "workload" else "right")
    for r in rows:
        table.add_row(r.workload, f"{r.measured_s * 1e3:.2f}", f"{r.model_s * 1e3:.2f}",
                      f"{r.error * 100:+.1f}%", f"{h100[r.workload] * 1e3:.2f}")
    worst = max(abs(r.error) for r in rows)
    mean = sum(abs(r.error) for r in rows) / len(rows)
    table.caption = f"max |error| {worst * 100:.1f}%, mean |error| {mean * 100:.1f}%"
    table.caption_justify = "left"
    return table


def _measure_table(device: str, rows: list[MeasuredGemm]) -> Any:
    from rich.table import Table

    table = Table(title=f"GEMMs measured on {device} (dense FP32 torch.matmul)",
                  title_justify="left")
    for col in ("layer", "M x K x N", "measured (us)", "model device (us)", "ratio",
                "model incl. launch (us)"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        ratio = r.model_device_s / r.measured_s if r.measured_s > 0 else float("nan")
        table.add_row(r.layer, f"{r.m} x {r.k} x {r.n}", f"{r.measured_s * 1e6:.1f}",
                      f"{r.model_device_s * 1e6:.1f}", f"{ratio:.2f}",
                      f"{r.model_layer_s * 1e6:.1f}")
    return table
