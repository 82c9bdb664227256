"""The one envelope of every ``--json`` document the CLI prints.

Every command's ``--json`` output is one object::

    {
      "tool": "prosparsity-harness",
      "tool_version": "0.1.0",
      "schema_version": 2,
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

Versions: 1, the first; 2 adds ``energy_area`` to every accelerator entry of ``simulate``
(the component energy, power and area model beside the paper's energy; every key of
version 1 keeps its meaning); 3 adds ``model`` to every accelerator entry of
``simulate`` (the registered model's ``name``, ``display``, ``package``, ``version`` and
``label``: a plugin's provenance), ``sample_ids`` beside ``samples``, and ``held_out``
under ``data`` (every key of version 2 keeps its meaning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from prosparsity.core.jsonvalue import JSON, JSONObject
from prosparsity.core.version import TOOL, tool_version

if TYPE_CHECKING:
    from prosparsity.inputs import Source

__all__ = ["SCHEMA_VERSION", "document"]

#: Version of the envelope's layout (not of the trace format).
SCHEMA_VERSION = 3


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
