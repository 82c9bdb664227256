"""The records of a capture being collected: readings, values, occurrences, writing.

:class:`Collector` is the part of :class:`~prosparsity.models.engine.SpikeCapture` that
does not touch the model: it turns each hooked tensor into a record's packed piece (read
time-first by :mod:`.layout`, checked and packed by :mod:`.values`), keeps the records in
execution order (``NAME@k`` for repeated calls), hands each forward pass's pieces to the
store (:mod:`.store`) and writes the trace at the end. The hooks that feed it live in
:mod:`.hooks`, the functional products' pairing in :mod:`.products`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from prosparsity.core import signals
from prosparsity.models.adapters import NeuronMap
from prosparsity.models.engine.config import (
    SKIP_AGGREGATED,
    SKIP_ANALOG,
    SKIP_NO_BATCH,
    CaptureConfig,
    CaptureError,
    CaptureSummary,
    Layout,
    StepwiseModel,
)
from prosparsity.models.engine.layout import Reading, legacy_reading, observe
from prosparsity.models.engine.probe import ProbeFigures
from prosparsity.models.engine.products import Unreadable
from prosparsity.models.engine.records import CORE_RANK, Item, describe_gemm, describe_operand
from prosparsity.models.engine.store import Planned, Store
from prosparsity.models.engine.values import Checked, Values, check, count_nonzero, to_host
from prosparsity.models.registry import Runner
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = ["Collector", "storage"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


def storage(x: torch.Tensor) -> int:
    """Identity of a tensor's memory (views share it)."""
    try:
        return int(x.untyped_storage().data_ptr())
    except (RuntimeError, NotImplementedError):  # pragma: no cover - exotic tensor types
        return id(x)


