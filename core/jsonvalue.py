"""The type of the JSON documents the harness writes (``--json``, exports, the sweep's
results): what :func:`json.dumps` takes without a custom encoder.

No stage owns this module; every stage may import it (it imports nothing of the project).
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["JSON", "JSONObject", "JSONScalar"]

#: A JSON leaf.
JSONScalar: TypeAlias = str | int | float | bool | None
#: Any JSON value: a leaf, an array, or an object with string keys.
JSON: TypeAlias = JSONScalar | list["JSON"] | dict[str, "JSON"]
#: A JSON object.
JSONObject: TypeAlias = dict[str, JSON]
