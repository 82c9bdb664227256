"""The one envelope of every ``--json`` document the CLI prints.

Every command's ``--json`` output is one object::

    {
      "tool": "prosparsity-harness",
      "tool_version": "0.1.0",
      "schema_version": 1,
      "command": "simulate",
      "input": {"kind": "trace", "path": "t.h5", "sha256": "...", "trace_schema": 2,
                "workload": null, "synthetic": false, "skipped_at_capture": [...],
                "gemms_without_neuron": []} | null,
      "tile": {"tile_m": 256, "tile_k": 16} | null,
      "data": {...}
    }

``schema_version`` is the version of this envelope (:data:`SCHEMA_VERSION`); a change of
its keys or of the meaning of a key under ``data`` raises it. ``input`` describes what
the command read (``kind``: ``trace``, ``dump`` for an authors' ``.npz``, ``workload``
for a paper workload known by its shapes only); ``sha256`` is the SHA-256 of the whole
file, as ``sha256sum`` prints it. ``tile`` is the ProSparsity tile the numbers were
counted at, where one applies. The command's own document sits under ``data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from prosparsity.core.hashing import file_sha256
from prosparsity.core.jsonvalue import JSON, JSONObject
from prosparsity.traces.provenance import Provenance

__all__ = ["SCHEMA_VERSION", "TOOL", "InputKind", "Source", "document",
           "tool_version"]

#: Version of the envelope's layout (not of the trace format).
SCHEMA_VERSION = 1
TOOL = "prosparsity-harness"


def tool_version() -> str:
    """The installed version of prosparsity-harness."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL)
    except PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0+unknown"


class InputKind(StrEnum):
    """What a command read."""

    TRACE = "trace"  # an HDF5 trace file
    DUMP = "dump"  # an authors' .npz spike dump, with a paper workload's shapes
    WORKLOAD = "workload"  # a paper workload by name: layer shapes, no spikes


@dataclass(frozen=True)
class Source:
    """The input of a command, as the envelope and the report titles describe it.

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


def document(
    command: str,
    data: Mapping[str, JSON] | list[JSON],
    *,
    source: Source | None = None,
    tile: tuple[int, int] | None = None,
) -> JSONObject:
    """The envelope around one command's ``--json`` data (see the module docstring)."""
    return {
        "tool": TOOL,
        "tool_version": tool_version(),
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "input": None if source is None else source.to_json(),
        "tile": None if tile is None else {"tile_m": int(tile[0]), "tile_k": int(tile[1])},
        "data": data,
    }
