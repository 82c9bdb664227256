"""`prosparsity simulate`: run the accelerator models on a trace or a paper workload.

A trace of several samples (a ``B`` axis longer than 1) is simulated one sample at a
time, batch 1 as in the paper and as ``analyze`` does: the table shows the mean (± the
sample standard deviation) over the samples, and the JSON document holds the means plus
``samples`` and ``*_std`` (see :meth:`prosparsity.harness.pipeline.Simulation.to_json`).
``--batched`` simulates the samples as one batch instead (their GEMMs folded together).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.harness.console import get_output

if TYPE_CHECKING:
    from rich.console import RenderableType

    from prosparsity.accel.base import Breakdown
    from prosparsity.core.ids import AcceleratorId
    from prosparsity.harness.pipeline import Simulation


class _Sparsity(StrEnum):
    product = "product"
    bit = "bit"
    dense = "dense"


def _fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _mean(values: Sequence[float | None]) -> float | None:
    nums = [v for v in values if v is not None]
    return sum(nums) / len(nums) if nums and len(nums) == len(values) else None


def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def render(sim: Simulation, layers: bool = False) -> list[RenderableType]:
    """Rich renderables of a simulation: one row per accelerator (with several samples
    the mean, cycles as mean ± std), and per-layer tables (of the first sample)."""
    from rich.table import Table

    from prosparsity.core.ids import AcceleratorId

    several = sim.n_samples > 1
    title = f"simulate: {sim.workload}"
    if several:
        title += f", {sim.n_samples} samples, batch 1 each (mean over samples)"
    table = Table(title=title, title_justify="left")
    table.add_column("accelerator", no_wrap=True,
                     min_width=max((len(str(n)) for n in sim.accelerators), default=11))
    headers = ("cycles", "latency\n(ms)", "energy\n(mJ)", "DRAM\n(Mbit)", "latency ÷\nprosperity")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    means = {acc: _summary(sim.breakdowns(acc)) for acc in sim.accelerators}
    base = means.get(AcceleratorId.PROSPERITY)
    for acc, summary in means.items():
        if summary is None:
            table.add_row(str(acc), "n/a", "n/a", "n/a", "n/a", "no figure")
            continue
        cycles, cycles_std, latency, energy, dram = summary
        speed = "-"
        if base is not None and latency > 0:
            speed = f"{latency / base[2]:.2f}x"
        shown = _fmt_int(cycles) + (f" ± {cycles_std:,.0f}" if several else "")
        table.add_row(str(acc), shown, _fmt(latency * 1e3, ".4f"), _fmt(energy, ".4f"),
                      _fmt(dram / 1e6, ".3f"), speed)
    out: list[RenderableType] = [table]
    if layers:
        first = sim.runs[0].result.results if sim.runs else {}
        for acc, bd in first.items():
            if bd is not None and bd.layers:
                out.append(_layer_table(acc, bd, several))
    return out


def _summary(runs: list[Breakdown | None]) -> tuple[float, float, float, float | None,
                                                     float] | None:
    """(cycles mean, cycles std, latency mean, energy mean, DRAM mean) over samples."""
    if not runs or any(bd is None for bd in runs):
        return None
    done = [bd for bd in runs if bd is not None]
    cycles = [float(bd.total_cycles) for bd in done]
    return (sum(cycles) / len(cycles), _std(cycles),
            sum(bd.latency_s for bd in done) / len(done),
            _mean([bd.energy_mj for bd in done]),
            sum(float(bd.dram_bits) for bd in done) / len(done))


def _layer_table(acc: AcceleratorId, bd: Breakdown, first_sample: bool) -> RenderableType:
    from rich.table import Table

    title = f"{acc}: per layer" + (" (sample 0)" if first_sample else "")
    lt = Table(title=title, title_justify="left")
    for col in ("layer", "op", "total", "compute", "mem stall", "added", "DRAM bits"):
        lt.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for layer in bd.layers:
        lt.add_row(layer.name, layer.op, _fmt_int(layer.total_cycles),
                   _fmt_int(layer.compute_cycles), _fmt_int(layer.mem_stall_cycles),
                   _fmt_int(layer.network_cycles), _fmt_int(layer.dram_bits))
    return lt


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("simulate")
    def simulate(
        trace: Annotated[str, typer.Argument(
            help="Trace file, .npz dump of a paper workload, or a paper workload name "
                 "(layer shapes only).")],
        accel: Annotated[list[str] | None, typer.Option(
            "--accel", "-a", help="Accelerator (repeatable); default: all that apply.")] = None,
        tile_m: Annotated[int | None, typer.Option(
            "--tile-m", min=1, help="Prosperity tile rows.")] = None,
        tile_k: Annotated[int | None, typer.Option(
            "--tile-k", min=1, help="Prosperity tile columns.")] = None,
        issue_type: Annotated[int | None, typer.Option(
            "--issue-type", min=1, max=2, help="Prosperity issue type: 1 or 2.")] = None,
        sparsity: Annotated[_Sparsity | None, typer.Option(
            "--sparsity", help="Prosperity sparsity mode.")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload", help="Paper workload an .npz dump belongs to.")] = None,
        batched: Annotated[bool, typer.Option(
            "--batched", help="Simulate all samples of a multi-sample trace as one batch "
                              "(their GEMMs folded) instead of one sample at a time.")] = False,
        layers: Annotated[bool, typer.Option(
            "--layers", help="Also print per-layer tables.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Simulate accelerators (Prosperity and the baselines) on a trace."""
        from prosparsity.harness.pipeline import open_workload
        from prosparsity.harness.pipeline import simulate as run

        out = get_output()
        overrides = {"tile_m": tile_m, "tile_k": tile_k, "issue_type": issue_type,
                     "sparsity": None if sparsity is None else sparsity.value}
        with open_workload(trace, workload) as wl:
            sim = run(wl, accel or None, overrides, batched=batched, progress=out.info)
        for name, why in sim.skipped.items():
            out.info(f"skipped {name}: {why}")
        for name in sim.unused_overrides:
            out.warn(f"--{name.replace('_', '-')} applies to none of the selected accelerators")
        if as_json:
            out.json(sim.to_json())
        else:
            out.print(*render(sim, layers))
