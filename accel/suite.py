"""Price several registered accelerators on statistics counted once.

* :func:`select`: the accelerators of a run and their configs (shared knobs such as
  ``tile_m``, ``tile_k``, ``issue_type``, ``sparsity`` are applied to every selected
  accelerator whose config has a field of that name);
* :func:`price`: every model's pure ``simulate(stats, config)`` on the statistics the
  front door counted for them (one counting pass per tile size,
  :func:`prosparsity.api.count_for`), and the paper's energy (withheld, with a note, for a
  configuration off the paper's design: :func:`prosparsity.accel.energy.energy_withheld`;
  the one place that rule applies), with the component model's energy, power and area
  at every design point beside it (``Breakdown.energy_area``,
  :func:`prosparsity.accel.energy.component_energy`).

Which accelerators apply: those that need spike data only when the workload has data
(reported-figure models run everywhere and answer ``None`` off the paper's workloads),
and those whose registration's ``applies`` accepts the network (Bishop: transformers).
A plugin's pricing that raises is its own: :func:`price` answers a
:class:`~prosparsity.accel.registry.PricingFailure` for it, and prices the others.

Energy (``prosparsity.accel.energy``): a model registered with an energy key whose
breakdown carries no energy of its own gets ``P * latency + e_DRAM * ratio * D``, with
``D`` Prosperity's DRAM traffic: the paper's table for a paper workload, else
Prosperity's shape-only DRAM count on this workload (for Prosperity itself, the traffic
of the run being priced).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prosparsity.accel.base import Breakdown, Needs
from prosparsity.accel.energy import (
    PAPER_ENERGY,
    EnergyConfig,
    EnergyReport,
    energy_mj,
    energy_withheld,
    reference_dram_bits,
)
from prosparsity.accel.energy.designs import DEFAULT_COMPONENTS, ComponentConfig
from prosparsity.accel.energy.model import component_energy, paper_energy_area
from prosparsity.accel.registry import AcceleratorModel, PricingFailure, registry
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import ModelStats
from prosparsity.core.errors import ConfigError, HarnessError

log = logging.getLogger(__name__)

__all__ = ["Selection", "configure", "price", "select", "stats_for"]


@dataclass(frozen=True)
class Selection:
    """One accelerator of a run with its resolved config.

    Attributes:
        entry: the registered model.
        config: its config (the published design with the run's overrides).
    """

    entry: AcceleratorModel
    config: Any

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def needs(self) -> Needs:
        """What the config needs counted."""
        return self.entry.needs(self.config)


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
    network: Network | None = None,
) -> tuple[list[Selection], dict[str, str], tuple[str, ...]]:
    """The accelerators of a run, in the registry's order, with their configs.

    Args:
        names: registry names (or display spellings); ``None`` selects every one that
            applies.
        overrides: config field name -> value, applied where a config has that field.
        has_data: whether the workload has spike data (models needing it are skipped
            otherwise, or refused when named explicitly).
        network: the workload's layers: a model whose ``applies`` refuses them is
            skipped with its reason (named explicitly too: it has no figure there).

    Returns:
        The selections, the skipped names with the reason, and the override names no
        selected config has.

    Raises:
        ConfigError: unknown accelerator name, or an explicitly named accelerator that
            needs spike data on a shapes-only workload.
    """
    from prosparsity.accel.registry import find

    reg = registry()
    overrides = dict(overrides or {})
    explicit = names is not None
    wanted: list[str] = []
    unknown: list[str] = []
    for name in (list(reg) if names is None else names):
        model = reg.get(name) or find(name)
        if model is None:
            unknown.append(str(name))
        else:
            wanted.append(model.name)
    if unknown:
        raise ConfigError("accel", f"unknown accelerator(s) {', '.join(unknown)} "
                          f"(known: {', '.join(reg)})")
    selections: list[Selection] = []
    skipped: dict[str, str] = {}
    used_overrides: set[str] = set()
    for name in (n for n in reg if n in set(wanted)):
        entry = reg[name]
        why_not = entry.why_not(network)
        if why_not is not None:
            skipped[entry.name] = why_not
            continue
        config, used = configure(entry, overrides)
        # what this config reads (dense Prosperity prices from shapes alone)
        if entry.needs(config).spikes and not has_data:
            why = "needs spike data; this workload has layer shapes only"
            if explicit:
                raise ConfigError(f"accel.{entry.name}", why)
            skipped[entry.name] = why
            continue
        used_overrides |= used
        selections.append(Selection(entry, config))
    unused = tuple(sorted(k for k, v in overrides.items()
                          if v is not None and k not in used_overrides))
    return selections, skipped, unused


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
    components: ComponentConfig | None = DEFAULT_COMPONENTS,
) -> dict[str, Breakdown | PricingFailure | None]:
    """Price ``selections`` on statistics and attach the paper's energy model and the
    component model.

    A plugin's pricing that raises (any exception) is logged and answered as its
    :class:`~prosparsity.accel.registry.PricingFailure` (one line naming the plugin, its
    package and the error); the other selections are priced as usual. A built-in
    model's error is the run's.

    The paper's energy of a config off the accelerator's published design is withheld
    (``None``, ``Breakdown.energy_note`` says which fields moved it:
    :func:`~prosparsity.accel.energy.energy_withheld`); every ``None`` energy carries a
    note. The component model prices every design point (``Breakdown.energy_area``:
    both models' :class:`~prosparsity.accel.energy.EnergyReport`).

    Args:
        stats: the statistics (several: one per tile size the selections need).
        selections: what to price (:func:`select`).
        energy: the paper energy model's constants.
        components: the component model's options; ``None`` leaves it out.

    Returns:
        Registry name -> breakdown (``None``: the model has no figure for this workload;
        a :class:`~prosparsity.accel.registry.PricingFailure`: the plugin failed), in the
        selections' order.
    """
    all_stats = [stats] if isinstance(stats, ModelStats) else list(stats)
    network = all_stats[0].network
    results: dict[str, Breakdown | PricingFailure | None] = {}
    if all_stats[0].no_gemm:  # nothing to price: no figure ("—"), not 0 cycles
        return {sel.name: None for sel in selections}
    reference_bits: list[float | None] = []  # computed once, on demand

    def reference() -> float | None:
        if not reference_bits:
            reference_bits.append(None if network is None else _reference_bits(network))
        return reference_bits[0]

    for sel in selections:
        log.info("simulating %s on %s", sel.name, all_stats[0].model)
        priced_stats = stats_for(sel, all_stats)
        try:
            bd = sel.entry.simulate(priced_stats, sel.config)
        except Exception as exc:  # a plugin's failure is its own, never the run's
            if not sel.entry.plugin:
                raise
            failure = PricingFailure(sel.name, sel.entry.origin, priced_stats.where,
                                     f"{type(exc).__name__}: {exc}")
            log.info("%s", failure)  # the front door reports it, once
            results[sel.name] = failure
            continue
        if bd is None:
            results[sel.name] = bd
            continue
        withheld = energy_withheld(sel.config, sel.entry.default_config())
        key = sel.entry.energy_key
        if bd.energy_mj is None and key is None:
            bd = dataclasses.replace(bd, energy_note=f"{sel.entry.display} has no energy "
                                     "model")
        elif withheld is not None:
            bd = dataclasses.replace(bd, energy_mj=None, energy_note=withheld)
        elif bd.energy_mj is None and key is not None:
            # Prosperity's own traffic is the energy model's D
            bits = float(bd.dram_bits) if key == "Prosperity" else reference()
            if bits is None:
                bd = dataclasses.replace(bd, energy_note="no DRAM traffic reference for "
                                         f"{all_stats[0].where}: energy not priced")
            else:
                bd = dataclasses.replace(
                    bd, energy_mj=energy_mj(key, bd.latency_s, bits, energy))
        if components is not None:
            bd = dataclasses.replace(bd, energy_area=_energy_report(
                sel, priced_stats, bd, energy, components, reference))
        results[sel.name] = bd
    return results


def _energy_report(sel: Selection, stats: ModelStats, bd: Breakdown, energy: EnergyConfig,
                   components: ComponentConfig,
                   reference: Callable[[], float | None]) -> EnergyReport:
    """Both energy models on one priced run (the component model's failure on a trace
    the cost model priced becomes a note, never an error of the run)."""
    paper = paper_energy_area(sel.entry, bd, energy)
    try:
        ref = None if sel.entry.dram else reference()
        component = component_energy(sel.entry, sel.config, stats, bd, components, ref)
        note = None if component is not None else f"{sel.entry.display} has no component design"
    except HarnessError as exc:
        log.warning("component energy of %s: %s", sel.name, exc)
        component, note = None, f"component model: {exc}"
    return EnergyReport(paper, component, None if paper is not None else bd.energy_note, note)


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
