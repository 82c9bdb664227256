"""The result model of the front door: frozen values that add up and show themselves.

* :class:`AcceleratorResult`: one accelerator on one workload, per sample; ``+`` adds the
  runs of two samples (or traces) of the same accelerator. Means, spreads and the
  figures a model lacks (``None``, shown as "—") are decided here, once.
* :class:`~prosparsity.densities.DensityResult`: the statistics of every sample at one
  tile (bit and product density, row classes), what :func:`prosparsity.count` returns.
* :class:`Simulation`: one workload counted once and priced by several accelerators,
  what :func:`prosparsity.simulate` returns.

Each converts to the long form every export uses (:mod:`prosparsity.longform`: one row
per workload, sample, accelerator, configuration, layer where asked, and metric), to a
pandas DataFrame and an Arrow table, and shows itself in a terminal (``__rich__``), a
notebook (``_repr_html_``) and a self-contained HTML page (``write_html``) through the
reports' one renderer per concept (:mod:`prosparsity.reports`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import ConfigError
from prosparsity.core.jsonvalue import JSON
from prosparsity.core.measures import Spread, mean_or_none, speedup
from prosparsity.densities import DensityResult
from prosparsity.longform import (
    LongForm,
    finite,
    json_number,
    long_record,
    titled_report,
    write_report_page,
)
from prosparsity.paper.study import HEADLINE_BASELINE

if TYPE_CHECKING:
    from prosparsity.accel.base import Breakdown
    from prosparsity.accel.energy.result import EnergyArea
    from prosparsity.accel.registry import AcceleratorModel
    from prosparsity.analysis.stats import ModelStats
    from prosparsity.inputs import Source
    from prosparsity.reports.model import Report
    from prosparsity.reports.rows import AccelRow, LayerRow

__all__ = ["AcceleratorResult", "Simulation"]


@dataclass(frozen=True, repr=False)
class AcceleratorResult(LongForm):
    """One accelerator on one workload: a run per sample (batch 1 each) or one for the
    batch.

    Attributes:
        model: the registered accelerator (its facts decide which figures exist).
        workload: the workload's name.
        runs: the cost model's breakdown of each sample, in trace order.
        ops: the operation count of each sample (``None`` without spike data).
        changed: the config fields that differ from the published design.
        sample_ids: the trace's sample of each run; ``()``: ``0 .. len(runs) - 1``
            (a model fitted on held-out calibration samples prices the others only).
    """

    model: AcceleratorModel
    workload: str
    runs: tuple[Breakdown, ...]
    ops: tuple[int | None, ...] = ()
    changed: tuple[tuple[str, Any], ...] = ()
    sample_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.runs:
            raise ConfigError("AcceleratorResult", "needs at least one run")
        if not self.ops:
            object.__setattr__(self, "ops", (None,) * len(self.runs))
        if self.sample_ids and len(self.sample_ids) != len(self.runs):
            raise ConfigError("AcceleratorResult.sample_ids", "one sample id per run")

    def __add__(self, other: AcceleratorResult) -> AcceleratorResult:
        """The runs of both (e.g. two samples), in order."""
        if not isinstance(other, AcceleratorResult):
            return NotImplemented
        if (self.model.name, self.changed) != (other.model.name, other.changed):
            raise ConfigError("AcceleratorResult", f"cannot add {other.name} "
                              f"({other.config or 'published design'}) to {self.name} "
                              f"({self.config or 'published design'})")
        workload = (self.workload if self.workload == other.workload
                    else f"{self.workload}+{other.workload}")
        ids = (self.ids + other.ids) if self.sample_ids or other.sample_ids else ()
        return AcceleratorResult(self.model, workload, self.runs + other.runs,
                                 self.ops + other.ops, self.changed, ids)

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        """The registry name."""
        return self.model.name

    @property
    def samples(self) -> int:
        return len(self.runs)

    @property
    def ids(self) -> tuple[int, ...]:
        """The trace's sample of each run."""
        return self.sample_ids or tuple(range(len(self.runs)))

    @property
    def config(self) -> str:
        """The configuration as the long form labels it: the fields changed from the
        published design (``tile_m=2048``), ``""`` for the published design."""
        return ",".join(f"{k}={getattr(v, 'value', v)}" for k, v in self.changed)

    # ------------------------------------------------------------------ figures
    @property
    def latency(self) -> Spread:
        """End-to-end latency over the samples, s."""
        return Spread.of([bd.latency_s for bd in self.runs])

    @property
    def latency_s(self) -> float:
        """Mean end-to-end latency, s."""
        return self.latency.mean

    @property
    def cycles(self) -> Spread | None:
        """Cycles at the accelerator's clock over the samples; ``None`` for a GPU or a
        reported figure (their figure is a latency)."""
        if not self.model.cycles or self.runs[0].latency_s_override is not None:
            return None
        return Spread.of([bd.total_cycles for bd in self.runs])

    @property
    def total_cycles(self) -> float | None:
        """Mean cycles, or ``None`` (see :attr:`cycles`)."""
        cycles = self.cycles
        return None if cycles is None else cycles.mean

    @property
    def energy(self) -> Spread | None:
        """Energy over the samples, mJ; ``None`` when any sample has none."""
        return Spread.of_optional([bd.energy_mj for bd in self.runs])

    @property
    def energy_mj(self) -> float | None:
        """Mean energy, mJ, or ``None`` (:attr:`energy_note` says why)."""
        return mean_or_none([bd.energy_mj for bd in self.runs])

    @property
    def energy_note(self) -> str | None:
        """Why there is no energy, or ``None``."""
        if self.energy_mj is not None:
            return None
        return next((bd.energy_note for bd in self.runs if bd.energy_note), None)

    @property
    def dram_bits(self) -> float | None:
        """Mean DRAM traffic, bits; ``None`` for a model that counts none."""
        if not self.model.dram or self.runs[0].latency_s_override is not None:
            return None
        return sum(float(bd.dram_bits) for bd in self.runs) / len(self.runs)

    @property
    def band(self) -> tuple[float, float] | None:
        """A GPU model's prediction band (mean low and high latency, s), or ``None``."""
        low = mean_or_none([bd.extra.get("latency_low_s") for bd in self.runs])
        high = mean_or_none([bd.extra.get("latency_high_s") for bd in self.runs])
        return None if low is None or high is None else (low, high)

    def _gop(self, per_run: Sequence[float | None]) -> float | None:
        if not self.model.op_count:
            return None
        return mean_or_none(per_run)

    @property
    def gop_per_s(self) -> float | None:
        """Throughput: the operation count over the latency, GOP/s (mean over samples);
        ``None`` for an accelerator with its own operation count, or without one."""
        from prosparsity.analysis.ops import gop_per_s

        return self._gop([None if ops is None or not bd.latency_s > 0
                          else gop_per_s(ops, bd.latency_s)
                          for ops, bd in zip(self.ops, self.runs, strict=True)])

    @property
    def gop_per_j(self) -> float | None:
        """Energy efficiency: the operation count over the energy, GOP/J (mean)."""
        from prosparsity.analysis.ops import gop_per_j

        return self._gop([None if ops is None or bd.energy_mj is None or
                          not bd.energy_mj > 0 else gop_per_j(ops, bd.energy_mj)
                          for ops, bd in zip(self.ops, self.runs, strict=True)])

    def _components(self) -> list[EnergyArea] | None:
        """Each run's component-model figures, or ``None`` when any run has none."""
        out = [None if bd.energy_area is None else bd.energy_area.component
               for bd in self.runs]
        return None if any(c is None for c in out) else out  # type: ignore[return-value]

    @property
    def energy_component_mj(self) -> float | None:
        """Mean energy of the component model (every design point, calibrated), mJ; the
        paper's fixed-power figure is :attr:`energy_mj`."""
        runs = self._components()
        return None if runs is None else mean_or_none([c.energy_mj for c in runs])

    @property
    def power_mw(self) -> float | None:
        """Mean on-chip power of the component model, mW."""
        runs = self._components()
        return None if runs is None else mean_or_none([c.power_mw for c in runs])

    @property
    def area_mm2(self) -> float | None:
        """On-chip area of the design (component model), mm²."""
        runs = self._components()
        return None if runs is None else runs[0].area_mm2

    # ------------------------------------------------------------------ views
    def run_json(self, index: int) -> dict[str, JSON]:
        """One sample's ``simulate --json`` entry (see :meth:`to_json`)."""
        bd, ops = self.runs[index], self.ops[index]
        one = AcceleratorResult(self.model, self.workload, (bd,), (ops,), self.changed)
        dram = self.model.dram

        def bits(value: float) -> int | float | None:
            return json_number(value) if dram else None

        return {
            "model": self.model_json(),
            "total_cycles": json_number(bd.total_cycles),
            "clock_hz": json_number(bd.clock_hz),
            "latency_s": json_number(bd.latency_s),
            "energy_mj": json_number(bd.energy_mj),
            "energy_note": bd.energy_note if bd.energy_mj is None else None,
            "dram_bits": bits(bd.dram_bits),
            "extra": {str(k): json_number(v) for k, v in bd.extra.items()},
            "gop_per_s": one.gop_per_s,
            "gop_per_j": one.gop_per_j,
            "energy_area": None if bd.energy_area is None else bd.energy_area.to_json(),
            "layers": [
                {"name": layer.name, "total_cycles": json_number(layer.total_cycles),
                 "compute_cycles": json_number(layer.compute_cycles),
                 "mem_stall_cycles": json_number(layer.mem_stall_cycles),
                 "dram_bits": bits(layer.dram_bits)}
                for layer in bd.layers
            ],
        }

    def model_json(self) -> dict[str, JSON]:
        """Which model priced it: ``name``, ``display``, ``package`` and ``version`` (the
        distribution that registered it: a plugin's own, or the harness's with its
        version) and ``label`` (its caveat, e.g. "first-order model, no reference
        simulator"; ``""`` for none)."""
        m = self.model
        return {"name": m.name, "display": m.display, "package": m.package,
                "version": m.package_version,
                "label": m.label}

    def to_json(self) -> dict[str, JSON]:
        """The ``simulate --json`` entry: ``model`` (:meth:`model_json`: the package,
        version and label of the model that priced it), ``total_cycles`` at
        ``clock_hz``, ``latency_s``, ``energy_mj`` (``energy_note`` says why it is ``null``),
        ``dram_bits`` (``null`` for a model that counts none, never 0), ``extra`` (the
        model's own whole-run numbers: a GPU model's band ``latency_low_s`` /
        ``latency_high_s``, Prosperity's densities, ...), ``gop_per_s``, ``gop_per_j``,
        ``energy_area`` (both energy models: the paper's where it applies, the component
        model's energy, power, area, bands and breakdown at every design point;
        :meth:`prosparsity.accel.energy.EnergyReport.to_json`), ``layers``. With several
        samples every number is the mean (per layer too), plus ``samples``,
        ``sample_ids`` (the trace's samples priced) and ``total_cycles_std``,
        ``latency_s_std``, ``energy_mj_std``."""
        docs = [self.run_json(i) for i in range(self.samples)]
        if len(docs) == 1:
            return docs[0]
        entry = _mean_doc(docs)
        entry["samples"] = len(docs)
        entry["sample_ids"] = list(self.ids)
        for key in ("total_cycles", "latency_s", "energy_mj"):
            spread = Spread.of_optional([d[key] for d in docs])  # type: ignore[misc]
            entry[f"{key}_std"] = None if spread is None else spread.std
        return entry

    def row(self, variant: str = "") -> AccelRow:
        """The reports' row (mean over samples); ``variant`` labels an ablation
        (``bit`` -> ``Prosperity:bit``)."""
        from prosparsity.reports.rows import AccelRow

        reported = self.runs[0].latency_s_override is not None
        cycles = self.model.cycles and not reported

        def simulated(attr: str) -> float | None:
            if not cycles:
                return None
            return finite(sum(float(getattr(bd, attr)) for bd in self.runs) / self.samples)

        band = self.band
        return AccelRow(
            workload=self.workload, accelerator=self.model.display + (
                f":{variant}" if variant else ""),
            latency_s=self.latency_s, energy_mj=finite(self.energy_mj),
            total_cycles=simulated("total_cycles"), compute_cycles=simulated("compute_cycles"),
            mem_stall_cycles=simulated("mem_stall_cycles"),
            preprocess_stall_cycles=simulated("preprocess_stall_cycles"),
            dram_bits=finite(self.dram_bits), reported=reported,
            gop_per_s=finite(self.gop_per_s), gop_per_j=finite(self.gop_per_j),
            latency_low_s=None if band is None else finite(band[0]),
            latency_high_s=None if band is None else finite(band[1]),
            cycles_std=None if self.samples == 1 or not cycles else self.cycles.std,  # type: ignore[union-attr]
            label=self.model.label,
        )  # fmt: skip

    def layer_rows(self, densities: Mapping[str, tuple[float, float]] | None = None
                   ) -> list[LayerRow]:
        """The first sample's layers as the reports' rows, each named by the trace
        record it prices; ``densities`` maps a record to its (bit, product) density."""
        from prosparsity.reports.rows import LayerRow

        densities = densities or {}
        run = self.runs[0]
        cycles = self.model.cycles and run.latency_s_override is None

        def counted(value: float) -> float | None:
            return float(value) if cycles else None

        rows = []
        for layer in run.layers:
            bit, prod = densities.get(layer.layer, (None, None))
            rows.append(LayerRow(
                workload=self.workload, accelerator=self.model.display, layer=layer.layer,
                priced_as="" if layer.name == layer.layer else layer.name,
                op=str(layer.op), total_cycles=counted(layer.total_cycles),
                compute_cycles=counted(layer.compute_cycles),
                mem_stall_cycles=counted(layer.mem_stall_cycles),
                preprocess_stall_cycles=counted(layer.preprocess_stall_cycles),
                dram_bits=float(layer.dram_bits) if self.model.dram else None,
                added_cycles=None if not cycles or layer.added_cycles == layer.total_cycles
                else finite(layer.added_cycles),
                bit_density=finite(bit), product_density=finite(prod),
                latency_s=finite(layer.total_cycles / run.clock_hz), label=self.model.label,
            ))  # fmt: skip
        return rows

    def records(self, *, layers: bool = False) -> list[dict[str, Any]]:
        """Long form: per sample, every figure this accelerator has (and, with
        ``layers``, each layer's cycles and DRAM bits)."""
        out = []
        for i, sample in enumerate(self.ids):
            one = AcceleratorResult(self.model, self.workload, (self.runs[i],),
                                    (self.ops[i],), self.changed)
            for metric in ("total_cycles", "latency_s", "energy_mj", "dram_bits",
                           "gop_per_s", "gop_per_j", "energy_component_mj", "power_mw",
                           "area_mm2"):
                value = getattr(one, metric)
                if value is not None:
                    out.append(long_record(self.workload, sample, self.name, self.config, "",
                                           metric, value))
            if layers:
                for row in one.layer_rows():
                    for metric in ("total_cycles", "compute_cycles", "mem_stall_cycles",
                                   "dram_bits"):
                        value = getattr(row, metric)
                        if value is not None:
                            out.append(long_record(self.workload, sample, self.name,
                                                   self.config, row.layer, metric, value))
        return out

    def reports(self) -> list[Report]:
        from prosparsity.reports.build import accelerator_report

        return [accelerator_report([self.row()], baseline=self.model.display, also=())]


