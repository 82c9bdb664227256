"""GPU-equivalent execution: how long a dense GPU takes for any workload.

A GPU does not skip zeros, so its time follows from the layer shapes, ``T`` and the
GPU's specification alone. The model (per inference, batch as traced)::

    latency = t_inference + Σ_layers [ kernels(layer) * steps(layer) * t_kernel
                                       + max(FLOPs / peak, bytes / bandwidth) ]

* ``FLOPs``: dense ``2*M*K*N`` of a linear / conv GEMM (``M = T*B*L``, spec §1), the two
  attention matmuls (``Q K^T`` and ``A V``: ``4 * L^2 * dim * T * B``; SDT's linear
  attention ``4 * L * dim * T * B``); LIF, LayerNorm and max-pool are memory-bound.
* ``bytes``: FP32 operands read and results written once (a GEMM's inputs, weights and
  outputs; a LIF layer's input, membrane read and write and spikes: 16 B per neuron and
  step; a LayerNorm's input and output; a max-pool's input and output).
* ``kernels(layer)``: CUDA kernels one layer record stands for in a PyTorch eager
  implementation (``GPUExecution.kernels_per_layer``: 2 for a linear or conv layer (the
  GEMM and its normalisation / bias), 2 for attention (two matmuls), 1 for a fused
  multi-step LIF, a LayerNorm or a max-pool).
* ``steps(layer)``: 1 when the framework runs all ``T`` time steps of a layer at once
  (spikingjelly's multi-step mode, folding ``T`` into the batch); ``T`` when the network
  is evaluated once per time step (single-step mode). ``StepMode.AUTO`` uses single step
  for SpikingBERT (its reference implementation iterates over time steps) and multi step
  for everything else.
* ``t_kernel`` and ``t_inference``: host-side cost per kernel (Python, framework dispatch
  and launch) and per inference (the forward call, input transfer, neuron reset).

Peak FP32 throughput and memory bandwidth come from NVIDIA's data sheets (cited on the
presets). The two host-side constants are not data-sheet figures: they are fitted once,
globally, to the paper's 12 measured A100 latencies (no per-workload factor) and then
reused for the H100, whose host side is the same PyTorch eager loop. At batch 1 these
models are launch-bound, which is why the measured latencies barely follow the FLOPs.
:func:`a100_error_table` reports the model against those measurements (every error is
below 25%; ``prosparsity gpu-error`` prints it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from prosparsity.accel._baseline import (
    WEIGHT_GEMM_KINDS,
    attention_shape,
    layer_gemm,
    layernorm_elements,
    lif_neurons,
)
from prosparsity.accel.base import Breakdown, LayerBreakdown, register, sum_layers
from prosparsity.accel.workload import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord

#: Bytes of one FP32 value.
FP32_BYTES = 4


@dataclass(frozen=True)
class GPUSpec:
    """Data-sheet figures of one GPU.

    Attributes:
        name: marketing name.
        peak_fp32_flops: peak dense FP32 throughput, FLOP/s.
        memory_bytes_per_s: peak DRAM (HBM) bandwidth, bytes/s.
        clock_hz: boost clock, used only to express times in cycles.
        kernel_overhead_s: host-side cost of one kernel launch in the eager framework, s.
        inference_overhead_s: fixed host-side cost of one inference, s.
    """

    name: str
    peak_fp32_flops: float
    memory_bytes_per_s: float
    clock_hz: float
    kernel_overhead_s: float
    inference_overhead_s: float

    def __post_init__(self) -> None:
        for name in ("peak_fp32_flops", "memory_bytes_per_s", "clock_hz"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"gpu.spec.{name}", "must be > 0")
        for name in ("kernel_overhead_s", "inference_overhead_s"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"gpu.spec.{name}", "must be >= 0")


#: Host-side constants fitted once to the paper's 12 measured A100 latencies
#: (``prosparsity gpu-error``); shared by every preset.
KERNEL_OVERHEAD_S = 65e-6
INFERENCE_OVERHEAD_S = 10e-3

A100_SXM_40GB = GPUSpec(
    name="NVIDIA A100 40GB SXM",
    # NVIDIA A100 Tensor Core GPU data sheet (2020/2021): FP32 19.5 TFLOPS,
    # GPU memory bandwidth 1,555 GB/s (40 GB HBM2); boost clock 1410 MHz.
    peak_fp32_flops=19.5e12,
    memory_bytes_per_s=1555e9,
    clock_hz=1410e6,
    kernel_overhead_s=KERNEL_OVERHEAD_S,
    inference_overhead_s=INFERENCE_OVERHEAD_S,
)
"""A100 40 GB SXM4 preset."""

H100_SXM = GPUSpec(
    name="NVIDIA H100 SXM",
    # NVIDIA H100 Tensor Core GPU data sheet (2023): H100 SXM FP32 67 TFLOPS,
    # GPU memory bandwidth 3.35 TB/s (80 GB HBM3); boost clock 1980 MHz.
    peak_fp32_flops=67e12,
    memory_bytes_per_s=3.35e12,
    clock_hz=1980e6,
    kernel_overhead_s=KERNEL_OVERHEAD_S,
    inference_overhead_s=INFERENCE_OVERHEAD_S,
)
"""H100 SXM5 preset."""


class StepMode(StrEnum):
    """How the framework walks the time steps."""

    AUTO = "auto"  # single for SpikingBERT, multi otherwise
    MULTI = "multi"  # all T steps of a layer in one go (T folded into the batch)
    SINGLE = "single"  # the whole network once per time step


def _default_kernels() -> Mapping[str, int]:
    return MappingProxyType({
        str(LayerKind.LINEAR): 2, str(LayerKind.CONV1D): 2, str(LayerKind.CONV2D): 2,
        str(LayerKind.ATTENTION): 2, str(LayerKind.LIF): 1, str(LayerKind.LAYERNORM): 1,
        str(LayerKind.MAXPOOL2D): 1,
    })


@dataclass(frozen=True)
class GPUConfig:
    """A GPU and how the framework runs the network on it.

    Attributes:
        spec: the GPU's figures.
        step_mode: multi-step, single-step, or auto (see the module docstring).
        kernels_per_layer: CUDA kernels per layer record and time-step pass, by layer kind.
        lif_bytes_per_neuron_step: bytes a LIF update moves per neuron and step (16).
    """

    spec: GPUSpec = A100_SXM_40GB
    step_mode: StepMode = StepMode.AUTO
    kernels_per_layer: Mapping[str, int] = field(default_factory=_default_kernels)
    lif_bytes_per_neuron_step: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "step_mode", StepMode(self.step_mode))
        table = MappingProxyType({str(k): v for k, v in self.kernels_per_layer.items()})
        for key, value in table.items():
            if key not in set(map(str, LayerKind)):
                raise ConfigError(f"gpu.kernels_per_layer.{key}", "not a layer kind")
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"gpu.kernels_per_layer.{key}", f"must be an int >= 0: {value!r}")
        object.__setattr__(self, "kernels_per_layer", table)
        if self.lif_bytes_per_neuron_step < 0:
            raise ConfigError("gpu.lif_bytes_per_neuron_step", "must be >= 0")


@dataclass(frozen=True)
class H100Config(GPUConfig):
    """:class:`GPUConfig` with the H100 SXM preset."""

    spec: GPUSpec = H100_SXM


@dataclass(frozen=True)
class LayerWork:
    """Dense work of one layer on a GPU: FLOPs, bytes moved, kernel launches."""

    flops: float
    bytes: float
    kernels: int


def _single_step(workload: Workload, config: GPUConfig) -> bool:
    if config.step_mode is StepMode.AUTO:
        if (workload.paper_workload or "").startswith("spikingbert"):
            return True
        return any(r.kind is LayerKind.ATTENTION
                   and str(r.params.get("variant", "")).lower() == "spikingbert"
                   for r in workload.layers)
    return config.step_mode is StepMode.SINGLE


def layer_work(workload: Workload, record: LayerRecord, config: GPUConfig,
               single_step: bool) -> LayerWork | None:
    """FLOPs, bytes and kernel launches of one layer (None for a record not executed)."""
    kernels = config.kernels_per_layer.get(str(record.kind))
    if kernels is None:
        return None
    steps = workload.time_steps_of(record) if single_step else 1
    if record.kind in WEIGHT_GEMM_KINDS:
        g = layer_gemm(workload, record)
        flops = 2.0 * g.m * g.k * g.n * g.groups
        if record.kind is LayerKind.LINEAR:
            inputs = g.m * g.k * g.groups
        else:  # the layer's input map, before im2col
            inputs = g.m * g.k * g.groups // max(1, g.kernel * g.kernel)
        moved = inputs + g.k * g.n * g.groups + g.m * g.n * g.groups
        return LayerWork(flops, FP32_BYTES * moved, kernels * steps)
    if record.kind is LayerKind.ATTENTION:
        a = attention_shape(workload, record)
        per = a.dim * a.time_steps * a.batch
        if a.variant == "sdt":
            flops = 4.0 * a.seq_len * per
            moved = 4 * a.seq_len * per
        else:
            flops = 4.0 * a.seq_len * a.seq_len * per
            moved = 4 * a.seq_len * per + a.heads * a.seq_len * a.seq_len * a.time_steps * a.batch
        return LayerWork(flops, FP32_BYTES * moved, kernels * steps)
    if record.kind is LayerKind.LIF:
        n = lif_neurons(record) * workload.batch_of(record) * workload.time_steps_of(record)
        return LayerWork(0.0, float(config.lif_bytes_per_neuron_step * n), kernels * steps)
    if record.kind is LayerKind.LAYERNORM:
        elements, _ = layernorm_elements(workload, record)
        return LayerWork(8.0 * elements, 2.0 * FP32_BYTES * elements, kernels * steps)
    if record.kind is LayerKind.MAXPOOL2D:
        hw = record.params.get("input_hw", 1)
        hw = hw[0] * hw[1] if isinstance(hw, list | tuple) else int(hw) ** 2
        values = int(record.params.get("channels", 1)) * hw * workload.time_steps_of(record)
        return LayerWork(0.0, FP32_BYTES * 1.25 * values * workload.batch_of(record),
                         kernels * steps)
    return None


def simulate_gpu(workload: Workload, config: GPUConfig, name: str) -> Breakdown:
    """The GPU-equivalent breakdown (times in GPU clock cycles; see the module docstring)."""
    spec = config.spec
    single = _single_step(workload, config)
    layers = [LayerBreakdown(
        name="(inference overhead)", op="overhead",
        total_cycles=spec.inference_overhead_s * spec.clock_hz)]
    for record in workload.layers:
        work = layer_work(workload, record, config, single)
        if work is None:
            continue
        compute_s = work.flops / spec.peak_fp32_flops
        memory_s = work.bytes / spec.memory_bytes_per_s
        launch_s = work.kernels * spec.kernel_overhead_s
        device_s = max(compute_s, memory_s)
        layers.append(LayerBreakdown(
            name=record.name, op=str(record.kind),
            total_cycles=(launch_s + device_s) * spec.clock_hz,
            compute_cycles=compute_s * spec.clock_hz,
            mem_stall_cycles=max(0.0, memory_s - compute_s) * spec.clock_hz,
            dram_bits=8 * work.bytes,
            extra={"flops": work.flops, "kernels": float(work.kernels),
                   "launch_cycles": launch_s * spec.clock_hz},
        ))
    return Breakdown(
        accelerator=name, workload=workload.name, clock_hz=spec.clock_hz,
        layers=tuple(layers), **sum_layers(layers),
        notes=(f"{spec.name}, {'single' if single else 'multi'}-step execution; "
               "dense FP32, host-side launch overhead included",),
    )


@register("gpu-a100", config_type=GPUConfig, needs_spikes=False, energy_key=None,
          description="GPU-equivalent model, NVIDIA A100 40GB SXM (shapes only)")
def simulate_a100(workload: Workload, config: GPUConfig | None = None) -> Breakdown:
    """GPU-equivalent model, NVIDIA A100 40GB SXM (shapes only)."""
    return simulate_gpu(workload, config or GPUConfig(), "gpu-a100")


@register("gpu-h100", config_type=H100Config, needs_spikes=False, energy_key=None,
          description="GPU-equivalent model, NVIDIA H100 SXM (shapes only)")
def simulate_h100(workload: Workload, config: GPUConfig | None = None) -> Breakdown:
    """GPU-equivalent model, NVIDIA H100 SXM (shapes only)."""
    return simulate_gpu(workload, config or H100Config(), "gpu-h100")


# ----------------------------------------------------------------------------- error table


@dataclass(frozen=True)
class ErrorRow:
    """One workload of the error table."""

    workload: str
    measured_s: float
    model_s: float

    @property
    def error(self) -> float:
        """Relative error ``model / measured - 1``."""
        return self.model_s / self.measured_s - 1.0


def a100_error_table(config: GPUConfig | None = None,
                     measured_s: Mapping[str, float] | None = None) -> tuple[ErrorRow, ...]:
    """The GPU model against the A100 latencies the Prosperity authors measured.

    Args:
        config: the GPU model (default: the A100 preset).
        measured_s: workload -> measured latency (default: the paper's 12 figures).
    """
    from prosparsity.paper.fig8 import A100_MEASURED_LATENCY_S

    config = config or GPUConfig()
    rows = []
    for name, measured in (measured_s or A100_MEASURED_LATENCY_S).items():
        model = simulate_gpu(Workload.from_paper(name), config, "gpu").latency_s
        rows.append(ErrorRow(name, float(measured), model))
    return tuple(rows)


def with_spec(config: GPUConfig, spec: GPUSpec) -> GPUConfig:
    """``config`` on another GPU."""
    return replace(config, spec=spec)
