"""Capture a PyTorch SNN into a trace: the public entry points.

* :func:`capture_to_file` runs a network on an input batch under the hook engine
  (:mod:`prosparsity.models.engine`), a bounded number of samples per forward pass, and
  writes the trace.
* :func:`capture_model` sets up a registry model, a factory or a NIR graph with its
  weights and input (:mod:`prosparsity.models.prepare`) and captures it.

The engine, the framework adapters (:mod:`prosparsity.models.adapters`) and the set-up
live in their own modules; the names tests and callers used from here stay importable.

The trace's ``TraceInfo.extra`` records what the capture left out (all values are JSON
strings):

* ``skipped_gemms``: ``[{"layer": ..., "reason": ...}, ...]``, the GEMMs not recorded
  because their input is not spikes (their cost is in no total);
* ``gemms_without_neuron``: ``[layer, ...]``, recorded GEMMs whose input no recognised
  neuron produced (their LIF cost is missing).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.adapters import reset_states
from prosparsity.models.engine import (
    CaptureConfig,
    CaptureError,
    CaptureSummary,
    Layout,
    SpikeCapture,
    StepwiseModel,
    to_time_first,
)
from prosparsity.models.prepare import (
    NetworkSource,
    SetupError,
    check_finite,
    check_output_path,
    esc,
    prepare_capture,
)
from prosparsity.models.registry import Runner
from prosparsity.traces.provenance import EXTRA_NO_NEURON, EXTRA_SKIPPED
from prosparsity.traces.schema import TraceInfo

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "CaptureConfig",
    "CaptureError",
    "CaptureResult",
    "CaptureSummary",
    "Layout",
    "SpikeCapture",
    "capture_model",
    "capture_to_file",
    "check_finite",
    "reset_states",
    "summary_extra",
    "to_time_first",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
"""Samples per forward pass unless told otherwise: enough to amortise the per-pass
overhead, few enough that memory does not grow with the number of samples."""



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

    Returns:
        What was written.
    """
    return _capture(model, inputs, out, info, config, batch_size=batch_size,
                    progress=progress)[0]


def _capture(
    model: nn.Module,
    inputs: torch.Tensor,
    out: str | Path,
    info: TraceInfo,
    config: CaptureConfig,
    *,
    batch_size: int | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[CaptureSummary, TraceInfo]:
    """:func:`capture_to_file`, also returning the file attributes it wrote."""
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
    try:
        cap = _run(model, pieces, config, out, progress, total)
    except StepwiseModel:
        if config.runner is not Runner.LOOP:
            raise
        log.info("the model takes one time step per call: capturing with the 'step' runner")
        config = replace(config, runner=Runner.STEP)
        cap = _run(model, pieces, config, out, progress, total)
    try:
        found = cap.summary
        extra = {**info.extra, **summary_extra(found), "runner": str(config.runner)}
        info = replace(
            info, samples=total, batch_size=size, time_steps=config.time_steps, extra=extra
        )
        with TraceWriter(out, info) as writer:
            summary = cap.write(writer)
    finally:
        cap.close()
    return summary, info


def _run(
    model: nn.Module,
    pieces: Sequence[torch.Tensor],
    config: CaptureConfig,
    out: Path,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> SpikeCapture:
    """Run every forward pass under a capture; the capture, its scratch file still open.

    Under the ``step`` runner the capture calls the model once per time step.
    """
    axis = int(config.input_batch_axis or 0)
    time_axis = 0 if config.layout is Layout.TB else 1
    step = config.runner is Runner.STEP
    scratch = out.parent if out.parent.is_dir() else None
    cap = SpikeCapture(
        model, None, config, scratch_dir=scratch, boundaries="manual" if step else "model"
    )
    try:
        with cap, torch.no_grad():
            done = 0
            for piece in pieces:
                reset_states(model, cap.neurons)
                if step:
                    cap.begin_forward(piece)
                    for t in range(piece.shape[time_axis]):
                        model(piece.select(time_axis, t))
                    cap.end_forward()
                else:
                    model(piece)
                done += int(piece.shape[axis])
                if progress is not None:
                    progress(done, total)
            reset_states(model, cap.neurons)
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
) -> CaptureResult:
    """Build a model, load its weights, run its input under capture, write ``out``.

    Args:
        model: a registry name (``digits-cnn``, ``vgg9``, ...), a user factory
            ``package.module:factory``, or a
            :class:`~prosparsity.models.prepare.NetworkSource` (e.g.
            :func:`prosparsity.interop.nir.nir_source`).
        out: trace path; checked before anything is built or run.
        checkpoint: weights to load (default: the entry's packaged checkpoint, if any).
        input_path: input tensor file (``.pt``/``.npy``); required for user factories
            and NIR graphs. Default for registry models: the entry's offline input.
        samples: number of samples (default 1, or the whole input file).
        time_steps: T (default: the entry's, the factory's ``time_steps`` default, or
            the input's time axis under a stated layout).
        batch_size: samples per forward pass (default :data:`DEFAULT_BATCH_SIZE`).
        random_weights: ignore the packaged checkpoint.
        runner: ``multi`` or ``loop`` (default: what the model's framework implies).
        seed: seed of the random initialisation and of random default inputs.
        progress: ``progress(samples_done, samples_total)`` after each forward pass.
        layout: the input's axis order, ``TB`` or ``BT`` (default: the framework's).
        neurons: further neuron classes, ``package.module:Class``.

    Raises:
        SetupError: a set-up problem, by parameter (see
            :mod:`prosparsity.models.prepare`); HarnessError: unknown model,
            unreadable or unfitting checkpoint or input, a failing forward pass (no
            trace file is left).
    """
    sources: dict[str, str | Path | None] = {"input": input_path, "checkpoint": checkpoint}
    if isinstance(model, NetworkSource) and model.label:
        sources[model.param] = model.label
    check_output_path(out, sources)
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
    )
    name, inputs = prepared.info.model, prepared.inputs
    try:
        summary, info = _capture(
            prepared.net,
            inputs,
            out,
            prepared.info,
            prepared.config,
            batch_size=batch_size,
            progress=progress,
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