def _json_mean(values: Sequence[JSON]) -> JSON:
    """The mean of one key over the samples' JSON entries: nested objects key by key, a
    note the samples share as it is, ``None`` when any sample lacks the number."""
    if values and all(isinstance(v, dict) for v in values):
        dicts = [v for v in values if isinstance(v, dict)]
        return {k: _json_mean([d.get(k) for d in dicts]) for k in dicts[0]}
    if values and all(isinstance(v, str) and v == values[0] for v in values):
        return values[0]
    nums = [float(v) for v in values if isinstance(v, int | float)]
    return mean_or_none(nums) if len(nums) == len(values) else None


def _mean_doc(docs: Sequence[Mapping[str, JSON]]) -> dict[str, JSON]:
    """Field-wise means of the samples' equal-shape entries (``extra`` and layers too)."""
    out: dict[str, JSON] = {k: _json_mean([d[k] for d in docs]) for k in docs[0]
                            if k != "layers"}
    lists = [d["layers"] for d in docs]
    layers: list[JSON] = []
    if all(isinstance(ls, list) for ls in lists):
        for i, first in enumerate(lists[0]):  # type: ignore[arg-type]
            same = [ls[i] for ls in lists]  # type: ignore[index]
            layers.append({k: v if k == "name" else _json_mean([r[k] for r in same])
                           for k, v in first.items()})
    out["layers"] = layers
    return out


