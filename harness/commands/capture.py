"""`prosparsity capture` (record a model's spiking GEMMs into a trace) and
`prosparsity models` (list the model registry)."""

from __future__ import annotations

import logging
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.harness.console import Output, get_output
from prosparsity.harness.options import COUNT, SEED, TIME_STEPS, bounded

if TYPE_CHECKING:
    from prosparsity.models.capture import CaptureResult
    from prosparsity.models.prepare import NetworkSource

#: How set-up errors name each parameter on the command line.
FLAGS = {
    "model": "--model",
    "nir": "--nir",
    "input": "--input",
    "checkpoint": "--checkpoint",
    "samples": "--samples",
    "time_steps": "-T",
    "out": "-o",
    "layout": "--layout",
    "runner": "--runner",
    "neuron": "--neuron",
    "release": "--release",
    "device": "--device",
    "nir_reset": "--nir-reset",
}

#: Silent neuron layers named in the capture's warning (the rest are counted).
_SILENT_SHOWN = 8

#: Seconds between two plain-text progress lines when stderr is not a terminal.
PLAIN_PROGRESS_EVERY_S = 5.0

# third-party packages whose warnings are noise to a capture's user
_QUIET_MODULES = r"(torch|spikingjelly|snntorch|nir|nirtorch|neurobench|h5py)(\.|$)"


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
    nir: Annotated[
        Path | None,
        typer.Option(
            "--nir", metavar="GRAPH.nir", help="Build the network from a NIR graph (needs --input)."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="State dict to load (torch.load with weights_only=True); an "
                     "official release's file is recognised by its keys."),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Read --checkpoint as this published layout "
                     "(see `prosparsity models --json`; 'native': the model's own) instead "
                     "of recognising it by its keys."),
    ] = None,
    input_path: Annotated[
        Path | None,
        typer.Option("--input", help="Input tensor (.pt, .npy or .safetensors); default: "
                     "the model's own."),
    ] = None,
    samples: Annotated[
        int | None, bounded(COUNT, "--samples",
                            help="Samples to record (default: 1, or all of --input).")
    ] = None,
    time_steps: Annotated[
        int | None, bounded(TIME_STEPS, "--time-steps", "-T", help="Time steps T.")
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            metavar="TB|BT",
            help="Axis order of the --input file: TB (T, B, ...) or BT (B, T, ...) "
            "(default: what the model's framework expects, TB; checked against -T). "
            "What each layer sees is observed, whatever the file's order.",
        ),
    ] = None,
    neuron: Annotated[
        list[str] | None,
        typer.Option(
            metavar="PKG.MOD:CLASS",
            help="A neuron class of your own, package.module:Class (repeatable); "
            "spikingjelly and snntorch neurons are known already.",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, bounded(COUNT, "--batch-size",
                            help="Samples per forward pass (default: 32).")
    ] = None,
    random_weights: Annotated[
        bool, typer.Option("--random-weights",
                           help="Ignore the packaged checkpoint (untrained network).")
    ] = False,
    runner: Annotated[
        str | None,
        typer.Option(
            metavar="multi|loop|step",
            help="Override how time runs: 'multi' (one call on T, B, ...), 'loop' (the "
            "forward loops over T) or 'step' (one step per call; the capture loops) "
            "(default: from the model's neurons).",
        ),
    ] = None,
    seed: Annotated[int, bounded(SEED, "--seed",
                                 help="Seed of random weights and random inputs.")] = 0,
    device: Annotated[
        str | None,
        typer.Option(metavar="DEVICE",
                     help="Where the model runs: cpu (default) or cuda[:N], where torch "
                     "sees a GPU."),
    ] = None,
    nir_reset: Annotated[
        str | None,
        typer.Option(
            "--nir-reset", metavar="MODE",
            help="How --nir neurons reset after a spike: zero (to v_reset = 0, as NIR "
            "says) or subtract (snntorch's default, which NIR cannot express) "
            "(default: zero, with a warning).",
        ),
    ] = None,
    no_size_check: Annotated[
        bool,
        typer.Option("--no-size-check",
                     help="Capture even when the estimated trace or peak memory exceeds the "
                     "free disk or memory (refused by default)."),
    ] = False,
    allow_empty: Annotated[
        bool,
        typer.Option("--allow-empty",
                     help="Write the trace even when no spiking GEMM was captured."),
    ] = False,
) -> None:
    """Run a model on its input and record every spiking GEMM into a trace file."""
    from prosparsity.core.errors import HarnessError

    output = get_output()
    given = [m for m in (model, model_opt, nir) if m is not None]
    if len(given) != 1:
        raise HarnessError(
            "give exactly one model: MODEL, --model package.module:factory or --nir GRAPH"
        )
    spec = model if model is not None else model_opt
    if model_opt is not None and ":" not in model_opt:
        raise HarnessError(f"--model '{model_opt}': expected package.module:factory")
    if layout is not None and layout.upper() not in ("TB", "BT"):
        raise HarnessError(f"--layout {layout}: expected TB or BT")
    if nir_reset is not None and nir is None:
        raise HarnessError("--nir-reset: only for --nir graphs")
    if nir_reset is not None and nir_reset.lower() not in ("zero", "subtract"):
        raise HarnessError(f"--nir-reset {nir_reset}: expected zero or subtract")
    label = spec if spec is not None else str(nir)
    with (_terminate_as_interrupt(), _quiet(), _warnings(output),
          _progress(output, f"capturing {label}") as progress):
        from prosparsity.models.capture import capture_model
        from prosparsity.models.prepare import SetupError

        try:
            source: str | NetworkSource | None = spec
            if nir is not None:
                from prosparsity.interop.nir import nir_source

                source = nir_source(nir, reset=nir_reset.lower() if nir_reset else None)
            result = capture_model(
                source,
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
                layout=layout.upper() if layout is not None else None,
                neurons=tuple(neuron or ()),
                release=release,
                device=device,
                size_check=not no_size_check,
                allow_empty=allow_empty,
            )
        except SetupError as exc:
            raise HarnessError(exc.render(FLAGS)) from None
        except OSError as exc:  # disk full, permission denied, ...
            raise HarnessError(f"cannot write {out}: {exc.strerror or exc}") from None
    _report(output, result)


