"""`prosparsity simulate`: run the accelerator models on a trace or a paper workload.

A thin client of :func:`prosparsity.simulate`: a trace of several samples is priced one
sample at a time (batch 1, as in the paper; ``--batched`` folds them into one batch), the
tables are the reports' accelerator comparison and throughput table (means, cycles as
mean ± std over the samples), and ``--json`` prints the envelope around
:meth:`prosparsity.results.Simulation.to_json`. ``--html PATH`` also writes the same
tables and their plots as one self-contained page
(:meth:`prosparsity.results.Simulation.write_html`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.harness.console import get_output
from prosparsity.harness.options import TILE_K, TILE_M, bounded, int_in
from prosparsity.paper.study import HEADLINE_BASELINE
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.results import AcceleratorResult

#: The one normalisation of every command: the paper's headline baseline (PTB) unless
#: ``--baseline`` names another.
DEFAULT_BASELINE = HEADLINE_BASELINE


class _Sparsity(StrEnum):
    product = "product"
    bit = "bit"
    dense = "dense"


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("simulate")
    def simulate(
        trace: Annotated[str, typer.Argument(
            help="Trace file, .npz dump of a paper workload, or a paper workload name "
                 "(layer shapes only).")],
        accel: Annotated[list[str] | None, typer.Option(
            "--accel", "-a", metavar="NAME",
            help="Accelerator (repeatable; `prosparsity accelerators` lists them; default: "
                 "all that apply).")] = None,
        baseline: Annotated[str, typer.Option(
            "--baseline", metavar="NAME",
            help="Accelerator that speedup and energy efficiency are normalised to.")
        ] = DEFAULT_BASELINE,
        tile_m: Annotated[int | None, bounded(
            TILE_M, "--tile-m", help=f"Prosperity (and LoAS) tile rows (default: "
                                     f"{DEFAULT_TILE.tile_m}, the paper's).")] = None,
        tile_k: Annotated[int | None, bounded(
            TILE_K, "--tile-k", help=f"Prosperity (and LoAS) tile columns (default: "
                                     f"{DEFAULT_TILE.tile_k}, the paper's).")] = None,
        issue_type: Annotated[int | None, bounded(
            int_in(1, 2), "--issue-type",
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
            "--layers", help="Also print the per-layer breakdown (first sample).")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")
                           ] = False,
        html: Annotated[Path | None, typer.Option(
            "--html", metavar="PATH",
            help="Also write one self-contained HTML report (tables, plots, provenance) "
                 "to PATH.")] = None,
    ) -> None:
        """Simulate accelerators (Prosperity and the baselines) on a trace."""
        import prosparsity as ps
        from prosparsity.core.atomic import check_output_path
        from prosparsity.harness.envelope import document

        out = get_output()
        if html is not None:
            check_output_path(html, "report")  # before any work
        overrides = {"tile_m": tile_m, "tile_k": tile_k, "issue_type": issue_type,
                     "sparsity": None if sparsity is None else sparsity.value}
        with ps.open(trace, workload) as opened:
            sim = ps.simulate(opened, accel or None, baseline=baseline, overrides=overrides,
                              batched=batched, progress=out.info)
        for name, why in sim.skipped.items():
            out.info(f"skipped {name}: {why}")
        for name, result in sim.accelerators.items():  # energy withheld off the design
            if result is not None and result.model.energy_key and result.energy_note:
                out.info(f"{name}: {result.energy_note}")
                out.info(f"{name}: {_component_line(result)}")
        for name in sim.unused_overrides:
            out.warn(f"--{name.replace('_', '-')} applies to none of the selected accelerators")
        if as_json:
            out.json(document("simulate", sim.to_json(), source=opened.source, tile=sim.tile))
        else:
            out.reports(sim.reports(layers=layers))
        if html is not None:
            out.info(f"wrote {sim.write_html(html, layers=layers)}")


def _component_line(result: AcceleratorResult) -> str:
    """The component model's energy, power and area of one accelerator (means over the
    samples), where the paper's energy is withheld."""
    found = [bd.energy_area.component for bd in result.runs
             if bd.energy_area is not None and bd.energy_area.component is not None]
    if not found:
        return "no component model either"

    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return None if len(known) != len(values) else sum(known) / len(known)

    energy = mean([e.energy_mj for e in found])
    lo, hi = mean([e.energy_low_mj for e in found]), mean([e.energy_high_mj for e in found])
    band = "" if lo is None or hi is None else f" ({lo:.4g}–{hi:.4g})"
    power, area = mean([e.power_mw for e in found]), mean([e.area_mm2 for e in found])
    return (f"component model: {energy or 0:.4g} mJ{band}, {power or 0:.4g} mW, "
            f"{area or 0:.4g} mm² (--json: energy_area)")