@dataclass(frozen=True, repr=False)
class Simulation(LongForm):
    """One workload counted once per sample and tile, priced by several accelerators.

    Attributes:
        workload: the workload's name.
        stats: per sample, the statistics counted (one per tile size, the main first).
        accelerators: registry name -> result, in the registry's order; ``None`` for an
            accelerator asked for that has no figure for this workload.
        skipped: registry name -> why it was not run (or left out: no figure here).
        unused_overrides: override names no selected config has.
        baseline: the accelerator speedup and energy efficiency are normalised to.
        source: the input, when the run opened one.
        batched: the samples were priced as one batch.
        held_out: registry name -> the calibration samples its config was fitted on
            and that it did not price (Phi's patterns on a trace of several samples).
        failed: registry name -> the one line of a plugin whose pricing raised (also
            issued as a :class:`~prosparsity.core.errors.HarnessWarning`).
    """

    workload: str
    stats: tuple[tuple[ModelStats, ...], ...]
    accelerators: Mapping[str, AcceleratorResult | None]
    skipped: Mapping[str, str] = field(default_factory=dict)
    unused_overrides: tuple[str, ...] = ()
    baseline: str = HEADLINE_BASELINE
    source: Source | None = None
    batched: bool = False
    held_out: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> AcceleratorResult:
        """The result of accelerator ``name``.

        Raises:
            ConfigError: not simulated, or no figure for this workload.
        """
        result = self.accelerators.get(name)
        if result is None:
            why = self.skipped.get(name) or ("no figure for this workload"
                                             if name in self.accelerators else "not simulated")
            why = self.failed.get(name) or why
            raise ConfigError(f"simulation.{name}", why)
        return result

    @property
    def n_samples(self) -> int:
        return len(self.stats)

    @property
    def tile(self) -> tuple[int, int]:
        """The tile of the main statistics (Prosperity's, else the paper's default)."""
        return self.stats[0][0].tile

    @property
    def densities(self) -> DensityResult:
        """The main statistics of every sample as a density result."""
        return DensityResult(self.workload, tuple(s[0] for s in self.stats), self.source,
                             self.batched)

    @property
    def ops(self) -> int | float | None:
        """Operations per sample (the mean over samples), or ``None`` without data."""
        first = next((r for r in self.accelerators.values() if r is not None), None)
        counts = [] if first is None else list(first.ops)
        if not counts or any(c is None for c in counts):
            return None
        return counts[0] if len(counts) == 1 else sum(counts) / len(counts)  # type: ignore[arg-type]

    def speedup(self, name: str, over: str | None = None) -> float | None:
        """``latency(over) / latency(name)`` (``over``: the baseline), or ``None``."""
        base, this = self.accelerators.get(over or self.baseline), self.accelerators.get(name)
        if base is None or this is None:
            return None
        return speedup(base.latency_s, this.latency_s)

    def efficiency(self, name: str, over: str | None = None) -> float | None:
        """``energy(over) / energy(name)`` (``over``: the baseline), or ``None``."""
        base, this = self.accelerators.get(over or self.baseline), self.accelerators.get(name)
        if base is None or this is None:
            return None
        return speedup(base.energy_mj, this.energy_mj)

    def to_json(self) -> dict[str, JSON]:
        """The ``data`` of the ``simulate --json`` document: ``workload``, ``ops`` per
        sample, ``samples``, ``accelerators`` (name -> :meth:`AcceleratorResult.to_json`
        or ``null`` for no figure), ``skipped`` (name -> why: not applicable, no
        figure), ``failed`` (name -> a plugin's pricing error, one line), ``baseline``,
        ``held_out`` (name -> the calibration samples it was fitted on and did not
        price)."""
        return {"workload": self.workload, "ops": self.ops, "samples": self.n_samples,
                "accelerators": {name: None if r is None else r.to_json()
                                 for name, r in self.accelerators.items()},
                "skipped": dict(self.skipped), "failed": dict(self.failed),
                "baseline": self.baseline,
                "held_out": {name: list(ids) for name, ids in self.held_out.items()}}

    def rows(self) -> list[AccelRow]:
        """The reports' rows of the accelerators with a figure."""
        return [r.row() for r in self.accelerators.values() if r is not None]

    def records(self, *, layers: bool = False) -> list[dict[str, Any]]:
        """Long form: every accelerator's figures per sample (and per layer)."""
        return [rec for r in self.accelerators.values() if r is not None
                for rec in r.records(layers=layers)]

    def reports(self, *, layers: bool = False) -> list[Report]:
        """The accelerator comparison and the throughput table (and, with ``layers``,
        the first sample's per-layer breakdown), titled with the input's provenance."""
        import dataclasses

        from prosparsity.reports.build import (
            accelerator_report,
            layer_report,
            throughput_report,
        )

        rows = self.rows()
        if not rows:  # nothing has a figure here: `skipped` says why, no empty tables
            return []
        provenance = {} if self.source is None else {self.workload: self.source.provenance}
        from prosparsity.accel.registry import find

        base = find(self.baseline)
        baseline = base.display if base is not None else self.baseline
        notes = []
        if self.n_samples > 1:
            notes.append(f"{self.n_samples} samples, batch 1 each: means over the samples "
                         "(cycles ± their sample standard deviation).")
        missing = [n for n, r in self.accelerators.items() if r is None]
        if missing:
            notes.append(f"no figure for this workload: {', '.join(missing)}")
        notes += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        notes += list(self.failed.values())
        notes += [f"{name}: fitted on held-out sample(s) {', '.join(map(str, ids))}, priced "
                  f"on the other {self[name].samples} (its means are over those)"
                  for name, ids in self.held_out.items()
                  if self.accelerators.get(name) is not None]
        comparison = accelerator_report(rows, baseline=baseline, also=(), geomean=False)
        throughput = throughput_report(rows, geomean=False)
        if self.ops is not None:
            throughput = dataclasses.replace(throughput, notes=throughput.notes + (
                f"ops = {self.ops:,.0f} per sample.",))
        out = [dataclasses.replace(comparison, notes=comparison.notes + tuple(notes)),
               throughput]
        if layers:
            densities = self.densities.layer_densities()
            layer_rows = [row for r in self.accelerators.values() if r is not None
                          for row in r.layer_rows(densities)]
            if layer_rows:
                out.append(layer_report(layer_rows))
        return [titled_report(r, provenance) for r in out]

    def html_meta(self) -> dict[str, str]:
        """The input (and its provenance), the baseline and the samples, for the page."""
        meta = {"workload": self.workload, "baseline": self.baseline,
                "samples": f"{self.n_samples}" + (" (one batch)" if self.batched else
                                                  " (batch 1 each)")}
        if self.source is not None:
            meta["input"] = self.source.describe(self.workload)
        return meta

    def write_html(self, path: str | Path, *, title: str | None = None, plots: bool = True,
                   layers: bool = False, meta: Mapping[str, str] | None = None) -> Path:
        """One self-contained ``report.html`` (``simulate --html``): the accelerator
        comparison, the throughput table (and, with ``layers``, the per-layer breakdown),
        each with its plot, the input's provenance and the tool's version.

        Raises:
            WriteError: ``path`` cannot be a file, or the write failed.
        """
        label = self.source.label if self.source is not None else self.workload
        return write_report_page(path, title or f"prosparsity simulate: {label}",
                                 self.reports(layers=layers), plots=plots,
                                 meta={**self.html_meta(), **(meta or {})})
