"""The sweep engine: plan the tasks, run the missing ones, write the tables.

Tasks (on ``dask.distributed``: ``Client.submit`` / ``as_completed``):

* one **count** task per (trace, sample, tile): :func:`prosparsity.sweep.stages.count`,
  one counting pass that counts every per-accelerator counter the configurations priced
  from it need (the union of their ``needs(config)``), so the ProSparsity kernel runs
  once per (trace, sample, tile) however many configurations are priced;
* one **price** task per (count, accelerator configuration):
  :func:`prosparsity.sweep.stages.price` of the count's statistics (its future, so Dask
  runs it after its count, where the statistics are), never re-reading spikes.
  Accelerators without tile fields are priced once per configuration, from the first
  tile's count.

Workers read the traces themselves by path, so with ``--scheduler`` every worker must
see the traces at the same path (a shared filesystem). Every result is written to the
content-addressed cache (:mod:`prosparsity.sweep.cache`; a count's statistics with it)
by this process as it arrives, so a sweep stopped at any point (even ``kill -9``) and
started again computes only what is missing, and a repeated sweep computes nothing and
starts no cluster. A count whose price tasks are all cached is not even loaded.

``workers=0`` runs the tasks in this process, in plan order, without Dask (each count's
statistics are dropped once its price tasks are done): what ``reproduce`` uses for
Figure 7, and the reference the distributed runs are compared with.

A worker lost mid-sweep (killed, crashed) is Dask's business: the scheduler reruns its
tasks elsewhere. A task that fails on its input (a :class:`HarnessError`) stops the
sweep with that message; results computed until then stay in the cache.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prosparsity.core.errors import ConfigError, HarnessError
from prosparsity.sweep.cache import ResultCache, harness_version
from prosparsity.sweep.configs import canonical, config_json
from prosparsity.sweep.results import SweepTables, build_tables, write_tables
from prosparsity.sweep.spec import AcceleratorSweep, SweepSpec
from prosparsity.sweep.stages import (
    CountSummary,
    Priced,
    TraceMeta,
    count,
    counters_json,
    needs_of,
    price,
    resolve_config,
    summarise,
    trace_meta,
)

if TYPE_CHECKING:
    from prosparsity.analysis.counters import Counter
    from prosparsity.analysis.stats import ModelStats

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


def count_task(*args: Any) -> ModelStats | TaskFailure:
    """:func:`~prosparsity.sweep.stages.count` as a task: input errors become a value."""
    try:
        return count(*args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


def price_task(stats: ModelStats | TaskFailure, *args: Any) -> Priced | TaskFailure:
    """:func:`~prosparsity.sweep.stages.price` as a task: input errors become a value."""
    if isinstance(stats, TaskFailure):
        return stats
    try:
        return price(stats, *args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


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
        cached: tasks answered by the cache (or by statistics given to :func:`run_sweep`).
        tables: the result tables (also written to ``out``).
        files: paths written, by role (``results``, ``results_csv``, ``aggregate``, ...).
        dashboard: the Dask dashboard's address, when a cluster was used and serves one.
        summaries: every count task's densities and operation count.
        prices: every price task's result.
    """

    plan: Plan
    computed: int
    cached: int
    tables: SweepTables
    files: Mapping[str, Path] = field(default_factory=dict)
    dashboard: str | None = None
    summaries: Mapping[CountTask, CountSummary] = field(default_factory=dict)
    prices: Mapping[PriceTask, Priced] = field(default_factory=dict)

    def points(self) -> Iterator[tuple[PriceTask, CountSummary, Priced]]:
        """Every priced configuration with its count's summary, in plan order."""
        for task in self.plan.prices:
            yield task, self.summaries[task.count], self.prices[task]


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
        workers: worker processes of the local cluster (default: one per core).
        dashboard: serve the local cluster's dashboard on port 8787 (a free port when
            8787 is taken); without it the scheduler's HTTP server takes a free port.

    Raises:
        ConfigError: the scheduler cannot be reached, or fewer than one worker.
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
    if n < 1:
        raise ConfigError("--workers", f"a local cluster needs >= 1 worker, got {n}")
    # The scheduler serves HTTP even without a dashboard; off, it takes a free port (so
    # parallel sweeps and tests never collide on 8787) and is not announced.
    kw: dict[str, Any] = {"dashboard_address": ":8787" if dashboard else "127.0.0.1:0"}
    # The counting kernel splits large operands over one thread per core; with several
    # workers on this machine each takes its share of the cores instead of all of them.
    kernel_threads = max(1, default_workers() // n)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", env={"NUMBA_NUM_THREADS": str(kernel_threads)},
                           **kw)
    with cluster, Client(cluster) as client:
        yield client


