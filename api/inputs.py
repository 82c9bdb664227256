"""What the front door opens: a trace, an authors' spike dump, or a paper workload.

:func:`open` is the one way every command, notebook and bridge reads its input: it
returns a :class:`Trace` (the workload with its spike data, and the :class:`Source` that
report titles and the ``--json`` envelope describe it by), open for the duration of a
``with``. A trace file is opened once and its metadata read once; every read of a run
goes through that one open reader.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError, HarnessWarning, TraceError
from prosparsity.core.hashing import file_sha256
from prosparsity.core.jsonvalue import JSONObject
from prosparsity.traces.provenance import Provenance

if TYPE_CHECKING:
    from prosparsity.analysis.network import Workload
    from prosparsity.traces.reader import TraceReader

__all__ = ["InputKind", "Source", "Trace", "open", "refuse_shapes_only", "trace_source"]


class InputKind(StrEnum):
    """What a run read."""

    TRACE = "trace"  # an HDF5 trace file
    DUMP = "dump"  # an authors' .npz spike dump, with a paper workload's shapes
    WORKLOAD = "workload"  # a paper workload by name: layer shapes, no spikes


@dataclass(frozen=True)
class Source:
    """The input of a run, as report titles and the ``--json`` envelope describe it.

    Attributes:
        kind: trace file, dump or paper workload.
        path: the file (``None`` for a paper workload).
        workload: the paper workload it is priced as, or ``None``.
        trace_schema: the trace format version (traces only).
        provenance: synthetic spikes, layers skipped at capture.
    """

    kind: InputKind
    path: Path | None = None
    workload: str | None = None
    trace_schema: int | None = None
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def label(self) -> str:
        """The file name, or the workload's name."""
        return self.path.name if self.path is not None else (self.workload or "")

    def describe(self, workload: str) -> str:
        """One line for a report's page: ``trace: lenet5.h5`` and what the provenance rule
        says of its spikes (``synthetic spikes``, layers skipped at capture)."""
        facts = [note.split(": ", 1)[-1].rstrip(".")
                 for _, note in self.provenance.facts(workload)]
        return f"{self.kind}: {self.label}" + (f" ({'; '.join(facts)})" if facts else "")

    def to_json(self) -> JSONObject:
        """The envelope's ``input`` object (hashes the file)."""
        return {
            "kind": str(self.kind),
            "path": None if self.path is None else str(self.path),
            "sha256": None if self.path is None else file_sha256(self.path),
            "trace_schema": self.trace_schema,
            "workload": self.workload,
            **self.provenance.to_json(),
        }


@dataclass(frozen=True)
class Trace:
    """An opened input: the network with its spike data, and where it came from.

    Attributes:
        workload: the network and its spike data (:class:`~prosparsity.analysis.
            network.Workload`), read lazily, layer by layer.
        source: the input as titles and the envelope describe it.
    """

    workload: Workload
    source: Source

    @property
    def name(self) -> str:
        """The workload's name."""
        return self.workload.name

    @property
    def samples(self) -> int:
        """Samples held (the length of the ``B`` axis; 1 without one)."""
        return self.workload.samples() if self.workload.has_data else 1

    @property
    def gemm_layers(self) -> int:
        """The layers :func:`prosparsity.count` counts per sample (linear, conv,
        attention blocks)."""
        from prosparsity.analysis.density import analysed_records

        return len(analysed_records(self.workload.layers))


@contextmanager
def open(target: str | Path, workload: str | None = None) -> Iterator[Trace]:  # noqa: A001
    """The input ``target`` names, open for the duration of the ``with``.

    ``target`` is a trace file, an ``.npz`` spike dump of one of the paper's workloads
    (keyed as the authors key it; the workload is ``workload`` or the file's stem), or
    the name of a paper workload (layer shapes only)::

        with prosparsity.open("lenet5.h5") as trace:
            stats = prosparsity.count(trace)

    Raises:
        HarnessError: nothing of that name, or an ``.npz`` without a paper workload.
    """
    import os

    from prosparsity.analysis.network import Workload
    from prosparsity.core.paths import input_problem
    from prosparsity.traces.workloads import WORKLOADS

    path = Path(target)
    text = str(target)
    problem = input_problem(path, what="trace file")  # a FIFO is named, never opened
    if problem is None:
        if path.suffix == ".npz":
            with _open_npz(path, workload) as (name, arrays):
                yield Trace(Workload.from_paper(name, arrays=arrays),
                            Source(InputKind.DUMP, path, name))
            return
        from prosparsity.traces.reader import TraceReader

        with TraceReader(path) as reader:
            if workload and workload != reader.info.workload:
                raise ConfigError("--workload", f"{workload!r} applies to .npz dumps only: "
                                  f"the trace {path} carries its own layer records "
                                  f"(workload {reader.info.workload or 'none'}); re-import "
                                  "its dump with `prosparsity trace import DUMP --workload "
                                  "NAME` to attach another")
            opened = Workload.from_reader(reader)
            yield Trace(opened, trace_source(path, reader, opened.paper_workload or None))
        return
    if text in WORKLOADS:
        yield Trace(Workload.from_paper(text), Source(InputKind.WORKLOAD, None, text))
        return
    if os.path.lexists(path) or path.suffix in (".h5", ".hdf5", ".npz") or "/" in text:
        raise TraceError(path, problem)
    raise ConfigError("TRACE", f"{text!r} is neither a file nor a paper workload "
                      f"(known: {', '.join(WORKLOADS)})")


def trace_source(path: Path, reader: TraceReader, workload: str | None = None) -> Source:
    """The :class:`Source` of an open trace file (and, for a schema v1 file, one warning:
    it has no digest, so it was checked in a child process before it was read).

    Raises:
        TraceError: capture's attributes (skipped layers) are not what capture writes.
    """
    if reader.schema_version == 1:
        warnings.warn(
            f"{path}: a schema v1 trace, without a digest: checked in a child process first "
            f"(once per file content); `prosparsity trace upgrade {path}` rewrites it as v2",
            HarnessWarning, stacklevel=4)
    return Source(InputKind.TRACE, path, workload, reader.schema_version,
                  Provenance.of_info(reader.info, str(path)))


def refuse_shapes_only(trace: Trace, verb: str) -> None:
    """Refuse a paper workload known by its shapes only where spikes are needed.

    Raises:
        ConfigError: ``trace`` has no spike data.
    """
    if not trace.workload.has_data:
        raise ConfigError("TRACE", f"{trace.source.label!r} is a paper workload by name: "
                          f"layer shapes only, no spikes, so there is nothing to {verb}; "
                          "pass a trace or the workload's .npz spike dump (`prosparsity "
                          "simulate NAME` prices its shapes)")


@contextmanager
def _open_npz(path: Path, workload: str | None) -> Iterator[tuple[str, Mapping[str, object]]]:
    """A paper workload's ``.npz`` dump, read as ``trace import`` reads it (one error
    boundary: :func:`prosparsity.traces.importer.open_dump`)."""
    from prosparsity.traces.importer import open_dump

    with open_dump(path, workload) as planned:
        assert planned.workload is not None
        yield planned.workload, planned.dump