class Collector:
    """The records of one capture (see the module docstring).

    Args:
        config: the capture's configuration.
        writer: the trace writer (a TraceWriter, open) the records stream into.
    """

    def __init__(self, config: CaptureConfig, writer: Any) -> None:
        self.config = config
        self.writer = writer
        self._store = Store(config.memory_bytes)
        self.neurons: NeuronMap = NeuronMap()
        self._items: dict[str, Item] = {}
        self._order: list[str] = []
        self._skipped: dict[str, str] = {}
        self._no_neuron: list[str] = []
        self._written: list[LayerRecord] = []
        self._calls: dict[str, int] = {}
        self._batch: int | None = None
        self._forwards = 0
        self._samples = 0
        self._pending: list[tuple[str, Values]] = []
        self._counting: list[Item] = []
        # the probe (see layout.py): shapes by key, its T and B, what it measured
        self.probing = False
        self._probe: dict[str, tuple[int, ...]] = {}
        self._probe_tb: tuple[int, int] | None = None
        self.figures: ProbeFigures | None = None
        self._readings: dict[str, Reading] = {}
        self._batchless: dict[str, bool] = {}
        self._fold_owner: dict[str, str] = {}
        self._fold_order: dict[str, Layout] = {}
        # where the inputs of this forward's GEMMs come from (see "Neurons")
        self._input_ptrs: set[int] = set()
        self._input_shape: tuple[int, ...] = ()

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
            layouts={k: self._items[k].seen for k in self._order
                     if k in self._items and self._items[k].seen},
        )

    @property
    def gemm_keys(self) -> tuple[str, ...]:
        """The records with spike data collected so far, in execution order."""
        return tuple(k for k in self._order if self._items[k].gemm)

    @property
    def in_forward(self) -> bool:
        return self._batch is not None


    def _current_batch(self) -> int:
        if self._batch is None:
            raise CaptureError("<input>", "a layer ran outside the model's forward")
        return self._batch

    def occurrence(self, label: str) -> str:
        """Record key of this call: ``label``, or ``label@k`` for the k-th call of a module
        within one multi-step forward. (Under the loop runner repeats are told apart when
        the forward returns.)"""
        n = self._calls.get(label, 0) + 1
        self._calls[label] = n
        if self.config.runner != Runner.MULTI or n == 1:
            return label
        return f"{label}@{n}"

    def _new_item(self, item: Item, after: str | None = None) -> Item:
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


    def note_shape(self, key: str, shape: torch.Size | tuple[int, ...]) -> None:
        """(probe) The first shape of ``key``."""
        self._probe.setdefault(key, tuple(int(s) for s in shape))

    def _reading(
        self,
        key: str,
        x: torch.Tensor,
        *,
        core_rank: int | None = None,
        step_mode: str | None = None,
        folded: bool = False,
        owner: str = "",
        lenient: bool = False,
    ) -> Reading | None:
        """How the layer behind ``key`` sees ``x``: observed against the probe on first
        sight, then kept; without a probe, by shape (:func:`legacy_reading`)."""
        if self.probing:
            self.note_shape(key, x.shape)
            return None
        known = self._readings.get(key)
        if known is not None:
            return known
        t, b = self.config.time_steps, self._current_batch()
        reading = None
        shape = self._probe.get(key)
        if shape is not None and self._probe_tb is not None and not self._forwards:
            tp, bp = self._probe_tb
            fold = self._fold_order.get(self._fold_owner.get(owner, ""), self.config.layout)
            reading = observe(shape, x.shape, t=t, b=b, tp=tp, bp=bp,
                              per_step=self.config.runner != Runner.MULTI, fold=fold)
            if reading is not None and core_rank is not None:
                lead = 1 if reading.step or reading.fold is not None else 2
                if x.ndim - lead != core_rank:
                    reading = None
        if reading is None:
            if self.config.runner != Runner.MULTI:
                reading = Reading(0)
            else:
                try:
                    reading = legacy_reading(x.shape, t, b, core_rank=core_rank,
                                             step_mode=step_mode, folded=folded, layer=key,
                                             layout=self.config.layout)
                except CaptureError:
                    if not lenient:
                        raise
                    return None
        self._readings[key] = reading
        return reading

    def _batch_free_input(self, key: str, x: torch.Tensor) -> bool:
        """A layer input whose shape did not change with the batch (probe vs first pass)."""
        if self._forwards or key in self._items or self._probe_tb is None:
            return False
        probe = self._probe.get(key)
        tp, bp = self._probe_tb
        t, b = self.config.time_steps, self._current_batch()
        if probe is None or len(probe) != x.ndim or bp == b:
            return False
        scaled = {(bp, b), (tp * bp, t * b)}
        return not any((p, int(r)) in scaled for p, r in zip(probe, x.shape, strict=True))

    def batch_free(self, key: str, shape: torch.Size | tuple[int, ...]) -> bool:
        """Whether a product operand does not depend on the sample (a weight)."""
        known = self._batchless.get(key)
        if known is None:
            probe = self._probe.get(key)
            if probe is not None and self._probe_tb is not None:
                known = probe == tuple(int(s) for s in shape)
            else:
                known = len(shape) == 2
            self._batchless[key] = known
        return known


    def _record(
        self,
        key: str,
        x: torch.Tensor,
        kind: LayerKind,
        *,
        mod: nn.Module | None = None,
        folded: bool = False,
        spec: tuple[str, ...] = (),
        owner: str = "",
        checked: Checked | None = None,
        make: Callable[[tuple[int, ...]], Item] | None = None,
    ) -> bool:
        """Record one call's tensor: a whole ``[T, B, ...]`` or one step ``[B, ...]``.

        Returns False when the layer is skipped (its input is no spikes).
        """
        t, b = self.config.time_steps, self._current_batch()
        self.check_stepwise(key, x)
        if self._batch_free_input(key, x):
            self._skip(key, kind, SKIP_NO_BATCH)
            return False
        if checked is None:
            known = self._items.get(key)
            checked = check(x, multilevel=known is not None and bool(known.multilevel))
        if checked is None:
            self._skip(key, kind, SKIP_ANALOG)
            return False
        reading = self._reading(
            key, x, core_rank=CORE_RANK.get(kind), step_mode=getattr(mod, "step_mode", None),
            folded=folded, owner=owner,
        )
        assert reading is not None
        data = reading.time_first(checked.data, t, b, key)
        item = self._items.get(key)
        if item is None:
            tail = tuple(int(s) for s in data.shape[1 if reading.step else 2:])
            if make is not None:
                item = make(tail)
            elif kind is LayerKind.ATTENTION_OPERAND:
                item = self._describe_declared(key, tail, spec)
            else:
                assert mod is not None
                item = describe_gemm(key, kind, mod, tail)
            item.reading, item.seen = reading, reading.describe(x.shape)
            self._new_item(item)
        item.multilevel = checked.levels is not None
        values = to_host(item.arrange(data, not reading.step), checked.levels)
        if reading.step:
            item.steps.append(values)
            return True
        if int(values.data.shape[0]) != t:
            raise CaptureError(item.key, f"expected T={t}, got {tuple(values.data.shape)}")
        self._pending.append((key, values))
        item.forwards = self._forwards + 1
        return True

    def neuron_count(self, spikes: torch.Tensor) -> torch.Tensor:
        """Non-zero outputs of a neuron call (a 0-d tensor on its device)."""
        return count_nonzero(spikes)

    def check_stepwise(self, key: str, x: torch.Tensor) -> None:
        """Under the ``loop`` runner, a layer handed the model's whole input means the
        model takes one step per call (the ``step`` runner fits): raise
        :class:`StepwiseModel` (also in the probe pass)."""
        if (
            self.config.runner == Runner.LOOP
            and x.ndim >= 3
            and tuple(x.shape) == self._input_shape
            and storage(x) in self._input_ptrs
        ):
            raise StepwiseModel(
                key, f"got the whole input {tuple(x.shape)}: the model takes one step per call"
            )

    def _describe_declared(self, key: str, tail: tuple[int, ...], spec: tuple[str, ...]) -> Item:
        attention = spec[0]
        declared = self.config.attentions.get(attention)
        if declared is not None and attention not in self._items:
            self._new_item(Item(attention, LayerKind.ATTENTION, dict(declared), False))
        return describe_operand(key, tail, spec, declared)

    def _skip(self, key: str, kind: LayerKind, reason: str) -> None:
        if kind is LayerKind.ATTENTION_OPERAND:
            raise CaptureError(key, "attention operand is not made of spikes (integers 0..255)")
        if self._forwards or key in self._items:
            raise CaptureError(key, "input stopped being spikes (integers 0..255) mid-capture")
        log.info("layer %s: input is not spikes (%s); skipped", key, reason)
        self._skipped[key] = reason

    def _stack_steps(self, item: Item) -> None:
        """Stack the per-step pieces of one forward time-first (``r`` calls per step ->
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
            self._pending.append((target.key, _stack(mine)))
            target.forwards = self._forwards + 1

    def _occurrences(
        self, item: Item, per_call: list[_T], *, data: bool
    ) -> Iterator[tuple[Item, list[_T]]]:
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
                    Item(key, item.kind, dict(item.params), data, *extra), after=prev
                )
                if data and not target.seen:
                    target.reading, target.seen = item.reading, item.seen
                prev = key
            yield target, per_call[occ::repeats]


    def skip_product(self, key: str, reason: str) -> None:
        """List a product that is not recorded, with the reason."""
        if key in self._items:
            raise CaptureError(key, f"recorded in an earlier call, now {reason}")
        if key not in self._skipped:
            log.info("product %s: %s; skipped", key, reason)
            self._skipped[key] = reason

    def record_product_linear(self, name: str, key: str, spikes: Checked, k: int,
                              n: int) -> None:
        """A spike operand against a weight: a ``linear`` record (rows ``[*, M, K]``)."""
        def make(tail: tuple[int, ...]) -> Item:
            params: dict[str, Any] = {"in_features": k, "out_features": n}
            if len(tail) == 1:
                return Item(name, LayerKind.LINEAR, params, True, "T,B,K", tail)
            params["seq_len"] = math.prod(tail[:-1])
            return Item(name, LayerKind.LINEAR, params, True, "T,B,L,K",
                        (params["seq_len"], tail[-1]))

        try:
            self._record(name, spikes.data, LayerKind.LINEAR, checked=spikes, make=make,
                         owner=key)
        except CaptureError:
            if self._forwards or name in self._items:
                raise
            self.skip_product(name, "cannot tell time and batch apart in the operand's shape")

    def record_attention(self, name: str, variant: str,
                         operands: dict[str, tuple[torch.Tensor, Checked | None, str, bool]]
                         ) -> None:
        """An attention block found among the products: its record, then its operands
        (``operand -> (tensor [*, L, dh], spikes or None, probe key, transposed)``)."""
        readings: dict[str, Reading] = {}
        for op, (tensor, spikes, probe_key, transposed) in operands.items():
            if spikes is None:
                continue
            key = f"{name}.{op}"
            reading = self._readings.get(key)
            if reading is None:
                shape = self._probe.get(probe_key)
                if shape is not None and transposed:
                    shape = (*shape[:-2], shape[-1], shape[-2])
                if shape is not None:
                    self._probe.setdefault(key, shape)
                try:
                    reading = self._reading(key, tensor)
                except CaptureError:
                    raise Unreadable from None
                assert reading is not None
            readings[op] = reading
        if name not in self._items:
            k = operands["k"][0]
            others = self._others(readings["k"], k.ndim)
            heads = math.prod(int(k.shape[i]) for i in others)
            length, width = int(k.shape[-2]), int(k.shape[-1])
            params = {"dim": heads * width, "seq_len": length, "heads": heads,
                      "variant": variant}
            self._new_item(Item(name, LayerKind.ATTENTION, params, False))
        attention = self._items[name]
        attention.forwards = self._forwards + 1
        for op, reading in readings.items():
            tensor, spikes, _, _ = operands[op]
            assert spikes is not None
            others = self._others(reading, tensor.ndim)
            n_o = len(others)
            p = attention.params

            def make(tail: tuple[int, ...], op: str = op, n_o: int = n_o,
                     p: dict[str, Any] = p) -> Item:
                params = {"operand": op, "attention": name, "dim": p["dim"],
                          "seq_len": p["seq_len"], "heads": p["heads"]}
                perm = (n_o, *range(n_o), n_o + 1)
                return Item(f"{name}.{op}", LayerKind.ATTENTION_OPERAND, params, True,
                            "T,B,L,D", (p["seq_len"], p["dim"]), perm)

            self._record(f"{name}.{op}", tensor, LayerKind.ATTENTION_OPERAND, checked=spikes,
                         make=make)

    @staticmethod
    def _others(reading: Reading, ndim: int) -> list[int]:
        """The leading axes of an operand ``[*, L, dh]`` that are neither time nor batch
        (its heads), in order, counted after the reading brings T, B to the front."""
        taken = {reading.batch} | ({reading.time} if reading.time is not None else set())
        return [i for i in range(ndim - 2) if i not in taken]


    def _per_sample(self, key: str, x: torch.Tensor) -> tuple[tuple[int, ...], bool] | None:
        """``(per-sample shape at one step, is_step)`` of a tensor a layer sees."""
        reading = self._reading(key, x, lenient=True)
        if self.probing:
            return None
        shape = tuple(int(s) for s in x.shape)
        if reading is None:
            return shape, False
        drop = {reading.batch} | ({reading.time} if reading.time is not None else set())
        return tuple(s for i, s in enumerate(shape) if i not in drop), reading.step

    def _meta(self, key: str, kind: LayerKind, params: dict[str, Any]) -> None:
        if key in self._items:  # seen before (an earlier step or forward pass)
            self._items[key].forwards = self._forwards + 1
            return
        self._new_item(Item(key, kind, params, False, forwards=self._forwards + 1))

    def _resolve_counts(self) -> None:
        """Sum the neuron counts of this forward (one host sync for all of them)."""
        items, self._counting = self._counting, []
        if not items:
            return
        tensors = [c for item in items for c, _ in item.counts]
        if all(c.device.type == "cpu" for c in tensors):
            values = [int(c) for c in tensors]
        else:  # one host sync for all of them
            values = torch.stack([c.reshape(()).to("cpu", torch.int64) for c in tensors]).tolist()
        i = 0
        for item in items:
            n = len(item.counts)
            counts = [(values[i + j], item.counts[j][1]) for j in range(n)]
            i += n
            item.counts = []
            reading = self._readings.get(item.key)
            if reading is not None and reading.step:
                for target, mine in self._occurrences(item, counts, data=False):
                    target.spikes += sum(c[0] for c in mine)
                    target.elements += sum(c[1] for c in mine)
                    target.forwards = self._forwards + 1
            else:
                item.spikes += sum(c[0] for c in counts)
                item.elements += sum(c[1] for c in counts)

    def _plan(self, pending: list[tuple[str, Values]]) -> list[Planned]:
        """Every record in execution order, as the first pass left them (its pieces say
        each GEMM input's encoding); params completed in :meth:`write`."""
        first: dict[str, Values] = {}
        for key, values in pending:
            first.setdefault(key, values)
        t = self.config.time_steps
        plan = []
        for key in self._order:
            item = self._items[key]
            params = self._params(item)
            if not item.gemm:
                plan.append(Planned(LayerRecord(item.key, item.kind, params)))
                continue
            values = first.get(key)
            if values is None:
                raise CaptureError(item.key, "no data was recorded for this layer")
            rec = LayerRecord(
                item.key,
                item.kind,
                params,
                shape=(t, 0, *item.tail),
                layout=item.layout,
                levels=() if values.packed else tuple(sorted(values.levels)),
            )
            plan.append(Planned(rec, values.packed))
        return plan

    def _params(self, item: Item) -> dict[str, Any]:
        """A record's params as far as they are known (``batch``: the samples so far)."""
        return {**item.params, "time_steps": self.config.time_steps, "batch": self._samples}

    def _submit(self, pending: list[tuple[str, Values]]) -> None:
        """Hand one finished pass to the store; the first also begins every record."""
        if not self._store.opened:
            self._store.open(self.writer, self._plan(pending))
        self._store.submit(pending)

    def write(self) -> CaptureSummary:
        """Finish the trace the records streamed into: wait for the last pass's pieces,
        then complete every record's params (neuron counts, ``B``) and end the GEMM
        inputs."""
        writer = self.writer
        if not self._store.opened:  # no forward pass ran
            self._store.open(writer, self._plan([]))
        self._store.finish()
        signals.check()
        ended = dict(zip(self.gemm_keys, writer.end_layers(self.gemm_keys), strict=True))
        for key in self._order:
            item = self._items[key]
            params = self._params(item)
            if not item.gemm:
                if item.kind is LayerKind.LIF:
                    params.update(spikes=item.spikes, elements=item.elements)
                self._written.append(writer.amend(item.key, params))
                continue
            batch = ended[key].shape[1]
            self._written.append(writer.amend(item.key, {**params, "batch": batch}))
        return self.summary


def _stack(pieces: list[Values]) -> Values:
    """Per-step pieces ``[b, ...]`` stacked time-first ``[T, b, ...]``."""
    width = pieces[0].width
    if all(p.packed for p in pieces):
        return Values(np.stack([p.data for p in pieces]), True, width, frozenset((0, 1)))
    data = np.stack([p.unpacked() for p in pieces])
    levels = frozenset(int(v) for v in np.flatnonzero(np.bincount(data.reshape(-1))))
    return Values(data, False, width, levels)
