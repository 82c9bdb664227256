"""`prosparsity demo`: the main job, end to end, offline, in well under a minute.

A thin client of :func:`prosparsity.demo`: every embedded *trained* model is captured on
its offline data (one sample per forward pass, batch 1 as in the paper), each sample is
counted once and priced by Prosperity, PTB and the GPU-equivalent model, and the reports
(density, accelerator comparison, throughput, Figure 7's tile sweep of the first model,
its per-layer breakdown) are printed and written to ``--out`` with the traces
(``--out/traces``) and one self-contained ``report.html``. Nothing here reads
``../shared``.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from prosparsity.harness.options import bounded, int_in
from prosparsity.paper.study import HEADLINE_BASELINE


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the root app."""
    app.command("demo")(demo)


def demo(
    out: Annotated[str, typer.Option(
        "--out", help="Folder for the traces, the CSV, JSON, Markdown and PNG exports and "
                      "report.html.")] = "out/demo",
    samples: Annotated[int, bounded(
        int_in(1, 64), "--samples", help="Samples (one trace each) per model.")] = 4,
    sweep: Annotated[bool, typer.Option(
        "--sweep/--no-sweep", help="Tile-size sweep of the first model.")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")
                     ] = True,
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="NAME",
        help="Accelerator that speedup and energy efficiency are normalised to (simulated "
             "too if the demo would not).")] = HEADLINE_BASELINE,
) -> None:
    """Capture the embedded trained models, analyse, simulate and print the reports."""
    import prosparsity as ps
    from prosparsity.harness.console import get_output
    from prosparsity.harness.study import print_and_write
    from prosparsity.studies import check_out_dir

    output = get_output()
    folder = check_out_dir(out)  # '' is no folder (a Path option would read it as '.')
    start = time.perf_counter()
    study = ps.demo(folder, samples=samples, tile_sweep=sweep, baseline=baseline,
                    progress=output.info)
    print_and_write(study, folder, plots=plots, output=output)
    output.info(f"demo finished in {time.perf_counter() - start:.1f} s")
