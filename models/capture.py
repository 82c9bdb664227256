"""The capture engine: record every spiking GEMM of a PyTorch SNN into a v1 trace.

:class:`SpikeCapture` is a context manager over a model. While it is open, forward hooks
record, in execution order:

* the INPUT of every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` (spikingjelly's
  ``layer.*`` wrappers are subclasses, so they are included) as a GEMM record with its
  spike tensor, stored time-first;
* the OUTPUT of the modules named in ``attention_operands`` (q, k, v and the
  attention-by-value product of transformer models) as ``attention_operand`` records;
* a ``lif`` record (neuron count) for every spiking neuron: spikingjelly
  ``neuron.BaseNode``, snntorch ``SpikingNeuron`` (``Leaky``, ``Synaptic``, ...) and any
  module with a true attribute ``prosparsity_neuron`` (plain-PyTorch custom neurons);
* ``layernorm`` and ``maxpool2d`` records for ``nn.LayerNorm`` / ``nn.MaxPool2d``.

Time. Stored tensors are always time-first, ``T,B,...``. Under the ``multi`` runner
(spikingjelly multi-step) a layer sees ``[T, B, ...]``, or ``[T*B, ...]`` when it is a
raw module inside ``SeqToANNContainer`` (or otherwise called on a folded batch); T is
known and B is read from the model's input, so the fold is undone exactly. Under the
``loop`` runner (snntorch style, a Python loop over T inside ``forward``) each layer is
called T times with ``[B, ...]``; the steps are stacked time-first when the forward
returns. A module called ``r`` times per time step yields ``r`` records, the second
named ``NAME@2`` and so on (likewise a module called twice in one multi-step forward).

Names. A record is named after its module in ``model.named_modules()``, dots kept
(``features.3``); trace files key layers by index, so dots are harmless.

Values. Inputs are recorded as they are: binary spikes bit-packed inside the hook,
sums of spikes (small non-negative integers, e.g. 0..2 in spikingjelly's Spikformer)
as uint8 with their value levels, never thresholded. A GEMM whose input is not made of
non-negative integers (the analog image entering a direct-encoding first layer) is no
spiking GEMM: it is skipped and listed in :attr:`CaptureSummary.skipped`. A model can
state this up front (deterministic, whatever the data) by giving the layer module a true
attribute ``prosparsity_analog_input``.

Memory and streaming. With one forward pass (all samples in one batch, the default),
each layer's data is packed in its hook and written to the trace at once; under the
loop runner at the end of the forward. With several forward passes (``--batch-size``
smaller than ``--samples``) the packed data of each layer is kept until the last pass,
then written along the batch axis.

Failure. If the forward raises or the writer fails (disk full), the exception
propagates; :class:`~prosparsity.traces.io.TraceWriter` then deletes its temporary file,
so no file that reads as complete is left behind.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import numpy as np
import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo

__all__ = [
    "CaptureConfig",
    "CaptureError",
    "CaptureResult",
    "CaptureSummary",
    "SpikeCapture",
    "capture_model",
    "capture_to_file",
    "reset_states",
    "sha256_of",
    "to_time_first",
]

log = logging.getLogger(__name__)

_OPERAND_AXES = {2: "L,D", 3: "H,L,D"}


class CaptureError(HarnessError):
    """The model cannot be captured as configured (shape, runner or data problem)."""

    def __init__(self, layer: str, problem: str) -> None:
        self.layer = layer
        self.problem = problem
        super().__init__(f"capture, layer '{layer}': {problem}")


@dataclass(frozen=True)
class CaptureConfig:
    """How to interpret a model's calls.

    Attributes:
        time_steps: T.
        runner: ``"multi"`` or ``"loop"`` (see :class:`~prosparsity.models.registry.Runner`).
        input_batch_axis: batch axis of the model's (first positional) input.
        attention_operands: module name -> ``(attention, operand[, axes])``; see
            :class:`~prosparsity.models.registry.ModelEntry`.
        attentions: attention name -> parameters of its ``attention`` record.
        batches: number of forward passes that will run inside the capture; with more
            than one, layer data is kept (packed) until the last pass.
    """

    time_steps: int
    runner: Runner = Runner.MULTI
    input_batch_axis: int = 1
    attention_operands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attentions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    batches: int = 1

    def __post_init__(self) -> None:
        if self.time_steps < 1:
            raise HarnessError(f"time_steps: must be >= 1, got {self.time_steps}")
        if self.runner not in tuple(Runner):
            raise HarnessError(
                f"runner: {self.runner!r} is not one of {', '.join(str(r) for r in Runner)}"
            )
        object.__setattr__(self, "runner", Runner(self.runner))
        if self.batches < 1:
            raise HarnessError(f"batches: must be >= 1, got {self.batches}")
        object.__setattr__(
            self, "attention_operands", MappingProxyType(dict(self.attention_operands))
        )
        object.__setattr__(self, "attentions", MappingProxyType(dict(self.attentions)))


@dataclass(frozen=True)
class CaptureSummary:
    """What a capture wrote.

    Attributes:
        records: the records as stored (shapes and levels filled in), execution order.
        skipped: GEMM layers not recorded because their input is not spikes
            (e.g. the analog image entering the first convolution).
        forwards: forward passes run.
        samples: samples recorded (sum of the batch sizes).
    """

    records: tuple[LayerRecord, ...]
    skipped: tuple[str, ...]
    forwards: int
    samples: int


# ---------------------------------------------------------------------------------------
# helpers


def sha256_of(path: str | Path) -> str:
    """SHA-256 (hex) of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reset_states(model: nn.Module) -> None:
    """Reset the membrane state of every stateful neuron before a new input.

    spikingjelly memory modules have ``reset()``; snntorch neurons ``reset_mem()``;
    a custom module may define ``reset()`` too.
    """
    for module in model.modules():
        reset = getattr(module, "reset", None)
        if callable(reset) and _is_neuron(module):
            reset()
        elif callable(getattr(module, "reset_mem", None)):
            module.reset_mem()
        elif callable(reset) and _is_spikingjelly_memory(module):
            reset()


