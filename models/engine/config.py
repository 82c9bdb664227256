"""What a capture is told and what it reports: configuration, summary, errors, warnings.

Nothing here touches a tensor; the other rooms of :mod:`prosparsity.models.engine`
share these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from prosparsity.core.errors import HarnessError, HarnessWarning
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "SKIP_AGGREGATED",
    "SKIP_ANALOG",
    "SKIP_DECLARED",
    "SKIP_NO_BATCH",
    "CaptureConfig",
    "CaptureError",
    "CaptureSummary",
    "CaptureWarning",
    "Layout",
    "StepwiseModel",
]

DEFAULT_MEMORY_BYTES = 256 << 20
"""Packed spike bytes of finished forward passes that may wait for the trace's writer
thread (:mod:`prosparsity.models.engine.store`)."""

SKIP_ANALOG = "analog input"
"""Why a GEMM was skipped: its input is not made of spikes (non-negative integers)."""
SKIP_DECLARED = "analog input, declared by the model"
"""Why a GEMM was skipped: the model marks it ``prosparsity_analog_input``."""
SKIP_AGGREGATED = "one call per forward on [B, ...]: time-aggregated input, not per step"
"""Why a GEMM was skipped: a multi-step model calls it once per forward pass without a
time axis (a classifier on spike counts that happen to be integers)."""
SKIP_NO_BATCH = "input does not depend on the sample (no batch axis)"
"""Why a GEMM was skipped: its input has the same shape whatever the number of samples
(a layer applied to a parameter, e.g. a position embedding)."""


class CaptureError(HarnessError):
    """The model cannot be captured as configured (shape, runner or data problem)."""

    def __init__(self, layer: str, problem: str) -> None:
        self.layer = layer
        self.problem = problem
        super().__init__(f"capture, layer '{layer}': {problem}")


class StepwiseModel(CaptureError):
    """Under the ``loop`` runner, the model handed its whole ``[T, B, ...]`` input to its
    first layer: it takes one time step per call (the ``step`` runner fits)."""


class CaptureWarning(HarnessWarning):
    """Something a capture assumed or left out that changes what its numbers mean (the
    CLI prints these as ``warning:`` lines)."""


class Layout(StrEnum):
    """Axis order of a model's time-major tensors.

    ``TB``: ``[T, B, ...]`` (spikingjelly, snntorch tutorials, the trace format).
    ``BT``: ``[B, T, ...]`` (NeuroBench, many snntorch data loaders).
    """

    TB = "TB"
    BT = "BT"


@dataclass(frozen=True)
class CaptureConfig:
    """How to interpret a model's calls.

    Attributes:
        time_steps: T.
        runner: ``"multi"``, ``"loop"`` or ``"step"`` (see
            :class:`~prosparsity.models.registry.Runner`).
        input_batch_axis: batch axis of the model's (first positional) input; ``None``
            means the layout's (1 for ``TB``, 0 for ``BT``).
        attention_operands: module name -> ``(attention, operand[, axes])``; see
            :class:`~prosparsity.models.registry.ModelEntry`.
        attentions: attention name -> parameters of its ``attention`` record.
        batches: number of forward passes that will run inside the capture.
        layout: order of T and B in the model's INPUT; what each layer sees is observed
            (a probe forward, see :mod:`prosparsity.models.engine.layout`) and this
            order is only the fallback of a capture run without a probe.
        neuron_classes: further neuron classes (``--neuron``), besides those the
            framework adapters know.
        products: record matrix products that are no modules (``@``, ``matmul``,
            ``bmm``, ``einsum``) of spike operands as attention records; ``None``: yes
            unless ``attention_operands`` declares the model's attention (registry
            transformers), whose products are then not recorded twice.
        memory_bytes: packed spike bytes of finished forward passes that may wait in
            memory for the thread writing them into the trace (at most two passes; one
            always may; see :mod:`.store`).
    """

    time_steps: int
    runner: Runner = Runner.MULTI
    input_batch_axis: int | None = None
    attention_operands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attentions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    batches: int = 1
    layout: Layout = Layout.TB
    neuron_classes: tuple[type, ...] = ()
    products: bool | None = None
    memory_bytes: int = DEFAULT_MEMORY_BYTES

    def __post_init__(self) -> None:
        if self.time_steps < 1:
            raise HarnessError(f"time_steps: must be >= 1, got {self.time_steps}")
        if self.runner not in tuple(Runner):
            raise HarnessError(
                f"runner: {self.runner!r} is not one of {', '.join(str(r) for r in Runner)}"
            )
        object.__setattr__(self, "runner", Runner(self.runner))
        if self.layout not in tuple(Layout):
            raise HarnessError(
                f"layout: {self.layout!r} is not one of {', '.join(str(v) for v in Layout)}"
            )
        object.__setattr__(self, "layout", Layout(self.layout))
        if self.input_batch_axis is None:
            object.__setattr__(self, "input_batch_axis", 1 if self.layout is Layout.TB else 0)
        if self.batches < 1:
            raise HarnessError(f"batches: must be >= 1, got {self.batches}")
        if self.memory_bytes < 0:
            raise HarnessError(f"memory_bytes: must be >= 0, got {self.memory_bytes}")
        object.__setattr__(
            self, "attention_operands", MappingProxyType(dict(self.attention_operands))
        )
        object.__setattr__(self, "attentions", MappingProxyType(dict(self.attentions)))
        object.__setattr__(self, "neuron_classes", tuple(self.neuron_classes))

    @property
    def records_products(self) -> bool:
        """Whether functional products are recorded (see :attr:`products`)."""
        return self.products if self.products is not None else not self.attention_operands

    @property
    def input_time_axis(self) -> int | None:
        """The time axis of the model's input, or ``None`` when it has none (token ids
        ``[B, L]``, whose T is a parameter of the model)."""
        if self.layout is Layout.TB:
            return 0 if self.input_batch_axis == 1 else None
        return 1 if self.input_batch_axis == 0 else None


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture wrote.

    Attributes:
        records: the records as stored (shapes and levels filled in), execution order.
        skipped: GEMM layers and products not recorded because their input is not
            spikes (e.g. the analog image entering the first convolution), in execution
            order.
        forwards: forward passes run.
        samples: samples recorded (sum of the batch sizes).
        skip_reasons: skipped layer -> why (:data:`SKIP_ANALOG`, :data:`SKIP_DECLARED`,
            ...).
        no_neuron: recorded GEMMs whose input no recognised neuron produced (their LIF
            cost is missing).
        frameworks: framework -> neuron layers found in the model.
        runner: the runner used.
        layouts: record -> how its layer saw the tensor, as observed (``T,B,...``,
            ``B,T,...``, ``(T*B),...``, ``B,... per step``); empty without a probe.
    """

    records: tuple[LayerRecord, ...]
    skipped: tuple[str, ...]
    forwards: int
    samples: int
    skip_reasons: Mapping[str, str] = field(default_factory=dict)
    no_neuron: tuple[str, ...] = ()
    frameworks: Mapping[str, int] = field(default_factory=dict)
    runner: Runner = Runner.MULTI
    layouts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "skip_reasons", MappingProxyType(dict(self.skip_reasons)))
        object.__setattr__(self, "frameworks", MappingProxyType(dict(self.frameworks)))
        object.__setattr__(self, "layouts", MappingProxyType(dict(self.layouts)))

    @property
    def gemms(self) -> tuple[LayerRecord, ...]:
        """The GEMM records written (layers with spike data)."""
        return tuple(r for r in self.records if r.has_data)

    @property
    def neuron_layers(self) -> tuple[LayerRecord, ...]:
        """The ``lif`` records written."""
        return tuple(r for r in self.records if r.kind is LayerKind.LIF)

    @property
    def attentions(self) -> tuple[LayerRecord, ...]:
        """The ``attention`` records written."""
        return tuple(r for r in self.records if r.kind is LayerKind.ATTENTION)
