"""`prosparsity sweep SPEC.toml --out DIR`: a design-space sweep on Dask.

Thin: the spec is read and validated by :mod:`prosparsity.sweep.spec` (any problem is
one line naming the spec file and the key, before any work), :func:`prosparsity.explore`
runs the tasks, and :meth:`prosparsity.studies.SweepResult.write` draws the plots and
writes ``report.html`` (the summary's tables, every plot, the spec and each trace's
provenance). Diagnostics (task counts, the dashboard's address, the progress bar,
``N computed, M from cache``) go to stderr; the summary tables to stdout.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.harness.options import MAX_WORKERS, bounded, int_in

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from prosparsity.harness.console import Output


def register(app: typer.Typer) -> None:
    """Attach ``sweep`` to the root app."""
    app.command("sweep")(sweep)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Progress:
    """The engine's observer: a rich progress bar over tasks (stderr)."""

    def __init__(self, output: Output, progress: Progress) -> None:
        self.output, self.progress = output, progress
        self.task: TaskID | None = None

    def started(self, total: int, cached: int, dashboard: str | None) -> None:
        if dashboard:
            self.output.info(f"dashboard: {dashboard}")
        self.task = self.progress.add_task("sweeping", total=total, completed=cached)

    def completed(self, stage: str) -> None:
        if self.task is not None:
            self.progress.advance(self.task)


def sweep(
    spec: Annotated[str, typer.Argument(
        help="Sweep spec (TOML), or the name of a packaged spec (figure7).")],
    out: Annotated[str, typer.Option(
        "--out", "-o", help="Folder for results.parquet/.csv, aggregate.parquet/.csv and "
        "the plots and report.html.")],
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Run on this Dask scheduler (tcp://HOST:PORT) instead of a "
        "local cluster; its workers must see the traces at the same paths.")] = None,
    workers: Annotated[int | None, bounded(
        int_in(0, MAX_WORKERS), "--workers", help="Worker processes of the local cluster "
        "(default: one per core; 0: every task in this process, one after another, without "
        "Dask).")] = None,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="Result cache folder (default OUT/cache); may be shared between "
        "sweeps.")] = None,
    trace: Annotated[list[str] | None, typer.Option(
        "--trace", help="Another trace file or glob (repeatable), relative to the current "
        "folder; added to the spec's traces.")] = None,
    dashboard: Annotated[bool, typer.Option(
        "--dashboard/--no-dashboard", help="Serve the local cluster's Dask dashboard.")
    ] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")
                     ] = True,
    baseline: Annotated[str | None, typer.Option(
        "--baseline", metavar="NAME", help="Accelerator the summary's speedups are over "
        "(default: the spec's baseline, PTB when the spec has it).")] = None,
) -> None:
    """Sweep traces x tiles x accelerator configurations; write long-form result tables."""
    import prosparsity as ps
    from prosparsity.core.atomic import check_output_dir
    from prosparsity.harness.console import get_output
    from prosparsity.sweep.cluster import scheduler_address
    from prosparsity.sweep.spec import load_spec, packaged_spec

    output = get_output()
    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # no --verbose
        import distributed  # noqa: F401  (sets its loggers to INFO on import)

        logging.getLogger("distributed").setLevel(logging.WARNING)
    folder = check_output_dir(out, "--out")  # '' is no folder (a Path would read it as '.')
    if scheduler is not None:
        scheduler = scheduler_address(scheduler)  # parsed before anything connects
    path = Path(spec)
    if not path.exists() and path.suffix != ".toml" and "/" not in spec:
        path = packaged_spec(spec)
    parsed = load_spec(path, trace or ())
    configs = sum(a.n_configs for a in parsed.accelerators)
    output.info(f"sweep {parsed.name}: {_n(len(parsed.traces), 'trace')}, "
                f"{_n(len(parsed.tiles), 'tile point')}, "
                f"{_n(configs, 'accelerator configuration')}")
    with output.progress() as progress:
        result = ps.explore(parsed, folder, baseline=baseline, cache_dir=cache,
                          scheduler=scheduler, workers=workers, dashboard=dashboard,
                          observer=_Progress(output, progress))
    outcome = result.outcome
    n_samples = sum(t.samples for t in outcome.plan.traces)
    output.info(f"{_n(outcome.plan.n_tasks, 'task')} over {_n(n_samples, 'sample')}: "
                f"{outcome.computed} computed, {outcome.cached} from cache")
    output.reports(result.reports())
    written = [p.name for p in outcome.files.values()]
    *drawn, page = result.write(folder, plots=plots)
    if plots:
        written.append(f"{len(drawn)} plots in plots/")
    output.info(f"wrote to {folder}: " + ", ".join([*written, page.name]))