def _dashboard(client: Any) -> str | None:
    try:
        return client.dashboard_link if client.scheduler_info().get("services", {}).get(
            "dashboard") else None
    except (AttributeError, KeyError, OSError):
        return None


#: Statistics counted elsewhere, by (trace path, sample, tile): see :func:`run_sweep`.
Counted = Mapping[tuple[str, int, tuple[int, int]], "ModelStats"]


def _given(counted: Counted | None, plan: Plan) -> dict[CountTask, ModelStats]:
    """The count tasks that statistics counted elsewhere answer: same trace (by resolved
    path), sample and tile, and every counter the task needs."""
    if not counted:
        return {}
    by_place = {(str(Path(p).resolve()), b, tuple(t)): s for (p, b, t), s in counted.items()}
    out = {}
    for task in plan.counts:
        stats = by_place.get((str(Path(task.trace.path).resolve()), task.sample, task.tile))
        if stats is not None and stats.tile == task.tile and task.counters <= set(
                stats.counters):
            out[task] = stats
    return out


class _Store:
    """Results of one sweep: what the cache (if any) and the given statistics answer,
    and what is stored as it is computed."""

    def __init__(self, plan: Plan, cache: ResultCache | None,
                 given: Mapping[CountTask, ModelStats]) -> None:
        self.plan, self.cache, self.given = plan, cache, given
        self.summaries: dict[CountTask, CountSummary] = {}
        self.prices: dict[PriceTask, Priced] = {}
        self.computed = 0
        self._keys: dict[Any, str] = {}
        for task in plan.counts:
            if task in given:
                self.summaries[task] = summarise(given[task])
                continue
            doc = self._get(COUNT, task)
            if doc is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.summaries[task] = CountSummary.from_json(doc)
        for pt in plan.prices:
            doc = self._get(PRICE, pt)
            if doc is not None:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    self.prices[pt] = Priced.from_json(doc)
        self.missing: dict[CountTask, list[PriceTask]] = {}
        for pt in plan.prices:
            if pt not in self.prices:
                self.missing.setdefault(pt.count, []).append(pt)

    def key(self, stage: str, task: CountTask | PriceTask) -> str:
        if task not in self._keys:
            assert self.cache is not None
            self._keys[task] = self.cache.key(stage, task.inputs)
        return self._keys[task]

    def _get(self, stage: str, task: CountTask | PriceTask) -> dict[str, Any] | None:
        return None if self.cache is None else self.cache.get(stage, self.key(stage, task))

    @property
    def cached(self) -> int:
        return len(self.summaries) + len(self.prices)

    def todo(self) -> Iterator[tuple[CountTask, list[PriceTask]]]:
        """The count tasks to run or whose statistics are needed, with the price tasks
        missing on them, in plan order."""
        for task in self.plan.counts:
            dependents = self.missing.get(task, [])
            if task not in self.summaries or dependents:
                yield task, dependents

    def statistics(self, task: CountTask) -> ModelStats | None:
        """The statistics of a count answered without computing it (given, or in the
        cache), or ``None`` when it must be counted (then it is no longer answered)."""
        stats = self.given.get(task)
        if stats is None and task in self.summaries and self.cache is not None:
            stats = self.cache.get_stats(self.key(COUNT, task))
        if stats is None:
            self.summaries.pop(task, None)
        return stats

    def done(self, stage: str, task: Any, result: Any) -> None:
        """Store a computed result (cache first: a kill -9 after it loses nothing)."""
        if isinstance(result, TaskFailure):
            raise TaskError(f"{task.describe()}: {result.message}")
        if stage == COUNT:
            summary = summarise(result)
            # a count whose counter failed is not kept: a fixed plugin counts again
            if self.cache is not None and not result.counter_failures:
                key = self.key(COUNT, task)
                self.cache.put_stats(key, result)
                self.cache.put(COUNT, key, task.inputs, summary.to_json())
            self.summaries[task] = summary
        else:
            if self.cache is not None:
                self.cache.put(PRICE, self.key(PRICE, task), task.inputs, result.to_json())
            self.prices[task] = result
        self.computed += 1


