"""A sweep's plan: every task, in a fixed order, before anything runs.

:func:`plan_sweep` reads each trace's attributes once (a copy of a trace, same content,
is swept once), resolves every accelerator configuration of the spec once (its full
configuration document and what it needs counted), and lays out one
:class:`CountTask` per (trace, sample, tile) carrying the union of the counters its
configurations need, and one :class:`PriceTask` per (count, configuration). The engine
(:mod:`prosparsity.sweep.engine`) runs them; the cache keys them by their ``inputs``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import ConfigError
from prosparsity.sweep.configs import canonical, config_json
from prosparsity.sweep.spec import AcceleratorSweep, SweepSpec
from prosparsity.sweep.stages import (
    TraceMeta,
    counters_json,
    needs_of,
    resolve_config,
    trace_meta,
)

if TYPE_CHECKING:
    from prosparsity.analysis.counters import Counter

__all__ = ["CountTask", "Plan", "PriceTask", "plan_sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CountTask:
    """One (trace, sample, tile) to count, with the counters its price tasks need.

    Attributes:
        trace: the trace.
        sample: sample index.
        tile: ``(tile_m, tile_k)``.
        counters: per-accelerator counters to count in the same pass.
    """

    trace: TraceMeta
    sample: int
    tile: tuple[int, int]
    counters: frozenset[Counter] = frozenset()

    @property
    def inputs(self) -> dict[str, Any]:
        """What the result depends on (the cache key's inputs)."""
        return {"trace_sha256": self.trace.sha256, "sample": self.sample,
                "samples": self.trace.samples, "tile_m": self.tile[0], "tile_k": self.tile[1],
                "counters": counters_json(self.counters)}

    def describe(self) -> str:
        return (f"counting {self.trace.path} sample {self.sample} at tile "
                f"{self.tile[0]}x{self.tile[1]}")


@dataclass(frozen=True)
class PriceTask:
    """One accelerator configuration to price on one counted sample.

    Attributes:
        count: the count task it consumes.
        accelerator: registry name.
        items: config fields set, as ``(name, value)`` pairs (the tile included for a
            tiled accelerator).
        tiled: the accelerator has tile fields (rows carry the tile).
        config_text: the full resolved configuration, canonical JSON.
    """

    count: CountTask
    accelerator: str
    items: tuple[tuple[str, Any], ...]
    tiled: bool
    config_text: str

    @property
    def settings(self) -> dict[str, Any]:
        """Config fields set: field -> value."""
        return dict(self.items)

    @property
    def config(self) -> dict[str, Any]:
        """The full resolved configuration (JSON object)."""
        return json.loads(self.config_text)

    @property
    def inputs(self) -> dict[str, Any]:
        c = self.count
        return {"trace_sha256": c.trace.sha256, "sample": c.sample, "samples": c.trace.samples,
                "accelerator": self.accelerator, "config": self.config}

    def describe(self) -> str:
        where = f" at tile {self.count.tile[0]}x{self.count.tile[1]}" if self.tiled else ""
        fields = ", ".join(f"{k}={v!r}" for k, v in self.items
                           if k not in ("tile_m", "tile_k"))
        return (f"pricing {self.accelerator}{where}{' (' + fields + ')' if fields else ''} on "
                f"{self.count.trace.path} sample {self.count.sample}")


@dataclass(frozen=True)
class Plan:
    """Every task of a sweep, in a fixed order (traces, samples, tiles, accelerators).

    Attributes:
        spec: the spec.
        traces: the traces (copies of one content swept once).
        counts: the count tasks.
        prices: the price tasks (each names its count).
    """

    spec: SweepSpec
    traces: tuple[TraceMeta, ...]
    counts: tuple[CountTask, ...]
    prices: tuple[PriceTask, ...]

    @property
    def n_tasks(self) -> int:
        return len(self.counts) + len(self.prices)


def _configs(accel: AcceleratorSweep, tiles: Sequence[tuple[int, int]]
             ) -> Iterator[tuple[tuple[int, int] | None, dict[str, Any]]]:
    for tile in tiles if accel.tiled else [None]:
        for point in accel.points():
            settings = dict(point)
            if tile is not None:
                settings.update(tile_m=tile[0], tile_k=tile[1])
            yield tile, settings


@dataclass(frozen=True)
class _Config:
    """One accelerator configuration of the spec, resolved once.

    Attributes:
        accelerator: registry name.
        items: config fields set (the tile included for a tiled accelerator).
        tiled: the accelerator has tile fields.
        tile: the tile point of the count it is priced from.
        config_text: the full resolved configuration, canonical JSON.
        counters: the counters it needs (``needs(config).counters``).
    """

    accelerator: str
    items: tuple[tuple[str, Any], ...]
    tiled: bool
    tile: tuple[int, int]
    config_text: str
    counters: frozenset[Counter]


def _resolved(spec: SweepSpec) -> list[_Config]:
    """Every configuration of the spec in spec order (accelerators, tiles, grid points),
    with the tile point of the count it is priced from and what it needs counted."""
    out = []
    for accel in spec.accelerators:
        for tile, settings in _configs(accel, spec.tiles):
            config = resolve_config(accel.name, settings)  # once: its needs and document
            need = needs_of(accel.name, config)
            at = tile if tile is not None else spec.tiles[0]
            if need.tile is not None and need.tile != at:  # pragma: no cover - a model bug
                raise ConfigError(f"accelerators.{accel.name}",
                                  f"needs statistics at tile {need.tile}, planned at {at}")
            out.append(_Config(accel.name, tuple(settings.items()), accel.tiled, at,
                               canonical(config_json(config)),
                               need.counters))
    return out


def plan_sweep(spec: SweepSpec, traces: Sequence[TraceMeta] | None = None) -> Plan:
    """All tasks of a sweep (reads every trace's attributes and hashes it).

    Each count task carries the union of the counters of the configurations priced from
    it, so one counting pass per (trace, sample, tile) serves all of them.

    Raises:
        TraceError: a trace that cannot be read.
    """
    metas = tuple(trace_meta(p) for p in spec.traces) if traces is None else tuple(traces)
    by_content: dict[str, TraceMeta] = {}
    for meta in metas:  # a copy of a trace is the same trace: count and price it once
        if meta.sha256 in by_content:
            log.warning("%s has the same content as %s: swept once", meta.path,
                        by_content[meta.sha256].path)
        else:
            by_content[meta.sha256] = meta
    metas = tuple(by_content.values())
    configs = _resolved(spec)
    counters: dict[tuple[int, int], frozenset[Counter]] = {t: frozenset() for t in spec.tiles}
    for c in configs:
        counters[c.tile] |= c.counters
    counts: list[CountTask] = []
    prices: list[PriceTask] = []
    for meta in metas:
        for sample in range(min(meta.samples, spec.samples or meta.samples)):
            by_tile = {t: CountTask(meta, sample, t, counters[t]) for t in spec.tiles}
            counts += by_tile.values()
            prices += (PriceTask(by_tile[c.tile], c.accelerator, c.items, c.tiled,
                                 c.config_text) for c in configs)
    return Plan(spec=spec, traces=metas, counts=tuple(counts), prices=tuple(prices))
