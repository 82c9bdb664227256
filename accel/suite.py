"""Run several registered accelerators on one workload: count once, price many.

This is what ``prosparsity simulate`` calls; it holds no model of its own. A run is

1. :func:`select`: the accelerators that apply and their configs (shared knobs such as
   ``tile_m``, ``tile_k``, ``issue_type``, ``sparsity`` are applied to every selected
   accelerator whose config has a field of that name);
2. :func:`count_for`: the statistics every selected config needs, counted in one pass
   per tile size (the ProSparsity kernel runs once per operand and tile; every counter
   in the same pass);
3. :func:`price`: every model's pure ``simulate(stats, config)`` and the paper's energy
   (withheld, with a note, for a configuration off the paper's design:
   :func:`prosparsity.accel.energy.energy_withheld`; the one place that rule applies).

Which accelerators apply: those that need spike data only when the workload has data
(reported-figure models run everywhere and answer ``None`` off the paper's workloads).

Energy (``prosparsity.accel.energy``): a model whose id has an energy key and whose
breakdown carries no energy of its own gets ``P * latency + e_DRAM * ratio * D``, with
``D`` Prosperity's DRAM traffic: the paper's table for a paper workload, else
Prosperity's shape-only DRAM count on this workload (for Prosperity itself, the traffic
of the run being priced).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prosparsity.accel.base import AcceleratorModel, Breakdown, Needs, registry
from prosparsity.accel.base import count_for as _count_for
from prosparsity.accel.energy import (
    PAPER_ENERGY,
    EnergyConfig,
    energy_mj,
    energy_withheld,
    reference_dram_bits,
)
from prosparsity.analysis.network import Network, Workload
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError, HarnessError
from prosparsity.core.ids import AcceleratorId

log = logging.getLogger(__name__)

__all__ = [
    "PREFERRED_ORDER",
    "Selection",
    "SuiteResult",
    "breakdown_json",
    "configure",
    "count_for",
    "ordered_names",
    "price",
    "run_suite",
    "select",
    "stats_for",
]

#: Ids in the order the CLI lists them (the enum's order; others follow, sorted).
PREFERRED_ORDER: tuple[AcceleratorId, ...] = tuple(AcceleratorId)


@dataclass(frozen=True)
class Selection:
    """One accelerator of a run with its resolved config.

    Attributes:
        entry: the registered model.
        config: its config (the paper preset with the run's overrides).
    """

    entry: AcceleratorModel
    config: Any

    @property
    def id(self) -> AcceleratorId:
        return self.entry.id

    @property
    def needs(self) -> Needs:
        """What the config needs counted."""
        return self.entry.needs(self.config)


@dataclass(frozen=True)
class SuiteResult:
    """Results of one run.

    Attributes:
        workload: the workload's name.
        results: accelerator id -> breakdown (with energy where the model has one),
            ``None`` where a reported-figure model has no figure for this workload.
        skipped: accelerator id -> why it was not run (e.g. needs spike data).
        unused_overrides: override names that no selected accelerator's config has.
    """

    workload: str
    results: dict[AcceleratorId, Breakdown | None]
    skipped: dict[AcceleratorId, str] = field(default_factory=dict)
    unused_overrides: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``simulate --json`` document: ``{"accelerators": {NAME: {...} | null}}``."""
        return {"accelerators": {str(name): None if bd is None else breakdown_json(bd, name)
                                 for name, bd in self.results.items()}}


def _num(value: Any) -> int | float | None:
    """A plain JSON number (numpy scalars converted; integral floats kept as floats)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    return float(value)


def breakdown_json(bd: Breakdown, accelerator: AcceleratorId | None = None) -> dict[str, Any]:
    """One accelerator's entry of the ``simulate --json`` document.

    ``total_cycles`` count at ``clock_hz``; ``energy_note`` says why ``energy_mj`` is
    ``null`` (no energy model, a design off the paper's, ...; ``null`` with a figure);
    ``dram_bits`` is ``null`` for a model that counts no DRAM traffic
    (:attr:`AcceleratorId.models_dram`), never 0; ``extra`` keeps the model's own
    whole-run numbers (the GPU models' prediction band ``latency_low_s`` /
    ``latency_high_s``, Prosperity's densities, ...).
    """
    acc = accelerator or AcceleratorId.parse(bd.accelerator)
    dram = acc is None or acc.models_dram

    def bits(value: float) -> int | float | None:
        return _num(value) if dram else None

    return {
        "total_cycles": _num(bd.total_cycles),
        "clock_hz": _num(bd.clock_hz),
        "latency_s": _num(bd.latency_s),
        "energy_mj": _num(bd.energy_mj),
        "energy_note": bd.energy_note if bd.energy_mj is None else None,
        "dram_bits": bits(bd.dram_bits),
        "extra": {str(k): _num(v) for k, v in bd.extra.items()},
        "layers": [
            {
                "name": layer.name,
                "total_cycles": _num(layer.total_cycles),
                "compute_cycles": _num(layer.compute_cycles),
                "mem_stall_cycles": _num(layer.mem_stall_cycles),
                "dram_bits": bits(layer.dram_bits),
            }
            for layer in bd.layers
        ],
    }


def ordered_names(names: Sequence[str]) -> list[str]:
    """``names`` in the CLI's canonical order (ids first, in enum order, then others)."""
    rank = {str(n): i for i, n in enumerate(PREFERRED_ORDER)}
    return sorted(names, key=lambda n: (rank.get(str(n), len(rank)), str(n)))


def configure(entry: AcceleratorModel, overrides: Mapping[str, Any]) -> tuple[Any, set[str]]:
    """The entry's default config with the overrides its config has; and those used.

    Raises:
        ConfigError: an override value the config rejects (names the field path).
    """
    config = entry.default_config()
    if not dataclasses.is_dataclass(config):
        return config, set()
    names = {f.name for f in dataclasses.fields(config)}
    used = {k: v for k, v in overrides.items() if k in names and v is not None}
    if not used:
        return config, set()
    try:
        return dataclasses.replace(config, **used), set(used)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, HarnessError):
            raise
        raise ConfigError(f"{entry.name}", str(exc)) from None


def select(
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    has_data: bool = True,
) -> tuple[list[Selection], dict[AcceleratorId, str], tuple[str, ...]]:
    """The accelerators of a run, in the CLI's order, with their configs.

    Args:
        names: registry names; ``None`` selects every one that applies.
        overrides: config field name -> value, applied where a config has that field.
        has_data: whether the workload has spike data (models needing it are skipped
            otherwise, or refused when named explicitly).

    Returns:
        The selections, the skipped ids with the reason, and the override names no
        selected config has.

    Raises:
        ConfigError: unknown accelerator name, or an explicitly named accelerator that
            needs spike data on a shapes-only workload.
    """
    reg = registry()
    overrides = dict(overrides or {})
    explicit = names is not None
    wanted = list(reg) if names is None else list(names)
    unknown = [n for n in wanted if n not in reg]
    if unknown:
        raise ConfigError("accel", f"unknown accelerator(s) {', '.join(map(str, unknown))} "
                          f"(known: {', '.join(ordered_names(list(reg)))})")
    selections: list[Selection] = []
    skipped: dict[AcceleratorId, str] = {}
    used_overrides: set[str] = set()
    for name in ordered_names(list(dict.fromkeys(wanted))):
        entry = reg[AcceleratorId(name)]
        config, used = configure(entry, overrides)
        # what this config reads (dense Prosperity prices from shapes alone)
        if entry.needs(config).spikes and not has_data:
            why = "needs spike data; this workload has layer shapes only"
            if explicit:
                raise ConfigError(f"accel.{entry.name}", why)
            skipped[entry.id] = why
            continue
        used_overrides |= used
        selections.append(Selection(entry, config))
    unused = tuple(sorted(k for k, v in overrides.items()
                          if v is not None and k not in used_overrides))
    return selections, skipped, unused


def count_for(workload: Workload, selections: Sequence[Selection]) -> list[ModelStats]:
    """The statistics of ``workload`` that ``selections`` need: one counting pass per
    tile size asked for (the first also counts every counter), see
    :func:`prosparsity.accel.base.count_for`."""
    return _count_for(workload, [s.needs for s in selections])


def stats_for(selection: Selection, stats: Sequence[ModelStats]) -> ModelStats:
    """The statistics (of several tiles) that ``selection`` prices."""
    tile = selection.needs.tile
    for s in stats:
        if tile is None or s.tile == tile:
            return s
    raise ConfigError(f"accel.{selection.entry.name}",
                      f"no statistics at tile {tile[0]}x{tile[1]} were counted")


def price(
    stats: ModelStats | Sequence[ModelStats],
    selections: Sequence[Selection],
    energy: EnergyConfig = PAPER_ENERGY,
    skipped: Mapping[AcceleratorId, str] | None = None,
    unused_overrides: tuple[str, ...] = (),
) -> SuiteResult:
    """Price ``selections`` on statistics and attach the paper's energy model.

    The energy of a config off the accelerator's paper design is withheld (``None``,
    ``Breakdown.energy_note`` says which fields moved it:
    :func:`~prosparsity.accel.energy.energy_withheld`); every ``None`` energy carries a
    note.

    Args:
        stats: the statistics (several: one per tile size, see :func:`count_for`).
        selections: what to price (:func:`select`).
        energy: the energy model's constants.
        skipped: carried into the result.
        unused_overrides: carried into the result.
    """
    all_stats = [stats] if isinstance(stats, ModelStats) else list(stats)
    network = all_stats[0].network
    results: dict[AcceleratorId, Breakdown | None] = {}
    if all_stats[0].no_gemm:  # nothing to price: no figure ("—"), not 0 cycles
        results = {sel.id: None for sel in selections}
        return SuiteResult(all_stats[0].model, results, dict(skipped or {}), unused_overrides)
    reference_bits: list[float | None] = []  # computed once, on demand
    for sel in selections:
        log.info("simulating %s on %s", sel.entry.name, all_stats[0].model)
        bd = sel.entry.simulate(stats_for(sel, all_stats), sel.config)
        if bd is None:
            results[sel.id] = bd
            continue
        withheld = energy_withheld(sel.id, sel.config, sel.entry.default_config())
        key = sel.id.energy_key
        if bd.energy_mj is None and key is None:
            bd = dataclasses.replace(bd, energy_note=f"{sel.id.display} has no energy model")
        elif withheld is not None:
            bd = dataclasses.replace(bd, energy_mj=None, energy_note=withheld)
        elif bd.energy_mj is None and key is not None:
            if sel.id is AcceleratorId.PROSPERITY:
                bits: float | None = float(bd.dram_bits)
            else:
                if not reference_bits:
                    reference_bits.append(None if network is None else _reference_bits(network))
                bits = reference_bits[0]
            if bits is None:
                bd = dataclasses.replace(bd, energy_note="no DRAM traffic reference for "
                                         f"{all_stats[0].where}: energy not priced")
            else:
                bd = dataclasses.replace(
                    bd, energy_mj=energy_mj(key, bd.latency_s, bits, energy))
        results[sel.id] = bd
    return SuiteResult(all_stats[0].model, results, dict(skipped or {}), unused_overrides)


def run_suite(
    workload: Workload,
    names: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    energy: EnergyConfig = PAPER_ENERGY,
) -> SuiteResult:
    """Count ``workload`` once for every selected accelerator, then price them all.

    Args:
        workload: what to simulate.
        names: registry names; ``None`` runs every one that applies.
        overrides: config field name -> value, applied where a config has that field.
        energy: the energy model's constants.

    Raises:
        ConfigError: unknown accelerator name, or an explicitly named accelerator that
            needs spike data on a shapes-only workload.
    """
    selections, skipped, unused = select(names, overrides, has_data=workload.has_data)
    if not selections:
        return SuiteResult(workload.name, {}, skipped, unused)
    stats = count_for(workload, selections)
    return price(stats, selections, energy, skipped, unused)


def _reference_bits(network: Network) -> float | None:
    """``D`` for the baselines: the paper's table, else Prosperity's shape-only count."""
    from prosparsity.accel.prosperity import dram_bits

    if network.paper_workload is not None:
        table = reference_dram_bits(network.paper_workload, None)
        if table is not None:
            return table
    try:
        return float(dram_bits(network))
    except HarnessError as exc:
        log.warning("no DRAM reference for energy on %s: %s", network.name, exc)
        return None
