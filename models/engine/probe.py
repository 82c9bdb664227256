"""The probe forward pass's input, and what a capture will need, estimated from it.

The probe (see :mod:`.layout`) runs ``bp`` samples for ``tp`` time steps (one step when
the input has a time axis). Its hooks count, per sample and step, the bytes of every
module's output and the values of every GEMM input (:class:`ProbeFigures`), from which
:func:`estimate` scales what the whole capture needs, before it starts:

* **trace**: ``T x samples x GEMM inputs per sample and step`` bits (bit-packed, before
  compression; multi-level inputs need more: 8 bits a value);
* **memory**: :data:`PEAK_FACTOR` times the largest module output of one forward pass
  (``T x batch`` samples and steps of it), plus the packed spikes of the passes that
  wait for the trace's writer thread (the one being filled and up to two queued) and
  what the writer keeps of each record until it fills a chunk (less than one chunk,
  :data:`~prosparsity.traces.layout.CHUNK_BYTES`, a record). The
  bare forward's measured peak was 4.4 to 8.6 times its largest output on the embedded
  and paper models (docs/capture.md), so the estimate errs high, by at most 2.3x there.

:func:`check_resources` compares both with the free space of the output's file system and
the memory available (``MemAvailable`` of ``/proc/meminfo``), and refuses with the
figures and how to override.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.engine.config import CaptureConfig
from prosparsity.traces.layout import CHUNK_BYTES

__all__ = [
    "PEAK_FACTOR",
    "Estimate",
    "ProbeFigures",
    "ResourceError",
    "check_resources",
    "estimate",
    "probe_input",
]


PEAK_FACTOR = 10
"""Peak memory of a forward pass, in units of its largest module output."""


class ResourceError(HarnessError):
    """A capture would need more disk or memory than there is."""


@dataclass
class ProbeFigures:
    """What the probe pass measured.

    Attributes:
        tp: its time steps.
        bp: its samples.
        largest: bytes of the largest module output of the pass.
        gemm_elements: values of every GEMM input of the pass (declared analog ones not
            counted).
        gemms: those GEMM inputs (each a record the trace writer keeps up to a chunk of).
    """

    tp: int
    bp: int
    largest: int = 0
    gemm_elements: int = 0
    gemms: int = 0

    def per_sample_step(self, value: int) -> float:
        return value / (self.tp * self.bp)


@dataclass(frozen=True)
class Estimate:
    """What a capture needs, estimated before it starts.

    Attributes:
        trace_bytes: the trace's spike data, bit-packed, before compression.
        memory_bytes: peak memory of the capture process beyond what is already used
            for the model and its input.
        model_bytes: parameters and buffers of the model.
        input_bytes: the whole input tensor.
        forward_bytes: one forward pass (see the module docstring).
        kept_bytes: packed spikes in memory: the pass being filled, those queued for
            the writer thread, and the writer's unfilled chunks (see :mod:`.store`).
    """

    trace_bytes: int
    memory_bytes: int
    model_bytes: int
    input_bytes: int
    forward_bytes: int
    kept_bytes: int


def probe_input(inputs: torch.Tensor, config: CaptureConfig, first_batch: int,
                full_time: bool) -> tuple[torch.Tensor, int, int]:
    """``(probe input, tp, bp)``: ``bp`` samples (2, or 3 when the first real pass has 2)
    cut or repeated from the input, one time step of them (all when ``full_time`` or
    when the input has no time axis)."""
    axis = int(config.input_batch_axis or 0)
    bp = 2 if first_batch != 2 else 3
    t = config.time_steps
    time_axis = config.input_time_axis
    x, tp = inputs, t
    if not full_time and time_axis is not None and inputs.ndim > time_axis:
        x, tp = inputs.narrow(time_axis, 0, 1), 1  # a view: cut before copying samples
    n = int(x.shape[axis])
    index = torch.arange(bp, device=x.device) % max(1, n)
    return x.index_select(axis, index), tp, bp


def estimate(figures: ProbeFigures, *, model: nn.Module, inputs: torch.Tensor,
             config: CaptureConfig, samples: int, batch: int) -> Estimate:
    """What the capture of ``samples`` samples, ``batch`` per pass, will need."""
    t = config.time_steps
    steps = t * samples
    trace = math.ceil(figures.per_sample_step(figures.gemm_elements) * steps / 8)
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )
    input_bytes = inputs.numel() * inputs.element_size()
    forward = math.ceil(PEAK_FACTOR * figures.per_sample_step(figures.largest) * t * batch)
    per_pass = math.ceil(figures.per_sample_step(figures.gemm_elements) * t * batch / 8)
    queued = max(per_pass, min(2 * per_pass, config.memory_bytes))
    kept = min(trace, per_pass + queued + figures.gemms * CHUNK_BYTES)
    return Estimate(
        trace_bytes=trace,
        memory_bytes=forward + kept,
        model_bytes=model_bytes,
        input_bytes=input_bytes,
        forward_bytes=forward,
        kept_bytes=kept,
    )


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no such sysconf
        return None


def free_disk(folder: Path) -> int | None:
    """Free bytes of the file system holding ``folder`` (or its first existing parent)."""
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None  # pragma: no cover


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def check_resources(est: Estimate, out: Path, *, what: str) -> None:
    """Refuse a capture whose estimate exceeds the free disk or the available memory.

    Args:
        est: the estimate.
        out: the trace to write.
        what: how to name the run in the message (``digits-cnn at T=100000, 1 sample``).

    Raises:
        ResourceError: with the figure, what is free, and how to override.
    """
    override = "use --no-size-check (size_check=False) to run it anyway"
    memory = available_memory()
    if memory is not None and est.memory_bytes > memory:
        raise ResourceError(
            f"{what} would need about {_size(est.memory_bytes)} of memory (one forward "
            f"pass {_size(est.forward_bytes)}, estimated from a probe pass; input "
            f"{_size(est.input_bytes)} and model {_size(est.model_bytes)} already loaded) "
            f"but {_size(memory)} are available; lower -T, --batch-size or --samples, or "
            f"{override}"
        )
    disk = free_disk(out.parent if str(out.parent) else Path("."))
    if disk is not None and est.trace_bytes > disk:
        raise ResourceError(
            f"{what} would write about {_size(est.trace_bytes)} of spikes (bit-packed, "
            f"before compression) to {out.parent or Path('.')}, which has {_size(disk)} "
            f"free; lower -T or --samples, or {override}"
        )
