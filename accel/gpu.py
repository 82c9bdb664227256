"""GPU-equivalent execution: how long a dense GPU takes for any workload.

A GPU does not skip zeros, so its device time follows from the layer shapes, ``T`` and
the GPU's data sheet. At batch 1 the device time is small: the measured latency of these
networks is dominated by the host, the eager framework that dispatches every kernel. The
model (per inference, batch as traced)::

    latency = t_inference + Σ_layers [ kernels(layer) * steps(layer) * t_kernel(family)
                                       + max(FLOPs / peak, bytes / bandwidth) ]

* ``FLOPs``: dense ``2*M*K*N`` of a linear / conv GEMM (``M = T*B*L``), the two
  attention matmuls (``Q K^T`` and ``A V``: ``4 * L^2 * dim * T * B``; SDT's linear
  attention ``4 * L * dim * T * B``); LIF, LayerNorm and max-pool are memory-bound.
* ``bytes``: FP32 operands read and results written once (a GEMM's inputs, weights and
  outputs; a LIF layer's input, membrane read and write and spikes: 16 B per neuron and
  step; a LayerNorm's input and output; a max-pool's input and output).
* ``kernels(layer)``: CUDA kernels one layer record stands for in a PyTorch eager
  implementation (``GPUConfig.kernels_per_layer``: 2 for a linear or conv layer (the
  GEMM and its normalisation / bias), 2 for attention (two matmuls), 1 for a fused
  multi-step LIF, a LayerNorm or a max-pool).
* ``steps(layer)``: 1 when the framework runs all ``T`` time steps of a layer at once
  (spikingjelly's multi-step mode, folding ``T`` into the batch); ``T`` when the network
  is evaluated once per time step (single-step mode). ``StepMode.AUTO`` uses single step
  for SpikingBERT (its reference implementation iterates over time steps) and multi step
  for everything else.
* ``t_kernel(family)``: host time per kernel launch (Python, module dispatch, launch) of
  the implementation that runs the network, one constant per **family**
  (:class:`GPUFamily`: Spikformer, SDT, SpikeBERT, SpikingBERT). The paper measured each
  transformer in its own authors' PyTorch code, and those code bases differ in how much
  Python runs around each kernel; a workload of no measured family (the CNNs, a user's
  trace) borrows Spikformer's constant (spikingjelly multi-step, like the harness's own
  models). ``t_inference``: a fixed cost per inference (0: the fit finds none).

Peak FP32 throughput and memory bandwidth come from NVIDIA's data sheets (cited on the
presets). The host constants are not data-sheet figures: they were fitted once to the
paper's 12 measured A100 latencies (:func:`prosparsity.accel.gpu_validation.fit_host`:
no per-workload factor, minimum relative squared error) and are reused for the H100,
whose host side is the same eager loop.

**Validated, not only fitted** (:mod:`prosparsity.accel.gpu_validation`): every
prediction carries the band the model's leave-one-out errors justify
(``Breakdown.extra``: ``latency_low_s`` .. ``latency_high_s``, from
:data:`LOO_ERROR_RANGE`); ``prosparsity gpu-error`` prints the validation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from prosparsity.accel.base import Breakdown, LayerBreakdown, require_network
from prosparsity.accel.registry import register
from prosparsity.analysis.layers import (
    WEIGHT_GEMM_KINDS,
    attention_shape,
    layer_gemm,
    layernorm_elements,
    lif_neurons,
)
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import AttentionParams, MaxPoolParams
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
    """

    name: str
    peak_fp32_flops: float
    memory_bytes_per_s: float
    clock_hz: float

    def __post_init__(self) -> None:
        for name in ("peak_fp32_flops", "memory_bytes_per_s", "clock_hz"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"gpu.spec.{name}", "must be > 0")


