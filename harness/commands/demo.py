"""`prosparsity demo`: the main job, end to end, offline, in well under a minute.

For every embedded *trained* model (the model registry's entries with a packaged
checkpoint), the demo captures spike traces on the model's offline data (one sample per
forward pass, batch 1 as in the paper), then counts each sample once (bit / product
density, row classes, PTB's packed rows) and prices Prosperity, PTB and the
GPU-equivalent model on those statistics, and prints the reports: density (mean ± spread
over the samples), accelerator comparison, the per-layer breakdown of the first model
and a tile-size sweep of it. Everything is also written to ``--out``. Nothing here reads
``../shared``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.core.errors import HarnessError
from prosparsity.core.ids import AcceleratorId
from prosparsity.harness.options import bounded, int_in

if TYPE_CHECKING:
    from prosparsity.analysis.network import Workload
    from prosparsity.harness.console import Output
    from prosparsity.harness.pipeline import Collector
    from prosparsity.reports.rows import AccelRow, DensityRow

#: What the demo simulates (the GPU-equivalent is the first registered ``gpu-*`` model).
DEMO_ACCELERATORS = (AcceleratorId.PROSPERITY, AcceleratorId.PTB)


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the root app."""
    app.command("demo")(demo)


def demo(
    out: Annotated[str, typer.Option(
        "--out", help="Folder for the CSV, JSON, Markdown and PNG exports.")
    ] = "out/demo",
    samples: Annotated[int, bounded(
        int_in(1, 64), "--samples", help="Samples (one trace each) per model.")] = 4,
    sweep: Annotated[bool, typer.Option(
        "--sweep/--no-sweep", help="Tile-size sweep of the first model.")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")
                     ] = True,
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="NAME",
        help="Accelerator that speedup and energy efficiency are normalised to (simulated "
             "too if the demo would not).")] = str(AcceleratorId.PTB),
) -> None:
    """Capture the embedded trained models, analyse, simulate and print the reports."""
    from prosparsity.harness.console import get_output
    from prosparsity.harness.exports import check_out_dir, write_and_print
    from prosparsity.harness.pipeline import (
        Collector,
        capture_samples,
        open_input,
        parse_baseline,
        trained_models,
    )
    from prosparsity.reports.compare import OfficialSimReferences

    output = get_output()
    folder = check_out_dir(out)
    base = parse_baseline(baseline)
    start = time.perf_counter()
    collected = Collector()
    entries = trained_models()
    names = demo_accelerators(collected, base)
    with tempfile.TemporaryDirectory(prefix="prosparsity-demo-") as tmp:
        first = True
        for entry in entries:
            try:  # e.g. a packaged checkpoint missing from this build
                trace = capture_samples(entry, samples, Path(tmp) / f"{entry.name}.h5",
                                        output.info)
            except HarnessError as exc:
                collected.skip(f"{entry.name}: {exc}")
                continue
            with open_input(trace) as opened:
                collected.sources[entry.name] = opened.source
                simulate_samples(entry.name, opened.workload, names, collected, output,
                                 sweep=trace if sweep and first else None)
            first = False
    if not (collected.density or collected.accelerators):
        raise HarnessError("the demo produced nothing: " + "; ".join(collected.skipped))
    write_and_print(collected, OfficialSimReferences({}), folder, plots=plots, output=output,
                    title="prosparsity demo", baseline=base)
    output.info(f"demo finished in {time.perf_counter() - start:.1f} s")


def demo_accelerators(collected: Collector,
                      baseline: AcceleratorId = AcceleratorId.PTB) -> list[AcceleratorId]:
    """Prosperity, PTB and the GPU-equivalent, as far as the registry has them, and the
    baseline."""
    from prosparsity.accel.base import registry
    from prosparsity.harness.exports import GPU_MODELS

    models = registry()
    chosen = [a for a in DEMO_ACCELERATORS if a in models]
    if baseline not in chosen and baseline in models:
        chosen.append(baseline)
    for name in DEMO_ACCELERATORS:
        if name not in models:
            collected.skip(f"accelerator model '{name}' is not registered")
    gpu = next((a for a in GPU_MODELS if a in models), None)
    if gpu is None:
        collected.skip("no GPU-equivalent model ('gpu-*') is registered")
    else:
        chosen.append(gpu)
    return chosen


def simulate_samples(name: str, workload: Workload, accelerators: list[AcceleratorId],
                     collected: Collector, output: Output, *, sweep: Path | None) -> None:
    """Count and price every sample of one model's trace (batch 1 each); add the mean
    rows, and for the first sample the per-layer rows and (``sweep``: the trace file)
    Figure 7's sweep."""
    from prosparsity.accel.suite import select
    from prosparsity.harness.exports import LAYER_ACCELERATORS
    from prosparsity.harness.pipeline import (
        accel_rows,
        price_sample,
        samples_of,
        sweep_rows,
    )
    from prosparsity.reports.rows import AccelRow, DensityRow

    selections, _, _ = select([str(a) for a in accelerators], has_data=workload.has_data)
    densities: list[DensityRow] = []
    runs: dict[str, list[AccelRow]] = {}
    parts = samples_of(workload, batched=False)
    for i, one in enumerate(parts):
        output.info(f"{name}: analysing and simulating sample {i + 1}/{len(parts)}")
        run = price_sample(one, selections)
        densities.append(DensityRow.of_stats(name, run.main))
        for row in accel_rows(name, run):
            runs.setdefault(row.accelerator, []).append(row)
        if i == 0:
            if not collected.layers:
                collected.add_layers(name, run, LAYER_ACCELERATORS)
            if sweep is not None and AcceleratorId.PROSPERITY in run.result.results:
                collected.sweep.extend(sweep_rows(sweep, one.name, run, output.info))
    collected.density.append(DensityRow.mean_of(name, densities))
    collected.accelerators.extend(AccelRow.mean(rows) for rows in runs.values())
