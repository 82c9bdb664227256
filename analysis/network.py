"""The network a trace describes, and where its spike data is read from.

* :class:`Network`: the in-network layer records in execution order with the trace's
  ``T``, batch and paper-workload name: the typed layer metadata every cost model prices
  (it holds no data and serialises to JSON);
* :class:`Workload`: a network plus a :class:`SpikeSource` to read its layers' inputs
  from: an open :class:`~prosparsity.traces.reader.TraceReader` (one open file per command:
  every read goes through it), the arrays of an authors' ``.npz`` dump
  (:class:`ArraySource`), or nothing (a shapes-only paper workload).

Record conventions (see :class:`prosparsity.traces.schema.LayerRecord` and its typed
``parsed`` params): ``time_steps`` and ``batch`` may sit in a record's params; otherwise
the network's own values apply. An attention block is one ``attention`` record; its
spike operands are ``attention_operand`` records whose params name it (``attention``)
and the operand (``operand``: ``q``, ``k``, ``v``), or, in the authors' dumps, data keyed
``<attention name>_<operand>``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.params import AttentionOperandParams, MissingParam
from prosparsity.traces.schema import LayerKind, LayerRecord

if TYPE_CHECKING:
    from prosparsity.traces.reader import TraceReader

log = logging.getLogger(__name__)

__all__ = ["ArraySource", "LoaderSource", "Network", "SpikeSource", "Workload"]


@runtime_checkable
class SpikeSource(Protocol):
    """Where a workload's layer inputs are read from (a ``TraceReader`` is one)."""

    def read(self, name: str) -> np.ndarray:
        """The whole stored input of layer ``name`` (uint8 or bool values)."""
        ...

    def read_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        """Entries ``[start, stop)`` along ``axis`` of layer ``name``."""
        ...

    def iter_chunks(self, name: str, axis0_chunk: int) -> Iterator[np.ndarray]:
        """Layer ``name`` in slabs of ``axis0_chunk`` entries of its first axis."""
        ...

    # A source may also offer the stored bytes of a binary layer, bit-packed along its
    # last axis (``np.packbits``), which the fused kernel reads without unpacking:
    # ``read_packed(name)`` and ``read_packed_range(name, axis, start, stop)``, as a
    # ``TraceReader`` does. See :meth:`Workload.packed`.


class _WholeLayerSource:
    """Ranges and slabs of a source that reads whole layers (:meth:`read`)."""

    def read(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def read_range(self, name: str, axis: int, start: int, stop: int) -> np.ndarray:
        return self.read(name)[(slice(None),) * axis + (slice(start, stop),)]

    def iter_chunks(self, name: str, axis0_chunk: int) -> Iterator[np.ndarray]:
        data = self.read(name)
        for start in range(0, data.shape[0], axis0_chunk):
            yield data[start : start + axis0_chunk]


class ArraySource(_WholeLayerSource):
    """A :class:`SpikeSource` over in-memory arrays or an open ``np.load`` of an
    ``.npz``; arrays are read on demand, so a lazily loaded ``NpzFile`` stays lazy."""

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        self._arrays = arrays

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._arrays[name])


class LoaderSource(_WholeLayerSource):
    """A :class:`SpikeSource` over a ``name -> array`` function."""

    def __init__(self, loader: Callable[[str], np.ndarray]) -> None:
        self._loader = loader

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._loader(name))


class _SampleSource(_WholeLayerSource):
    """Sample ``b`` of a base source: the index ``b`` of every layer's ``B`` axis."""

    def __init__(self, base: SpikeSource, sample: int, axes: Mapping[str, int],
                 ndim: Mapping[str, int]) -> None:
        self._base, self._sample, self._axes, self._ndim = base, sample, axes, ndim

    def read(self, name: str) -> np.ndarray:
        if name not in self._axes:
            return self._base.read(name)
        return self._base.read_range(name, self._axes[name], self._sample, self._sample + 1)

    def packed_reader(self) -> Callable[[str], np.ndarray | None] | None:
        """Packed reads of this sample when the base source has them (see
        :meth:`Workload.packed`)."""
        whole = getattr(self._base, "read_packed", None)
        ranged = getattr(self._base, "read_packed_range", None)
        if whole is None or ranged is None:
            return None

        def read_packed(name: str) -> np.ndarray | None:
            if name not in self._axes:
                return whole(name)
            axis = self._axes[name]
            if axis == self._ndim[name] - 1:  # the packed axis itself: unpacked reads
                return None
            return ranged(name, axis, self._sample, self._sample + 1)

        return read_packed