def _is_spikingjelly_memory(module: nn.Module) -> bool:
    base = _sj_class("base", "MemoryModule")
    return base is not None and isinstance(module, base)


def _sj_class(module: str, name: str) -> type | None:
    """A spikingjelly class if spikingjelly is importable (it is a dependency)."""
    try:
        mod = __import__(f"spikingjelly.activation_based.{module}", fromlist=[name])
    except ImportError:  # pragma: no cover - spikingjelly is installed by the Makefile
        return None
    return getattr(mod, name, None)


def _is_neuron(module: nn.Module) -> bool:
    if getattr(module, "prosparsity_neuron", False):
        return True
    base = _sj_class("neuron", "BaseNode")
    if base is not None and isinstance(module, base):
        return True
    snn = sys.modules.get("snntorch")
    if snn is not None:
        spiking = getattr(snn, "SpikingNeuron", None)
        if spiking is not None and isinstance(module, spiking):
            return True
    return False


def _folded_modules(model: nn.Module) -> set[str]:
    """Names of modules inside a ``SeqToANNContainer`` (they see ``[T*B, ...]``)."""
    container = _sj_class("layer", "SeqToANNContainer")
    folded: set[str] = set()
    if container is None:  # pragma: no cover
        return folded
    for name, module in model.named_modules():
        if isinstance(module, container):
            for sub, _ in module.named_modules():
                if sub:
                    folded.add(f"{name}.{sub}" if name else sub)
    return folded


