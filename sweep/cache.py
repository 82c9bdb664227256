"""A content-addressed cache of stage results, safe to share between sweeps.

Key: the SHA-256 of the canonical JSON of ``{"stage", "harness", ...the stage's
inputs}``, where the inputs name the trace by its content (``trace_sha256``), never by
its path, and ``harness`` is :func:`harness_version` (the package version plus a digest
of the source of every stage a result depends on, so an edited cost model never serves
stale numbers). Layout::

    CACHE/v1/<stage>/<key[:2]>/<key>.json     {"key": ..., "inputs": {...}, "result": {...}}
    CACHE/v1/stats/<key[:2]>/<key>.json|.npz  a count's ModelStats (its save/load format)

Entries are plain JSON (no pickle anywhere on disk); a count's statistics are stored in
:class:`~prosparsity.analysis.stats.ModelStats`' own format (a JSON document and an npz
of int64 arrays, read back with ``allow_pickle=False`` by :meth:`ModelStats.load`),
written before the count's entry, so an entry never points at missing statistics that
were not being written. Each file is written to a temporary name in its folder and
renamed into place (:func:`prosparsity.core.atomic.atomic_write_bytes`: ``os.replace``,
atomic on POSIX), so a reader sees a whole file or none: a sweep killed with ``kill -9``
leaves no partial entry, and two sweeps sharing a cache may write the same entry at once
(both write the same bytes; the last rename wins). An entry that does not parse, whose
key does not match, or whose statistics do not load is treated as missing and
overwritten.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import zipfile
from collections.abc import Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from prosparsity.analysis.stats import ModelStats
from prosparsity.core.atomic import atomic_write_bytes
from prosparsity.core.errors import ConfigError, HarnessError
from prosparsity.sweep.configs import digest

__all__ = ["LAYOUT_VERSION", "ResultCache", "harness_version"]

log = logging.getLogger(__name__)

#: Version of the on-disk layout (the ``v1`` folder).
LAYOUT_VERSION = "v1"

#: The folder of counts' statistics.
STATS = "stats"

#: Packages whose source a stage result depends on.
_STAGE_PACKAGES = ("core", "traces", "analysis", "accel", "sweep")


@cache
def harness_version() -> str:
    """``<package version>+<digest of the stage packages' source>``."""
    try:
        base = version("prosparsity-harness")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        base = "0+unknown"
    h = hashlib.sha256()
    for pkg in _STAGE_PACKAGES:
        mod = importlib.import_module(f"prosparsity.{pkg}")
        folder = Path(next(iter(mod.__path__)))
        for src in sorted(folder.rglob("*.py")):
            h.update(f"{pkg}/{src.relative_to(folder).as_posix()}\0".encode())
            h.update(src.read_bytes())
    return f"{base}+{h.hexdigest()[:16]}"


class ResultCache:
    """Stage results on disk, by content key.

    Args:
        root: the cache folder (created on first write).
        harness: the version string keys include (default :func:`harness_version`).
    """

    def __init__(self, root: str | Path, harness: str | None = None) -> None:
        self.root = Path(root)
        self.harness = harness_version() if harness is None else harness
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError("--cache", f"{self.root} is not a directory")

    def key(self, stage: str, inputs: Mapping[str, Any]) -> str:
        """The content key of a stage result."""
        doc = {"stage": stage, "harness": self.harness, **inputs}
        return digest(doc)

    def _path(self, stage: str, key: str) -> Path:
        return self.root / LAYOUT_VERSION / stage / key[:2] / f"{key}.json"

    def get(self, stage: str, key: str) -> dict[str, Any] | None:
        """The stored result, or ``None`` when missing or unreadable."""
        path = self._path(stage, key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("cache entry %s unreadable (%s): recomputing", path, exc)
            return None
        if not isinstance(doc, dict) or doc.get("key") != key or not isinstance(
                doc.get("result"), dict):
            log.warning("cache entry %s does not hold key %s: recomputing", path, key)
            return None
        return doc["result"]

    def put(self, stage: str, key: str, inputs: Mapping[str, Any],
            result: Mapping[str, Any]) -> Path:
        """Store a result atomically (temporary name, then rename).

        Raises:
            WriteError: the entry cannot be written (path and reason).
        """
        text = json.dumps({"key": key, "stage": stage, "harness": self.harness,
                           "inputs": dict(inputs), "result": dict(result)},
                          sort_keys=True, allow_nan=False)
        return atomic_write_bytes(self._path(stage, key), text.encode(), "cache entry")

    def _stats_stem(self, key: str) -> Path:
        return self.root / LAYOUT_VERSION / STATS / key[:2] / key

    def put_stats(self, key: str, stats: ModelStats) -> Path:
        """Store a count's statistics (``ModelStats`` JSON + npz), each file atomically.

        Raises:
            WriteError: a file cannot be written (path and reason).
        """
        return stats.save(self._stats_stem(key), "cache entry")[0]

    def get_stats(self, key: str) -> ModelStats | None:
        """A count's stored statistics (:meth:`ModelStats.load`), or ``None`` when
        missing or unreadable."""
        stem = self._stats_stem(key)
        if not stem.with_suffix(".json").is_file():
            return None
        try:
            return ModelStats.load(stem)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile,
                HarnessError) as exc:
            log.warning("cached statistics %s unreadable (%s): recounting", stem, exc)
            return None

    def entries(self, stage: str) -> int:
        """Number of stored entries of ``stage`` (tests, diagnostics)."""
        folder = self.root / LAYOUT_VERSION / stage
        return sum(1 for _ in folder.glob("*/*.json")) if folder.is_dir() else 0
