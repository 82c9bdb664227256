"""The capture engine: hooks that record every spiking GEMM of a PyTorch SNN.

:class:`SpikeCapture` is a context manager over a model. While it is open, forward hooks
record, in execution order:

* the INPUT of every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` (spikingjelly's
  ``layer.*`` wrappers are subclasses, so they are included) as a GEMM record with its
  spike tensor, stored time-first;
* the OUTPUT of the modules named in ``attention_operands`` (q, k, v and the
  attention-by-value product of transformer models) as ``attention_operand`` records;
* a ``lif`` record for every spiking neuron layer, as the framework adapters of
  :mod:`prosparsity.models.adapters` recognise them: ``neurons`` (per sample and time
  step), ``neuron`` (class name), and the layer's output spike count: ``spikes`` (non-zero
  output values) and ``elements`` (output values), so its spike rate is
  ``spikes / elements``;
* ``layernorm`` and ``maxpool2d`` records for ``nn.LayerNorm`` / ``nn.MaxPool2d``.

Time. Stored tensors are always time-first, ``T,B,...``. Under the ``multi`` runner
(spikingjelly multi-step) a layer sees ``[T, B, ...]`` (``[B, T, ...]`` for a batch-first
model, :attr:`Layout.BT`), or ``[T*B, ...]`` when it is a raw module inside
``SeqToANNContainer`` (or otherwise called on a folded batch); T is known and B is read
from the model's input, so the fold is undone exactly. Under the ``loop`` runner
(snntorch style, a Python loop over T inside ``forward``) each layer is called T times
with ``[B, ...]``; the steps are stacked time-first when the forward returns. A module
called ``r`` times per time step yields ``r`` records, the second named ``NAME@2`` and so
on (likewise a module called twice in one multi-step forward).

Names. A record is named after its module in ``model.named_modules()``, dots kept
(``features.3``); trace files key layers by index, so dots are harmless.

Values. Inputs are recorded as they are: binary spikes bit-packed inside the hook, sums
of spikes (small non-negative integers, e.g. 0..2 in spikingjelly's Spikformer) as uint8
with their value levels, never thresholded. A GEMM whose input is not made of
non-negative integers (the analog image entering a direct-encoding first layer) is no
spiking GEMM: it is skipped and listed in :attr:`CaptureSummary.skipped`. A model can
state this up front (deterministic, whatever the data) by giving the layer module a true
attribute ``prosparsity_analog_input``.

Neurons. A recorded GEMM whose input was produced by no recognised neuron (no neuron ran
since the previous GEMM, and the input is neither the model's input nor a neuron's
output nor another fed GEMM's input) is listed in :attr:`CaptureSummary.no_neuron`:
its LIF cost is missing from every simulation of the trace. A neuron class that no
adapter knows is the usual cause.

Memory. Each forward pass's data leaves memory in the hook (multi) or when the forward
returns (loop, step): it is bit-packed and appended along the batch axis to a scratch
HDF5 file beside the trace (named like the trace writer's temporary files).
:meth:`SpikeCapture.write` then moves it into the trace in slabs of time steps, so
memory is bounded by one forward pass and one slab, whatever the number of samples.
The scratch file is removed when the capture closes, also on error.

Failure. If the forward raises or the writer fails (disk full), the exception
propagates; :class:`~prosparsity.traces.writer.TraceWriter` then deletes its temporary file,
so no file that reads as complete is left behind.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.adapters import NeuronMap, resolve_neurons
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = [
    "CaptureConfig",
    "CaptureError",
    "CaptureSummary",
    "Layout",
    "SpikeCapture",
    "StepwiseModel",
    "to_time_first",
]

log = logging.getLogger(__name__)

_OPERAND_AXES = {2: "L,D", 3: "H,L,D"}
_SLAB_BYTES = 8 << 20  # memory budget of one slab moved from the scratch file to the trace
_SCRATCH_CHUNK_BYTES = 1 << 20

SKIP_ANALOG = "analog input"
"""Why a GEMM was skipped: its input is not made of spikes (non-negative integers)."""
SKIP_DECLARED = "analog input, declared by the model"
"""Why a GEMM was skipped: the model marks it ``prosparsity_analog_input``."""
SKIP_AGGREGATED = "one call per forward on [B, ...]: time-aggregated input, not per step"
"""Why a GEMM was skipped: a multi-step model calls it once per forward pass without a
time axis (a classifier on spike counts that happen to be integers)."""


class CaptureError(HarnessError):
    """The model cannot be captured as configured (shape, runner or data problem)."""

    def __init__(self, layer: str, problem: str) -> None:
        self.layer = layer
        self.problem = problem
        super().__init__(f"capture, layer '{layer}': {problem}")


class StepwiseModel(CaptureError):
    """Under the ``loop`` runner, the model handed its whole ``[T, B, ...]`` input to its
    first layer: it takes one time step per call (the ``step`` runner fits)."""


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
        runner: ``"multi"`` or ``"loop"`` (see :class:`~prosparsity.models.registry.Runner`).
        input_batch_axis: batch axis of the model's (first positional) input; ``None``
            means the layout's (1 for ``TB``, 0 for ``BT``).
        attention_operands: module name -> ``(attention, operand[, axes])``; see
            :class:`~prosparsity.models.registry.ModelEntry`.
        attentions: attention name -> parameters of its ``attention`` record.
        batches: number of forward passes that will run inside the capture.
        layout: order of T and B in the tensors multi-step layers see.
        neuron_classes: further neuron classes (``--neuron``), besides those the
            framework adapters know.
    """

    time_steps: int
    runner: Runner = Runner.MULTI
    input_batch_axis: int | None = None
    attention_operands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attentions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    batches: int = 1
    layout: Layout = Layout.TB
    neuron_classes: tuple[type, ...] = ()

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
        object.__setattr__(
            self, "attention_operands", MappingProxyType(dict(self.attention_operands))
        )
        object.__setattr__(self, "attentions", MappingProxyType(dict(self.attentions)))
        object.__setattr__(self, "neuron_classes", tuple(self.neuron_classes))


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture wrote.

    Attributes:
        records: the records as stored (shapes and levels filled in), execution order.
        skipped: GEMM layers not recorded because their input is not spikes (e.g. the
            analog image entering the first convolution), in execution order.
        forwards: forward passes run.
        samples: samples recorded (sum of the batch sizes).
        skip_reasons: skipped layer -> why (:data:`SKIP_ANALOG` or :data:`SKIP_DECLARED`).
        no_neuron: recorded GEMMs whose input no recognised neuron produced (their LIF
            cost is missing).
        frameworks: framework -> neuron layers found in the model.
        runner: the runner used.
    """

    records: tuple[LayerRecord, ...]
    skipped: tuple[str, ...]
    forwards: int
    samples: int
    skip_reasons: Mapping[str, str] = field(default_factory=dict)
    no_neuron: tuple[str, ...] = ()
    frameworks: Mapping[str, int] = field(default_factory=dict)
    runner: Runner = Runner.MULTI

    def __post_init__(self) -> None:
        object.__setattr__(self, "skip_reasons", MappingProxyType(dict(self.skip_reasons)))
        object.__setattr__(self, "frameworks", MappingProxyType(dict(self.frameworks)))

    @property
    def gemms(self) -> tuple[LayerRecord, ...]:
        """The GEMM records written (layers with spike data)."""
        return tuple(r for r in self.records if r.has_data)

    @property
    def neuron_layers(self) -> tuple[LayerRecord, ...]:
        """The ``lif`` records written."""
        return tuple(r for r in self.records if r.kind is LayerKind.LIF)


# ---------------------------------------------------------------------------------------
# reading a layer's tensor


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
    """Bring a layer's tensor of one multi-step call to ``[T, B, ...]``.

    Args:
        x: the tensor as the layer saw it.
        time_steps: T.
        batch: B of the current forward pass.
        core_rank: rank of one sample's input for the layer type (3 for Conv2d
            ``C,H,W``, 2 for Conv1d ``C,L``), ``None`` when it varies (Linear).
        step_mode: spikingjelly's ``step_mode`` of the module, if it has one.
        folded: the module is inside a ``SeqToANNContainer``.
        layer: name for error messages.
        layout: the model's order of T and B (``BT``: ``[B, T, ...]``, ``[B*T, ...]``).

    Returns:
        ``(tensor, is_step)``: the time-first tensor, or, when the call carried a
        single time step ``[B, ...]`` (a per-step call inside a multi-step model), the
        tensor unchanged and ``True``.

    Raises:
        CaptureError: the shape fits none of these readings.
    """
    t, b = time_steps, batch
    lead = (t, b) if layout is Layout.TB else (b, t)
    shape = tuple(x.shape)

    def whole(y: torch.Tensor) -> torch.Tensor:
        return y if layout is Layout.TB else y.transpose(0, 1)

    def unfold(y: torch.Tensor) -> torch.Tensor:
        return whole(y.reshape(*lead, *shape[1:]))

    if folded:
        if shape[0] != t * b:
            raise CaptureError(
                layer, f"input {shape} inside SeqToANNContainer should start with T*B = {t * b}"
            )
        return unfold(x), False
    if core_rank is not None:
        if x.ndim == core_rank + 2 and shape[:2] == lead:
            return whole(x), False
        if x.ndim == core_rank + 1 and shape[0] == t * b:
            return unfold(x), False
        if x.ndim == core_rank + 1 and shape[0] == b:
            return x, True
    else:
        if x.ndim >= 3 and shape[:2] == lead and step_mode != "s":
            return whole(x), False
        if x.ndim >= 2 and shape[0] == t * b:
            return unfold(x), False
        if x.ndim >= 2 and shape[0] == b:
            return x, True
    order = "[T, B, ...], [T*B, ...]" if layout is Layout.TB else "[B, T, ...], [B*T, ...]"
    raise CaptureError(
        layer,
        f"cannot read input of shape {shape} as {order} or [B, ...] with T={t}, B={b}",
    )


def _integer_levels(x: torch.Tensor) -> np.ndarray | None:
    """``x`` as uint8 numpy if it holds only integers in 0..255, else ``None``."""
    if x.dtype == torch.bool:
        return x.to(torch.uint8).cpu().numpy()
    if x.numel() == 0:
        return x.to(torch.uint8).cpu().numpy()
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        return None
    if x.is_floating_point() and not torch.equal(x, torch.round(x)):
        return None
    return x.to(torch.uint8).cpu().numpy()


def _present_levels(arr: np.ndarray) -> set[int]:
    if arr.size == 0:
        return set()
    return {int(v) for v in np.flatnonzero(np.bincount(arr.reshape(-1)))}


def _storage(x: torch.Tensor) -> int:
    """Identity of a tensor's memory (views share it)."""
    try:
        return int(x.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):  # pragma: no cover - exotic tensor types
        return id(x)


