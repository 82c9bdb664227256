"""Which axis of a layer's tensor is the batch, and which is time: observed, not assumed.

A layer of a spiking network sees its tensors as ``[T, B, ...]`` (spikingjelly
multi-step), ``[B, T, ...]`` (a batch-first model), ``[T*B, ...]`` (inside
``SeqToANNContainer``), ``[B, ...]`` once per time step (snntorch loops), or in an order
a model chose for itself (a batch-first model that transposes to ``[T, B, ...]`` inside
its ``forward``). The order of the model's INPUT says nothing certain about what a layer
sees, and when ``B == T`` the shapes cannot tell either.

So the capture observes. Before the first forward pass it runs a *probe*: one forward
pass of ``bp`` samples and ``tp`` time steps (``tp = 1`` when the input has a time axis,
``bp`` different from the first pass's batch), in which the hooks note only shapes. In the
first real pass, each tensor's shape is compared with its probe shape
(:func:`observe`): the axis that went from ``bp`` to ``B`` is the batch, the one that went
from ``tp`` to ``T`` is time (when ``tp == T``: the axis of size ``T`` next to the batch,
before it if both fit), one that went from ``tp*bp`` to ``T*B`` is a fold of both, whose
order is that of the enclosing folding container's input (else the input's layout).
Features are the same in both passes, so a feature axis of size ``B`` or ``T`` is never
mistaken for either. The result is a :class:`Reading`, kept per record.

Without a probe (a :class:`~prosparsity.models.engine.SpikeCapture` used directly around
the model's own calls), :func:`legacy_reading` reads shapes against the configured layout
as earlier versions did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from prosparsity.models.engine.config import CaptureError, Layout

__all__ = ["Reading", "legacy_reading", "observe", "to_time_first"]


@dataclass(frozen=True)
class Reading:
    """How one layer's tensor holds time and batch.

    Attributes:
        batch: the batch axis (for a fold: the folded axis).
        time: the time axis, or ``None`` for a per-step tensor or a fold.
        fold: the order of a folded ``T*B`` axis at ``batch``, else ``None``.
    """

    batch: int
    time: int | None = None
    fold: Layout | None = None

    @property
    def step(self) -> bool:
        """One time step per call (``[B, ...]``)."""
        return self.time is None and self.fold is None

    def time_first(self, x: torch.Tensor, t: int, b: int, layer: str) -> torch.Tensor:
        """``x`` as ``[T, B, ...]`` (``[B, ...]`` when :attr:`step`), as a view."""
        if self.fold is not None:
            size = int(x.shape[self.batch])
            if size != t * b:
                raise CaptureError(
                    layer, f"folded axis {self.batch} of {tuple(x.shape)} should be T*B = {t * b}"
                )
            lead = (t, b) if self.fold is Layout.TB else (b, t)
            y = x.unflatten(self.batch, lead)
            src = (self.batch, self.batch + 1) if self.fold is Layout.TB else (
                self.batch + 1, self.batch)
            return y.movedim(src, (0, 1))
        if self.time is None:
            if int(x.shape[self.batch]) != b:
                raise CaptureError(
                    layer, f"per-step tensor {tuple(x.shape)} should have B={b} on axis "
                    f"{self.batch}"
                )
            return x.movedim(self.batch, 0) if self.batch else x
        if (int(x.shape[self.time]), int(x.shape[self.batch])) != (t, b):
            raise CaptureError(
                layer, f"tensor {tuple(x.shape)} should have T={t} on axis {self.time} and "
                f"B={b} on axis {self.batch}"
            )
        if (self.time, self.batch) == (0, 1):
            return x
        return x.movedim((self.time, self.batch), (0, 1))

    def describe(self, shape: Sequence[int]) -> str:
        """The axes as seen, e.g. ``B,T,64`` or ``T*B,6,16,16`` or ``B,120 per step``."""
        names = [str(int(s)) for s in shape]
        if self.fold is not None:
            names[self.batch] = "T*B" if self.fold is Layout.TB else "B*T"
        else:
            names[self.batch] = "B"
            if self.time is not None:
                names[self.time] = "T"
        return ",".join(names) + (" per step" if self.step else "")


def observe(
    probe: Sequence[int],
    real: Sequence[int],
    *,
    t: int,
    b: int,
    tp: int,
    bp: int,
    per_step: bool,
    fold: Layout,
) -> Reading | None:
    """The reading of a tensor from its probe shape and its shape in the first pass.

    Args:
        probe: the shape in the probe (``tp`` steps, ``bp`` samples).
        real: the shape in the first forward pass (``t`` steps, ``b`` samples).
        per_step: the runner calls layers once per time step (``loop``, ``step``).
        fold: the order of a ``T*B`` fold.

    Returns:
        The reading, or ``None`` when the two shapes do not tell (different ranks, or
        an axis that changed in a way neither batch nor time explains).
    """
    probe, real = tuple(int(s) for s in probe), tuple(int(s) for s in real)
    if len(probe) != len(real) or bp == b:
        return None
    diff = [i for i, (p, r) in enumerate(zip(probe, real, strict=True)) if p != r]
    batch = [i for i in diff if (probe[i], real[i]) == (bp, b)]
    time = [i for i in diff if tp != t and (probe[i], real[i]) == (tp, t)]
    folds = [i for i in diff if t > 1 and (probe[i], real[i]) == (tp * bp, t * b)]
    if len(batch) + len(time) + len(folds) != len(diff):
        return None  # an axis scaled with neither batch nor time
    if per_step:
        return Reading(batch[0]) if len(batch) == 1 and not time and not folds else None
    if folds:
        return Reading(folds[0], fold=fold) if len(folds) == 1 and not batch and not time else None
    if len(batch) != 1 or len(time) > 1:
        return None
    beta = batch[0]
    if time:
        return Reading(beta, time[0])
    if tp != t:
        return Reading(beta)  # a per-step call inside a multi-step model
    for tau in (beta - 1, beta + 1):  # tp == t: the axis of size T next to the batch
        if 0 <= tau < len(real) and real[tau] == t:
            return Reading(beta, tau)
    return Reading(beta)


def legacy_reading(
    shape: Sequence[int],
    time_steps: int,
    batch: int,
    *,
    core_rank: int | None = None,
    step_mode: str | None = None,
    folded: bool = False,
    layer: str = "?",
    layout: Layout = Layout.TB,
) -> Reading:
    """The reading of a tensor by its shape against the configured layout (no probe).

    Raises:
        CaptureError: the shape fits none of ``[T, B, ...]``, ``[T*B, ...]``,
            ``[B, ...]`` (with ``layout`` ``BT``: ``[B, T, ...]``, ``[B*T, ...]``).
    """
    t, b = time_steps, batch
    shape = tuple(int(s) for s in shape)
    lead = (t, b) if layout is Layout.TB else (b, t)
    whole = Reading(1, 0) if layout is Layout.TB else Reading(0, 1)
    fold = Reading(0, fold=layout)
    ndim = len(shape)
    if folded:
        if not shape or shape[0] != t * b:
            raise CaptureError(
                layer, f"input {shape} inside SeqToANNContainer should start with T*B = {t * b}"
            )
        return fold
    if core_rank is not None:
        if ndim == core_rank + 2 and shape[:2] == lead:
            return whole
        if ndim == core_rank + 1 and shape[0] == t * b:
            return fold
        if ndim == core_rank + 1 and shape[0] == b:
            return Reading(0)
    else:
        if ndim >= 3 and shape[:2] == lead and step_mode != "s":
            return whole
        if ndim >= 2 and shape[0] == t * b:
            return fold
        if ndim >= 2 and shape[0] == b:
            return Reading(0)
    order = "[T, B, ...], [T*B, ...]" if layout is Layout.TB else "[B, T, ...], [B*T, ...]"
    raise CaptureError(
        layer,
        f"cannot read input of shape {shape} as {order} or [B, ...] with T={t}, B={b}",
    )


def to_time_first(
    x: torch.Tensor,
    time_steps: int,
    batch: int,
    *,
    core_rank: int | None = None,
    step_mode: str | None = None,
    folded: bool = False,
    layer: str = "?",
    layout: Layout = Layout.TB,
) -> tuple[torch.Tensor, bool]:
    """Bring a layer's tensor of one multi-step call to ``[T, B, ...]`` by its shape.

    Returns:
        ``(tensor, is_step)``: the time-first tensor, or, when the call carried a
        single time step ``[B, ...]``, the tensor and ``True``.

    Raises:
        CaptureError: the shape fits none of the readings (see :func:`legacy_reading`).
    """
    reading = legacy_reading(
        x.shape, time_steps, batch, core_rank=core_rank, step_mode=step_mode, folded=folded,
        layer=layer, layout=layout,
    )
    return reading.time_first(x, time_steps, batch, layer), reading.step