A100_SXM_40GB = GPUSpec(
    name="NVIDIA A100 40GB SXM",
    # NVIDIA A100 Tensor Core GPU data sheet (2020/2021): FP32 19.5 TFLOPS,
    # GPU memory bandwidth 1,555 GB/s (40 GB HBM2); boost clock 1410 MHz.
    peak_fp32_flops=19.5e12,
    memory_bytes_per_s=1555e9,
    clock_hz=1410e6,
)
"""A100 40 GB SXM4 preset."""

H100_SXM = GPUSpec(
    name="NVIDIA H100 SXM",
    # NVIDIA H100 Tensor Core GPU data sheet (2023): H100 SXM FP32 67 TFLOPS,
    # GPU memory bandwidth 3.35 TB/s (80 GB HBM3); boost clock 1980 MHz.
    peak_fp32_flops=67e12,
    memory_bytes_per_s=3.35e12,
    clock_hz=1980e6,
)
"""H100 SXM5 preset."""


class GPUFamily(StrEnum):
    """The implementation (code base) a network runs in, for its host-side cost."""

    SPIKFORMER = "spikformer"
    SDT = "sdt"
    SPIKEBERT = "spikebert"
    SPIKINGBERT = "spikingbert"
    OTHER = "other"  # no measured workload: borrows HostOverheads.fallback


class StepMode(StrEnum):
    """How the framework walks the time steps."""

    AUTO = "auto"  # single for SpikingBERT, multi otherwise
    MULTI = "multi"  # all T steps of a layer in one go (T folded into the batch)
    SINGLE = "single"  # the whole network once per time step


#: Host time per kernel launch of each family, s: ``gpu_validation.fit_host`` on the
#: paper's 12 A100 latencies (``prosparsity gpu-error``), rounded to 0.1 µs.
HOST_KERNEL_S: Mapping[str, float] = MappingProxyType({
    GPUFamily.SPIKFORMER: 247.9e-6,
    GPUFamily.SDT: 256.6e-6,
    GPUFamily.SPIKEBERT: 129.5e-6,
    GPUFamily.SPIKINGBERT: 80.3e-6,
})

#: Smallest and largest leave-one-out error ``model / measured - 1`` of the model with
#: per-family host costs on the paper's 12 A100 latencies (``validate_gpu_model``),
#: rounded outward to 0.1 %: a prediction ``p`` stands for a measurement in
#: ``[p / (1 + max), p / (1 + min)]``.
LOO_ERROR_RANGE: tuple[float, float] = (-0.344, 0.212)


