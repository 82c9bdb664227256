"""`prosparsity demo`: the main job, end to end, offline, in well under a minute.

For every embedded *trained* model (the model registry's entries with a packaged
checkpoint), the demo captures spike traces on the model's offline data (one trace per
sample, batch 1 as in the paper), analyses them (bit / product density, row classes),
simulates Prosperity, PTB and the GPU-equivalent model, and prints the reports: density
(mean ± spread over the samples), accelerator comparison, the per-layer breakdown of the
first model and a tile-size sweep of it. Everything is also written to ``--out``.
Nothing here reads ``../shared``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from prosparsity.core.errors import HarnessError
from prosparsity.harness.commands._report_rows import (
    Collected,
    accel_row,
    accelerator_models,
    density_row,
    layer_densities,
    layer_rows,
    sample_density_row,
    simulate_all,
)
from prosparsity.reports.rows import AccelRow

log = logging.getLogger(__name__)

#: Registry names the demo simulates (the GPU-equivalent is the first ``gpu-*`` model).
DEMO_ACCELERATORS = ("prosperity", "ptb")
GPU_PREFIX = "gpu-"


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the root app."""
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for the CSV, JSON, Markdown and PNG exports.")
    ] = Path("out/demo"),
    samples: Annotated[int, typer.Option(
        "--samples", min=1, max=64, help="Samples (one trace each) per model.")] = 4,
    sweep: Annotated[bool, typer.Option(
        "--sweep/--no-sweep", help="Tile-size sweep of the first model.")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")
                     ] = True,
) -> None:
    """Capture the embedded trained models, analyse, simulate and print the reports."""
    from prosparsity.harness.commands.reproduce import check_out_dir, run_sweep, write_and_print
    from prosparsity.harness.console import get_output

    output = get_output()
    check_out_dir(out)
    start = time.perf_counter()
    collected = Collected()
    entries = trained_models()
    models = demo_models(collected)
    with tempfile.TemporaryDirectory(prefix="prosparsity-demo-") as tmp:
        first = True
        for entry in entries:
            try:
                traces = capture_samples(entry, samples, Path(tmp), output)
            except HarnessError as exc:  # e.g. a packaged checkpoint missing from this build
                collected.skip(f"{entry.name}: {exc}")
                continue
            per_sample = simulate_samples(entry.name, traces, models, collected, output)
            if first and per_sample is not None:
                first = False
                workload, prosperity = per_sample
                if sweep and prosperity is not None:
                    run_sweep(entry.name, workload, prosperity[1], collected, output)
    if not (collected.density or collected.accelerators):
        raise HarnessError("the demo produced nothing: " + "; ".join(collected.skipped))
    write_and_print(collected, _no_references(), out, plots=plots, output=output,
                    title="prosparsity demo")
    output.info(f"demo finished in {time.perf_counter() - start:.1f} s")


def _no_references() -> Any:
    from prosparsity.reports.compare import OfficialSimReferences

    return OfficialSimReferences({})


def trained_models() -> list[Any]:
    """The registry's models that ship trained weights, in registry order."""
    from prosparsity.models.registry import list_models

    entries = [e for e in list_models() if e.trained]
    if not entries:
        raise HarnessError("no embedded trained model found (the model registry lists "
                           "no entry with a packaged checkpoint)")
    return entries


def demo_models(collected: Collected) -> dict[str, Any]:
    """Prosperity, PTB and the GPU-equivalent from the accelerator registry."""
    models = accelerator_models()
    chosen = {k: models[k] for k in DEMO_ACCELERATORS if k in models}
    for name in DEMO_ACCELERATORS:
        if name not in chosen:
            collected.skip(f"accelerator model '{name}' is not registered")
    gpu = next((k for k in sorted(models) if k.startswith(GPU_PREFIX)), None)
    if gpu is None:
        collected.skip(f"no GPU-equivalent model ('{GPU_PREFIX}*') is registered")
    else:
        chosen[gpu] = models[gpu]
    return chosen