def _report(output: Output, result: CaptureResult) -> None:
    """The recorded layers (stdout) and the capture summary (stderr)."""
    from prosparsity.core.errors import name_list
    from prosparsity.describe import captured_report
    from prosparsity.traces.params import LifParams
    from prosparsity.traces.provenance import EXTRA_RELEASE, EXTRA_RELEASE_SOURCE

    info, summary = result.info, result.summary
    output.reports([captured_report(result)])
    neurons = summary.neuron_layers
    frameworks = ", ".join(f"{k} {v}" for k, v in sorted(summary.frameworks.items()))
    blocks = len(summary.attentions)
    output.info(
        f"{info.model}: {len(summary.gemms)} GEMMs captured"
        + (f" (attention blocks: {blocks})" if blocks else "")
        + f", {len(summary.skipped)} skipped, "
        f"{len(neurons)} neuron layers" + (f" ({frameworks})" if frameworks else "")
        + f"; {info.samples} sample(s), T={info.time_steps}, runner {summary.runner}, "
        f"weights: {'RANDOM (no checkpoint)' if info.weights == 'random' else info.weights}"
        + (f" ({Path(info.checkpoint).name})" if info.checkpoint else "")
    )
    if summary.skipped:
        detail = ", ".join(f"{k} ({summary.skip_reasons.get(k, '')})" for k in summary.skipped)
        output.info(f"skipped, not spiking GEMMs (not in any total): {detail}")
    if info.extra.get(EXTRA_RELEASE):
        output.info(f"checkpoint read as release {info.extra[EXTRA_RELEASE]} "
                    f"({info.extra.get(EXTRA_RELEASE_SOURCE, '')})")
    if summary.no_neuron:
        output.warn(
            f"no recognised neuron produces the spike input of {', '.join(summary.no_neuron)}: "
            "the LIF cost of these layers is MISSING from every simulation of this trace. "
            "Name your neuron class with --neuron package.module:Class, or give it a "
            "class attribute prosparsity_neuron = True"
        )
    if info.weights == "random":
        output.warn("random weights: the densities of this trace are meaningless for a real SNN")
    silent = [rec.name for rec in summary.records
              if isinstance(rec.parsed, LifParams) and rec.parsed.spike_rate == 0]
    if silent:
        output.warn(f"{len(silent)} neuron layer(s) emit no spike at all: "
                    f"{name_list(silent, _SILENT_SHOWN)}")


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """During a capture, SIGTERM ends the command like Ctrl-C (one line, exit 130, no
    trace and no temporary file left) instead of killing it where it stands."""
    from prosparsity.core import signals

    def handler(signum: int, frame: object) -> None:
        raise signals.Interrupted

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (a library caller): leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _warnings(output: Output) -> Iterator[None]:
    """The library's warnings of a capture (what it assumed or left out), each once, as
    ``warning:`` lines."""
    from prosparsity.core.errors import HarnessWarning as CaptureWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CaptureWarning)
        try:
            yield
        finally:
            seen: set[str] = set()
            for w in caught:
                if not issubclass(w.category, CaptureWarning):  # a library's, let through
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
                elif str(w.message) not in seen:
                    seen.add(str(w.message))
                    output.warn(str(w.message))


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep third-party warnings (torch's "Triton not available", deprecations) off
    the user's stderr; ``-v`` still logs them (the CLI's root callback quiets torch's
    Triton notice unless ``-v``)."""
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    engine = logging.getLogger("prosparsity.models.engine")
    level = engine.level
    if not verbose:
        engine.setLevel(logging.ERROR)  # its warnings reach the user in the summary
    try:
        with warnings.catch_warnings():
            if not verbose:
                warnings.filterwarnings("ignore", module=_QUIET_MODULES)
            yield
    finally:
        engine.setLevel(level)


@contextmanager
def _progress(output: Output, what: str) -> Iterator[Callable[[int, int], None]]:
    """``progress(samples_done, total)``: a rich bar on a terminal, else a plain line on
    stderr when the forward passes start, at most every :data:`PLAIN_PROGRESS_EVERY_S`
    seconds, and at the end."""
    if output.err.is_terminal:
        with output.progress() as bar:
            task = bar.add_task(what, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return
    start = last = time.monotonic()

    def plain(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if 0 < done < total and now - last < PLAIN_PROGRESS_EVERY_S:
            return
        last = now
        output.info(f"{what}: {done}/{total} samples, {now - start:.1f} s")

    yield plain


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List the models `prosparsity capture` knows."""
    from prosparsity.describe import models_report
    from prosparsity.harness.envelope import document
    from prosparsity.models.registry import catalog

    # names only, from the catalog: no model family (nor torch) is imported
    rows = [{"name": e.name, "family": e.family, "time_steps": e.time_steps,
             "weights": "trained" if e.trained else "random",
             "description": e.description, "releases": list(e.releases)} for e in catalog()]
    if as_json:
        get_output().json(document("models", {"models": rows}))
        return
    get_output().reports([models_report(catalog())])


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""
    app.command("capture")(capture)
    app.command("models")(models)