@dataclass(frozen=True)
class HostOverheads:
    """Host-side cost of the eager framework that runs the network.

    Attributes:
        kernel_s: family -> host time per kernel launch, s.
        inference_s: fixed host time per inference, s.
        fallback: the family whose constant a workload of another family borrows.
    """

    kernel_s: Mapping[str, float] = field(default_factory=lambda: HOST_KERNEL_S)
    inference_s: float = 0.0
    fallback: GPUFamily = GPUFamily.SPIKFORMER

    def __post_init__(self) -> None:
        known = {str(f) for f in GPUFamily}
        for key in self.kernel_s:
            if str(key) not in known:
                raise ConfigError(f"gpu.host.kernel_s.{key}",
                                  f"not a family (one of {', '.join(sorted(known))})")
        table = MappingProxyType({str(k): float(v) for k, v in self.kernel_s.items()})
        for key, value in table.items():
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"gpu.host.kernel_s.{key}", f"must be >= 0 s, got {value}")
        if not (self.inference_s >= 0 and math.isfinite(self.inference_s)):
            raise ConfigError("gpu.host.inference_s", f"must be >= 0 s, got {self.inference_s}")
        if str(self.fallback) not in known:
            raise ConfigError("gpu.host.fallback", f"not a family: {self.fallback!r}")
        object.__setattr__(self, "kernel_s", table)
        object.__setattr__(self, "fallback", GPUFamily(self.fallback))

    def kernel_s_of(self, family: GPUFamily | str) -> float:
        """Host time per launch for ``family`` (the fallback family's when it has none).

        Raises:
            ConfigError: neither ``family`` nor the fallback has a constant.
        """
        for key in (str(family), str(self.fallback)):
            if key in self.kernel_s:
                return self.kernel_s[key]
        raise ConfigError("gpu.host.kernel_s",
                          f"no host time for family '{family}' nor for the fallback "
                          f"'{self.fallback}'")

    def borrows(self, family: GPUFamily | str) -> bool:
        """True when ``family`` has no constant of its own."""
        return str(family) not in self.kernel_s


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
        host: host-side costs (per-family time per kernel launch, per inference).
        error_range: relative error range ``(min, max)`` of ``model / measured - 1`` that
            a prediction's band is built from (default: the leave-one-out range).
    """

    spec: GPUSpec = A100_SXM_40GB
    step_mode: StepMode = StepMode.AUTO
    kernels_per_layer: Mapping[str, int] = field(default_factory=_default_kernels)
    lif_bytes_per_neuron_step: int = 16
    host: HostOverheads = field(default_factory=HostOverheads)
    error_range: tuple[float, float] = LOO_ERROR_RANGE

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
        low, high = self.error_range
        if not -1.0 < low <= 0.0 <= high:
            raise ConfigError("gpu.error_range", f"needs -1 < min <= 0 <= max, got {low, high}")


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


@dataclass(frozen=True)
class LayerTime:
    """Time of one layer on a GPU, s: the roofline plus the host's launches.

    Attributes:
        compute_s: ``FLOPs / peak``.
        memory_s: ``bytes / bandwidth``.
        launch_s: ``kernels * t_kernel``.
    """

    compute_s: float
    memory_s: float
    launch_s: float

    @property
    def device_s(self) -> float:
        """``max(compute_s, memory_s)``: the roofline."""
        return max(self.compute_s, self.memory_s)

    @property
    def total_s(self) -> float:
        """``launch_s + device_s``."""
        return self.launch_s + self.device_s


def layer_time(work: LayerWork, spec: GPUSpec, kernel_s: float) -> LayerTime:
    """``max(FLOPs / peak, bytes / bandwidth)`` plus ``kernels * kernel_s`` (all in s)."""
    return LayerTime(work.flops / spec.peak_fp32_flops, work.bytes / spec.memory_bytes_per_s,
                     work.kernels * kernel_s)


def family_of(workload: Network) -> GPUFamily:
    """The implementation family of a workload.

    A paper workload's family is its network (``spikformer_cifar10`` -> Spikformer); any
    other workload's is the variant of its attention blocks, and ``OTHER`` without one.
    """
    prefix = (workload.paper_workload or "").split("_")[0]
    if prefix in set(GPUFamily) - {GPUFamily.OTHER}:
        return GPUFamily(prefix)
    variants = {str(r.parsed.variant) for r in workload.layers
                if isinstance(r.parsed, AttentionParams) and r.parsed.variant is not None}
    known = sorted(variants & (set(map(str, GPUFamily)) - {str(GPUFamily.OTHER)}))
    return GPUFamily(known[0]) if len(known) == 1 else GPUFamily.OTHER


def _single_step(family: GPUFamily, config: GPUConfig) -> bool:
    if config.step_mode is StepMode.AUTO:
        return family is GPUFamily.SPIKINGBERT
    return config.step_mode is StepMode.SINGLE


def layer_work(workload: Network, record: LayerRecord, config: GPUConfig,
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
        pool = record.parsed
        assert isinstance(pool, MaxPoolParams)
        h, w = pool.input_hw or (1, 1)
        values = (pool.channels or 1) * h * w * workload.time_steps_of(record)
        return LayerWork(0.0, FP32_BYTES * 1.25 * values * workload.batch_of(record),
                         kernels * steps)
    return None


def works_of(workload: Network, config: GPUConfig) -> tuple[GPUFamily, bool,
                                                             list[tuple[LayerRecord, LayerWork]]]:
    """The workload's family, whether it runs single step, and each executed layer's
    work (the records a GPU runs, in order)."""
    family = family_of(workload)
    single = _single_step(family, config)
    works = []
    for record in workload.layers:
        work = layer_work(workload, record, config, single)
        if work is not None:
            works.append((record, work))
    return family, single, works


def band_s(latency_s: float, error_range: tuple[float, float]) -> tuple[float, float]:
    """``(low, high)`` measured latency a prediction stands for, given the range of
    ``model / measured - 1``: ``(p / (1 + max), p / (1 + min))``."""
    low, high = error_range
    return latency_s / (1.0 + high), latency_s / (1.0 + low)


def simulate_gpu(workload: Network, config: GPUConfig, name: str) -> Breakdown:
    """The GPU-equivalent breakdown (times in GPU clock cycles; see the module docstring).

    ``extra`` holds ``latency_low_s`` / ``latency_high_s`` (the band of
    ``config.error_range``), ``kernel_launches`` and ``host_s_per_kernel``.
    """
    spec = config.spec
    family, single, works = works_of(workload, config)
    kernel_s = config.host.kernel_s_of(family)
    layers = []
    if config.host.inference_s > 0:
        layers.append(LayerBreakdown(
            name="(inference overhead)", op="overhead",
            total_cycles=config.host.inference_s * spec.clock_hz))
    for record, work in works:
        t = layer_time(work, spec, kernel_s)
        layers.append(LayerBreakdown(
            name=record.name, op=str(record.kind),
            total_cycles=t.total_s * spec.clock_hz,
            compute_cycles=t.compute_s * spec.clock_hz,
            mem_stall_cycles=max(0.0, t.memory_s - t.compute_s) * spec.clock_hz,
            dram_bits=8 * work.bytes,
            extra={"flops": work.flops, "kernels": float(work.kernels),
                   "launch_cycles": t.launch_s * spec.clock_hz},
        ))
    total = sum(layer.network_cycles for layer in layers)
    low, high = band_s(total / spec.clock_hz, config.error_range)
    launches = sum(work.kernels for _, work in works)
    borrowed = (f", borrowed from {config.host.fallback}: no measured workload of this family"
                if config.host.borrows(family) else "")
    return Breakdown.of_layers(
        name, workload.name, spec.clock_hz, layers,
        notes=(f"{spec.name}, {'single' if single else 'multi'}-step execution; dense FP32; "
               f"host {kernel_s * 1e6:.1f} us per kernel launch ({family} family{borrowed})",
               f"leave-one-out band {low * 1e3:.3g}-{high * 1e3:.3g} ms "
               f"(model/measured - 1 from {config.error_range[0]:+.1%} "
               f"to {config.error_range[1]:+.1%})"),
        extra={"latency_low_s": low, "latency_high_s": high,
               "kernel_launches": float(launches), "host_s_per_kernel": kernel_s},
    )


@register("gpu-a100", config_type=GPUConfig, gpu=True, dram=True,
          description="GPU-equivalent model, NVIDIA A100 40GB SXM (shapes only)")
def simulate_a100(stats: ModelStats, config: GPUConfig | None = None) -> Breakdown:
    """GPU-equivalent model, NVIDIA A100 40GB SXM (shapes only)."""
    name = "gpu-a100"
    return simulate_gpu(require_network(stats, name), config or GPUConfig(), name)


@register("gpu-h100", config_type=H100Config, gpu=True, dram=True,
          description="GPU-equivalent model, NVIDIA H100 SXM (shapes only)")
def simulate_h100(stats: ModelStats, config: GPUConfig | None = None) -> Breakdown:
    """GPU-equivalent model, NVIDIA H100 SXM (shapes only)."""
    name = "gpu-h100"
    return simulate_gpu(require_network(stats, name), config or H100Config(), name)