class _Chunk:
    """One piece of a layer's values: bit-packed along the last axis when binary."""

    __slots__ = ("data", "packed", "levels", "width")

    def __init__(self, arr: np.ndarray) -> None:
        self.levels = _present_levels(arr)
        self.width = int(arr.shape[-1])
        self.packed = self.levels <= {0, 1}
        self.data = np.packbits(arr, axis=-1) if self.packed else arr

    def values(self) -> np.ndarray:
        if self.packed:
            return np.unpackbits(self.data, axis=-1, count=self.width)
        return self.data


# ---------------------------------------------------------------------------------------
# the scratch file: forward passes' data, appended along the batch axis


@dataclass
class _Stash:
    """What the scratch file holds of one GEMM record."""

    tail: tuple[int, ...]
    packed: bool
    rows: int = 0
    levels: set[int] = field(default_factory=set)
    dataset: Any = None


class _Scratch:
    """An HDF5 file of ``[T, B, ...]`` datasets that grow along B, one per GEMM record.

    Binary data is stored bit-packed (as in the trace); a record whose values turn out
    to be multi-level is converted to uint8 once. Removed by :meth:`close`.
    """

    def __init__(self, directory: Path, stem: str, time_steps: int) -> None:
        from prosparsity.core.atomic import temp_path

        # the trace writers' temporary-file pattern: a killed capture's scratch file is
        # removed as stale by the next writer of the same trace
        self.path = temp_path(directory / stem)
        self.time_steps = time_steps
        self._file: Any = None
        self._stash: dict[str, _Stash] = {}
        self._datasets = 0

    def _h5(self) -> Any:
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "w")
        return self._file

    def _create(self, key: str, stash: _Stash, stored_tail: tuple[int, ...]) -> Any:
        row = max(1, math.prod(stored_tail))
        chunks: Any = True
        if row <= _SCRATCH_CHUNK_BYTES:
            chunks = (1, max(1, min(4096, _SCRATCH_CHUNK_BYTES // row)), *stored_tail)
        self._datasets += 1
        return self._h5().create_dataset(
            f"{self._datasets:05d}",
            shape=(self.time_steps, stash.rows, *stored_tail),
            maxshape=(self.time_steps, None, *stored_tail),
            dtype=np.uint8,
            chunks=chunks,
            compression="lzf",
        )

    def add(self, key: str, values: np.ndarray) -> None:
        """Append one forward pass's ``[T, b, ...]`` uint8 values of ``key``."""
        levels = _present_levels(values)
        stash = self._stash.get(key)
        if stash is None:
            stash = self._stash[key] = _Stash(tuple(values.shape[2:]), levels <= {0, 1})
        if stash.packed and not levels <= {0, 1}:
            self._unpack(key, stash)
        stash.levels |= levels
        b = int(values.shape[1])
        if 0 in values.shape[2:]:
            stash.rows += b  # nothing to store: the slabs are empty arrays
            return
        data = np.packbits(values, axis=-1) if stash.packed else values
        if stash.dataset is None:
            stash.dataset = self._create(key, stash, tuple(data.shape[2:]))
        ds = stash.dataset
        ds.resize(stash.rows + b, axis=1)
        ds[:, stash.rows : stash.rows + b] = data
        stash.rows += b

    def _unpack(self, key: str, stash: _Stash) -> None:
        """Turn a bit-packed record into uint8 (a later pass brought levels above 1)."""
        stash.packed = False
        old = stash.dataset
        if old is None:
            return
        new = self._create(key, stash, stash.tail)
        width = stash.tail[-1]
        for t in range(self.time_steps):
            new[t] = np.unpackbits(old[t], axis=-1, count=width)
        stash.dataset = new
        del self._h5()[old.name]

    def stash(self, key: str) -> _Stash | None:
        return self._stash.get(key)

    def slabs(self, key: str) -> Iterator[tuple[np.ndarray, bool]]:
        """``(slab, packed)`` pieces of ``[T, B, ...]`` along T, each within the budget."""
        stash = self._stash[key]
        ds = stash.dataset
        if ds is None:
            yield np.zeros((self.time_steps, stash.rows, *stash.tail), np.uint8), False
            return
        row = max(1, math.prod(ds.shape[1:]))
        step = max(1, min(self.time_steps, _SLAB_BYTES // row))
        for t0 in range(0, self.time_steps, step):
            yield ds[t0 : t0 + step], stash.packed

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        self.path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# records being collected


_T = TypeVar("_T")


@dataclass
class _Item:
    """A record being collected.

    GEMM items move each forward pass's data to the scratch file; under per-step calls
    they first gather one chunk per call (``steps``), stacked time-first when the
    forward returns. Neuron items count spikes and elements (``counts`` per call under
    per-step calls, summed when the forward returns).
    """

    key: str
    kind: LayerKind
    params: dict[str, Any]
    gemm: bool
    layout: str = ""
    tail: tuple[int, ...] = ()  # stored shape after T, B
    perm: tuple[int, ...] = ()  # axis order after T, B (attention operands)
    steps: list[_Chunk] = field(default_factory=list)
    counts: list[tuple[int, int]] = field(default_factory=list)
    spikes: int = 0
    elements: int = 0
    forwards: int = 0  # forward passes that delivered data


_CORE_RANK = {LayerKind.CONV2D: 3, LayerKind.CONV1D: 2}
_Hook = Callable[..., None]


class SpikeCapture:
    """Context manager recording a model's spiking GEMMs.

    Args:
        model: the network; its first positional ``forward`` argument is the input.
        writer: an open :class:`~prosparsity.traces.writer.TraceWriter` that receives the
            records when the capture closes, or ``None`` to call :meth:`write` later
            (then call :meth:`close` too).
        config: time steps, runner, layout, attention operands, forward passes.
        scratch_dir: where the scratch file goes (default: beside the writer's file,
            else the system's temporary folder).
        boundaries: ``"model"`` (a forward pass is one call of ``model``) or
            ``"manual"`` (the caller brackets each pass with :meth:`begin_forward` and
            :meth:`end_forward`, e.g. when a wrapper calls ``model`` once per step).

    Example:
        >>> with TraceWriter(out, info) as w, SpikeCapture(net, w, cfg), torch.no_grad():
        ...     net(x)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        writer: Any,
        config: CaptureConfig,
        scratch_dir: str | Path | None = None,
        boundaries: str = "model",
    ) -> None:
        if boundaries not in ("model", "manual"):
            raise HarnessError(f"boundaries: {boundaries!r} is not one of model, manual")
        self.boundaries = boundaries
        self.model = model
        self.writer = writer
        self.config = config
        target = getattr(writer, "path", None)
        if scratch_dir is None:
            scratch_dir = Path(target).parent if target is not None else tempfile.gettempdir()
        stem = Path(target).name if target is not None else "capture"
        self._scratch = _Scratch(Path(scratch_dir), stem, config.time_steps)
        self.neurons: NeuronMap = NeuronMap()
        self._handles: list[Any] = []
        self._items: dict[str, _Item] = {}
        self._order: list[str] = []
        self._skipped: dict[str, str] = {}
        self._no_neuron: list[str] = []
        self._written: list[LayerRecord] = []
        self._calls: dict[str, int] = {}
        self._batch: int | None = None
        self._forwards = 0
        self._samples = 0
        # where the inputs of this forward's GEMMs come from (see "Neurons" above)
        self._input_ptrs: set[int] = set()
        self._input_shape: tuple[int, ...] = ()
        self._fed_ptrs: set[int] = set()
        self._neuron_ptrs: set[int] = set()
        self._neuron_calls = 0

    # -- attaching -----------------------------------------------------------------------

    def __enter__(self) -> SpikeCapture:
        self.neurons = resolve_neurons(self.model, self.config.neuron_classes)
        ops = self.config.attention_operands
        names = {name for name, _ in self.model.named_modules()}
        missing = sorted(set(ops) - names)
        if missing:
            raise CaptureError(missing[0], "attention operand module not found in the model")
        hooks = self._handles
        if self.boundaries == "model":
            hooks.append(self.model.register_forward_pre_hook(self._on_forward_start))
        for name, module in self.model.named_modules():
            label = name or type(module).__name__.lower()
            adapter = self.neurons.neurons.get(name)
            if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
                hook = self._gemm_hook(label, module, name in self.neurons.folded)
                hooks.append(module.register_forward_pre_hook(hook))
            elif adapter is not None:
                hooks.append(module.register_forward_hook(self._neuron_hook(label, adapter)))
            elif name in self.neurons.encoders:
                hooks.append(module.register_forward_hook(self._encoder_hook))
            elif isinstance(module, nn.LayerNorm):
                hooks.append(module.register_forward_pre_hook(self._ln_hook(label, module)))
            elif isinstance(module, nn.MaxPool2d):
                hooks.append(module.register_forward_pre_hook(self._pool_hook(label, module)))
            if name in ops:
                hooks.append(module.register_forward_hook(self._operand_hook(tuple(ops[name]))))
        if self.boundaries == "model":
            hooks.append(self.model.register_forward_hook(self._on_forward_end))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if exc_type is not None:
            self.close()
        elif self.writer is not None:
            try:
                self.write(self.writer)
            finally:
                self.close()

    def close(self) -> None:
        """Remove the scratch file (idempotent)."""
        self._scratch.close()

    @property
    def summary(self) -> CaptureSummary:
        """What was written (after :meth:`write`) or found so far."""
        return CaptureSummary(
            records=tuple(self._written),
            skipped=tuple(self._skipped),
            forwards=self._forwards,
            samples=self._samples,
            skip_reasons=dict(self._skipped),
            no_neuron=tuple(self._no_neuron),
            frameworks=dict(self.neurons.frameworks),
            runner=self.config.runner,
        )

    # -- forward boundaries ----------------------------------------------------------------

    def begin_forward(self, inputs: torch.Tensor) -> None:
        """Start a forward pass on ``inputs`` (``boundaries="manual"``)."""
        self._on_forward_start(self.model, (inputs,))

    def end_forward(self) -> None:
        """End the forward pass begun by :meth:`begin_forward`."""
        self._on_forward_end(self.model, (), None)

    def _on_forward_start(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], torch.Tensor):
            raise CaptureError("<input>", "the model's first positional input must be a tensor")
        x, axis = args[0], int(self.config.input_batch_axis or 0)
        if x.ndim <= axis:
            raise CaptureError(
                "<input>", f"input of shape {tuple(x.shape)} has no batch axis {axis}"
            )
        if self._forwards >= self.config.batches:
            raise CaptureError(
                "<input>",
                f"forward pass {self._forwards + 1} but the capture was configured for "
                f"{self.config.batches} (CaptureConfig.batches)",
            )
        self._batch = int(x.shape[axis])
        self._calls = {}
        self._input_ptrs = {_storage(a) for a in args if isinstance(a, torch.Tensor)}
        self._input_shape = tuple(x.shape)
        self._fed_ptrs = set()
        self._neuron_ptrs = set()
        self._neuron_calls = 0

    def _on_forward_end(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        for key in list(self._order):
            item = self._items.get(key)
            if item is None:
                continue
            if item.steps:
                self._stack_steps(item)
            if item.counts:
                self._sum_counts(item)
        self._forwards += 1
        self._samples += self._current_batch()
        for key in self._order:
            item = self._items[key]
            if item.forwards and item.forwards != self._forwards:
                raise CaptureError(
                    key,
                    f"ran in an earlier forward pass but not in pass {self._forwards} "
                    "(data-dependent control flow is not supported)",
                )

    def _current_batch(self) -> int:
        if self._batch is None:
            raise CaptureError("<input>", "a layer ran outside the model's forward")
        return self._batch

    def _occurrence(self, label: str) -> str:
        """Record key of this call: ``label``, or ``label@k`` for the k-th call of a module
        within one multi-step forward. (Under the loop runner repeats are told apart when
        the forward returns.)"""
        n = self._calls.get(label, 0) + 1
        self._calls[label] = n
        if self.config.runner != Runner.MULTI or n == 1:
            return label
        return f"{label}@{n}"

    def _new_item(self, item: _Item, after: str | None = None) -> _Item:
        if self._forwards:
            raise CaptureError(
                item.key,
                "ran in a later forward pass but not in the first "
                "(data-dependent control flow is not supported)",
            )
        self._items[item.key] = item
        if after is None:
            self._order.append(item.key)
        else:
            self._order.insert(self._order.index(after) + 1, item.key)
        return item

    def _steps_error(self, key: str, calls: int) -> CaptureError:
        t = self.config.time_steps
        if self.config.runner == Runner.MULTI:
            hint = (
                "the model calls this layer once per time step: capture it with the 'loop' "
                "runner (--runner loop), or 'step' if the model takes one step per call"
            )
        else:
            hint = (
                "the model does not call this layer once per time step: check T, or capture "
                "it with the 'multi' runner (--runner multi)"
            )
        return CaptureError(
            key, f"called {calls} times with one time step each, not a multiple of T={t}; {hint}"
        )

    # -- data records ------------------------------------------------------------------------

    def _gemm_hook(self, label: str, module: nn.Module, folded: bool) -> _Hook:
        if isinstance(module, nn.Conv2d):
            kind = LayerKind.CONV2D
        elif isinstance(module, nn.Conv1d):
            kind = LayerKind.CONV1D
        else:
            kind = LayerKind.LINEAR

        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if not args or not isinstance(args[0], torch.Tensor):
                raise CaptureError(label, "first positional input is not a tensor")
            key = self._occurrence(label)
            if key in self._skipped:
                return
            if getattr(mod, "prosparsity_analog_input", False):
                self._skip(key, kind, SKIP_DECLARED)
                return
            x = args[0].detach()
            if self._record(key, x, mod, kind, folded, ()):
                self._attribute(key, x)

        return hook

    def _attribute(self, key: str, x: torch.Tensor) -> None:
        """Note whether a recorded GEMM's input comes from a recognised neuron."""
        ptr = _storage(x)
        fed = (
            self._neuron_calls > 0
            or ptr in self._input_ptrs
            or ptr in self._neuron_ptrs
            or ptr in self._fed_ptrs
        )
        self._neuron_calls = 0
        if fed:
            self._fed_ptrs.add(ptr)
            return
        base = key.split("@")[0] if self.config.runner != Runner.MULTI else key
        if base not in self._no_neuron:
            log.warning(
                "layer %s: its spike input comes from no recognised neuron; "
                "its LIF cost is missing", base,
            )
            self._no_neuron.append(base)

    def _operand_hook(self, spec: tuple[str, ...]) -> _Hook:
        attention, operand = spec[0], spec[1]

        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            key = self._occurrence(f"{attention}.{operand}")
            if not isinstance(output, torch.Tensor):
                raise CaptureError(key, "an attention operand module must return a tensor")
            self._record(key, output.detach(), mod, LayerKind.ATTENTION_OPERAND, False, spec)

        return hook

    def _record(
        self,
        key: str,
        x: torch.Tensor,
        mod: nn.Module,
        kind: LayerKind,
        folded: bool,
        spec: tuple[str, ...],
    ) -> bool:
        """Record one call's tensor: a whole ``[T, B, ...]`` or one step ``[B, ...]``.

        Returns False when the layer is skipped (its input is no spikes).
        """
        t, b = self.config.time_steps, self._current_batch()
        if self.config.runner != Runner.MULTI:
            lead = (t, b) if self.config.layout is Layout.TB else (b, t)
            if (
                self.config.runner == Runner.LOOP
                and x.ndim >= 3
                and tuple(x.shape[:2]) == lead
                and tuple(x.shape) == self._input_shape
                and _storage(x) in self._input_ptrs
            ):
                raise StepwiseModel(
                    key, f"got the whole input {tuple(x.shape)}: the model takes one step per call"
                )
            if x.ndim < 2 or x.shape[0] != b:
                raise CaptureError(
                    key, f"loop runner: per-step tensor {tuple(x.shape)} should start with B={b}"
                )
            tf, is_step = x, True
        else:
            tf, is_step = to_time_first(
                x,
                t,
                b,
                core_rank=_CORE_RANK.get(kind),
                step_mode=getattr(mod, "step_mode", None),
                folded=folded,
                layer=key,
                layout=self.config.layout,
            )
        values = _integer_levels(tf)
        if values is None:
            self._skip(key, kind, SKIP_ANALOG)
            return False
        item = self._items.get(key)
        if item is None:
            tail = tuple(int(s) for s in (tf.shape[1:] if is_step else tf.shape[2:]))
            item = self._new_item(self._describe(key, kind, mod, tail, spec))
        if is_step:
            item.steps.append(_Chunk(values))
            return True
        self._scratch.add(key, self._arrange(item, values))
        item.forwards = self._forwards + 1
        return True

    def _skip(self, key: str, kind: LayerKind, reason: str) -> None:
        if kind is LayerKind.ATTENTION_OPERAND:
            raise CaptureError(key, "attention operand is not made of spikes (integers 0..255)")
        if self._forwards or key in self._items:
            raise CaptureError(key, "input stopped being spikes (integers 0..255) mid-capture")
        log.info("layer %s: input is not spikes (%s); skipped", key, reason)
        self._skipped[key] = reason

    def _stack_steps(self, item: _Item) -> None:
        """Stack the per-step chunks of one forward time-first (``r`` calls per step ->
        ``r`` records, interleaved in call order)."""
        t = self.config.time_steps
        steps, item.steps = item.steps, []
        if len(steps) == 1 < t and self.config.runner == Runner.MULTI and not self._forwards:
            del self._items[item.key]
            self._order.remove(item.key)
            log.info("layer %s: %s; skipped", item.key, SKIP_AGGREGATED)
            self._skipped[item.key] = SKIP_AGGREGATED
            if item.key in self._no_neuron:
                self._no_neuron.remove(item.key)
            return
        for target, mine in self._occurrences(item, steps, data=True):
            stacked = np.stack([c.values() for c in mine], axis=0)
            self._scratch.add(target.key, self._arrange(target, stacked))
            target.forwards = self._forwards + 1

    def _occurrences(
        self, item: _Item, per_call: list[_T], *, data: bool
    ) -> Iterator[tuple[_Item, list[_T]]]:
        """Split one forward's calls of a module, ``r`` per time step in call order, into
        its ``r`` occurrences: ``(record, its T calls)``. The first is ``item``; the
        others are the records ``KEY@2``, ``KEY@3``, ... (made in the first forward,
        placed after the previous one; ``data``: whether they carry spike data)."""
        if len(per_call) % self.config.time_steps:
            raise self._steps_error(item.key, len(per_call))
        repeats = len(per_call) // self.config.time_steps
        prev = item.key
        for occ in range(repeats):
            target = item
            if occ:
                key = f"{item.key}@{occ + 1}"
                extra = (item.layout, item.tail, item.perm) if data else ()
                target = self._items.get(key) or self._new_item(
                    _Item(key, item.kind, dict(item.params), data, *extra), after=prev
                )
                prev = key
            yield target, per_call[occ::repeats]

    def _arrange(self, item: _Item, values: np.ndarray) -> np.ndarray:
        """One forward's ``[T, B, ...]`` values in the record's stored axis order."""
        t, b = values.shape[0], values.shape[1]
        if t != self.config.time_steps:
            raise CaptureError(item.key, f"expected T={self.config.time_steps}, got {values.shape}")
        if item.perm:
            values = values.transpose(0, 1, *(2 + p for p in item.perm))
        values = values.reshape(t, b, *item.tail)  # merges token axes of Linear inputs
        return np.ascontiguousarray(values)

    def _describe(
        self,
        key: str,
        kind: LayerKind,
        mod: nn.Module,
        tail: tuple[int, ...],
        spec: tuple[str, ...],
    ) -> _Item:
        """The record metadata of a data layer from its module and per-sample shape."""
        if kind is LayerKind.CONV2D:
            if len(tail) != 3:
                raise CaptureError(key, f"Conv2d input per sample {tail} is not C,H,W")
            params = {**_conv_params(mod, 2, key), "input_hw": _square(tail[1:3])}
            return _Item(key, kind, params, True, "T,B,C,H,W", tail)
        if kind is LayerKind.CONV1D:
            if len(tail) != 2:
                raise CaptureError(key, f"Conv1d input per sample {tail} is not C,L")
            params = {**_conv_params(mod, 1, key), "input_len": tail[1]}
            return _Item(key, kind, params, True, "T,B,C,L", tail)
        if kind is LayerKind.LINEAR:
            assert isinstance(mod, nn.Linear)
            params: dict[str, Any] = {
                "in_features": mod.in_features,
                "out_features": mod.out_features,
            }
            if len(tail) == 1:
                return _Item(key, kind, params, True, "T,B,K", tail)
            tokens = math.prod(tail[:-1])
            params["seq_len"] = tokens
            return _Item(key, kind, params, True, "T,B,L,K", (tokens, tail[-1]))
        return self._describe_operand(key, tail, spec)

    def _describe_operand(self, key: str, tail: tuple[int, ...], spec: tuple[str, ...]) -> _Item:
        attention, operand = spec[0], spec[1]
        axes = spec[2] if len(spec) > 2 else _OPERAND_AXES.get(len(tail), "")
        names = [a.strip() for a in axes.split(",") if a.strip()]
        if len(names) != len(tail) or sorted(set(names)) not in (["D", "L"], ["D", "H", "L"]):
            raise CaptureError(
                key,
                f"attention operand of per-sample shape {tail}: axes {axes!r} must name "
                "L and D (and optionally H) once each",
            )
        order = [n for n in ("H", "L", "D") if n in names]
        size = dict(zip(names, tail, strict=True))
        heads = size.get("H", 1)
        params: dict[str, Any] = {
            "operand": operand,
            "attention": attention,
            "dim": heads * size["D"],
            "seq_len": size["L"],
            "heads": heads,
        }
        declared = self.config.attentions.get(attention)
        if declared is not None:
            params.update({k: declared[k] for k in ("dim", "seq_len", "heads") if k in declared})
            if attention not in self._items:
                self._new_item(_Item(attention, LayerKind.ATTENTION, dict(declared), False))
        return _Item(
            key,
            LayerKind.ATTENTION_OPERAND,
            params,
            True,
            "T,B," + ",".join(order),
            tuple(size[n] for n in order),
            tuple(names.index(n) for n in order),
        )

    # -- records without data --------------------------------------------------------------

    def _reading(self, x: torch.Tensor) -> tuple[tuple[int, ...], bool]:
        """``(per-sample shape at one step, is_step)`` of a tensor a layer sees."""
        t, b = self.config.time_steps, self._current_batch()
        shape = tuple(int(s) for s in x.shape)
        if self.config.runner != Runner.MULTI:
            return shape[1:], True
        lead = (t, b) if self.config.layout is Layout.TB else (b, t)
        if len(shape) >= 2 and shape[:2] == lead:
            return shape[2:], False
        if shape and shape[0] == t * b:
            return shape[1:], False
        if shape and shape[0] == b:
            return shape[1:], True
        return shape, False

    def _per_sample(self, x: torch.Tensor) -> tuple[int, ...]:
        return self._reading(x)[0]

    def _meta(self, key: str, kind: LayerKind, params: dict[str, Any]) -> None:
        if key in self._items:  # seen before (an earlier step or forward pass)
            self._items[key].forwards = self._forwards + 1
            return
        self._new_item(_Item(key, kind, params, False, forwards=self._forwards + 1))

    def _neuron_hook(self, label: str, adapter: Any) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            spikes = adapter.spikes(output)
            if not isinstance(spikes, torch.Tensor):
                return
            self._neuron_calls += 1
            self._neuron_ptrs.add(_storage(spikes))
            per, is_step = self._reading(spikes)
            key = self._occurrence(label)
            item = self._items.get(key)
            if item is None:
                params = {"neurons": int(math.prod(per)), "neuron": type(mod).__name__}
                item = self._new_item(_Item(key, LayerKind.LIF, params, False))
            count = (int(torch.count_nonzero(spikes)), int(spikes.numel()))
            if is_step:
                item.counts.append(count)
                return
            item.spikes += count[0]
            item.elements += count[1]
            item.forwards = self._forwards + 1

        return hook

    def _encoder_hook(self, mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if isinstance(output, torch.Tensor):
            self._neuron_ptrs.add(_storage(output))

    def _sum_counts(self, item: _Item) -> None:
        """Per-step neuron counts of one forward: ``r`` calls per step -> ``r`` records."""
        counts, item.counts = item.counts, []
        for target, mine in self._occurrences(item, counts, data=False):
            target.spikes += sum(c[0] for c in mine)
            target.elements += sum(c[1] for c in mine)
            target.forwards = self._forwards + 1

    def _ln_hook(self, label: str, module: nn.LayerNorm) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            dim = math.prod(module.normalized_shape)
            per = math.prod(self._per_sample(args[0]))
            params = {"dim": int(dim), "seq_len": int(per // dim)}
            self._meta(self._occurrence(label), LayerKind.LAYERNORM, params)

        return hook

    def _pool_hook(self, label: str, module: nn.MaxPool2d) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            per = self._per_sample(args[0])
            if len(per) != 3:
                return
            params = {
                "input_hw": _square(per[1:3]),
                "channels": per[0],
                "kernel": _square(_pair(module.kernel_size)),
                "stride": _square(_pair(module.stride)),
                "padding": _square(_pair(module.padding)),
            }
            self._meta(self._occurrence(label), LayerKind.MAXPOOL2D, params)

        return hook

    # -- writing ---------------------------------------------------------------------------

    def write(self, writer: Any) -> CaptureSummary:
        """Write every record, in execution order, into ``writer`` (a TraceWriter).

        Binary layers move from the scratch file bit-packed, in slabs of time steps.
        """
        t = self.config.time_steps
        for key in self._order:
            item = self._items[key]
            params = {**item.params, "time_steps": t, "batch": self._samples}
            if not item.gemm:
                if item.kind is LayerKind.LIF:
                    params.update(spikes=item.spikes, elements=item.elements)
                rec = LayerRecord(item.key, item.kind, params)
                self._written.append(writer.add_layer(rec) or rec)
                continue
            stash = self._scratch.stash(key)
            if stash is None:
                raise CaptureError(item.key, "no data was recorded for this layer")
            binary = stash.levels <= {0, 1}
            rec = LayerRecord(
                item.key,
                item.kind,
                {**params, "batch": stash.rows},
                shape=(t, stash.rows, *item.tail),
                layout=item.layout,
                levels=() if binary else tuple(sorted(stash.levels)),
            )
            writer.begin_layer(rec)
            for slab, packed in self._scratch.slabs(key):
                writer.append(item.key, slab, packed=packed)
            self._written.append(writer.end_layer(item.key))
        return self.summary


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def _square(v: Sequence[int]) -> int | tuple[int, ...]:
    """An int for square sizes (the paper's convention), a tuple otherwise."""
    v = tuple(int(x) for x in v)
    return v[0] if len(set(v)) == 1 else v


def _conv_params(mod: nn.Module, dims: int, key: str) -> dict[str, Any]:
    assert isinstance(mod, nn.Conv1d | nn.Conv2d)
    padding: Any = mod.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * dims
        else:  # "same": torch pads (dilation*(k-1))//2 on the left
            padding = tuple(
                d * (k - 1) // 2 for d, k in zip(mod.dilation, mod.kernel_size, strict=True)
            )
    one = (lambda v: int(v[0])) if dims == 1 else _square
    if getattr(mod, "padding_mode", "zeros") != "zeros":
        raise CaptureError(key, f"padding_mode {mod.padding_mode!r} is not a zero padding")
    return {
        "in_channels": mod.in_channels,
        "out_channels": mod.out_channels,
        "kernel": one(mod.kernel_size),
        "stride": one(mod.stride),
        "padding": one(padding),
        "dilation": one(mod.dilation),
        "groups": mod.groups,
    }
