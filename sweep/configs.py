"""Accelerator configurations as sweep values: field types, resolved JSON, digests.

A registered accelerator's config is a frozen dataclass whose no-argument construction
is the paper's design (``prosparsity.accel.base``). A sweep sets some of its fields; the
kind of each field (what a spec value must be) is read from the default instance's
value, so a new config field is sweepable without being listed anywhere:

* ``bool`` fields take TOML booleans; ``int`` fields integers (not booleans); ``float``
  fields integers or finite floats (stored as float; TOML's ``inf`` and ``nan`` are
  refused here, before a config's own range check); ``str`` fields (including ``StrEnum``
  choices such as ``sparsity``) strings, which the config itself validates;
* fields holding anything else (tables, nested specs) cannot be swept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Any


class FieldKind(StrEnum):
    """What a spec value for a config field must be."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    OTHER = "other"  # not sweepable


def field_kinds(config_type: type) -> dict[str, FieldKind]:
    """Field name -> kind, for the fields of ``config_type()`` (init fields only)."""
    default = config_type()
    kinds: dict[str, FieldKind] = {}
    for f in dataclasses.fields(default):
        if not f.init:
            continue
        value = getattr(default, f.name)
        if isinstance(value, bool):
            kinds[f.name] = FieldKind.BOOL
        elif isinstance(value, int):
            kinds[f.name] = FieldKind.INT
        elif isinstance(value, float):
            kinds[f.name] = FieldKind.FLOAT
        elif isinstance(value, str):
            kinds[f.name] = FieldKind.STR
        else:
            kinds[f.name] = FieldKind.OTHER
    return kinds


def coerce(kind: FieldKind, value: Any) -> Any:
    """A spec value as the field takes it.

    Raises:
        TypeError: the value has the wrong type for ``kind`` (the message says which).
    """
    if kind is FieldKind.BOOL:
        if isinstance(value, bool):
            return value
        raise TypeError(f"must be true or false, got {value!r}")
    if kind is FieldKind.INT:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"must be an integer, got {value!r}")
    if kind is FieldKind.FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if not math.isfinite(number):  # TOML has inf and nan; 1e400 reads as inf
                raise TypeError(f"must be a finite number, got {value!r}")
            return number
        raise TypeError(f"must be a number, got {value!r}")
    if kind is FieldKind.STR:
        if isinstance(value, str):
            return value
        raise TypeError(f"must be a string, got {value!r}")
    raise TypeError("cannot be swept (it is not a number, string or boolean)")


def _plain(value: Any) -> Any:
    """A config value as plain JSON data (enums by value, tables as objects)."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return float(value)
    return str(value)


def config_json(config: Any) -> dict[str, Any]:
    """The full resolved configuration as a JSON object (every field, defaults too)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)
            if f.init}


def canonical(obj: Any) -> str:
    """Canonical JSON text (sorted keys, no spaces): what digests and tables store."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(obj: Any) -> str:
    """SHA-256 hex digest of :func:`canonical` ``obj``."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()

