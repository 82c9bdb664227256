"""Count once, price many: the one place a run's statistics are counted and priced.

Every client (the CLI, notebooks, ``demo``, ``reproduce``, the sweep's tasks, the NIR and
NeuroBench bridges) goes through these functions:

* :func:`count`: the statistics of a trace at one tile, one sample at a time (batch 1,
  the paper's setting) or the samples as one batch: a
  :class:`~prosparsity.results.DensityResult`;
* :func:`count_for`: one sample's statistics for what a set of accelerator configs needs
  (one counting pass per tile size; the first also runs every counter);
* :func:`simulate`: count every sample once for every selected accelerator and price
  them all: a :class:`~prosparsity.results.Simulation`;
* :func:`price`: accelerators priced on statistics already counted (the sweep's price
  tasks, ablations), as :class:`~prosparsity.results.AcceleratorResult` values.

Nothing here prints; progress goes to an optional callback, diagnostics to
:mod:`logging` and :mod:`warnings`.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import ConfigError, HarnessWarning
from prosparsity.paper.study import HEADLINE_BASELINE
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.accel.base import Needs
    from prosparsity.accel.registry import PricingFailure
    from prosparsity.accel.suite import Selection
    from prosparsity.analysis.counters import Counter
    from prosparsity.analysis.network import Workload
    from prosparsity.analysis.stats import LayerStats, ModelStats
    from prosparsity.inputs import Source, Trace
    from prosparsity.results import AcceleratorResult, DensityResult, Simulation

__all__ = [
    "DEFAULT_BASELINE",
    "Progress",
    "count",
    "count_for",
    "operations",
    "price",
    "samples_of",
    "simulate",
]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Receives one line of progress."""

#: The accelerator speedup and energy efficiency are normalised to unless a run names
#: another (the paper's headline compares with PTB).
DEFAULT_BASELINE = HEADLINE_BASELINE

def _quiet(_message: str) -> None:
    return None


def _workload_and_source(source: Trace | Workload) -> tuple[Workload, Source | None]:
    from prosparsity.inputs import Trace

    if isinstance(source, Trace):
        return source.workload, source.source
    return source, None