@dataclass(frozen=True)
class Network:
    """The layers to count and price, without data.

    Attributes:
        name: paper workload name or trace model name.
        layers: the in-network records in execution order (GEMM kinds plus ``lif``,
            ``layernorm``, ``attention``, ``maxpool2d``).
        paper_workload: set when the network is one of the paper's 19 workloads (its
            name in ``workloads.json``), which enables the paper's tables (energy DRAM
            traffic, reported figures).
        time_steps: T for records that do not carry ``time_steps`` themselves.
        batch: batch size for records that do not carry ``batch`` themselves.
        source: where it came from (a path, ``paper:NAME``), for messages.
        hint: advice appended to errors about a missing layer parameter (a trace
            imported without ``--workload`` has no layer shapes), or ``""``.
    """

    name: str
    layers: tuple[LayerRecord, ...]
    paper_workload: str | None = None
    time_steps: int = 1
    batch: int = 1
    source: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        names = [r.name for r in self.layers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise TraceError(self.source or self.name, f"duplicate layer names {dup}")
        if self.time_steps < 1 or self.batch < 1:
            raise TraceError(self.source or self.name, "time_steps and batch must be >= 1")

    @property
    def where(self) -> str:
        """The name messages use for this network (its source, else its name)."""
        return self.source or self.name

    def error(self, exc: ConfigError) -> TraceError:
        """``exc`` (a bad or missing layer parameter) as an error naming this network's
        source, with :attr:`hint` when a parameter is missing."""
        hint = self.hint if isinstance(exc, MissingParam) else ""
        return TraceError(self.where, f"{exc}{hint}")

    @functools.cached_property
    def _by_name(self) -> dict[str, LayerRecord]:
        return {record.name: record for record in self.layers}

    def layer(self, name: str) -> LayerRecord:
        """The record named ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise TraceError(self.where, "no such layer", layer=name) from None

    def time_steps_of(self, record: LayerRecord) -> int:
        """T of a record: its ``time_steps`` parameter, else the network's."""
        return record.parsed.time_steps_or(self.time_steps)

    def batch_of(self, record: LayerRecord) -> int:
        """Batch size of a record: its ``batch`` parameter, else the network's."""
        return record.parsed.batch_or(self.batch)

    def operand_records(self, attention: LayerRecord) -> dict[str, LayerRecord]:
        """``operand -> attention_operand record`` of an attention record (may be empty).

        Operands name their block in ``params.attention``; an operand record without it
        belongs to the block whose name prefixes its own (``<block>_<operand>``).
        """
        found: dict[str, LayerRecord] = {}
        for rec in self.layers:
            if rec.kind is not LayerKind.ATTENTION_OPERAND:
                continue
            p = rec.parsed
            assert isinstance(p, AttentionOperandParams)
            if p.attention == attention.name and p.operand:
                found[p.operand] = rec
            elif p.attention is None and rec.name.startswith(attention.name + "_"):
                found[rec.name[len(attention.name) + 1 :]] = rec
        return found

    def ops(self) -> Iterator[LayerRecord]:
        """The priced operators in execution order.

        Attention operand records that belong to an attention record of this network are
        priced as part of that attention block, so they are skipped here.
        """
        owned = {
            op.name
            for r in self.layers
            if r.kind is LayerKind.ATTENTION
            for op in self.operand_records(r).values()
        }
        for record in self.layers:
            if record.name not in owned:
                yield record

    def to_json(self) -> dict[str, Any]:
        """A JSON document of the network (records with their raw params, converted as
        a trace file stores them)."""
        from prosparsity.traces.metadata import jsonable

        return {
            "name": self.name,
            "paper_workload": self.paper_workload,
            "time_steps": self.time_steps,
            "batch": self.batch,
            "source": self.source,
            "hint": self.hint,
            "layers": [
                {
                    "name": r.name,
                    "kind": str(r.kind),
                    "params": jsonable(dict(r.params)),
                    "shape": list(r.shape),
                    "layout": r.layout,
                    "levels": list(r.levels),
                    "in_network": r.in_network,
                }
                for r in self.layers
            ],
        }

    @staticmethod
    def from_json(doc: Mapping[str, Any]) -> Network:
        """The inverse of :meth:`to_json`."""
        from prosparsity.traces.metadata import tuplify

        return Network(
            name=str(doc["name"]),
            layers=tuple(
                LayerRecord(
                    name=r["name"],
                    kind=r["kind"],
                    params=tuplify(r["params"]),
                    shape=tuple(r["shape"]),
                    layout=r["layout"],
                    levels=tuple(r["levels"]),
                    in_network=bool(r["in_network"]),
                )
                for r in doc["layers"]
            ),
            paper_workload=doc.get("paper_workload"),
            time_steps=int(doc["time_steps"]),
            batch=int(doc["batch"]),
            source=str(doc.get("source", "")),
            hint=str(doc.get("hint", "")),
        )


@dataclass(frozen=True)
class Workload(Network):
    """A :class:`Network` with the spike data of its layers.

    Attributes:
        spikes: where the layer inputs are read from (``None``: layer shapes only).
    """

    spikes: SpikeSource | None = None

    @property
    def network(self) -> Network:
        """The network without its data."""
        return Network(
            self.name, self.layers, self.paper_workload, self.time_steps, self.batch,
            self.source, self.hint,
        )  # fmt: skip

    @property
    def has_data(self) -> bool:
        """True when spike data can be read (False for a shapes-only paper workload)."""
        return self.spikes is not None

    def data(self, layer: str) -> np.ndarray:
        """The stored input tensor of a layer (or of an attention operand key).

        Raises:
            TraceError: the workload has no data, or none for ``layer``.
        """
        if self.spikes is None:
            raise TraceError(
                self.where,
                "this workload has layer shapes only (no spike data); "
                "simulate a captured or imported trace instead",
                layer=layer,
            )
        try:
            return self.spikes.read(layer)
        except KeyError:
            raise TraceError(self.where, "no spike data stored", layer) from None

    def packed(self, layer: str) -> np.ndarray | None:
        """The stored input of a binary layer (of known shape and levels), bit-packed
        along its last axis (``np.packbits``), when the source stores it so (a trace
        does); else ``None`` (read the values with :meth:`data`).

        Raises:
            TraceError: the workload has no data, or none for ``layer``.
        """
        if self.spikes is None:
            self.data(layer)  # the error of a shapes-only workload
        if isinstance(self.spikes, _SampleSource):
            read = self.spikes.packed_reader()
        else:
            read = getattr(self.spikes, "read_packed", None)
        record = self.layer(layer)
        if read is None or not record.shape or not record.levels or not record.binary:
            return None
        return read(layer)

    def attention_operand(self, attention: LayerRecord, operand: str) -> np.ndarray:
        """Spike data of one operand (``q``, ``k``, ``v``) of an attention record."""
        record = self.operand_records(attention).get(operand)
        return self.data(record.name if record is not None else f"{attention.name}_{operand}")

    # -- samples -----------------------------------------------------------------------

    def _sample_axes(self) -> dict[str, int]:
        return {
            r.name: r.axes.index("B")
            for r in self.layers
            if r.has_data and "B" in r.axes and len(r.axes) == len(r.shape)
        }

    def samples(self) -> int:
        """Samples held: the length of the ``B`` axis of the data records (1 if none).

        Raises:
            TraceError: when the records disagree on the length of ``B``.
        """
        sizes = {name: self.layer(name).shape[axis] for name, axis in self._sample_axes().items()}
        distinct = sorted(set(sizes.values()))
        if len(distinct) > 1:
            detail = ", ".join(f"{n}: {b}" for n, b in sizes.items())
            raise TraceError(self.where, f"layers disagree on the number of samples (B: {detail})")
        return distinct[0] if distinct else 1

    def sample(self, index: int) -> Workload:
        """Sample ``index`` alone, as a one-sample trace holding only that index would be:
        every data record's ``B`` axis cut to length 1, batch 1 (the network's and every
        record's ``batch`` parameter), data read on demand.

        Raises:
            TraceError: a data record without a ``B`` axis (its samples cannot be
                separated) when the workload holds several samples.
        """
        if self.spikes is None:
            raise TraceError(self.where, "a shapes-only workload has no samples")
        n = self.samples()
        if not 0 <= index < n:
            raise TraceError(self.where, f"sample {index} out of range (0..{n - 1})")
        axes = self._sample_axes()
        records = []
        for rec in self.layers:
            if rec.parsed.batch is not None:  # a record's own batch is the trace's: now 1
                rec = replace(rec, params={**rec.params, "batch": 1})
            if rec.has_data:
                if rec.name not in axes:
                    raise TraceError(
                        self.where,
                        f"layout '{rec.layout}' has no B axis: cannot separate its {n} "
                        "samples (analyse the batch as one GEMM instead)",
                        rec.name,
                    )
                shape = list(rec.shape)
                shape[axes[rec.name]] = 1
                rec = replace(rec, shape=tuple(shape))
            records.append(rec)
        return Workload(
            name=self.name, layers=tuple(records), paper_workload=self.paper_workload,
            time_steps=self.time_steps, batch=1, source=self.source, hint=self.hint,
            spikes=_SampleSource(self.spikes, index, axes,
                                 {r.name: len(r.shape) for r in self.layers}),
        )  # fmt: skip

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

        ``time_steps`` defaults to the first record's ``time_steps`` parameter, else 1.
        """
        layers = tuple(r for r in layers if r.in_network)
        if time_steps is None:
            time_steps = next(
                (r.parsed.time_steps for r in layers if r.parsed.time_steps is not None), 1
            )
        return cls(
            name=name, layers=layers, paper_workload=paper_workload, time_steps=time_steps,
            batch=batch, source=source or f"arrays:{name}", spikes=ArraySource(arrays),
        )  # fmt: skip

    @classmethod
    def from_paper(
        cls, name: str, arrays: Mapping[str, Any] | None = None, *, corrected: bool = False
    ) -> Workload:
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
        time_steps = next(
            (r.parsed.time_steps for r in layers if r.parsed.time_steps is not None), 1
        )
        if arrays is not None:
            return cls.from_arrays(
                name, layers, arrays, paper_workload=name, time_steps=time_steps,
                source=f"paper:{name}",
            )  # fmt: skip
        return cls(
            name=name, layers=layers, paper_workload=name, time_steps=time_steps,
            source=f"paper:{name}",
        )  # fmt: skip

    @classmethod
    def from_reader(cls, reader: TraceReader) -> Workload:
        """A workload over an open trace (format v1): every read goes through ``reader``,
        so a command opens each trace once and reads its metadata once. The workload is
        usable while the reader is open. ``paper_workload`` is the trace's ``workload``
        attribute when it names one of the paper's workloads."""
        info = reader.info
        return cls(
            name=info.workload or info.model,
            layers=tuple(r for r in reader.layers if r.in_network),
            paper_workload=info.workload or None,
            time_steps=int(info.time_steps),
            batch=int(info.batch_size),
            source=str(reader.path),
            hint=trace_hint(reader.path, info.workload, info.extra),
            spikes=reader,
        )


def trace_hint(path: str | Path, info_workload: str, info_extra: Mapping[str, str]) -> str:
    """A hint for a missing shape parameter: a trace imported from a dump without
    ``--workload`` has no layer shapes (they are not in the authors' dumps)."""
    if info_workload or "source" not in info_extra:
        return ""
    return (
        f"; {Path(path).name} was imported from {info_extra['source']} without --workload, "
        "so its layer shapes are unknown: re-import it with `prosparsity trace import DUMP "
        "--workload NAME` (`prosparsity trace workloads` lists the names)"
    )
