"""The sweep engine: run the missing tasks of a plan, write the tables.

Tasks (planned by :mod:`prosparsity.sweep.plan`; run on ``dask.distributed``:
``Client.submit`` / ``as_completed``):

* one **count** task per (trace, sample, tile): :func:`prosparsity.sweep.stages.count`,
  one counting pass that counts every per-accelerator counter the configurations priced
  from it need (the union of their ``needs(config)``), so the ProSparsity kernel runs
  once per (trace, sample, tile) however many configurations are priced. The count
  tasks of up to :data:`BLOCK_SAMPLES` samples of one trace at one tile run as one
  block (:func:`prosparsity.sweep.stages.count_block`, the samples counted layer by
  layer): a trace's chunks hold many samples, and a task per sample would decompress
  each chunk once per sample. Each sample's statistics are still their own result,
  cached apart;
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
import logging
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from prosparsity.core.atomic import check_output_dir
from prosparsity.core.errors import ConfigError, HarnessError, WriteError
from prosparsity.sweep.cache import ResultCache, harness_version
from prosparsity.sweep.cluster import dashboard_link_of, open_client, scheduler_address
from prosparsity.sweep.configs import canonical
from prosparsity.sweep.plan import CountTask, Plan, PriceTask, plan_sweep
from prosparsity.sweep.results import SweepTables, build_tables, write_tables
from prosparsity.sweep.spec import SweepSpec
from prosparsity.sweep.stages import (
    CountSummary,
    Priced,
    count_block,
    price,
    summarise,
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

#: most samples of one trace counted in one task (their statistics are held together)
BLOCK_SAMPLES = 16


class TaskError(HarnessError):
    """A sweep task failed on its input; names the task and the problem."""


@dataclass(frozen=True)
class TaskFailure:
    """What a task returns instead of raising when its input is bad: the message.

    Returning it (rather than raising in the worker) keeps the workers' logs free of
    tracebacks for an error that is the user's input, not a bug.
    """

    message: str


def count_block_task(*args: Any) -> tuple[ModelStats, ...] | TaskFailure:
    """:func:`~prosparsity.sweep.stages.count_block` as a task: input errors become a
    value."""
    try:
        return count_block(*args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


def pick(block: tuple[ModelStats, ...] | TaskFailure, index: int) -> ModelStats | TaskFailure:
    """One sample's statistics out of a block's (its failure, when the block failed)."""
    return block if isinstance(block, TaskFailure) else block[index]


def price_task(stats: ModelStats | TaskFailure, *args: Any) -> Priced | TaskFailure:
    """:func:`~prosparsity.sweep.stages.price` as a task: input errors become a value."""
    if isinstance(stats, TaskFailure):
        return stats
    try:
        return price(stats, *args)
    except HarnessError as exc:
        return TaskFailure(str(exc))


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
    if out is not None:  # fail before any work, not after it
        try:
            out = check_output_dir(out)
        except WriteError as exc:
            raise ConfigError(exc.path, exc.problem) from None
    address = None if scheduler is None else scheduler_address(scheduler)
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
                address, workers, dashboard)
            with ctx as cl:
                dashboard_link = dashboard_link_of(cl) if client is None and dashboard else None
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


def _counters(task: CountTask) -> tuple[Counter, ...]:
    return tuple(sorted(task.counters, key=lambda c: canonical(c.to_json())))


_Todo = tuple[CountTask, list[PriceTask]]


def _blocks(store: _Store) -> Iterator[tuple[_Todo, ModelStats] | list[_Todo]]:
    """The count tasks :meth:`_Store.todo` gives, in plan order: one answered without
    counting comes at once with its statistics (``(todo, stats)``: loaded one at a
    time); the others come in blocks (a list) of at most :data:`BLOCK_SAMPLES` samples
    of one trace at one tile with the same counters, each block when full, the rest at
    the end."""
    groups: dict[tuple[Any, ...], list[_Todo]] = {}
    for task, dependents in list(store.todo()):
        stats = store.statistics(task)
        if stats is not None:
            yield (task, dependents), stats
            continue
        group = groups.setdefault(
            (task.trace.path, task.trace.samples, task.tile, _counters(task)), [])
        group.append((task, dependents))
        if len(group) == BLOCK_SAMPLES:
            yield list(group)
            group.clear()
    yield from (group for group in groups.values() if group)


def _block_args(block: list[_Todo]) -> tuple[Any, ...]:
    first = block[0][0]
    return (first.trace.path, tuple(task.sample for task, _ in block), first.trace.samples,
            first.tile[0], first.tile[1], _counters(first))


def _compute_inline(store: _Store, obs: SweepObserver) -> None:
    """Every missing task in this process, in plan order, a block of counts at a time
    (:func:`_blocks`), each followed by its prices (one block's statistics held at a
    time)."""
    for item in _blocks(store):
        if isinstance(item, tuple):
            (_, dependents), stats = item
            _price_inline(store, obs, dependents, stats)
            continue
        counted = count_block_task(*_block_args(item))
        for i, (task, dependents) in enumerate(item):
            stats = pick(counted, i)
            store.done(COUNT, task, stats)
            obs.completed(COUNT)
            _price_inline(store, obs, dependents, stats)
        del counted


def _price_inline(store: _Store, obs: SweepObserver, dependents: list[PriceTask],
                  stats: ModelStats) -> None:
    for pt in dependents:
        store.done(PRICE, pt, price_task(stats, pt.accelerator, pt.settings))
        obs.completed(PRICE)


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

    def prices(source: Any, dependents: list[PriceTask]) -> None:
        for pt in dependents:
            fut = client.submit(price_task, source, pt.accelerator, pt.settings,
                                key=_task_key(store, PRICE, pt), pure=False)
            pending[fut.key] = (PRICE, pt, fut)
            ac.add(fut)

    for item in _blocks(store):
        if isinstance(item, tuple):
            (_, dependents), stats = item
            prices(client.scatter(stats, hash=False), dependents)
            del stats
            continue
        counted = client.submit(count_block_task, *_block_args(item),
                                key=f"count-block-{uuid.uuid4().hex}", pure=False)
        for i, (task, dependents) in enumerate(item):
            source = client.submit(pick, counted, i, key=_task_key(store, COUNT, task),
                                   pure=False)
            pending[source.key] = (COUNT, task, source)
            ac.add(source)
            prices(source, dependents)
        del counted
    try:
        for fut in ac:
            stage, task, _ = pending.pop(fut.key)
            store.done(stage, task, fut.result())
            obs.completed(stage)
            del fut
    finally:
        client.cancel([f for _, _, f in pending.values()])
