"""The counter registry: counter classes by ``kind``, and where each comes from.

A counter class registers itself with :func:`register_counter` (a class decorator): the
built-in PTB, SATO and LoAS counters do, and so can an accelerator plugin's module, for
the counters its configs ask for. A package may also advertise counters in the
entry-point group ``prosparsity.counters`` (entry-point name = the counter's ``kind``,
value = ``module:Class``); those are loaded the first time their kind is looked up (a
sweep's cache reading a plugin counter's results back, through :func:`counter_from_json`).
Nothing here imports numba.
"""

from __future__ import annotations

import importlib.metadata as metadata
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from prosparsity.core.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "counter_class",
    "counter_from_json",
    "counter_kinds",
    "counter_package",
    "known_kinds",
    "register_counter",
]

log = logging.getLogger(__name__)

#: The entry-point group where installed packages advertise counters.
ENTRY_POINT_GROUP = "prosparsity.counters"

_COUNTERS: dict[str, type] = {}
#: Packages of the counter classes loaded through entry points (``name version``).
_FROM_ENTRY_POINT: dict[type, str] = {}

C = TypeVar("C", bound=type)


def register_counter(cls: C) -> C:
    """Register a counter class under its ``kind`` (usable as a class decorator).

    The class must be hashable with value equality (a frozen dataclass whose fields are
    its parameters), have a non-empty string ``kind`` and the methods of
    :class:`~prosparsity.analysis.counters.Counter`. Registering the same class again
    does nothing.

    Raises:
        ConfigError: no ``kind``, a missing method, or a kind another class holds.
    """
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise ConfigError("counters.kind", f"{cls.__qualname__} has no string 'kind'")
    missing = [m for m in ("count", "to_json", "value_to_json", "value_from_json")
               if not callable(getattr(cls, m, None))]
    if missing:
        raise ConfigError(f"counters.{kind}", f"{cls.__qualname__} lacks {', '.join(missing)}")
    held = _COUNTERS.get(kind)
    if held is not None and held is not cls and _name(held) != _name(cls):
        raise ConfigError(f"counters.{kind}", f"kind {kind!r} is already registered by "
                          f"{_name(held)} ({counter_package(held)})")
    _COUNTERS[kind] = cls
    return cls


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def counter_kinds() -> dict[str, type]:
    """The registered counter classes by kind (entry points not yet looked up are not
    loaded here)."""
    return dict(_COUNTERS)


def known_kinds() -> tuple[str, ...]:
    """Every counter kind: the registered ones and those installed packages advertise
    through entry points (not loaded here), sorted."""
    import prosparsity.analysis.counters  # noqa: F401  (registers the built-in counters)

    advertised = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return tuple(sorted(set(_COUNTERS) | advertised))


def _entry_point(kind: str) -> type | None:
    """The counter class an installed package advertises under ``kind``, loaded and
    registered, or ``None``.

    Raises:
        ConfigError: the entry point fails to load, naming it and its package.
    """
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != kind:
            continue
        package = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ep.value
        try:
            cls = ep.load()
        except Exception as exc:  # a plugin's import error is reported, not raised through
            raise ConfigError(f"counters.{kind}", f"counter plugin {ep.value} ({package}) "
                              f"failed to load: {type(exc).__name__}: {exc}") from None
        if getattr(cls, "kind", None) != kind:
            raise ConfigError(f"counters.{kind}", f"entry point {ep.value} ({package}) "
                              f"gives kind {getattr(cls, 'kind', None)!r}, not {kind!r}")
        register_counter(cls)
        _FROM_ENTRY_POINT[cls] = package
        log.info("loaded counter %s from %s", kind, package)
        return cls
    return None


def counter_class(kind: str) -> type:
    """The counter class of ``kind``: registered, else advertised by an installed package.

    Raises:
        ConfigError: an unknown kind (naming the known ones), or a plugin that fails to
            load.
    """
    import prosparsity.analysis.counters  # noqa: F401  (registers the built-in counters)

    cls = _COUNTERS.get(kind) or _entry_point(kind)
    if cls is None:
        known = ", ".join(known_kinds())
        raise ConfigError("counters.kind", f"unknown counter {kind!r} (known: {known}; "
                          f"plugins add theirs through the entry-point group "
                          f"{ENTRY_POINT_GROUP!r})")
    return cls


def counter_from_json(doc: Mapping[str, Any]) -> Any:
    """A counter key from its ``to_json()`` object (``kind`` plus the parameters).

    Raises:
        ConfigError: an unknown kind or parameters the kind does not take.
    """
    params = dict(doc)
    kind = params.pop("kind", None)
    cls = counter_class(str(kind))
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"counters.{kind}", str(exc)) from None


def counter_package(counter: object) -> str:
    """Where a counter (key or class) comes from, for messages: its installed
    distribution and version (``prosparsity-harness 0.1.0``), else its module."""
    cls = counter if isinstance(counter, type) else type(counter)
    if cls in _FROM_ENTRY_POINT:
        return _FROM_ENTRY_POINT[cls]
    top = cls.__module__.split(".")[0]
    try:
        names = metadata.packages_distributions().get(top) or []
        if names:
            return f"{names[0]} {metadata.version(names[0])}"
    except Exception:  # metadata of a broken installation: fall back to the module
        pass
    return f"module {cls.__module__}"
