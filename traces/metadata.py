"""The ``/meta`` document of a v2 trace: one JSON object, written and parsed here.

::

    {"info": {"model": ..., "dataset": ..., "weights": ..., "checkpoint": ...,
              "checkpoint_sha256": ..., "workload": ..., "tool_version": ...,
              "created": ..., "time_steps": T, "batch_size": B, "samples": S,
              "extra": {"name": "text", ...}},
     "layers": [{"name": ..., "kind": ..., "params": {...}, "shape": [...],
                 "layout": "T,C,H,W", "levels": [0, 1], "in_network": true,
                 "encoding": "packbits" | "uint8" | null, "pool": [offset, bytes]?}, ...]}

The parser is strict (every field present with its type, known kinds and encodings, no
duplicate names) and a pure function of the bytes, so it is remembered per document.
Problems raise :class:`Bad`, which the reader turns into a
:class:`~prosparsity.core.errors.TraceError` naming the file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from prosparsity.core.errors import TraceError
from prosparsity.traces.layout import DATA, ENCODINGS, INFO_INT, INFO_STR, POOL, WEIGHTS
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo

__all__ = ["Bad", "Meta", "check_info", "jsonable", "parse_meta", "record_json", "tuplify"]


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and mappings as plain JSON data."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def tuplify(value: Any) -> Any:
    """JSON lists back to tuples, so read records compare equal to written ones."""
    if isinstance(value, list):
        return tuple(tuplify(v) for v in value)
    if isinstance(value, dict):
        return {k: tuplify(v) for k, v in value.items()}
    return value


def check_info(path: str | Path, info: TraceInfo) -> None:
    """The file attributes every reader relies on: known weights, positive counts.

    Raises:
        TraceError: unknown ``weights``, a count that is not a whole number >= 1.
    """
    if info.weights not in WEIGHTS:
        raise TraceError(
            path,
            f"TraceInfo.weights must be one of {', '.join(WEIGHTS)}, got '{info.weights}'",
        )
    for field in INFO_INT:
        value = getattr(info, field)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise TraceError(path, f"{field} must be a whole number >= 1, found {value!r}")


def record_json(
    record: LayerRecord, encoding: str | None, params: str, pool: tuple[int, int] | None
) -> dict[str, Any]:
    """One entry of the document's ``layers`` (``params``: the record's params as JSON
    text, already checked by the writer)."""
    doc = {
        "name": record.name,
        "kind": str(record.kind),
        "params": json.loads(params),
        "shape": list(record.shape),
        "layout": record.layout,
        "levels": list(record.levels),
        "in_network": bool(record.in_network),
        "encoding": encoding,
    }
    if pool is not None:
        doc["pool"] = list(pool)
    return doc


class Bad(ValueError):
    """A field of the v2 JSON document is invalid (turned into a TraceError)."""

    def __init__(self, problem: str, layer: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.layer = layer


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str,
         layer: str | None = None) -> Any:
    if key not in obj:
        raise Bad(f"{what} lacks the field '{key}'", layer)
    value = obj[key]
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not ok:
        raise Bad(f"{what} field '{key}' has the wrong type ({type(value).__name__})", layer)
    return value


def _int_list(value: Any, what: str, layer: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(_is_int(v) for v in value):
        raise Bad(f"layer field '{what}' must be a list of whole numbers", layer)
    return tuple(value)


def _parse_info(obj: Any) -> TraceInfo:
    if not isinstance(obj, dict):
        raise Bad("the metadata lacks the file attributes ('info')")
    values: dict[str, Any] = {k: _get(obj, k, str, "info") for k in INFO_STR}
    values.update({k: _get(obj, k, int, "info") for k in INFO_INT})
    extra = _get(obj, "extra", dict, "info")
    if not all(isinstance(v, str) for v in extra.values()):
        raise Bad("info field 'extra' must map names to strings")
    return TraceInfo(**values, extra=extra)


def _parse_layer(obj: Any, index: int) -> tuple[LayerRecord, str | None, tuple[int, int] | None]:
    if not isinstance(obj, dict):
        raise Bad(f"layer #{index} is not a JSON object")
    name = obj.get("name")
    label = name if isinstance(name, str) else f"#{index}"
    name = _get(obj, "name", str, "layer", label)
    kind_text = _get(obj, "kind", str, "layer", label)
    try:
        kind = LayerKind(kind_text)
    except ValueError:
        raise Bad(f"unknown layer kind '{kind_text}'", label) from None
    params = _get(obj, "params", dict, "layer", label)
    shape = _int_list(obj.get("shape"), "shape", label)
    levels = _int_list(obj.get("levels"), "levels", label)
    layout = _get(obj, "layout", str, "layer", label)
    in_network = _get(obj, "in_network", bool, "layer", label)
    encoding = obj.get("encoding")
    if kind.is_gemm:
        if encoding not in ENCODINGS:
            raise Bad(f"unknown data encoding {encoding!r}", label)
    elif encoding is not None:
        raise Bad(f"a {kind} record carries no data but declares encoding {encoding!r}", label)
    pool = obj.get("pool")
    if pool is not None:
        if not kind.is_gemm:
            raise Bad(f"a {kind} record carries no data but has a place in the pool", label)
        pool = _int_list(pool, "pool", label)
        if len(pool) != 2 or min(pool) < 0:
            raise Bad("layer field 'pool' must be [offset, bytes], both >= 0", label)
    rec = LayerRecord(name, kind, tuplify(params), shape, layout, levels, in_network)
    return rec, encoding, pool


@dataclass(frozen=True)
class Meta:
    """A v2 trace's parsed metadata document: the file attributes, the records, and per
    record with data its encoding and place (data set path; offset and bytes in /pool)."""

    info: TraceInfo
    layers: tuple[LayerRecord, ...]
    encodings: Mapping[str, str]
    where: Mapping[str, str]
    pool_at: Mapping[str, tuple[int, int]]


@functools.lru_cache(maxsize=32)
def parse_meta(raw: bytes) -> Meta:
    """Parse and check the ``/meta`` document ``raw``; raises :class:`Bad`.

    A pure function of the bytes (every value it returns is immutable), so it is
    remembered: a process that opens the same trace again (a sweep's tasks, a command
    visiting several tile sizes) parses its records once. Bad documents raise and are
    not remembered."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Bad(f"the metadata is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise Bad("the metadata lacks the layer list ('layers')")
    info = _parse_info(doc.get("info"))
    layers = []
    names: set[str] = set()
    encodings: dict[str, str] = {}
    where: dict[str, str] = {}
    pool_at: dict[str, tuple[int, int]] = {}
    for i, obj in enumerate(doc["layers"]):
        rec, enc, pool = _parse_layer(obj, i)
        if rec.name in names:
            raise Bad("duplicate layer name", rec.name)
        names.add(rec.name)
        if enc is not None:
            encodings[rec.name] = enc
            if pool is None:
                where[rec.name] = f"{DATA}/{i:05d}"
            else:
                where[rec.name] = POOL
                pool_at[rec.name] = (pool[0], pool[1])
        layers.append(rec)
    return Meta(info, tuple(layers), MappingProxyType(encodings), MappingProxyType(where),
                MappingProxyType(pool_at))
