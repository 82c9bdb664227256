"""The network a cost model prices: layer records in execution order plus spike data.

A :class:`Workload` is what every accelerator model's ``simulate`` receives. It is built
from a trace file (:meth:`Workload.from_trace`), from in-memory arrays
(:meth:`Workload.from_arrays`, e.g. the authors' ``.npz`` dumps) or from the shapes of
one of the paper's 19 workloads (:meth:`Workload.from_paper`, no spike data). Spike data
is read lazily, one layer at a time, through ``loader``; the workload itself holds no
open file and no array.

Record conventions (see :class:`prosparsity.traces.schema.LayerRecord`): ``time_steps``
and ``batch`` may sit in a record's ``params``; otherwise the workload's own values
apply. An attention block is one ``attention`` record; its spike operands are either
``attention_operand`` records whose ``params`` name it (``attention``) and the operand
(``operand``: ``q``, ``k``, ``v``), or, for the authors' dumps, data keyed
``<attention name>_<operand>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.core.errors import TraceError
from prosparsity.traces.schema import LayerKind, LayerRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Workload:
    """A network to simulate.

    Attributes:
        name: paper workload name or trace model name.
        layers: the in-network layer records in execution order: GEMM kinds with data
            plus ``lif``/``layernorm``/``attention``/``maxpool2d`` records.
        loader: ``layer name -> stored input tensor``; ``None`` for a shapes-only paper
            workload.
        paper_workload: set when the workload is one of the paper's 19 (its name in
            ``workloads.json``), which enables the paper's tables (energy DRAM traffic,
            reported figures).
        time_steps: T for records that do not carry ``time_steps`` themselves.
        batch: batch size for records that do not carry ``batch`` themselves.
        source: where the workload came from (a path, ``paper:NAME``), for messages.
    """

    name: str
    layers: tuple[LayerRecord, ...]
    loader: Callable[[str], np.ndarray] | None = None
    paper_workload: str | None = None
    time_steps: int = 1
    batch: int = 1
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        names = [r.name for r in self.layers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise TraceError(self.source or self.name, f"duplicate layer names {dup}")
        if self.time_steps < 1 or self.batch < 1:
            raise TraceError(self.source or self.name, "time_steps and batch must be >= 1")

    # -- spike data --------------------------------------------------------------------

    @property
    def has_data(self) -> bool:
        """True when spike data can be read (False for a shapes-only paper workload)."""
        return self.loader is not None

    def data(self, layer: str) -> np.ndarray:
        """The stored input tensor of a layer (or of an attention operand key).

        Raises:
            TraceError: the workload has no data, or none for ``layer``.
        """
        if self.loader is None:
            raise TraceError(
                self.source or self.name,
                "this workload has layer shapes only (no spike data); "
                "simulate a captured or imported trace instead",
                layer=layer,
            )
        try:
            return self.loader(layer)
        except KeyError:
            raise TraceError(self.source or self.name, "no spike data stored", layer) from None

    # -- records -----------------------------------------------------------------------

    def layer(self, name: str) -> LayerRecord:
        """The record named ``name``."""
        for record in self.layers:
            if record.name == name:
                return record
        raise TraceError(self.source or self.name, "no such layer", layer=name)

    def time_steps_of(self, record: LayerRecord) -> int:
        """T of a record: its ``time_steps`` parameter, else the workload's."""
        return int(record.params.get("time_steps", self.time_steps))

    def batch_of(self, record: LayerRecord) -> int:
        """Batch size of a record: its ``batch`` parameter, else the workload's."""
        return int(record.params.get("batch", self.batch))

    def operand_records(self, attention: LayerRecord) -> dict[str, LayerRecord]:
        """``operand -> attention_operand record`` of an attention record (may be empty)."""
        return {
            str(r.params.get("operand")): r
            for r in self.layers
            if r.kind is LayerKind.ATTENTION_OPERAND and r.params.get("attention") == attention.name
        }

    def attention_operand(self, attention: LayerRecord, operand: str) -> np.ndarray:
        """Spike data of one operand (``q``, ``k``, ``v``) of an attention record."""
        record = self.operand_records(attention).get(operand)
        return self.data(record.name if record is not None else f"{attention.name}_{operand}")

    def ops(self) -> Iterator[LayerRecord]:
        """The priced operators in execution order.

        Attention operand records that belong to an attention record of this workload are
        priced as part of that attention block, so they are skipped here.
        """
        attention_names = {r.name for r in self.layers if r.kind is LayerKind.ATTENTION}
        for record in self.layers:
            if (
                record.kind is LayerKind.ATTENTION_OPERAND
                and record.params.get("attention") in attention_names
            ):
                continue
            yield record

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        name: str,
        layers: tuple[LayerRecord, ...] | list[LayerRecord],
        arrays: Mapping[str, Any],
        *,
        paper_workload: str | None = None,
        time_steps: int | None = None,
        batch: int = 1,
        source: str = "",
    ) -> Workload:
        """A workload over in-memory arrays (or an open ``np.load`` of an ``.npz``).

        Arrays are read on demand (``np.asarray(arrays[layer])``), so a lazily loaded
        ``NpzFile`` stays lazy. ``time_steps`` defaults to the first record's
        ``time_steps`` parameter, else 1.
        """
        layers = tuple(r for r in layers if r.in_network)
        if time_steps is None:
            time_steps = next((int(r.params["time_steps"]) for r in layers
                               if "time_steps" in r.params), 1)

        def load(layer: str) -> np.ndarray:
            return np.asarray(arrays[layer])

        return cls(name=name, layers=layers, loader=load, paper_workload=paper_workload,
                   time_steps=time_steps, batch=batch, source=source or f"arrays:{name}")

    @classmethod
    def from_paper(cls, name: str, arrays: Mapping[str, Any] | None = None, *,
                   corrected: bool = False) -> Workload:
        """One of the paper's 19 workloads, by name (``lenet5_mnist``, ``sdt_cifar10``...).

        Args:
            name: the workload's name in ``workloads.json``.
            arrays: optional spike data keyed as the authors key their dumps (e.g. an
                open ``np.load`` of ``lenet5_mnist.npz`` or a synthetic trace); without
                it the workload has shapes only.
            corrected: use the corrected layer values instead of the authors' slips
                (``prosparsity.traces.workloads.AUTHOR_SLIPS``).

        Raises:
            HarnessError: unknown workload name (from ``prosparsity.traces.workloads``).
        """
        from prosparsity.traces.workloads import workload as paper_layers

        layers = tuple(paper_layers(name, corrected=corrected))
        time_steps = next((int(r.params["time_steps"]) for r in layers
                           if "time_steps" in r.params), 1)
        if arrays is not None:
            return cls.from_arrays(name, layers, arrays, paper_workload=name,
                                   time_steps=time_steps, source=f"paper:{name}")
        return cls(name=name, layers=layers, loader=None, paper_workload=name,
                   time_steps=time_steps, source=f"paper:{name}")

    @classmethod
    def from_trace(cls, path: str | Path) -> Workload:
        """A workload over a trace file (format v1), read lazily layer by layer.

        The file is opened once here to read its records and once per ``data`` call.
        ``paper_workload`` is the trace's ``workload`` attribute when it names one of the
        paper's workloads.
        """
        from prosparsity.traces.io import TraceReader

        path = Path(path)
        with TraceReader(path) as reader:
            info = reader.info
            layers = tuple(r for r in reader.layers if r.in_network)

        def load(layer: str) -> np.ndarray:
            with TraceReader(path) as r:
                return np.asarray(r.read(layer))

        return cls(name=info.workload or info.model, layers=layers, loader=load,
                   paper_workload=info.workload or None, time_steps=int(info.time_steps),
                   batch=int(info.batch_size), source=str(path))
