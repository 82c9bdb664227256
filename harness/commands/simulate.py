"""`prosparsity simulate`: run the accelerator models on a trace or a paper workload.

A trace of several samples (a ``B`` axis longer than 1) is simulated one sample at a
time, batch 1 as in the paper and as ``analyze`` does: the table shows the mean (± the
sample standard deviation) over the samples, and the JSON document holds the means plus
``samples`` and ``*_std`` (see :meth:`prosparsity.harness.pipeline.Simulation.to_json`).
``--batched`` simulates the samples as one batch instead (their GEMMs folded together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.core.ids import AcceleratorId
from prosparsity.harness.console import get_output
from prosparsity.paper.tiles import DEFAULT_TILE

#: Registry names, in the CLI's order (``--accel`` choices).
ACCELERATORS = tuple(str(a) for a in AcceleratorId)
#: The one normalisation of every command: PTB unless ``--baseline`` names another.
DEFAULT_BASELINE = AcceleratorId.PTB

if TYPE_CHECKING:
    from rich.console import RenderableType

    from prosparsity.accel.base import Breakdown
    from prosparsity.harness.envelope import Source
    from prosparsity.harness.pipeline import Simulation


class _Sparsity(StrEnum):
    product = "product"
    bit = "bit"
    dense = "dense"


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


@dataclass(frozen=True)
class _Summary:
    """One accelerator over the samples: means (and the cycles' spread)."""

    cycles: float
    cycles_std: float
    latency_s: float
    energy_mj: float | None
    dram_bits: float
    band_s: tuple[float, float] | None
    gop_per_s: float | None
    gop_per_j: float | None


def _summary(sim: Simulation, acc: AcceleratorId) -> _Summary | None:
    from prosparsity.reports.rows import mean_or_none

    runs = sim.breakdowns(acc)
    if not runs or any(bd is None for bd in runs):
        return None
    done = [bd for bd in runs if bd is not None]
    cycles = [float(bd.total_cycles) for bd in done]
    lows = [bd.extra.get("latency_low_s") for bd in done]
    highs = [bd.extra.get("latency_high_s") for bd in done]
    low, high = mean_or_none(lows), mean_or_none(highs)
    return _Summary(
        cycles=sum(cycles) / len(cycles), cycles_std=_std(cycles),
        latency_s=sum(bd.latency_s for bd in done) / len(done),
        energy_mj=mean_or_none([bd.energy_mj for bd in done]),
        dram_bits=sum(float(bd.dram_bits) for bd in done) / len(done),
        band_s=None if low is None or high is None else (low, high),
        gop_per_s=mean_or_none([run.gop_per_s(acc) for run in sim.runs]),
        gop_per_j=mean_or_none([run.gop_per_j(acc) for run in sim.runs]),
    )  # fmt: skip


def render(sim: Simulation, layers: bool = False, baseline: AcceleratorId | None = None,
           source: Source | None = None) -> list[RenderableType]:
    """Rich renderables of a simulation: one row per accelerator (with several samples
    the mean, cycles as mean ± std), and per-layer tables (of the first sample).

    Speedup over the baseline is ``latency(baseline) / latency``, energy efficiency
    ``energy(baseline) / energy`` (the reports' rule). "—" marks what an accelerator has
    no figure for: cycles of a GPU (its latency is the figure), DRAM of a model that
    counts none, energy without an energy model, GOP/s of Stellar (no shared operation
    count), cycles of a reported figure (Stellar, the A100: a latency), everything of a
    reported figure this workload lacks.
    """
    from rich.table import Table

    from prosparsity.harness.pipeline import source_caption, source_marks

    base = AcceleratorId.PTB if baseline is None else baseline
    several = sim.n_samples > 1
    title = f"simulate: {sim.workload}"
    if several:
        title += f", {sim.n_samples} samples, batch 1 each (mean over samples)"
    if source is not None:
        title += "".join(f"; {mark}" for mark in source_marks(source))
    summaries = {acc: _summary(sim, acc) for acc in sim.accelerators}
    base_summary = summaries.get(base)
    band = any(s is not None and s.band_s is not None for s in summaries.values())
    notes = []
    ops = sim.ops()
    if ops is not None:
        notes.append(f"GOP/s = ops / latency, GOP/J = ops / energy, ops = {ops:,.0f} per "
                     "sample (the authors' operation count; Stellar has none: —)")
    if base_summary is None:
        notes.append(f"no speedups: the baseline {base} was not simulated (or has no "
                     "figure here); choose one with --baseline NAME")
    else:
        notes.append(f"speedup = latency({base}) / latency; eff. (energy efficiency) = "
                     f"energy({base}) / energy")
    if band:
        notes.append("GPU band: the latency a measurement may have, given the model's "
                     "leave-one-out errors (`prosparsity gpu-error`)")
    missing = [str(a) for a, v in summaries.items() if v is None]
    if missing:
        notes.append(f"no figure for this workload: {', '.join(missing)}")
    if source is not None:
        notes += source_caption(source)
    table = Table(title=title, title_justify="left", caption="\n".join(notes),
                  caption_justify="left")
    table.add_column("accelerator", no_wrap=True,
                     min_width=max((len(str(n)) for n in sim.accelerators), default=11))
    headers = ["cycles", "latency\n(ms)"]
    if band:
        headers.append("GPU band\n(ms)")
    headers += ["energy\n(mJ)", "DRAM\n(Mbit)", "GOP/s", "GOP/J", f"speedup\nvs {base}",
                f"eff.\nvs {base}"]
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for acc, summary in summaries.items():
        if summary is None:
            table.add_row(str(acc), *["—"] * len(headers))
            continue
        cycles = "—"
        if not (acc.is_gpu or acc.is_reported):  # a GPU's or a reported figure: latency
            cycles = f"{summary.cycles:,.0f}" + (f" ± {summary.cycles_std:,.0f}"
                                                 if several else "")
        speed = eff = "—"
        if base_summary is not None and summary.latency_s > 0:
            speed = f"{base_summary.latency_s / summary.latency_s:.2f}x"
            if base_summary.energy_mj is not None and summary.energy_mj:
                eff = f"{base_summary.energy_mj / summary.energy_mj:.2f}x"
        cells = [cycles, _fmt(summary.latency_s * 1e3, ".4g")]
        if band:
            cells.append("—" if summary.band_s is None else
                         f"{summary.band_s[0] * 1e3:.3g}–{summary.band_s[1] * 1e3:.3g}")
        cells += [_fmt(summary.energy_mj, ".4g"),
                  _fmt(summary.dram_bits / 1e6 if acc.models_dram else None, ".4g"),
                  _fmt(summary.gop_per_s, ",.1f"), _fmt(summary.gop_per_j, ",.1f"),
                  speed, eff]
        table.add_row(str(acc), *cells)
    out: list[RenderableType] = [table]
    if layers:
        first = sim.runs[0].result.results if sim.runs else {}
        for acc, bd in first.items():
            if bd is not None and bd.layers:
                out.append(_layer_table(acc, bd, several))
    return out


def _fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _layer_table(acc: AcceleratorId, bd: Breakdown, first_sample: bool) -> RenderableType:
    from rich.table import Table

    title = f"{acc}: per layer" + (" (sample 0)" if first_sample else "")
    lt = Table(title=title, title_justify="left")
    cycles = "latency (us)" if acc.is_gpu else "total"
    for col in ("layer", "op", cycles, "compute", "mem stall", "added", "DRAM bits"):
        lt.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for layer in bd.layers:
        if acc.is_gpu:
            us = layer.total_cycles / bd.clock_hz * 1e6
            lt.add_row(layer.name, layer.op, f"{us:,.1f}", "—", "—", "—",
                       _fmt_int(layer.dram_bits))
            continue
        lt.add_row(layer.name, layer.op, _fmt_int(layer.total_cycles),
                   _fmt_int(layer.compute_cycles), _fmt_int(layer.mem_stall_cycles),
                   _fmt_int(layer.network_cycles),
                   _fmt_int(layer.dram_bits if acc.models_dram else None))
    return lt


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("simulate")
    def simulate(
        trace: Annotated[str, typer.Argument(
            help="Trace file, .npz dump of a paper workload, or a paper workload name "
                 "(layer shapes only).")],
        accel: Annotated[list[str] | None, typer.Option(
            "--accel", "-a", metavar="NAME",
            help=f"Accelerator (repeatable): {', '.join(ACCELERATORS)} (default: all "
                 "that apply).")] = None,
        baseline: Annotated[str, typer.Option(
            "--baseline", metavar="NAME",
            help="Accelerator that speedup and energy efficiency are normalised to.")
        ] = str(DEFAULT_BASELINE),
        tile_m: Annotated[int | None, typer.Option(
            "--tile-m", min=1, help=f"Prosperity (and LoAS) tile rows (default: "
                                    f"{DEFAULT_TILE.tile_m}, the paper's).")] = None,
        tile_k: Annotated[int | None, typer.Option(
            "--tile-k", min=1, help=f"Prosperity (and LoAS) tile columns (default: "
                                    f"{DEFAULT_TILE.tile_k}, the paper's).")] = None,
        issue_type: Annotated[int | None, typer.Option(
            "--issue-type", min=1, max=2,
            help="Prosperity issue type: 1 or 2 (default: 2, the paper's).")] = None,
        sparsity: Annotated[_Sparsity | None, typer.Option(
            "--sparsity", help="Prosperity sparsity mode (default: product).")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload",
            help="Paper workload an .npz dump belongs to (default: the file's name).")
        ] = None,
        batched: Annotated[bool, typer.Option(
            "--batched", help="Simulate all samples of a multi-sample trace as one batch "
                              "(their GEMMs folded) instead of one sample at a time.")] = False,
        layers: Annotated[bool, typer.Option(
            "--layers", help="Also print per-layer tables.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")
                           ] = False,
    ) -> None:
        """Simulate accelerators (Prosperity and the baselines) on a trace."""
        from prosparsity.harness.envelope import document
        from prosparsity.harness.pipeline import open_input, parse_baseline
        from prosparsity.harness.pipeline import simulate as run

        out = get_output()
        base = parse_baseline(baseline)
        overrides = {"tile_m": tile_m, "tile_k": tile_k, "issue_type": issue_type,
                     "sparsity": None if sparsity is None else sparsity.value}
        with open_input(trace, workload) as opened:
            sim = run(opened.workload, accel or None, overrides, batched=batched,
                      progress=out.info)
        for name, why in sim.skipped.items():
            out.info(f"skipped {name}: {why}")
        for acc in sim.accelerators:  # energy withheld off the paper's design
            notes = {bd.energy_note for bd in sim.breakdowns(acc) if bd is not None
                     and bd.energy_mj is None and bd.energy_note and acc.energy_key}
            for note in sorted(notes):
                out.info(f"{acc}: {note}")
            if notes:
                out.info(f"{acc}: {_component_line(sim, acc)}")
        for name in sim.unused_overrides:
            out.warn(f"--{name.replace('_', '-')} applies to none of the selected accelerators")
        if as_json:
            data = sim.to_json()
            data["baseline"] = str(base)
            out.json(document("simulate", data, source=opened.source, tile=sim.tile))
        else:
            out.print(*render(sim, layers, base, opened.source))


def _component_line(sim: Simulation, acc: AcceleratorId) -> str:
    """The component model's energy, power and area of ``acc`` (means over samples)."""
    found = [run.result.energy[acc].component for run in sim.runs
             if acc in run.result.energy and run.result.energy[acc].component is not None]
    if not found:
        return "no component model either"

    def mean(field: str) -> float | None:
        values = [getattr(e, field) for e in found]
        return None if None in values else sum(values) / len(values)

    lo, hi = mean("energy_low_mj"), mean("energy_high_mj")
    band = "" if lo is None or hi is None else f" ({lo:.4g}–{hi:.4g})"
    power, area = mean("power_mw"), mean("area_mm2")
    return (f"component model: {mean('energy_mj'):.4g} mJ{band}, "
            f"{power or 0:.4g} mW, {area or 0:.4g} mm² (--json: energy_area)")