def capture_samples(entry: Any, samples: int, tmp: Path, output: Any) -> list[Path]:
    """One trace per sample of ``entry``'s offline input, with its trained weights."""
    import torch

    from prosparsity.models.capture import CaptureConfig, capture_to_file
    from prosparsity.models.checkpoint import load_checkpoint, packaged_checkpoint
    from prosparsity.traces.schema import TraceInfo

    torch.manual_seed(0)
    steps = entry.time_steps
    model = entry.build(time_steps=steps, **dict(entry.options))
    loaded = load_checkpoint(model, packaged_checkpoint(entry.checkpoint))
    inputs = entry.make_input(samples=samples, time_steps=steps, seed=0)
    axis = entry.input_batch_axis
    config = CaptureConfig(time_steps=steps, runner=entry.runner, input_batch_axis=axis,
                           attention_operands=entry.attention_operands,
                           attentions=entry.attentions)
    info = TraceInfo(model=entry.name, dataset=entry.dataset, time_steps=steps,
                     weights="trained", checkpoint=str(loaded.path),
                     checkpoint_sha256=loaded.sha256)
    paths = []
    for i in range(samples):
        output.info(f"{entry.name}: capturing sample {i + 1}/{samples}")
        one = inputs.narrow(axis, i, 1)
        path = tmp / f"{entry.name}-{i}.h5"
        capture_to_file(model, one, path, info, config)
        paths.append(path)
    return paths


def simulate_samples(name: str, traces: list[Path], models: dict[str, Any],
                     collected: Collected, output: Any) -> tuple[Any, Any] | None:
    """Analyse and simulate every sample trace of one model; add the mean rows.

    Returns ``(workload, (prosperity model, breakdown))`` of the first sample (for the
    sweep), or ``None`` when nothing could be simulated.
    """
    from prosparsity.accel.workload import Workload
    from prosparsity.analysis.density import analyze_trace

    densities = []
    runs: dict[str, list[AccelRow]] = {}
    first: tuple[Any, Any] | None = None
    for i, trace in enumerate(traces):
        output.info(f"{name}: analysing and simulating sample {i + 1}/{len(traces)}")
        stats = analyze_trace(trace)
        densities.append(density_row(name, stats))
        workload = Workload.from_trace(trace)
        results = simulate_all(workload, list(models))
        prosperity = results.get("Prosperity")
        for acc, (_, breakdown) in results.items():
            runs.setdefault(acc, []).append(accel_row(name, acc, breakdown))
        if i == 0:
            first = (workload, prosperity)
            if collected.layers == {}:
                for acc in ("Prosperity", "PTB"):
                    if acc in results:
                        collected.layers.setdefault(name, []).extend(
                            layer_rows(name, acc, results[acc][1], layer_densities(stats)))
    collected.density.append(sample_density_row(name, densities))
    for rows in runs.values():
        collected.accelerators.append(mean_accel_row(rows))
    return first


def mean_accel_row(rows: list[AccelRow]) -> AccelRow:
    """Mean latency, energy and cycles of one model's samples on one accelerator."""
    def mean(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return sum(vals) / len(vals) if len(vals) == len(values) and vals else None

    first = rows[0]
    return AccelRow(
        workload=first.workload, accelerator=first.accelerator,
        latency_s=mean([r.latency_s for r in rows]) or first.latency_s,
        energy_mj=mean([r.energy_mj for r in rows]),
        total_cycles=mean([r.total_cycles for r in rows]),
        compute_cycles=mean([r.compute_cycles for r in rows]),
        mem_stall_cycles=mean([r.mem_stall_cycles for r in rows]),
        preprocess_stall_cycles=mean([r.preprocess_stall_cycles for r in rows]),
        dram_bits=mean([r.dram_bits for r in rows]),
        reported=first.reported,
    )