def run_sweep(
    spec: SweepSpec,
    out: str | Path | None,
    *,
    cache_dir: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    dashboard: bool = True,
    client: Any | None = None,
    observer: SweepObserver | None = None,
    counted: Counted | None = None,
) -> SweepOutcome:
    """Run a sweep and write its tables to ``out``.

    Args:
        spec: the validated spec.
        out: output folder (``results.parquet``, ``results.csv``, ``aggregate.parquet``,
            ``aggregate.csv``), or ``None`` to write nothing (the tables are returned).
        cache_dir: the result cache (default ``OUT/cache``; with ``out=None`` and no
            ``cache_dir``, no cache).
        scheduler: run on this Dask scheduler instead of a local cluster.
        workers: worker processes of the local cluster (default: one per core); 0 runs
            every task in this process, one after the other, without Dask.
        dashboard: serve the local cluster's dashboard.
        client: an existing ``distributed.Client`` to use (overrides ``scheduler``).
        observer: progress reports.
        counted: statistics already counted, by ``(trace path, sample, (tile_m,
            tile_k))``: they answer the count task of that place when they hold every
            counter it needs (so a caller that has counted a trace does not count it
            again).

    Returns:
        What was computed and written.

    Raises:
        TaskError: a task failed on its input; TraceError: a trace cannot be read.
    """
    obs = observer or _Quiet()
    if out is not None:
        out = Path(out)
        for path in (out, *out.parents):  # fail before any work, not after it
            if path.exists():
                if not path.is_dir():
                    raise ConfigError("--out", f"{out}: {path} is not a folder")
                break
    root = cache_dir if cache_dir is not None else None if out is None else out / "cache"
    cache = None if root is None else ResultCache(root)
    plan = plan_sweep(spec)
    store = _Store(plan, cache, _given(counted, plan))
    dashboard_link = None
    inline = client is None and scheduler is None and workers == 0
    if store.cached < plan.n_tasks:
        if inline:
            obs.started(plan.n_tasks, store.cached, None)
            _compute_inline(store, obs)
        else:
            ctx = contextlib.nullcontext(client) if client is not None else open_client(
                scheduler, workers, dashboard)
            with ctx as cl:
                dashboard_link = _dashboard(cl) if client is None and dashboard else None
                obs.started(plan.n_tasks, store.cached, dashboard_link)
                _compute_dask(cl, store, obs)
    else:
        obs.started(plan.n_tasks, store.cached, None)
    tables = build_tables(plan, store.summaries, store.prices,
                          cache.harness if cache is not None else harness_version())
    files = write_tables(tables, out) if out is not None else {}
    return SweepOutcome(plan=plan, computed=store.computed,
                        cached=plan.n_tasks - store.computed, tables=tables, files=files,
                        dashboard=dashboard_link, summaries=dict(store.summaries),
                        prices=dict(store.prices))


def _count_args(task: CountTask) -> tuple[Any, ...]:
    return (task.trace.path, task.sample, task.trace.samples, task.tile[0], task.tile[1],
            tuple(sorted(task.counters, key=lambda c: canonical(c.to_json()))))


def _compute_inline(store: _Store, obs: SweepObserver) -> None:
    """Every missing task in this process, in plan order: a count, then its prices (one
    count's statistics held at a time)."""
    for task, dependents in list(store.todo()):
        stats = store.statistics(task)
        if stats is None:
            result = count_task(*_count_args(task))
            store.done(COUNT, task, result)
            obs.completed(COUNT)
            stats = result
        for pt in dependents:
            store.done(PRICE, pt, price_task(stats, pt.accelerator, pt.settings))
            obs.completed(PRICE)
        del stats


def _task_key(store: _Store, stage: str, task: CountTask | PriceTask) -> str:
    """The Dask key of a task: its cache key (a worker's log names the entry), else a
    fresh one."""
    return f"{stage}-{store.key(stage, task) if store.cache else uuid.uuid4().hex}"


def _compute_dask(client: Any, store: _Store, obs: SweepObserver) -> None:
    """Submit the missing tasks (price tasks take their count's future, or the cached
    statistics scattered to a worker); store each result as it arrives. The client
    drops every future it has handled, so workers free a count's statistics once its
    price tasks are done."""
    from distributed import as_completed

    pending: dict[str, tuple[str, Any, Any]] = {}  # future key -> (stage, task, future)
    ac = as_completed()
    for task, dependents in list(store.todo()):
        stats = store.statistics(task)
        if stats is not None:
            source = client.scatter(stats, hash=False)
        else:
            source = client.submit(count_task, *_count_args(task),
                                   key=_task_key(store, COUNT, task), pure=False)
            pending[source.key] = (COUNT, task, source)
            ac.add(source)
        for pt in dependents:
            fut = client.submit(price_task, source, pt.accelerator, pt.settings,
                                key=_task_key(store, PRICE, pt), pure=False)
            pending[fut.key] = (PRICE, pt, fut)
            ac.add(fut)
        del source, stats
    try:
        for fut in ac:
            stage, task, _ = pending.pop(fut.key)
            store.done(stage, task, fut.result())
            obs.completed(stage)
            del fut
    finally:
        client.cancel([f for _, _, f in pending.values()])
