"""The sweep engine: plan the tasks, run the missing ones on Dask, write the tables.

Tasks (``dask.distributed`` futures, ``Client.submit`` / ``as_completed``):

* one **count** task per (trace, sample, tile): :func:`prosparsity.sweep.stages.count`;
* one **price** task per (count, accelerator configuration):
  :func:`prosparsity.sweep.stages.price`, with the count's future (or its cached
  result) as argument, so Dask runs it after its count, on any worker. Accelerators
  without tile fields are priced once per configuration, from the first tile's count.

Arguments and results are small (paths, tile sizes, JSON-sized dataclasses); workers
read the traces themselves by path, so with ``--scheduler`` every worker must see the
traces at the same path (a shared filesystem). Every result is written to the
content-addressed cache (:mod:`prosparsity.sweep.cache`) by this process as it arrives,
so a sweep stopped at any point (even ``kill -9``) and started again computes only what
is missing, and a repeated sweep computes nothing and starts no cluster.

A worker lost mid-sweep (killed, crashed) is Dask's business: the scheduler reruns its
tasks elsewhere. A task that fails on its input (a :class:`HarnessError`) stops the
sweep with that message; results computed until then stay in the cache.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from prosparsity.core.errors import ConfigError, HarnessError
from prosparsity.sweep.cache import ResultCache
from prosparsity.sweep.configs import canonical
from prosparsity.sweep.results import SweepTables, build_tables, write_tables
from prosparsity.sweep.spec import AcceleratorSweep, SweepSpec
from prosparsity.sweep.stages import (
    CountStats,
    Priced,
    TraceMeta,
    config_document,
    count,
    price,
    trace_meta,
)

__all__ = [
    "CountTask",
    "Plan",
    "PriceTask",
    "SweepObserver",
    "SweepOutcome",
    "TaskError",
    "plan_sweep",
    "run_sweep",
]

log = logging.getLogger(__name__)

COUNT = "count"
PRICE = "price"


class TaskError(HarnessError):
    """A sweep task failed on its input; names the task and the problem."""


@dataclass(frozen=True)
class TaskFailure:
    """What a task returns instead of raising when its input is bad: the message.

    Returning it (rather than raising in the worker) keeps the workers' logs free of
    tracebacks for an error that is the user's input, not a bug.
    """

    message: str


def count_task(*args: Any) -> CountStats | TaskFailure:
    """:func:`~prosparsity.sweep.stages.count` as a task: input errors become a value."""
    try:
        return count(*args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


def price_task(stats: CountStats | TaskFailure, *args: Any) -> Priced | TaskFailure:
    """:func:`~prosparsity.sweep.stages.price` as a task: input errors become a value."""
    if isinstance(stats, TaskFailure):
        return stats
    try:
        return price(stats, *args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


@dataclass(frozen=True)
class CountTask:
    """One (trace, sample, tile) to count."""

    trace: TraceMeta
    sample: int
    tile: tuple[int, int]

    @property
    def inputs(self) -> dict[str, Any]:
        """What the result depends on (the cache key's inputs)."""
        return {"trace_sha256": self.trace.sha256, "sample": self.sample,
                "samples": self.trace.samples, "tile_m": self.tile[0], "tile_k": self.tile[1]}

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
    """Every task of a sweep, in a fixed order (traces, samples, tiles, accelerators)."""

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


def plan_sweep(spec: SweepSpec, traces: Sequence[TraceMeta] | None = None) -> Plan:
    """All tasks of a sweep (reads every trace's attributes and hashes it).

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
    resolved: dict[tuple[str, str], str] = {}
    counts: list[CountTask] = []
    prices: list[PriceTask] = []
    for meta in metas:
        for sample in range(meta.samples):
            by_tile = {tile: CountTask(meta, sample, tile) for tile in spec.tiles}
            counts += by_tile.values()
            for accel in spec.accelerators:
                for tile, settings in _configs(accel, spec.tiles):
                    memo = (accel.name, canonical(settings))
                    if memo not in resolved:
                        resolved[memo] = canonical(config_document(accel.name, settings))
                    task = by_tile[tile if tile is not None else spec.tiles[0]]
                    prices.append(PriceTask(task, accel.name, tuple(settings.items()),
                                            accel.tiled, resolved[memo]))
    return Plan(spec=spec, traces=metas, counts=tuple(counts), prices=tuple(prices))


class SweepObserver(Protocol):
    """What the engine reports while it runs (the CLI draws a progress bar from it)."""

    def started(self, total: int, cached: int, dashboard: str | None) -> None:
        """Before the first task: tasks in all, from cache, the dashboard (or None)."""

    def completed(self, stage: str) -> None:
        """After each computed task (``count`` or ``price``) is stored."""


class _Quiet:
    def started(self, total: int, cached: int, dashboard: str | None) -> None:
        pass

    def completed(self, stage: str) -> None:
        pass


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did and wrote.

    Attributes:
        plan: the tasks.
        computed: tasks run now.
        cached: tasks answered by the cache.
        tables: the result tables (also written to ``out``).
        files: paths written, by role (``results``, ``results_csv``, ``aggregate``, ...).
        dashboard: the Dask dashboard's address, when a cluster was used and serves one.
    """

    plan: Plan
    computed: int
    cached: int
    tables: SweepTables
    files: Mapping[str, Path] = field(default_factory=dict)
    dashboard: str | None = None


def default_workers() -> int:
    """Worker processes of the default local cluster: one per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                dashboard: bool = True) -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler``, else on a new ``LocalCluster``.

    Args:
        scheduler: address of a running scheduler (``tcp://HOST:PORT``).
        workers: worker processes of the local cluster (default: one per core); 0 runs
            the tasks in threads of this process (one worker, no subprocess).
        dashboard: serve the local cluster's dashboard on port 8787 (a free port when
            8787 is taken); without it the scheduler's HTTP server takes a free port.

    Raises:
        ConfigError: the scheduler cannot be reached.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError("--scheduler", f"cannot connect to {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = default_workers() if workers is None else workers
    if n < 0:
        raise ConfigError("--workers", f"must be >= 0, got {n}")
    # The scheduler serves HTTP even without a dashboard; off, it takes a free port (so
    # parallel sweeps and tests never collide on 8787) and is not announced.
    kw: dict[str, Any] = {"dashboard_address": ":8787" if dashboard else "127.0.0.1:0"}
    if n == 0:
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, **kw)
    else:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               host="127.0.0.1", **kw)
    with cluster, Client(cluster) as client:
        yield client


def _dashboard(client: Any) -> str | None:
    try:
        return client.dashboard_link if client.scheduler_info().get("services", {}).get(
            "dashboard") else None
    except (AttributeError, KeyError, OSError):
        return None


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    cache_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    dashboard: bool = True,
    client: Any | None = None,
    observer: SweepObserver | None = None,
) -> SweepOutcome:
    """Run a sweep and write its tables to ``out``.

    Args:
        spec: the validated spec.
        out: output folder (``results.parquet``, ``results.csv``, ``aggregate.parquet``,
            ``aggregate.csv``).
        cache_dir: the result cache (default ``OUT/cache``).
        scheduler: run on this Dask scheduler instead of a local cluster.
        workers: worker processes of the local cluster (see :func:`open_client`).
        dashboard: serve the local cluster's dashboard.
        client: an existing ``distributed.Client`` to use (overrides ``scheduler``).
        observer: progress reports.

    Returns:
        What was computed and written.

    Raises:
        TaskError: a task failed on its input; TraceError: a trace cannot be read.
    """
    obs = observer or _Quiet()
    out = Path(out)
    for path in (out, *out.parents):  # fail before any work, not after it
        if path.exists():
            if not path.is_dir():
                raise ConfigError("--out", f"{out}: {path} is not a folder")
            break
    cache = ResultCache(out / "cache" if cache_dir is None else cache_dir)
    plan = plan_sweep(spec)
    counts: dict[CountTask, CountStats] = {}
    prices: dict[PriceTask, Priced] = {}
    for task in plan.counts:
        doc = cache.get(COUNT, cache.key(COUNT, task.inputs))
        if doc is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                # the cached entry may come from a copy of the trace at another path
                counts[task] = replace(CountStats.from_json(doc), trace=task.trace.path)
    for task in plan.prices:
        doc = cache.get(PRICE, cache.key(PRICE, task.inputs))
        if doc is not None:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                prices[task] = Priced.from_json(doc)
    cached = len(counts) + len(prices)
    dashboard_link = None
    if cached < plan.n_tasks:
        ctx = contextlib.nullcontext(client) if client is not None else open_client(
            scheduler, workers, dashboard)
        with ctx as cl:
            dashboard_link = _dashboard(cl) if client is None and dashboard else None
            obs.started(plan.n_tasks, cached, dashboard_link)
            _compute(cl, plan, cache, counts, prices, obs)
    else:
        obs.started(plan.n_tasks, cached, None)
    tables = build_tables(plan, counts, prices, cache.harness)
    files = write_tables(tables, out)
    return SweepOutcome(plan=plan, computed=plan.n_tasks - cached, cached=cached,
                        tables=tables, files=files, dashboard=dashboard_link)


def _compute(client: Any, plan: Plan, cache: ResultCache, counts: dict[CountTask, CountStats],
             prices: dict[PriceTask, Priced], obs: SweepObserver) -> None:
    """Submit the missing tasks; store each result as it arrives."""
    from distributed import as_completed

    submitted: list[Any] = []
    owner: dict[str, tuple[str, Any, str]] = {}  # future key -> (stage, task, cache key)
    count_futures: dict[CountTask, Any] = {}
    for task in plan.counts:
        if task in counts:
            continue
        key = cache.key(COUNT, task.inputs)
        fut = client.submit(count_task, task.trace.path, task.sample, task.trace.samples,
                            task.tile[0], task.tile[1], key=f"count-{key}", pure=False)
        count_futures[task] = fut
        submitted.append(fut)
        owner[fut.key] = (COUNT, task, key)
    for task in plan.prices:
        if task in prices:
            continue
        key = cache.key(PRICE, task.inputs)
        stats = count_futures.get(task.count, counts.get(task.count))
        fut = client.submit(price_task, stats, task.accelerator, task.settings,
                            key=f"price-{key}", pure=False)
        submitted.append(fut)
        owner[fut.key] = (PRICE, task, key)
    try:
        for fut in as_completed(submitted):
            stage, task, key = owner[fut.key]
            result = fut.result()
            if isinstance(result, TaskFailure):
                raise TaskError(f"{task.describe()}: {result.message}")
            if stage == COUNT:
                counts[task] = result
            else:
                prices[task] = result
            cache.put(stage, key, task.inputs, result.to_json())
            obs.completed(stage)
    finally:
        client.cancel([f for f in submitted if not f.done()])