def to_time_first(
    x: torch.Tensor,
    time_steps: int,
    batch: int,
    *,
    core_rank: int | None = None,
    step_mode: str | None = None,
    folded: bool = False,
    layer: str = "?",
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

    Returns:
        ``(tensor, is_step)``: the time-first tensor, or, when the call carried a
        single time step ``[B, ...]`` (a per-step call inside a multi-step model), the
        tensor unchanged and ``True``.

    Raises:
        CaptureError: the shape fits none of these readings.
    """
    t, b = time_steps, batch
    shape = tuple(x.shape)
    if folded:
        if shape[0] != t * b:
            raise CaptureError(
                layer, f"input {shape} inside SeqToANNContainer should start with T*B = {t * b}"
            )
        return x.reshape(t, b, *shape[1:]), False
    if core_rank is not None:
        if x.ndim == core_rank + 2 and shape[:2] == (t, b):
            return x, False
        if x.ndim == core_rank + 1 and shape[0] == t * b:
            return x.reshape(t, b, *shape[1:]), False
        if x.ndim == core_rank + 1 and shape[0] == b:
            return x, True
    else:
        if x.ndim >= 3 and shape[:2] == (t, b) and step_mode != "s":
            return x, False
        if x.ndim >= 2 and shape[0] == t * b:
            return x.reshape(t, b, *shape[1:]), False
        if x.ndim >= 2 and shape[0] == b:
            return x, True
    raise CaptureError(
        layer,
        f"cannot read input of shape {shape} as [T, B, ...], [T*B, ...] or [B, ...] "
        f"with T={t}, B={b}",
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


@dataclass
class _Item:
    """A record being collected, written once complete.

    GEMM items gather one chunk per forward pass (``chunks``, joined along B when
    written); under per-step calls they first gather one chunk per call (``steps``),
    stacked time-first when the forward returns.
    """

    key: str
    kind: LayerKind
    params: dict[str, Any]
    gemm: bool
    layout: str = ""
    tail: tuple[int, ...] = ()  # stored shape after T, B
    perm: tuple[int, ...] = ()  # axis order after T, B (attention operands)
    chunks: list[_Chunk] = field(default_factory=list)
    steps: list[_Chunk] = field(default_factory=list)
    forwards: int = 0  # forward passes that delivered data


_CORE_RANK = {LayerKind.CONV2D: 3, LayerKind.CONV1D: 2}


class SpikeCapture:
    """Context manager recording a model's spiking GEMMs into a trace writer.

    Args:
        model: the network; its first positional ``forward`` argument is the input.
        writer: an open :class:`~prosparsity.traces.io.TraceWriter` (anything with its
            ``add_layer``, ``begin_layer``, ``append`` and ``end_layer``).
        config: time steps, runner, attention operands, number of forward passes.

    Example:
        >>> with TraceWriter(out, info) as w, SpikeCapture(net, w, cfg), torch.no_grad():
        ...     net(x)  # doctest: +SKIP
    """

    def __init__(self, model: nn.Module, writer: Any, config: CaptureConfig) -> None:
        self.model = model
        self.writer = writer
        self.config = config
        self._handles: list[Any] = []
        self._items: dict[str, _Item] = {}
        self._order: list[str] = []  # keys not yet written, in execution order
        self._skipped: list[str] = []
        self._written: list[LayerRecord] = []
        self._calls: dict[str, int] = {}
        self._batch: int | None = None
        self._forwards = 0
        self._samples = 0

    # -- attaching -----------------------------------------------------------------------

    def __enter__(self) -> SpikeCapture:
        folded = _folded_modules(self.model)
        ops = self.config.attention_operands
        names = {name for name, _ in self.model.named_modules()}
        missing = sorted(set(ops) - names)
        if missing:
            raise CaptureError(missing[0], "attention operand module not found in the model")
        hooks = self._handles
        hooks.append(self.model.register_forward_pre_hook(self._on_forward_start))
        for name, module in self.model.named_modules():
            label = name or type(module).__name__.lower()
            if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
                hook = self._gemm_hook(label, module, name in folded)
                hooks.append(module.register_forward_pre_hook(hook))
            elif _is_neuron(module):
                hooks.append(module.register_forward_pre_hook(self._lif_hook(label)))
            elif isinstance(module, nn.LayerNorm):
                hooks.append(module.register_forward_pre_hook(self._ln_hook(label, module)))
            elif isinstance(module, nn.MaxPool2d):
                hooks.append(module.register_forward_pre_hook(self._pool_hook(label, module)))
            if name in ops:
                hooks.append(module.register_forward_hook(self._operand_hook(tuple(ops[name]))))
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
        if exc_type is None:
            self._flush(final=True)

    @property
    def summary(self) -> CaptureSummary:
        """What was written so far."""
        return CaptureSummary(
            records=tuple(self._written),
            skipped=tuple(self._skipped),
            forwards=self._forwards,
            samples=self._samples,
        )

    # -- forward boundaries ----------------------------------------------------------------

    def _on_forward_start(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if not args or not isinstance(args[0], torch.Tensor):
            raise CaptureError("<input>", "the model's first positional input must be a tensor")
        x, axis = args[0], self.config.input_batch_axis
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

    def _on_forward_end(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        for key in list(self._order):
            if self._items[key].steps:
                self._stack_steps(self._items[key])
        self._forwards += 1
        self._samples += self._current_batch()
        for key in self._order:
            item = self._items[key]
            if item.gemm and item.forwards != self._forwards:
                raise CaptureError(
                    key,
                    f"ran in an earlier forward pass but not in pass {self._forwards} "
                    "(data-dependent control flow is not supported)",
                )
        self._flush(final=False)

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
        if self.config.runner == Runner.LOOP or n == 1:
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

    # -- data records ------------------------------------------------------------------------

    def _gemm_hook(
        self, label: str, module: nn.Module, folded: bool
    ) -> Callable[[nn.Module, tuple[Any, ...]], None]:
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
                self._skip(key, kind)
                return
            self._record(key, args[0].detach(), mod, kind, folded, ())

        return hook

    def _operand_hook(
        self, spec: tuple[str, ...]
    ) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
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
    ) -> None:
        """Record one call's tensor: a whole ``[T, B, ...]`` or one step ``[B, ...]``."""
        t, b = self.config.time_steps, self._current_batch()
        if self.config.runner == Runner.LOOP:
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
            )
        values = _integer_levels(tf)
        if values is None:
            self._skip(key, kind)
            return
        item = self._items.get(key)
        if item is None:
            tail = tuple(int(s) for s in (tf.shape[1:] if is_step else tf.shape[2:]))
            item = self._new_item(self._describe(key, kind, mod, tail, spec))
        if is_step:
            item.steps.append(_Chunk(values))
            return
        item.chunks.append(_Chunk(self._arrange(item, values)))
        item.forwards = self._forwards + 1
        if self.config.runner == Runner.MULTI:
            self._flush(final=False)

    def _skip(self, key: str, kind: LayerKind) -> None:
        if kind is LayerKind.ATTENTION_OPERAND:
            raise CaptureError(key, "attention operand is not made of spikes (integers 0..255)")
        if self._forwards or key in self._items:
            raise CaptureError(key, "input stopped being spikes (integers 0..255) mid-capture")
        log.info("layer %s: input is not spikes (analog encoder input); skipped", key)
        self._skipped.append(key)

    def _stack_steps(self, item: _Item) -> None:
        """Stack the per-step chunks of one forward time-first (``r`` calls per step ->
        ``r`` records, interleaved in call order)."""
        t = self.config.time_steps
        steps, item.steps = item.steps, []
        if len(steps) % t:
            raise CaptureError(
                item.key,
                f"called {len(steps)} times with one time step each, not a multiple of T={t}",
            )
        repeats = len(steps) // t
        prev = item.key
        for occ in range(repeats):
            target = item
            if occ:
                key = f"{item.key}@{occ + 1}"
                target = self._items.get(key) or self._new_item(
                    _Item(
                        key, item.kind, dict(item.params), True, item.layout, item.tail, item.perm
                    ),
                    after=prev,
                )
                prev = key
            stacked = np.stack([c.values() for c in steps[occ::repeats]], axis=0)
            target.chunks.append(_Chunk(self._arrange(target, stacked)))
            target.forwards = self._forwards + 1

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

    def _per_sample(self, x: torch.Tensor) -> tuple[int, ...]:
        """The shape of one sample at one time step of a tensor a layer sees."""
        t, b = self.config.time_steps, self._current_batch()
        shape = tuple(int(s) for s in x.shape)
        if self.config.runner == Runner.LOOP:
            return shape[1:]
        if len(shape) >= 2 and shape[:2] == (t, b):
            return shape[2:]
        if shape and shape[0] in (t * b, b):
            return shape[1:]
        return shape

    def _meta(self, key: str, kind: LayerKind, params: dict[str, Any]) -> None:
        if key in self._items:  # seen before (an earlier step or forward pass)
            return
        self._new_item(_Item(key, kind, params, False))
        if self.config.runner == Runner.MULTI:
            self._flush(final=False)

    def _lif_hook(self, label: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if args and isinstance(args[0], torch.Tensor):
                neurons = math.prod(self._per_sample(args[0]))
                params = {"neurons": int(neurons), "neuron": type(mod).__name__}
                self._meta(self._occurrence(label), LayerKind.LIF, params)

        return hook

    def _ln_hook(
        self, label: str, module: nn.LayerNorm
    ) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            dim = math.prod(module.normalized_shape)
            per = math.prod(self._per_sample(args[0]))
            params = {"dim": int(dim), "seq_len": int(per // dim)}
            self._meta(self._occurrence(label), LayerKind.LAYERNORM, params)

        return hook

    def _pool_hook(
        self, label: str, module: nn.MaxPool2d
    ) -> Callable[[nn.Module, tuple[Any, ...]], None]:
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

    def _ready(self, item: _Item, final: bool) -> bool:
        if final:
            return True
        if self.config.batches > 1:
            return False  # batch totals are known only after the last pass
        return not item.gemm or (bool(item.chunks) and not item.steps)

    def _flush(self, final: bool) -> None:
        """Write every complete record at the head of the execution order."""
        while self._order and self._ready(self._items[self._order[0]], final):
            self._write(self._items[self._order.pop(0)])

    def _write(self, item: _Item) -> None:
        batch = self._samples if self.config.batches > 1 else self._current_batch()
        params = {**item.params, "time_steps": self.config.time_steps, "batch": batch}
        if not item.gemm:
            rec = LayerRecord(item.key, item.kind, params)
            self._written.append(self.writer.add_layer(rec) or rec)
            return
        chunks, item.chunks = item.chunks, []
        if not chunks:
            raise CaptureError(item.key, "no data was recorded for this layer")
        levels = set().union(*(c.levels for c in chunks))
        binary = levels <= {0, 1}
        rows = sum(int(c.data.shape[1]) for c in chunks)
        rec = LayerRecord(
            item.key,
            item.kind,
            {**params, "batch": rows},
            shape=(self.config.time_steps, rows, *item.tail),
            layout=item.layout,
            levels=() if binary else tuple(sorted(levels)),
        )
        self.writer.begin_layer(rec)
        if binary:
            parts = [c.data for c in chunks]
            self.writer.append(
                item.key, parts[0] if len(parts) == 1 else np.concatenate(parts, 1), packed=True
            )
        else:
            self.writer.append(item.key, np.concatenate([c.values() for c in chunks], axis=1))
        self._written.append(self.writer.end_layer(item.key))


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


# ---------------------------------------------------------------------------------------
# driver


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
        info: file attributes (``samples`` and ``batch_size`` are filled in here).
        config: capture configuration (``batches`` is set here).
        batch_size: samples per forward pass (default: all in one pass).
        progress: called as ``progress(done, total)`` after each forward pass.

    Returns:
        What was written.
    """
    from prosparsity.traces.io import TraceWriter

    axis = config.input_batch_axis
    if inputs.ndim <= axis:
        raise HarnessError(f"input of shape {tuple(inputs.shape)} has no batch axis {axis}")
    total = int(inputs.shape[axis])
    if total < 1:
        raise HarnessError("input holds no samples")
    size = total if batch_size is None else max(1, min(int(batch_size), total))
    pieces = list(torch.split(inputs, size, dim=axis))
    config = replace(config, batches=len(pieces))
    info = replace(info, samples=total, batch_size=size, time_steps=config.time_steps)
    model.eval()
    with TraceWriter(out, info) as writer:
        with SpikeCapture(model, writer, config) as cap, torch.no_grad():
            for i, piece in enumerate(pieces):
                reset_states(model)
                model(piece)
                if progress is not None:
                    progress(i + 1, len(pieces))
        summary = cap.summary
    reset_states(model)
    return summary


# ---------------------------------------------------------------------------------------
# whole models: registry entries and user factories


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
    model: str,
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
) -> CaptureResult:
    """Build a model, load its weights, run its input under capture, write ``out``.

    Args:
        model: a registry name (``digits-cnn``, ``vgg9``, ...) or a user factory
            ``package.module:factory``.
        out: trace path.
        checkpoint: weights to load (default: the entry's packaged checkpoint, if any).
        input_path: input tensor file (``.pt``/``.npy``); required for user factories.
            Default for registry models: the entry's offline input.
        samples: number of samples (default 1, or the whole input file).
        time_steps: T (default: the entry's; for user models the input's first axis).
        batch_size: samples per forward pass (default: all at once).
        random_weights: ignore the packaged checkpoint.
        runner: ``multi`` or ``loop`` for user models (registry entries know theirs).
        seed: seed of the random initialisation and of random default inputs.
        progress: ``progress(done, total)`` after each forward pass.

    Raises:
        HarnessError: unknown model, unreadable or unfitting checkpoint or input,
            shapes that do not fit T, or a failing forward pass (the exception is
            re-raised unchanged in that case; no trace file is left).
    """
    from prosparsity.models.checkpoint import load_checkpoint, packaged_checkpoint
    from prosparsity.models.registry import get_model
    from prosparsity.models.user import build_user_model, load_input_tensor, parse_factory

    if samples is not None and samples < 1:
        raise HarnessError(f"--samples: must be >= 1, got {samples}")
    for option, given in (("--input", input_path), ("--checkpoint", checkpoint)):
        if given is not None and Path(given).resolve() == Path(out).resolve():
            raise HarnessError(f"-o {out}: would overwrite the {option} file; choose another")
    if time_steps is not None and time_steps < 1:
        raise HarnessError(f"--time-steps: must be >= 1, got {time_steps}")
    torch.manual_seed(seed)
    extra: dict[str, str] = {"seed": str(seed)}
    if ":" in model:
        parse_factory(model)  # a malformed spec is the first thing to report
        if input_path is None:
            raise HarnessError(f"--model '{model}': a user model needs --input (a .pt or .npy)")
        inputs = load_input_tensor(input_path)
        t = time_steps if time_steps is not None else int(inputs.shape[0])
        net = build_user_model(model, t)
        cfg = CaptureConfig(time_steps=t, runner=runner or Runner.MULTI)
        name, dataset, family = model, f"input file {Path(input_path).name}", "user"
        ckpt = Path(checkpoint) if checkpoint is not None else None
        default_weights = "unknown"
    else:
        entry = get_model(model)
        if runner is not None and runner != entry.runner:
            raise HarnessError(f"--runner: model '{model}' runs as '{entry.runner}'")
        t = time_steps if time_steps is not None else entry.time_steps
        net = entry.build(time_steps=t, **entry.options)
        cfg = CaptureConfig(
            time_steps=t,
            runner=entry.runner,
            input_batch_axis=entry.input_batch_axis,
            attention_operands=entry.attention_operands,
            attentions=entry.attentions,
        )
        if input_path is not None:
            inputs = load_input_tensor(input_path)
            dataset = f"input file {Path(input_path).name}"
        else:
            inputs = entry.make_input(samples=samples or 1, time_steps=t, seed=seed)
            dataset = entry.dataset
        name, family = entry.name, entry.family
        if checkpoint is not None:
            ckpt = Path(checkpoint)
        elif entry.checkpoint and not random_weights:
            ckpt = packaged_checkpoint(entry.checkpoint)
        else:
            ckpt = None
        default_weights = "random"
    axis = cfg.input_batch_axis
    if inputs.ndim <= axis:
        raise HarnessError(f"input of shape {tuple(inputs.shape)} has no batch axis {axis}")
    if samples is not None:
        if samples > inputs.shape[axis]:
            raise HarnessError(
                f"--samples {samples}: the input holds only {inputs.shape[axis]} samples"
            )
        inputs = inputs.narrow(axis, 0, samples)
    if axis == 1 and inputs.shape[0] != t:
        raise HarnessError(
            f"input of shape {tuple(inputs.shape)} is time-first with T={inputs.shape[0]}, "
            f"but T={t} was asked for"
        )
    if inputs.dtype == torch.float64:
        inputs = inputs.float()
    loaded = load_checkpoint(net, ckpt) if ckpt is not None else None
    extra.update(runner=cfg.runner, family=family)
    info = TraceInfo(
        model=name,
        dataset=dataset,
        time_steps=t,
        weights="trained" if loaded else default_weights,
        checkpoint=str(loaded.path) if loaded else "",
        checkpoint_sha256=loaded.sha256 if loaded else "",
        extra=extra,
    )
    try:
        summary = capture_to_file(
            net, inputs, out, info, cfg, batch_size=batch_size, progress=progress
        )
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        # torch's complaint about the input (wrong image size, channels, ...), raised deep
        # inside a layer; the trace's temporary file is already gone
        log.debug("forward pass of %s failed", name, exc_info=True)
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        source = f"--input {input_path}" if input_path is not None else "its input"
        raise HarnessError(
            f"model '{name}': the forward pass failed on {source} of shape "
            f"{tuple(inputs.shape)} ({type(exc).__name__}: {first})"
        ) from None
    total = int(inputs.shape[axis])
    size = total if batch_size is None else max(1, min(batch_size, total))
    info = replace(info, samples=total, batch_size=size)
    return CaptureResult(Path(out), info, summary)
