"""`prosparsity capture` (record a model's spiking GEMMs into a trace) and
`prosparsity models` (list the model registry)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from prosparsity.harness.console import get_output


def capture(
    out: Annotated[Path, typer.Option("--out", "-o", help="Trace file to write (.h5).")],
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL",
            help="Registry name (see `prosparsity models`) or package.module:factory.",
            show_default=False,
        ),
    ] = None,
    model_opt: Annotated[
        str | None,
        typer.Option("--model", help="Your own model, package.module:factory (instead of MODEL)."),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="State dict to load (torch.load with weights_only=True)."),
    ] = None,
    input_path: Annotated[
        Path | None,
        typer.Option("--input", help="Input tensor (.pt or .npy); default: the model's own."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(min=1, help="Samples to record [default: 1, or all of --input].")
    ] = None,
    time_steps: Annotated[
        int | None, typer.Option("--time-steps", "-T", min=1, help="Time steps T.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Samples per forward pass [default: all].")
    ] = None,
    random_weights: Annotated[
        bool, typer.Option(help="Ignore the packaged checkpoint (untrained network).")
    ] = False,
    runner: Annotated[
        str | None,
        typer.Option(help="For --model: 'multi' (spikingjelly, default) or 'loop' (snntorch)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of random weights and random inputs.")] = 0,
) -> None:
    """Run a model on its input and record every spiking GEMM into a trace file."""
    _quiet_torch()
    from rich.table import Table

    from prosparsity.core.errors import HarnessError
    from prosparsity.models.capture import capture_model

    output = get_output()
    if (model is None) == (model_opt is None):
        raise HarnessError("give exactly one model: MODEL or --model package.module:factory")
    spec = model if model is not None else model_opt
    if model_opt is not None and ":" not in model_opt:
        raise HarnessError(f"--model '{model_opt}': expected package.module:factory")
    with output.progress() as bar:
        task = bar.add_task(f"capturing {spec}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = capture_model(
                spec,
                out,
                checkpoint=checkpoint,
                input_path=input_path,
                samples=samples,
                time_steps=time_steps,
                batch_size=batch_size,
                random_weights=random_weights,
                runner=runner,
                seed=seed,
                progress=progress,
            )
        except OSError as exc:  # disk full, permission denied, ...
            raise HarnessError(f"cannot write {out}: {exc.strerror or exc}") from None
    info, summary = result.info, result.summary
    table = Table(title=f"{result.path}", title_justify="left")
    for col in ("layer", "kind", "shape", "layout", "levels"):
        table.add_column(col, justify="right" if col == "shape" else "left")
    for rec in summary.records:
        if rec.has_data:
            levels = ",".join(str(v) for v in rec.levels)
            shape = "x".join(map(str, rec.shape))
            table.add_row(rec.name, str(rec.kind), shape, rec.layout, levels)
    output.print(table)
    lif = sum(1 for r in summary.records if str(r.kind) == "lif")
    gemm = sum(1 for r in summary.records if r.has_data)
    output.info(
        f"{info.model}: {gemm} GEMM layers, {lif} LIF layers, {info.samples} sample(s), "
        f"T={info.time_steps}, weights: {info.weights}"
        + (f" ({Path(info.checkpoint).name})" if info.checkpoint else "")
    )
    if summary.skipped:
        output.info(f"not spiking GEMMs (analog input), skipped: {', '.join(summary.skipped)}")
    if info.weights == "random":
        output.warn("random weights: the densities of this trace are meaningless for a real SNN")


def models() -> None:
    """List the models `prosparsity capture` knows."""
    _quiet_torch()
    from rich.table import Table

    from prosparsity.models.registry import list_models

    table = Table()
    table.add_column("model", no_wrap=True)
    table.add_column("family")
    table.add_column("T", justify="right")
    table.add_column("weights")
    table.add_column("description")
    for e in list_models():
        weights = "trained" if e.checkpoint else "random"
        table.add_row(e.name, e.family, str(e.time_steps), weights, e.description)
    get_output().print(table)


def _quiet_torch() -> None:
    """Silence torch's "Triton not available" notice (CPU-only install) on stderr."""
    logging.getLogger("torch._library.triton").setLevel(logging.ERROR)


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""
    app.command("capture")(capture)
    app.command("models")(models)