def _opened(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``fn``'s first argument also be a path or a paper workload's name: it is
    opened (:func:`prosparsity.open`) for the duration of the call."""
    import functools

    @functools.wraps(fn)
    def wrapper(trace: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(trace, str | PathLike):
            from prosparsity.inputs import open as open_input

            with open_input(trace, kwargs.pop("workload", None)) as opened:
                return fn(opened, *args, **kwargs)
        kwargs.pop("workload", None)
        return fn(trace, *args, **kwargs)

    return wrapper


def samples_of(workload: Workload, batched: bool = False) -> list[Workload]:
    """The workloads a run counts: each sample alone (batch 1), or the whole batch."""
    n = 1 if batched or not workload.has_data else workload.samples()
    return [workload] if n == 1 else [workload.sample(b) for b in range(n)]


# ----------------------------------------------------------------------------- counting
@_opened
def count(
    trace: Trace | Workload | str | PathLike[str],
    tile: tuple[int, int] = (DEFAULT_TILE.tile_m, DEFAULT_TILE.tile_k),
    *,
    batched: bool = False,
    counters: Iterable[Counter | str] = (),
    on_layer: Callable[[LayerStats], None] | None = None,
) -> DensityResult:
    """The statistics of every sample of ``trace`` at one tile (bit and product density,
    row classes, tile grids, and the ``counters`` asked for, with the densities they
    report: :attr:`~prosparsity.densities.DensityResult.counter_densities`).

    Args:
        trace: an opened input (:func:`prosparsity.open`), a workload, or what
            :func:`prosparsity.open` takes (a trace file, ``.npz`` dump: then ``workload=``
            names its paper workload where the file name does not).
        tile: ``(tile_m, tile_k)``, 1..4096 and 1..128.
        batched: count all samples as one batched GEMM instead of one at a time.
        counters: counters to count in the same pass: keys, or kinds (``phi_counts``:
            the kind's published defaults, ``KindClass()``), built-in or a plugin's.
        on_layer: called after each counted layer (progress).

    Raises:
        ConfigError: bad tile sizes, a workload without spike data, or an unknown
            counter kind (naming the known ones).
        TraceError: a layer that cannot be read (names the file and the layer).
    """
    from prosparsity.analysis.density import count as count_one
    from prosparsity.analysis.density import count_samples
    from prosparsity.analysis.grid import check_tile_sizes
    from prosparsity.densities import DensityResult

    workload, source = _workload_and_source(trace)
    check_tile_sizes(*tile)
    counters = _counter_keys(counters)
    if not workload.has_data:
        raise ConfigError("TRACE", f"{workload.name!r} has layer shapes only, no spikes: "
                          "nothing to count")
    if batched:
        stats: tuple[ModelStats, ...] = (count_one(workload, *tile, counters,
                                                   on_layer=on_layer),)
    else:  # each sample alone, layer by layer across the samples
        stats = count_samples(workload, *tile, counters, on_layer=on_layer)
    return DensityResult(workload.name, stats, source, batched=batched,
                         network=workload.network)


def _counter_keys(counters: Iterable[Counter | str]) -> tuple[Counter, ...]:
    """Counter keys, a kind given by name standing for its published defaults."""
    from prosparsity.analysis.counters import counter_class

    return tuple(dict.fromkeys(counter_class(c)() if isinstance(c, str) else c
                               for c in counters))


def count_for(workload: Workload, needs: Iterable[Needs]) -> tuple[ModelStats, ...]:
    """One sample's statistics for what ``needs`` ask: one counting pass per tile size
    asked for (the first also runs every counter; it serves every need without a tile of
    its own). A workload without spike data gives shape-only statistics.

    Returns:
        The statistics, the first one at the first tile asked for (else the paper's
        default tile).
    """
    from prosparsity.analysis.density import count as count_one

    tiles, counters = _tiles_and_counters(needs)
    return tuple(count_one(workload, tile_m, tile_k, counters if i == 0 else ())
                 for i, (tile_m, tile_k) in enumerate(tiles))


def _tiles_and_counters(needs: Iterable[Needs]) -> tuple[list[tuple[int, int]],
                                                          frozenset[Counter]]:
    """The tile sizes ``needs`` ask for (the first serves a need without its own; the
    paper's default when none asks), and every counter they ask for."""
    needs = list(needs)
    tiles = list(dict.fromkeys(n.tile for n in needs if n.tile is not None))
    if not tiles:
        tiles = [(DEFAULT_TILE.tile_m, DEFAULT_TILE.tile_k)]
    return tiles, frozenset().union(*(n.counters for n in needs))


def operations(stats: ModelStats) -> int | None:
    """The workload's operation count (the authors' definition,
    :mod:`prosparsity.analysis.ops`) from counted statistics; ``None`` without spike data.

    Raises:
        TraceError: a layer whose parameters the count needs are missing (names the file).
    """
    from prosparsity.analysis.ops import operations_of

    network = stats.network
    if network is None or not stats.has_data:
        return None
    try:
        return operations_of(stats).total
    except ConfigError as exc:
        raise network.error(exc) from None


# ----------------------------------------------------------------------------- pricing
def price(
    stats: ModelStats | Sequence[ModelStats],
    selections: Sequence[Selection],
    ops: int | None = None,
    *,
    energy: bool = True,
) -> dict[str, AcceleratorResult | PricingFailure | None]:
    """``selections`` priced on statistics already counted (one sample).

    Args:
        stats: the sample's statistics (one per tile size the selections need).
        selections: what to price (:func:`prosparsity.accel.suite.select`).
        ops: the sample's operation count (GOP/s, GOP/J), when known.
        energy: run the component energy and area model too (each breakdown's
            ``energy_area``); ``False`` leaves it out.

    Returns:
        Registry name -> result (``None``: no figure for this workload; a
        :class:`~prosparsity.accel.registry.PricingFailure`: a plugin's pricing raised).
    """
    from prosparsity.accel.base import Breakdown
    from prosparsity.accel.energy.designs import DEFAULT_COMPONENTS
    from prosparsity.accel.suite import price as price_all
    from prosparsity.results import AcceleratorResult

    all_stats = (stats,) if not isinstance(stats, Sequence) else tuple(stats)
    workload = all_stats[0].model
    priced = price_all(all_stats, selections,
                       components=DEFAULT_COMPONENTS if energy else None)
    by_name = {sel.name: sel for sel in selections}
    return {name: AcceleratorResult(by_name[name].entry, workload, (bd,), (ops,),
                                    _changed(by_name[name]))
            if isinstance(bd, Breakdown) else bd
            for name, bd in priced.items()}


def _changed(selection: Selection) -> tuple[tuple[str, Any], ...]:
    """The config fields that differ from the published design, in field order."""
    config, default = selection.config, selection.entry.default_config()
    if not dataclasses.is_dataclass(config) or config == default:
        return ()
    return tuple((f.name, getattr(config, f.name)) for f in dataclasses.fields(config)
                 if getattr(config, f.name) != getattr(default, f.name, None))


@_opened
def simulate(
    trace: Trace | Workload | str | PathLike[str],
    accelerators: Sequence[str] | None = None,
    *,
    baseline: str = DEFAULT_BASELINE,
    tile: tuple[int, int] | None = None,
    overrides: Mapping[str, Any] | None = None,
    batched: bool = False,
    progress: Progress = _quiet,
) -> Simulation:
    """Count every sample (batch 1 each, unless ``batched``) once per tile for every
    selected accelerator, then price them all.

    Without ``accelerators``, every registered model that applies runs, and a reported
    figure (Stellar, the A100) that has no number for this workload is left out (listed
    in ``skipped``); named explicitly, it stays, as "no figure". A model whose
    registration does not apply to the network (Bishop: transformers only) is skipped
    with its reason, named or not; a plugin whose pricing raises is left out with that
    one line (``failed``, also a :class:`~prosparsity.core.errors.HarnessWarning`) and
    the others are priced as usual.

    A model that fits its config on held-out samples (its registration's ``calibrate``:
    Phi's patterns) on a trace of several samples priced one at a time: its
    ``calibration_samples`` are counted in the same pass as the others, its config is
    fitted on their statistics, and it prices every *other* sample
    (``Simulation.held_out`` names the held samples, its result's ``sample_ids`` the
    priced ones). With one sample, ``batched``, or no sample left over, it prices every
    sample with its config as it is.

    Args:
        trace: an opened input (:func:`prosparsity.open`), a workload, or what
            :func:`prosparsity.open` takes (``workload=`` as for :func:`count`).
        accelerators: registry names (or the paper's spellings); ``None``: all that apply.
        baseline: the accelerator speedups and energy efficiency are normalised to.
        tile: ``(tile_m, tile_k)`` of every tiled model (Prosperity, LoAS); the
            paper's 256x16 when not given.
        overrides: config field -> value, applied to every selected config that has the
            field (``tile_m``, ``tile_k``, ``issue_type``, ``sparsity``, ...).
        batched: price all samples as one batch (their GEMMs folded together).
        progress: receives one line per sample.

    Raises:
        ConfigError: unknown accelerator, a bad override, an accelerator named
            explicitly that needs spike data on a shapes-only workload, or a calibration
            sample the trace does not hold.
    """
    from prosparsity.accel.registry import PricingFailure, find
    from prosparsity.accel.suite import select
    from prosparsity.results import Simulation

    workload, source = _workload_and_source(trace)
    base = find(baseline)
    if base is None:
        from prosparsity.accel.registry import registry

        raise ConfigError("baseline", f"unknown accelerator {baseline!r} (known: "
                          f"{', '.join(registry())})")
    overrides = dict(overrides or {})
    if tile is not None:
        overrides["tile_m"], overrides["tile_k"] = tile
    selections, skipped, unused = select(accelerators, overrides, has_data=workload.has_data,
                                         network=workload.network)
    parts = samples_of(workload, batched)
    held = _held_out(selections, len(parts), batched)
    plain = [sel for sel in selections if sel.name not in held]
    if len(parts) > 1:
        progress(f"{workload.name}: counting {len(parts)} samples, layer by layer")
    stats = _count_parts(workload, parts, selections)
    priced: list[dict[str, AcceleratorResult | PricingFailure | None]] = []
    for i, counted in enumerate(stats):
        if len(parts) > 1:
            progress(f"{workload.name}: pricing sample {i + 1}/{len(parts)}")
        priced.append(price(counted, plain, operations(counted[0])) if plain else {})
    for sel in selections:
        if sel.name in held:
            _price_calibrated(sel, held[sel.name], stats, priced)
    results: dict[str, AcceleratorResult | None] = {}
    skipped = dict(skipped)
    failed: dict[str, str] = {}
    for sel in selections:
        runs = [p[sel.name] for p in priced if sel.name in p]
        failure = next((r for r in runs if isinstance(r, PricingFailure)), None)
        if failure is not None:  # one line naming the plugin; the others are whole
            warnings.warn(str(failure), HarnessWarning, stacklevel=3)
            failed[sel.name] = str(failure)
            continue
        if all(r is None for r in runs):
            if accelerators is None:
                skipped[sel.name] = _no_figure_reason(sel, workload, stats[0][0])
                continue
            results[sel.name] = None
        elif any(r is None for r in runs):
            results[sel.name] = None
        else:
            result = sum(runs[1:], runs[0])  # type: ignore[arg-type]
            if sel.name in held:
                evaluated = tuple(b for b in range(len(parts)) if b not in held[sel.name])
                result = dataclasses.replace(result, sample_ids=evaluated)  # type: ignore[arg-type]
            results[sel.name] = result  # type: ignore[assignment]
    return Simulation(workload.name, tuple(stats), results, skipped, unused, base.name,
                      source, batched, held_out=held, failed=failed)


def _held_out(selections: Sequence[Selection], samples: int, batched: bool
              ) -> dict[str, tuple[int, ...]]:
    """Registry name -> the calibration samples held apart from its priced ones, for the
    selections whose registration fits their config on samples (``calibrate``) when the
    run has samples to hold apart: several samples, priced one at a time, at least one
    of them not a calibration sample. Otherwise such a model prices every sample with its
    config as it is (Phi: patterns chosen on the priced rows, said in its notes).

    Raises:
        ConfigError: a calibration sample the trace does not hold (names the field).
    """
    out: dict[str, tuple[int, ...]] = {}
    if batched or samples < 2:
        return out
    for sel in selections:
        wanted = tuple(getattr(sel.config, "calibration_samples", ()) or ())
        if sel.entry.calibrate is None or not wanted:
            continue
        bad = [b for b in wanted if not 0 <= int(b) < samples]
        if bad:
            raise ConfigError(f"accel.{sel.name}.calibration_samples",
                              f"sample(s) {bad} out of range (the trace holds {samples})")
        if len(set(wanted)) < samples:
            out[sel.name] = tuple(sorted({int(b) for b in wanted}))
    return out


def _price_calibrated(selection: Selection, held: tuple[int, ...],
                      stats: Sequence[tuple[ModelStats, ...]],
                      priced: list[dict[str, AcceleratorResult | PricingFailure | None]]
                      ) -> None:
    """Fit ``selection``'s config on the statistics of the ``held`` samples (counted in
    the run's one pass) and price every other sample with it, into ``priced``."""
    from prosparsity.accel.registry import PricingFailure
    from prosparsity.accel.suite import Selection, stats_for

    entry = selection.entry
    assert entry.calibrate is not None
    try:
        fitted = Selection(entry, entry.calibrate(
            selection.config, [stats_for(selection, stats[b]) for b in held]))
    except Exception as exc:  # a plugin's failure is its own
        if not entry.plugin:
            raise
        failure = PricingFailure(entry.name, entry.origin, stats[0][0].where,
                                 f"{type(exc).__name__}: {exc}")
        for b in range(len(stats)):
            if b not in held:
                priced[b][entry.name] = failure
        return
    for b, counted in enumerate(stats):
        if b in held:
            continue
        result = price(counted, [fitted], operations(counted[0]))[entry.name]
        if result is not None and not isinstance(result, PricingFailure):
            result = dataclasses.replace(result, changed=_changed(selection))
        priced[b][entry.name] = result


def _count_parts(workload: Workload, parts: Sequence[Workload],
                 selections: Sequence[Selection]) -> list[tuple[ModelStats, ...]]:
    """:func:`count_for` of each of ``parts`` (:func:`samples_of` of ``workload``): one
    counting pass per tile size, the samples counted layer by layer
    (:func:`~prosparsity.analysis.density.count_samples`)."""
    from prosparsity.analysis.stats import ModelStats

    if not selections:
        return [(ModelStats.shapes_only(one.network, *DEFAULT_TILE),) for one in parts]
    needs = [s.needs for s in selections]
    if len(parts) == 1:
        return [count_for(parts[0], needs)]
    from prosparsity.analysis.density import count_samples

    tiles, counters = _tiles_and_counters(needs)
    per_tile = [count_samples(workload, tile_m, tile_k, counters if i == 0 else ())
                for i, (tile_m, tile_k) in enumerate(tiles)]
    return [tuple(counted[b] for counted in per_tile) for b in range(len(parts))]


def _no_figure_reason(selection: Selection, workload: Workload, stats: ModelStats) -> str:
    """Why an accelerator has no number for ``workload``: a trace without any spiking
    GEMM, or a reported figure published for other workloads."""
    if stats.no_gemm:
        return "no spiking GEMM in this trace, nothing to price"
    table = getattr(selection.config, "latency_s", {})
    where = f" (reported for {', '.join(table)} only)" if table else ""
    what = (f"paper workload {workload.paper_workload}" if workload.paper_workload
            else "a trace that is not one of the paper's workloads")
    return f"no figure for {what}{where}"
