""":class:`SpikeCapture`: the hooks that feed a capture's records.

See :mod:`prosparsity.models.engine` for what is recorded. This room attaches the hooks
(and the product mode of :mod:`.products`), follows the forward passes (the probe, then
the real ones) and hands every hooked tensor to the records of :mod:`.collector`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch
from torch import nn

from prosparsity.core import signals
from prosparsity.core.errors import HarnessError
from prosparsity.models.adapters import resolve_neurons
from prosparsity.models.engine.collector import Collector, storage
from prosparsity.models.engine.config import (
    SKIP_DECLARED,
    CaptureConfig,
    CaptureError,
    Layout,
    StepwiseModel,
)
from prosparsity.models.engine.probe import ProbeFigures
from prosparsity.models.engine.products import ProductMode, Products
from prosparsity.models.engine.records import Item, pair, square
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import LayerKind

__all__ = ["SpikeCapture"]

log = logging.getLogger(__name__)

_Hook = Callable[..., None]


class SpikeCapture(Collector):
    """Context manager recording a model's spiking GEMMs.

    Args:
        model: the network; its first positional ``forward`` argument is the input.
        writer: an open :class:`~prosparsity.traces.io.TraceWriter`; the records
            stream into it pass by pass (see :mod:`.store`).
        config: time steps, runner, layout, attention operands, forward passes.
        boundaries: ``"model"`` (a forward pass is one call of ``model``; the capture
            finishes the trace when its ``with`` block ends) or ``"manual"`` (the caller
            brackets each pass with :meth:`begin_forward` and :meth:`end_forward`, e.g.
            when a wrapper calls ``model`` once per step, and finishes the trace with
            :meth:`write`, then :meth:`close`).

    Example:
        >>> with TraceWriter(out, info) as w, SpikeCapture(net, w, cfg), torch.no_grad():
        ...     net(x)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: nn.Module,
        writer: Any,
        config: CaptureConfig,
        boundaries: str = "model",
    ) -> None:
        if boundaries not in ("model", "manual"):
            raise HarnessError(f"boundaries: {boundaries!r} is not one of model, manual")
        if writer is None:
            raise HarnessError("SpikeCapture needs an open TraceWriter")
        super().__init__(config, writer)
        self.boundaries = boundaries
        self.model = model
        self.products = Products(self)
        self._mode: ProductMode | None = None
        self._handles: list[Any] = []
        self._frames: list[Any] = []  # the frame hooks (products, probe figures)
        self._frame_calls: dict[str, int] = {}
        self._fed_ptrs: set[int] = set()
        self._neuron_ptrs: set[int] = set()
        self._neuron_calls = 0

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
        containers = self._containers()
        for name, module in self.model.named_modules():
            label = name or type(module).__name__.lower()
            self._frames.append(module.register_forward_pre_hook(self._frame_hook(label)))
            self._frames.append(module.register_forward_hook(self._frame_end))
            adapter = self.neurons.neurons.get(name)
            if name in containers:
                hooks.append(module.register_forward_pre_hook(self._container_hook(label)))
            if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
                hook = self._gemm_hook(label, name, module, name in self.neurons.folded)
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
        if self.config.records_products:
            self._mode = ProductMode(self.products.seen)
            self._mode.__enter__()
        return self

    def _containers(self) -> set[str]:
        """Modules whose submodules see the folded ``[T*B, ...]`` batch; notes, for each
        folded module, the container whose input order decides the fold's."""
        from prosparsity.models.adapters import adapters

        chain = adapters()
        found = {name for name, module in self.model.named_modules()
                 if any(a.folded(module) for a in chain)}
        for child in self.neurons.folded:
            owners = [c for c in found if not c or child.startswith(f"{c}.")]
            if owners:
                owner = max(owners, key=len)
                self._fold_owner[child] = owner or type(self.model).__name__.lower()
        return found

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.detach()
        if exc_type is not None:
            self.close()
        elif self.boundaries == "model":
            try:
                self.write()
            finally:
                self.close()

    def detach(self) -> None:
        """Remove the hooks and leave the product mode (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._drop_frames()

    def _drop_frames(self) -> None:
        """Remove the frame hooks and leave the product mode: after a probe pass that met
        no product, the real passes need neither (they cost a Python call per module call
        and per torch call)."""
        for handle in self._frames:
            handle.remove()
        self._frames.clear()
        mode, self._mode = self._mode, None
        if mode is not None:
            mode.__exit__(None, None, None)

    def close(self) -> None:
        """Stop the store's thread (idempotent)."""
        self._store.close()

    def probe(self, inputs: torch.Tensor, run: Callable[[torch.Tensor], None],
              first_batch: int) -> None:
        """Run the probe forward pass (see :mod:`.layout`) before the first real one.

        The probe takes one time step when the input has a time axis; a model that
        cannot run one step is probed at its full T. A model that fails at its full T
        cannot run on this input at all: that failure propagates (before any real pass).

        Args:
            inputs: the whole input (batch axis ``config.input_batch_axis``).
            run: runs one forward pass of the model on a batch (states reset first).
            first_batch: B of the first real pass (the probe uses another).
        """
        from prosparsity.models.engine.probe import probe_input

        t = self.config.time_steps
        for full_time in (False, True):
            x, tp, bp = probe_input(inputs, self.config, first_batch, full_time)
            self._probe, self._probe_tb = {}, (tp, bp)
            self.figures = ProbeFigures(tp, bp)
            self.probing = True
            self.products.probed = 0
            try:
                self.begin_forward(x)
                run(x)
                if not self.products.probed:
                    self._drop_frames()
                return
            except Exception as exc:
                self._probe, self._probe_tb, self.figures = {}, None, None
                if tp == t or isinstance(exc, StepwiseModel):
                    raise  # the model cannot run on this input: say so now
                log.info("probe pass at T=%d failed (%s: %s)", tp, type(exc).__name__, exc)
            finally:
                self.probing = False
                self._batch = None
                self.products.reset()

    def begin_forward(self, inputs: torch.Tensor) -> None:
        """Start a forward pass on ``inputs`` (``boundaries="manual"``)."""
        self._on_forward_start(self.model, (inputs,))

    def end_forward(self) -> None:
        """End the forward pass begun by :meth:`begin_forward`."""
        self._on_forward_end(self.model, (), None)

    def _on_forward_start(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        signals.check()
        if not args or not isinstance(args[0], torch.Tensor):
            raise CaptureError("<input>", "the model's first positional input must be a tensor")
        x, axis = args[0], int(self.config.input_batch_axis or 0)
        if x.ndim <= axis:
            raise CaptureError(
                "<input>", f"input of shape {tuple(x.shape)} has no batch axis {axis}"
            )
        if not self.probing and self._forwards >= self.config.batches:
            raise CaptureError(
                "<input>",
                f"forward pass {self._forwards + 1} but the capture was configured for "
                f"{self.config.batches} (CaptureConfig.batches)",
            )
        self._batch = int(x.shape[axis])
        self._calls = {}
        self._frame_calls = {}
        self.products.reset()
        self._input_ptrs = {storage(a) for a in args if isinstance(a, torch.Tensor)}
        self._input_shape = tuple(x.shape)
        self._fed_ptrs = set()
        self._neuron_ptrs = set()
        self._neuron_calls = 0
        self._pending = []
        self._counting = []

    def _on_forward_end(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self.probing:
            return
        for key in list(self._order):
            item = self._items.get(key)
            if item is None:
                continue
            if item.steps:
                self._stack_steps(item)
        self._resolve_counts()
        self._forwards += 1
        self._samples += self._current_batch()
        pending, self._pending = self._pending, []
        self._submit(pending)
        for key in self._order:
            item = self._items[key]
            if item.forwards and item.forwards != self._forwards:
                raise CaptureError(
                    key,
                    f"ran in an earlier forward pass but not in pass {self._forwards} "
                    "(data-dependent control flow is not supported)",
                )
        self._batch = None

    def _frame_hook(self, label: str) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if self._batch is None:
                return
            if self.config.runner == Runner.MULTI:
                n = self._frame_calls.get(label, 0) + 1
                self._frame_calls[label] = n
                key = f"{label}#{n}"
            else:
                key = label
            self.products.enter(label, key)

        return hook

    def _frame_end(self, mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self._batch is None:
            return
        self.products.leave()
        if self.probing and self.figures is not None and isinstance(output, torch.Tensor):
            size = output.numel() * output.element_size()
            self.figures.largest = max(self.figures.largest, size)

    def _container_hook(self, label: str) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if self._batch is None or not args or not isinstance(args[0], torch.Tensor):
                return
            key = self.occurrence(f"{label}#container")
            reading = self._reading(key, args[0], lenient=True)
            if reading is not None and reading.time is not None:
                self._fold_order[label] = Layout.TB if reading.time < reading.batch else Layout.BT

        return hook

    def _gemm_hook(self, label: str, name: str, module: nn.Module, folded: bool) -> _Hook:
        if isinstance(module, nn.Conv2d):
            kind = LayerKind.CONV2D
        elif isinstance(module, nn.Conv1d):
            kind = LayerKind.CONV1D
        else:
            kind = LayerKind.LINEAR

        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if self._batch is None:
                return
            signals.check()
            if not args or not isinstance(args[0], torch.Tensor):
                raise CaptureError(label, "first positional input is not a tensor")
            key = self.occurrence(label)
            x = args[0].detach()
            if self.probing:
                self.check_stepwise(key, x)
                self.note_shape(key, x.shape)
                if self.figures is not None and not getattr(mod, "prosparsity_analog_input",
                                                            False):
                    self.figures.gemm_elements += x.numel()
                    self.figures.gemms += 1
                return
            if key in self._skipped:
                return
            if getattr(mod, "prosparsity_analog_input", False):
                self._skip(key, kind, SKIP_DECLARED)
                return
            if self._record(key, x, kind, mod=mod, folded=folded, owner=name):
                self._attribute(key, x)

        return hook

    def _attribute(self, key: str, x: torch.Tensor) -> None:
        """Note whether a recorded GEMM's input comes from a recognised neuron."""
        ptr = storage(x)
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
            if self._batch is None:
                return
            key = self.occurrence(f"{attention}.{operand}")
            if not isinstance(output, torch.Tensor):
                raise CaptureError(key, "an attention operand module must return a tensor")
            if self.probing:
                self.note_shape(key, output.shape)
                return
            self._record(key, output.detach(), LayerKind.ATTENTION_OPERAND, spec=spec)

        return hook

    def _neuron_hook(self, label: str, adapter: Any) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if self._batch is None:
                return
            spikes = adapter.spikes(output)
            if not isinstance(spikes, torch.Tensor):
                return
            self._neuron_calls += 1
            self._neuron_ptrs.add(storage(spikes))
            key = self.occurrence(label)
            found = self._per_sample(key, spikes)
            if found is None:
                return
            per, is_step = found
            item = self._items.get(key)
            if item is None:
                params = {"neurons": int(math.prod(per)), "neuron": type(mod).__name__}
                item = self._new_item(Item(key, LayerKind.LIF, params, False))
            item.counts.append((self.neuron_count(spikes.detach()), int(spikes.numel())))
            if len(item.counts) == 1:
                self._counting.append(item)
            if not is_step:
                item.forwards = self._forwards + 1

        return hook

    def _encoder_hook(self, mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if isinstance(output, torch.Tensor) and self._batch is not None:
            self._neuron_ptrs.add(storage(output))

    def _ln_hook(self, label: str, module: nn.LayerNorm) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if self._batch is None:
                return
            key = self.occurrence(label)
            found = self._per_sample(key, args[0])
            if found is None:
                return
            dim = math.prod(module.normalized_shape)
            per = math.prod(found[0])
            params = {"dim": int(dim), "seq_len": int(per // dim)}
            self._meta(key, LayerKind.LAYERNORM, params)

        return hook

    def _pool_hook(self, label: str, module: nn.MaxPool2d) -> _Hook:
        def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if self._batch is None:
                return
            key = self.occurrence(label)
            found = self._per_sample(key, args[0])
            if found is None:
                return
            per = found[0]
            if len(per) != 3:
                return
            params = {
                "input_hw": square(per[1:3]),
                "channels": per[0],
                "kernel": square(pair(module.kernel_size)),
                "stride": square(pair(module.stride)),
                "padding": square(pair(module.padding)),
            }
            self._meta(key, LayerKind.MAXPOOL2D, params)

        return hook
