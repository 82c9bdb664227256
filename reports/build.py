"""Turn input rows into reports: pick the metrics, attach reference values, summarise.

The only arithmetic here is presentation: ratios of numbers already computed (reduction
factor, speedup, energy efficiency, latency normalised to bit sparsity) and geometric means
of those ratios, as the paper's figures show them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prosparsity.core.measures import geometric_mean, speedup
from prosparsity.paper.abstract import HEADLINE_BASELINES
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.reports.compare import Reference, ReferenceSource, first_reference
from prosparsity.reports.metrics import (
    Metric,
    efficiency_metric,
    speedup_metric,
)
from prosparsity.reports.model import Column, Record, Report, ReportKind
from prosparsity.reports.paper import paper_reference
from prosparsity.reports.rows import (
    AccelRow,
    DensityRow,
    LayerRow,
    SweepRow,
    tile_config,
)

GEOMEAN = "geomean"
#: ``Prosperity:bit``: a variant (ablation) of an accelerator; shown, not summarised.
VARIANT_SEPARATOR = ":"
PAPER_ONLY: tuple[ReferenceSource, ...] = (paper_reference,)


def labelled(title: str, rows: Iterable[AccelRow | LayerRow]) -> str:
    """``title`` followed by the caveat of every labelled accelerator among ``rows``
    (its registration's ``label``), e.g. ``Accelerator comparison (paper Fig. 8) — Phi,
    Bishop: first-order model, no reference simulator``; unchanged without one."""
    by_label: dict[str, list[str]] = {}
    for row in rows:
        if row.label:
            names = by_label.setdefault(row.label, [])
            name = row.accelerator.split(VARIANT_SEPARATOR)[0]
            if name not in names:
                names.append(name)
    if not by_label:
        return title
    return title + " — " + "; ".join(f"{', '.join(names)}: {label}"
                                     for label, names in by_label.items())


def _sources_note(records: Iterable[Record]) -> tuple[str, ...]:
    sources = sorted({r.reference_source for r in records if r.reference_source})
    if not sources:
        return ()
    return ("ref: " + "; ".join(sources) + ". Δ = (ours - ref) / |ref|; "
            "✗ beyond 1e-6 (density), 1 % (latency, energy), any (cycle counts).",)


# ---------------------------------------------------------------------------- Figure 11
def density_report(
    rows: Sequence[DensityRow], references: Sequence[ReferenceSource] = PAPER_ONLY
) -> Report:
    """Figure 11: bit density, product density, reduction factor, EM/PM share per workload.

    Args:
        rows: one row per workload.
        references: where to look for published values (default: the paper).
    """
    records: list[Record] = []
    for row in rows:
        def ref(metric: str, row: DensityRow = row) -> Reference | None:
            return first_reference(references, metric, row.workload, row.accelerator,
                                   tile_m=row.tile_m, tile_k=row.tile_k)

        def add(metric: str, value: float | None, reference: Reference | None = None,
                row: DensityRow = row) -> None:
            records.append(Record.of(row.workload, row.accelerator, metric, value,
                                     reference, config=tile_config(row.tile_m, row.tile_k)))

        bit_ref, prod_ref = ref(Metric.BIT_DENSITY), ref(Metric.PRODUCT_DENSITY)
        add(Metric.BIT_DENSITY, row.bit_density, bit_ref)
        add(Metric.PRODUCT_DENSITY, row.product_density, prod_ref)
        factor_ref = None
        if bit_ref is not None and prod_ref is not None and prod_ref.value > 0:
            factor_ref = Reference(bit_ref.value / prod_ref.value, prod_ref.source)
        add(Metric.REDUCTION_FACTOR, speedup(row.bit_density, row.product_density), factor_ref)
        add(Metric.EM_SHARE, row.em_share)
        add(Metric.PM_SHARE, row.pm_share)
        if row.n_samples > 1:
            add(Metric.BIT_DENSITY_STD, row.bit_density_std)
            add(Metric.PRODUCT_DENSITY_STD, row.product_density_std)
        add(Metric.N_SAMPLES, row.n_samples)
    several = any(r.n_samples > 1 for r in rows)
    notes = ["reduction = bit density / product density; EM / PM share = exact / partial "
             "matches among non-zero (row, column-tile) pairs."]
    if several:
        notes.append("With several samples: mean ± standard deviation across samples.")
    return Report(
        kind=ReportKind.DENSITY,
        title="Bit and product density (paper Fig. 11)",
        columns=(
            Column(Metric.BIT_DENSITY, "Bit density", ".6f", spread=Metric.BIT_DENSITY_STD),
            Column(Metric.PRODUCT_DENSITY, "Product density", ".6f",
                   spread=Metric.PRODUCT_DENSITY_STD),
            Column(Metric.REDUCTION_FACTOR, "Reduction", ".2f", compare=False),
            Column(Metric.EM_SHARE, "EM share", ".1%"),
            Column(Metric.PM_SHARE, "PM share", ".1%"),
            Column(Metric.N_SAMPLES, "Samples", "d"),
        ),
        records=tuple(records),
        row_keys=("workload",),
        notes=tuple(notes) + _sources_note(records),
    )


# ----------------------------------------------------------------------------- Figure 8
def _find(names: Iterable[str], wanted: str) -> str | None:
    for name in names:
        if name.lower() == wanted.lower():
            return name
    return None


def accelerator_report(
    rows: Sequence[AccelRow],
    baseline: str = "Eyeriss",
    also: Sequence[str] = HEADLINE_BASELINES,
    references: Sequence[ReferenceSource] = PAPER_ONLY,
    geomean: bool = True,
) -> Report:
    """Figure 8: latency, speedups, energy and energy efficiency, with geometric means.

    Speedup over X = latency(X) / latency(accelerator); energy efficiency over X =
    energy(X) / energy(accelerator), both per workload, then the geometric mean over the
    workloads that have both numbers. The paper normalises to ``baseline`` (Eyeriss); when
    no row of it exists, the first of ``also`` that exists is the normalisation.

    Args:
        rows: one row per workload and accelerator.
        baseline: the paper's normalisation (Eyeriss).
        also: further baselines to show speedups over (PTB and the GPU).
        references: where to look for published values (default: the paper).
        geomean: add the geometric-mean rows over the workloads.
    """
    baseline_name = baseline
    also_names = list(also)
    accelerators = list(dict.fromkeys(r.accelerator for r in rows))
    workloads = list(dict.fromkeys(r.workload for r in rows))
    by_key = {(r.workload, r.accelerator): r for r in rows}
    notes: list[str] = []
    candidates = (baseline_name, *also_names)
    baselines = [b for b in candidates if _find(accelerators, b) is not None]
    baselines = [_find(accelerators, b) or b for b in baselines]
    main = baselines[0] if baselines else None
    if main is None:
        notes.append(f"No baseline ({', '.join(candidates)}) among the accelerators: "
                     "no speedups.")
    elif main.lower() != baseline_name.lower():
        notes.append(f"{baseline_name} not simulated: speedup and energy efficiency are "
                     f"normalised to {main}.")

    records: list[Record] = []

    def ref(metric: str, workload: str, accelerator: str) -> Reference | None:
        return first_reference(references, metric, workload, accelerator)

    def ratio_ref(workload: str, num_acc: str, den_acc: str, metric: str) -> Reference | None:
        num, den = ref(metric, workload, num_acc), ref(metric, workload, den_acc)
        if num is None or den is None or den.value == 0:
            return None
        return Reference(num.value / den.value, num.source)

    for workload in workloads:
        for acc in accelerators:
            row = by_key.get((workload, acc))
            if row is None:
                continue

            def add(metric: str, value: float | None, reference: Reference | None = None,
                    acc: str = acc, workload: str = workload) -> None:
                records.append(Record.of(workload, acc, metric, value, reference))

            add(Metric.TOTAL_CYCLES, row.total_cycles, ref(Metric.TOTAL_CYCLES, workload, acc))
            if row.cycles_std is not None:
                add(Metric.TOTAL_CYCLES_STD, row.cycles_std)
            add(Metric.LATENCY_S, row.latency_s, ref(Metric.LATENCY_S, workload, acc))

            for b in baselines:
                base = by_key.get((workload, b))
                add(speedup_metric(b), speedup(base.latency_s if base else None, row.latency_s),
                    ratio_ref(workload, b, acc, Metric.LATENCY_S))
            add(Metric.ENERGY_MJ, row.energy_mj, ref(Metric.ENERGY_MJ, workload, acc))
            add(Metric.DRAM_BITS, row.dram_bits, ref(Metric.DRAM_BITS, workload, acc))
            if main is not None:
                base = by_key.get((workload, main))
                add(efficiency_metric(main), speedup(base.energy_mj if base else None,
                                                    row.energy_mj),
                    ratio_ref(workload, main, acc, Metric.ENERGY_MJ))

    ratio_metrics = [speedup_metric(b) for b in baselines]
    if main is not None:
        ratio_metrics.append(efficiency_metric(main))
    if geomean:
        records += _geomean_records(records, accelerators, ratio_metrics)

    columns = [Column(Metric.TOTAL_CYCLES, "Cycles", ",.0f", spread=Metric.TOTAL_CYCLES_STD),
               Column(Metric.LATENCY_S, "Latency (s)", ".4e")]
    columns += [Column(speedup_metric(b), f"vs {b}", ".2f", compare=False) for b in baselines]
    columns.append(Column(Metric.ENERGY_MJ, "Energy (mJ)", ".4g"))
    columns.append(Column(Metric.DRAM_BITS, "DRAM (bits)", ".4g"))
    if main is not None:
        columns.append(Column(efficiency_metric(main), f"Eff. vs {main}", ".2f",
                              compare=False))
    notes.append("Speedup over X = latency(X) / latency; energy efficiency = energy(X) / "
                 "energy" + (f"; '{GEOMEAN}' rows: geometric mean over workloads (not for "
                             "variants such as Prosperity:bit)." if geomean else "."))
    return Report(
        kind=ReportKind.ACCELERATORS,
        title=labelled("Accelerator comparison (paper Fig. 8)", rows),
        columns=tuple(columns),
        records=tuple(records),
        row_keys=("workload", "accelerator"),
        notes=tuple(notes) + _sources_note(records),
    )


def _geomean_records(records: Sequence[Record], accelerators: Iterable[str],
                     metrics: Iterable[str]) -> list[Record]:
    """The ``geomean`` row of each accelerator (not variants) and metric over the
    workloads that have a value, with the geomean of the references when every one of
    those workloads has a reference."""
    out = []
    metrics = tuple(metrics)
    for acc in (a for a in accelerators if VARIANT_SEPARATOR not in a):
        for metric in metrics:
            mine = [r for r in records if r.accelerator == acc and r.metric == metric
                    and r.value is not None and r.workload != GEOMEAN]
            gm = geometric_mean(r.value for r in mine)  # type: ignore[misc]
            if gm is None:
                continue
            gm_ref = None
            if all(r.reference is not None for r in mine):  # references for every workload
                value = geometric_mean(r.reference for r in mine)  # type: ignore[misc]
                gm_ref = None if value is None else Reference(value, "geomean of the references")
            out.append(Record.of(GEOMEAN, acc, metric, gm, gm_ref))
    return out


# ----------------------------------------------------------------------------- Table 4
def throughput_report(rows: Sequence[AccelRow], geomean: bool = True) -> Report:
    """Table 4: throughput (GOP/s) and energy efficiency (GOP/J) per workload and
    accelerator, beside the latency and energy they divide (and a GPU model's band).

    GOP/s and GOP/J come with the rows (the workload's operation count over latency and
    energy, computed once by whoever priced them); the geometric mean over workloads
    is taken per accelerator, as for Figure 8.

    Args:
        rows: one row per workload and accelerator.
        geomean: add the geometric-mean rows over the workloads.
    """
    records: list[Record] = []
    for row in rows:
        def add(metric: str, value: float | None, row: AccelRow = row) -> None:
            records.append(Record.of(row.workload, row.accelerator, metric, value))

        add(Metric.LATENCY_S, row.latency_s)
        if row.latency_low_s is not None and row.latency_high_s is not None:
            add(Metric.LATENCY_LOW_S, row.latency_low_s)
            add(Metric.LATENCY_HIGH_S, row.latency_high_s)
        add(Metric.ENERGY_MJ, row.energy_mj)
        add(Metric.GOP_PER_S, row.gop_per_s)
        add(Metric.GOP_PER_J, row.gop_per_j)
    accelerators = list(dict.fromkeys(r.accelerator for r in rows))
    if geomean:
        records += _geomean_records(records, accelerators,
                                    (Metric.GOP_PER_S, Metric.GOP_PER_J))
    notes = ["GOP/s = operations / latency, GOP/J = operations / energy, with the "
             "workload's operation count (the authors' compute_num_OPS, shared by every "
             "accelerator but Stellar: —); '—' also where a model has no energy."]
    if geomean:
        notes.append(f"'{GEOMEAN}' rows: geometric mean over workloads.")
    if any(r.metric == Metric.LATENCY_LOW_S for r in records):
        notes.append("GPU band: the measured latency a GPU model's prediction stands for, "
                     "given its leave-one-out errors (prosparsity gpu-error).")
    return Report(
        kind=ReportKind.THROUGHPUT,
        title=labelled("Throughput and energy efficiency (paper Table 4)", rows),
        columns=(
            Column(Metric.LATENCY_S, "Latency (s)", ".4e", compare=False),
            Column(Metric.LATENCY_LOW_S, "GPU band (s)", ".3e", compare=False,
                   upper=Metric.LATENCY_HIGH_S),
            Column(Metric.ENERGY_MJ, "Energy (mJ)", ".4g", compare=False),
            Column(Metric.GOP_PER_S, "GOP/s", ",.1f", compare=False),
            Column(Metric.GOP_PER_J, "GOP/J", ",.1f", compare=False),
        ),
        records=tuple(records),
        row_keys=("workload", "accelerator"),
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------- Figure 7
def sweep_report(
    rows: Sequence[SweepRow], references: Sequence[ReferenceSource] = PAPER_ONLY
) -> Report:
    """Figure 7: Prosperity's latency normalised to bit sparsity and density per tile size.

    Args:
        rows: one row per workload and tile configuration (tile_m and tile_k sweeps).
        references: where to look for published values (default: the paper).
    """
    records: list[Record] = []
    for row in rows:
        def add(metric: str, value: float | None, row: SweepRow = row) -> None:
            reference = first_reference(references, metric, row.workload, "Prosperity",
                                        tile_m=row.tile_m, tile_k=row.tile_k)
            records.append(Record.of(row.workload, "Prosperity", metric, value, reference,
                                     config=row.config))

        add(Metric.TOTAL_CYCLES, row.total_cycles)
        add(Metric.LATENCY_S, row.latency_s)
        add(Metric.NORMALIZED_LATENCY, row.latency_s / row.bit_sparsity_latency_s)
        add(Metric.PRODUCT_DENSITY, row.product_density)
        add(Metric.BIT_DENSITY, row.bit_density)
    return Report(
        kind=ReportKind.SWEEP,
        title="Tile-size exploration (paper Fig. 7)",
        columns=(
            Column(Metric.TOTAL_CYCLES, "Cycles", ",.0f"),
            Column(Metric.NORMALIZED_LATENCY, "Latency / bit-sparsity", ".4f"),
            Column(Metric.PRODUCT_DENSITY, "Product density", ".6f"),
            Column(Metric.BIT_DENSITY, "Bit density", ".6f", compare=False),
        ),
        records=tuple(records),
        row_keys=("workload", "config"),
        notes=("Latency normalised to Prosperity with bit sparsity only (same workload); "
               f"tile_m sweep at tile_k = {DEFAULT_TILE.tile_k}, "
               f"tile_k sweep at tile_m = {DEFAULT_TILE.tile_m}.",)
        + _sources_note(records),
    )


def sweep_axis(report: Report, axis: str) -> Callable[[str], int | None]:
    """For plots: a function config -> tile size along ``axis`` (``"m"`` or ``"k"``) or
    ``None`` when the config is not on that sweep line (the other tile at its default)."""
    fixed_default = DEFAULT_TILE.tile_k if axis == "m" else DEFAULT_TILE.tile_m

    def pick(config: str) -> int | None:
        m_text, k_text = config[1:].split("_K")
        m, k = int(m_text), int(k_text)
        if axis == "m":
            return m if k == fixed_default else None
        return k if m == fixed_default else None

    return pick


# ----------------------------------------------------------------------------- layers
def layer_report(
    rows: Sequence[LayerRow], references: Sequence[ReferenceSource] = PAPER_ONLY
) -> Report:
    """Per-layer breakdown of one workload: cycles, stalls, DRAM bits, densities.

    Args:
        rows: the layers, in execution order, of one or more accelerators.
        references: where to look for published per-layer values (e.g. the authors'
            simulator output on the same trace).
    """
    records: list[Record] = []
    for row in rows:
        def add(metric: str, value: float | None, row: LayerRow = row) -> None:
            if value is None:
                return
            reference = first_reference(references, metric, row.workload, row.accelerator,
                                        layer=row.priced_as or row.layer)
            records.append(Record.of(row.workload, row.accelerator, metric, value, reference,
                                     layer=row.layer))

        add(Metric.TOTAL_CYCLES, row.total_cycles)
        add(Metric.ADDED_CYCLES, row.added_cycles)
        add(Metric.COMPUTE_CYCLES, row.compute_cycles)
        add(Metric.MEM_STALL_CYCLES, row.mem_stall_cycles)
        add(Metric.PREPROCESS_STALL_CYCLES, row.preprocess_stall_cycles)
        add(Metric.LATENCY_S, row.latency_s)
        add(Metric.DRAM_BITS, row.dram_bits)
        add(Metric.BIT_DENSITY, row.bit_density)
        add(Metric.PRODUCT_DENSITY, row.product_density)
    workloads = ", ".join(dict.fromkeys(r.workload for r in rows))
    return Report(
        kind=ReportKind.LAYERS,
        title=labelled(f"Per-layer breakdown: {workloads}", rows),
        columns=(
            Column(Metric.TOTAL_CYCLES, "Cycles", ",.0f"),
            Column(Metric.ADDED_CYCLES, "Adds", ",.0f"),
            Column(Metric.COMPUTE_CYCLES, "Compute", ",.0f", compare=False),
            Column(Metric.MEM_STALL_CYCLES, "Mem stall", ",.0f", compare=False),
            Column(Metric.PREPROCESS_STALL_CYCLES, "Prep. stall", ",.0f", compare=False),
            Column(Metric.LATENCY_S, "Latency (s)", ".4e", compare=False),
            Column(Metric.DRAM_BITS, "DRAM bits", ",.0f"),
            Column(Metric.BIT_DENSITY, "Bit dens.", ".4f"),
            Column(Metric.PRODUCT_DENSITY, "Prod. dens.", ".4f"),
        ),
        records=tuple(records),
        row_keys=("accelerator", "layer"),
        notes=(("Cycles: the layer standalone; Adds: what it adds to the network total "
                "when it overlaps the GEMM before it (LIF layers).",)
               if any(r.metric == Metric.ADDED_CYCLES for r in records) else ())
        + _sources_note(records),
    )


__all__ = [
    "GEOMEAN",
    "accelerator_report",
    "density_report",
    "labelled",
    "layer_report",
    "sweep_axis",
    "sweep_report",
    "throughput_report",
]
