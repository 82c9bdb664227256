"""Capture a PyTorch SNN into a trace: the public entry points and the one capture loop.

* :func:`run_capture` is the capture loop every caller uses (``prosparsity capture``, NIR
  graphs through :func:`capture_model`, NeuroBench's metrics): probe pass, size check,
  the forward passes under the hook engine (:mod:`prosparsity.models.engine`), a bounded
  number of samples each, and the trace written through
  :class:`~prosparsity.traces.io.TraceWriter`.
* :func:`capture_to_file` runs a network on an input batch and writes the trace.
* :func:`capture_model` sets up a registry model, a factory or a NIR graph with its
  weights and input (:mod:`prosparsity.models.prepare`) and captures it.

The trace's ``TraceInfo.extra`` records what the capture left out (all values are JSON
strings):

* ``skipped_gemms``: ``[{"layer": ..., "reason": ...}, ...]``, the GEMMs and products not
  recorded because their input is not spikes (their cost is in no total);
* ``gemms_without_neuron``: ``[layer, ...]``, recorded GEMMs whose input no recognised
  neuron produced (their LIF cost is missing).

A capture that records no spiking GEMM is an :class:`EmptyCapture` error unless
``allow_empty`` is given: a trace without GEMMs has no density and no cycles (every
report shows "—" for them).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from prosparsity.core import signals
from prosparsity.core.errors import HarnessError
from prosparsity.models.adapters import reset_states
from prosparsity.models.engine import (
    CaptureConfig,
    CaptureError,
    CaptureSummary,
    CaptureWarning,
    Layout,
    SpikeCapture,
    StepwiseModel,
    to_time_first,
)
from prosparsity.models.engine.probe import check_resources, estimate
from prosparsity.models.prepare import (
    NetworkSource,
    SetupError,
    check_finite,
    check_output_path,
    esc,
    prepare_capture,
    resolve_device,
)
from prosparsity.models.registry import Runner
from prosparsity.traces.provenance import EXTRA_NO_NEURON, EXTRA_SKIPPED
from prosparsity.traces.schema import TraceInfo

if TYPE_CHECKING:  # pragma: no cover
    from prosparsity.traces.writer import TraceWriter

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CaptureConfig",
    "CaptureError",
    "CaptureResult",
    "CaptureSummary",
    "EmptyCapture",
    "Layout",
    "SpikeCapture",
    "capture_model",
    "capture_to_file",
    "check_finite",
    "reset_states",
    "run_capture",
    "summary_extra",
    "to_time_first",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
"""Samples per forward pass unless told otherwise: enough to amortise the per-pass
overhead, few enough that memory does not grow with the number of samples."""


class EmptyCapture(HarnessError):
    """The model ran but no spiking GEMM was recorded: there is nothing to measure."""


def summary_extra(summary: CaptureSummary) -> dict[str, str]:
    """The ``TraceInfo.extra`` entries that record what a capture left out."""
    skipped = [{"layer": k, "reason": summary.skip_reasons.get(k, "")} for k in summary.skipped]
    return {
        EXTRA_SKIPPED: json.dumps(skipped),
        EXTRA_NO_NEURON: json.dumps(list(summary.no_neuron)),
    }


def capture_to_file(
    model: nn.Module,
    inputs: torch.Tensor,
    out: str | Path,
    info: TraceInfo,
    config: CaptureConfig,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    allow_empty: bool = True,
    size_check: bool = True,
) -> CaptureSummary:
    """Run ``model`` on ``inputs`` under capture and write the trace ``out``.

    Args:
        model: the network (put in eval mode here).
        inputs: the whole input batch, batch axis ``config.input_batch_axis``.
        out: trace path; it appears only when everything succeeded.
        info: file attributes (``samples``, ``batch_size`` and the ``extra`` entries of
            this module's docstring are filled in here).
        config: capture configuration (``batches`` is set here).
        batch_size: samples per forward pass (default :data:`DEFAULT_BATCH_SIZE`);
            the trace holds the same data whatever the batch size.
        progress: called as ``progress(samples_done, samples_total)`` after each
            forward pass.
        allow_empty: write a trace without GEMMs (with a :class:`CaptureWarning`)
            instead of raising :class:`EmptyCapture`.
        size_check: see :func:`run_capture`.

    Returns:
        What was written.
    """
    return run_capture(model, inputs, out, info, config, batch_size=batch_size,
                       progress=progress, allow_empty=allow_empty, size_check=size_check)[0]


def run_capture(
    model: nn.Module,
    inputs: torch.Tensor,
    out: str | Path,
    info: TraceInfo,
    config: CaptureConfig,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    call: Callable[[torch.Tensor], object] | None = None,
    device: torch.device | None = None,
    size_check: bool = True,
    allow_empty: bool = False,
) -> tuple[CaptureSummary, TraceInfo]:
    """The capture loop: probe, size check, forward passes, trace.

    Args:
        model: the network whose modules are hooked (put in eval mode here).
        inputs: the whole input batch (host memory), batch axis
            ``config.input_batch_axis``.
        out: trace path; it appears only when everything succeeded.
        info: file attributes (completed here).
        config: capture configuration (``batches`` is set here).
        batch_size: samples per forward pass (default :data:`DEFAULT_BATCH_SIZE`).
        progress: ``progress(samples_done, samples_total)`` once before the first forward
            pass (0 done) and after each.
        call: runs one forward pass on a batch (default: ``model``; NeuroBench's
            wrapper, which steps the network itself, for its metrics).
        device: where the model runs (its inputs are moved there batch by batch).
        size_check: refuse (:class:`~prosparsity.models.engine.ResourceError`) a capture
            whose estimated trace or memory exceeds the free disk or memory.
        allow_empty: see :func:`capture_to_file`.

    Returns:
        What was written, and the file attributes.
    """
    from prosparsity.traces.writer import TraceWriter

    axis = int(config.input_batch_axis or 0)
    if inputs.ndim <= axis:
        raise HarnessError(f"input of shape {tuple(inputs.shape)} has no batch axis {axis}")
    total = int(inputs.shape[axis])
    if total < 1:
        raise HarnessError("input holds no samples")
    out = Path(out)
    size = DEFAULT_BATCH_SIZE if batch_size is None else int(batch_size)
    size = max(1, min(size, total))
    pieces = torch.split(inputs, size, dim=axis)
    config = replace(config, batches=len(pieces))
    model.eval()
    what = f"capturing {info.model or 'the model'} at T={config.time_steps}, {total} sample(s)"
    loop = _Loop(model, pieces, out, progress, total, call, device, size_check, what, inputs)

    def attempt(config: CaptureConfig) -> tuple[CaptureSummary, TraceInfo]:
        # the records stream into the writer's temporary file during the passes; it
        # becomes ``out`` only when the block ends without an exception
        with TraceWriter(out, info) as writer:
            cap = loop.run(config, writer)
            try:
                found = cap.summary
                if not cap.gemm_keys:
                    _empty(found, info, allow_empty)
                extra = {**info.extra, **summary_extra(found), "runner": str(config.runner)}
                final = replace(info, samples=total, batch_size=size,
                                time_steps=config.time_steps, extra=extra)
                writer.set_info(final)
                return cap.write(), final
            finally:
                cap.close()

    try:
        return attempt(config)
    except StepwiseModel:
        if config.runner is not Runner.LOOP:
            raise
        log.info("the model takes one time step per call: capturing with the 'step' runner")
        return attempt(replace(config, runner=Runner.STEP))


def _empty(found: CaptureSummary, info: TraceInfo, allow: bool) -> None:
    """No spiking GEMM: an error, or a warning when ``allow``."""
    skipped = ", ".join(f"{k} ({found.skip_reasons.get(k, '')})" for k in found.skipped)
    why = f" (not spikes: {skipped})" if skipped else " (no Linear, Conv1d, Conv2d or product)"
    text = (f"{info.model or 'the model'}: no spiking GEMM was captured{why}; its trace has no "
            "density and no cycles to report")
    if not allow:
        raise EmptyCapture(f"{text}. Pass --allow-empty (allow_empty=True) to write it anyway")
    warnings.warn(f"{text} (every report shows —)", CaptureWarning, stacklevel=3)


@dataclass
class _Loop:
    """One run of the capture loop (see :func:`run_capture`)."""

    model: nn.Module
    pieces: Sequence[torch.Tensor]
    out: Path
    progress: Callable[[int, int], None] | None
    total: int
    call: Callable[[torch.Tensor], object] | None
    device: torch.device | None
    size_check: bool
    what: str
    inputs: torch.Tensor

    def run(self, config: CaptureConfig, writer: TraceWriter) -> SpikeCapture:
        """Every forward pass under a capture streaming into ``writer``; the capture,
        its store still open (finished by :meth:`SpikeCapture.write`)."""
        axis = int(config.input_batch_axis or 0)
        time_axis = 0 if config.layout is Layout.TB else 1
        step = config.runner is Runner.STEP
        call = self.call if self.call is not None else self.model
        cap = SpikeCapture(self.model, writer, config, boundaries="manual")

        def forward(x: torch.Tensor) -> None:
            if self.device is not None:
                x = x.to(self.device, non_blocking=True)
            reset_states(self.model, cap.neurons)
            if step:
                for t in range(x.shape[time_axis]):
                    signals.check()
                    call(x.select(time_axis, t))
            else:
                call(x)

        try:
            with cap, torch.no_grad():
                first = int(self.pieces[0].shape[axis])
                cap.probe(self.inputs, forward, first)
                if self.size_check and cap.figures is not None:
                    est = estimate(cap.figures, model=self.model, inputs=self.inputs,
                                   config=config, samples=self.total, batch=first)
                    check_resources(est, self.out, what=self.what)
                if self.progress is not None:
                    self.progress(0, self.total)
                done = 0
                for piece in self.pieces:
                    signals.check()
                    cap.begin_forward(piece)
                    forward(piece)
                    cap.end_forward()
                    done += int(piece.shape[axis])
                    if self.progress is not None:
                        self.progress(done, self.total)
                reset_states(self.model, cap.neurons)
        except BaseException:
            cap.close()
            raise
        return cap


@dataclass(frozen=True)
class CaptureResult:
    """A finished capture.

    Attributes:
        path: the trace written.
        info: its file attributes.
        summary: the records written and the layers skipped.
    """

    path: Path
    info: TraceInfo
    summary: CaptureSummary


def capture_model(
    model: str | NetworkSource | None,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
    input_path: str | Path | None = None,
    samples: int | None = None,
    time_steps: int | None = None,
    batch_size: int | None = None,
    random_weights: bool = False,
    runner: str | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    layout: Layout | str | None = None,
    neurons: Sequence[str] = (),
    device: str | None = None,
    size_check: bool = True,
    allow_empty: bool = False,
    release: str | None = None,
) -> CaptureResult:
    """Build a model, load its weights, run its input under capture, write ``out``.

    Args:
        model: a registry name (``digits-cnn``, ``vgg9``, ...), a user factory
            ``package.module:factory``, or a
            :class:`~prosparsity.models.prepare.NetworkSource` (e.g.
            :func:`prosparsity.interop.nir.nir_source`).
        out: trace path; checked before anything is built or run.
        checkpoint: weights to load (default: the entry's packaged checkpoint, if any).
        input_path: input tensor file (``.pt``, ``.npy``, ``.safetensors``); required for
            user factories and NIR graphs. Default for registry models: the entry's
            offline input.
        samples: number of samples (default 1, or the whole input file).
        time_steps: T (default: the entry's, the factory's ``time_steps`` default, or
            the input's time axis under a stated layout).
        batch_size: samples per forward pass (default :data:`DEFAULT_BATCH_SIZE`).
        random_weights: ignore the packaged checkpoint.
        runner: ``multi``, ``loop`` or ``step`` (default: what the model's framework
            implies).
        seed: seed of the random initialisation and of random default inputs.
        progress: ``progress(samples_done, samples_total)`` after each forward pass.
        layout: the input file's axis order, ``TB`` or ``BT`` (default: the
            framework's). What each layer sees is observed, not assumed.
        neurons: further neuron classes, ``package.module:Class``.
        device: where the model runs: ``cpu`` (default) or ``cuda`` / ``cuda:N``
            (refused when torch sees no CUDA device).
        size_check: refuse a capture whose estimated trace or peak memory exceeds the
            free disk or the available memory.
        allow_empty: write a trace in which no spiking GEMM was captured (with a
            :class:`~prosparsity.models.engine.CaptureWarning`) instead of raising
            :class:`EmptyCapture`.
        release: read ``checkpoint`` as this published layout of the registry model
            (``native``: its own); default: the layout its keys are in.

    Raises:
        SetupError: a set-up problem, by parameter (see
            :mod:`prosparsity.models.prepare`); HarnessError: unknown model,
            unreadable or unfitting checkpoint or input, a failing forward pass, a
            capture larger than the machine, no GEMM captured (no trace file is left).
    """
    sources: dict[str, str | Path | None] = {"input": input_path, "checkpoint": checkpoint}
    if isinstance(model, NetworkSource) and model.label:
        sources[model.param] = model.label
    check_output_path(out, sources)
    where = resolve_device(device)
    prepared = prepare_capture(
        model,
        checkpoint=checkpoint,
        input_path=input_path,
        samples=samples,
        time_steps=time_steps,
        random_weights=random_weights,
        runner=runner,
        seed=seed,
        layout=layout,
        neurons=neurons,
        release=release,
    )
    name, inputs = prepared.info.model, prepared.inputs
    for note in prepared.notes:
        warnings.warn(note, CaptureWarning, stacklevel=2)
    net = prepared.net.to(where) if where is not None else prepared.net
    try:
        summary, info = run_capture(
            net,
            inputs,
            out,
            prepared.info,
            prepared.config,
            batch_size=batch_size,
            progress=progress,
            device=where,
            size_check=size_check,
            allow_empty=allow_empty,
        )
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        # torch's complaint about the input (wrong image size, channels, ...), raised deep
        # inside a layer; the trace's temporary file is already gone
        log.debug("forward pass of %s failed", name, exc_info=True)
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise SetupError(
            "name",
            f"'{name}'",
            f"the forward pass failed on {prepared.source} of shape {tuple(inputs.shape)} "
            f"({type(exc).__name__}: {esc(first)})",
        ) from None
    return CaptureResult(Path(out), info, summary)
