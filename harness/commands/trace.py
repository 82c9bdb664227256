"""``prosparsity trace``: inspect traces and import the paper authors' spike dumps.

Subcommands:

* ``trace info FILE [--json]``: file attributes and one row per layer record (kind,
  GEMM shape M per sample, K, N, neuron spike rate, bit density of the GEMM operand and
  of the raw input, value levels, in-network flag).
* ``trace import FILE --workload NAME -o OUT.h5``: convert a dump (``.npz`` or pickle)
  into a v2 trace, attaching the layer metadata of a paper workload.
* ``trace workloads``: list the paper workloads ``--workload`` accepts.
* ``trace verify FILE... [--timeout S]``: check each trace (digest, metadata, every
  layer's data) without analysing it, in a child process with a time limit; one line
  per file, exit 2 if any is bad.
* ``trace upgrade FILE [-o OUT]``: rewrite a v1 trace as v2 (atomically, in place by
  default), keeping every record and every stored bit.

Heavy imports (h5py, numpy, torch) happen inside the command functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prosparsity.harness.options import bounded, float_in
from prosparsity.traces.probe import MAX_TIMEOUT_S

trace_app = typer.Typer(
    name="trace",
    help="Inspect trace files and import the paper authors' spike dumps.",
    no_args_is_help=True,
)


@trace_app.command("info")
def info(
    file: Annotated[Path, typer.Argument(help="Trace file (.h5) to describe.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print a trace's attributes and a table of its layers.

    Per layer: the GEMM shape (M per sample), the neuron spike rate (lif records, as
    captured), the bit density of the GEMM operand (after im2col: what accelerators
    see) and of the raw stored input.
    """
    from prosparsity.describe import info_json, layer_doc, trace_layers_report, trace_report
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document
    from prosparsity.inputs import trace_source
    from prosparsity.traces.reader import TraceReader

    out = get_output()
    with TraceReader(file) as reader:
        inf = reader.info
        source = trace_source(Path(file), reader, inf.workload or None)
        layers = [layer_doc(reader, rec) for rec in reader.layers]
        if as_json:
            out.json(document("trace info", {"info": info_json(inf),
                                             "layers": [d.to_json() for d in layers]},
                              source=source))
            return
        out.reports([trace_report(file, inf), trace_layers_report(layers, source)])


@trace_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The authors' spike dump (.npz or .pkl).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Trace file to write (.h5).")],
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload",
            "-w",
            help="Paper workload whose layer metadata to attach "
            "(see `prosparsity trace workloads`).",
        ),
    ] = None,
    corrected: Annotated[
        bool,
        typer.Option(
            "--corrected", help="Fix the authors' configuration slips instead of reproducing them."
        ),
    ] = False,
) -> None:
    """Convert a per-layer spike dump into a trace."""
    from prosparsity.harness.console import get_output
    from prosparsity.traces.importer import import_dump, missing_shapes, stem_workload
    from prosparsity.traces.reader import read_layers

    out = get_output()
    path = import_dump(file, workload, output, corrected=corrected)
    layers = read_layers(path)
    gemm = sum(1 for r in layers if r.has_data)
    outside = sum(1 for r in layers if not r.in_network)
    inferred = "" if workload else stem_workload(file)
    out.info(
        f"wrote {path}: {len(layers)} records, {gemm} with spike data, "
        f"{outside} not part of the simulated network"
        + (f"; workload {inferred} (from the file name)" if inferred else "")
    )
    unknown = missing_shapes(layers)
    if unknown:
        out.warn(f"{path}: no workload, so the GEMM shapes of {', '.join(unknown)} are "
                 "unknown (kernel, stride, outputs): analyze and simulate will refuse them; "
                 "re-import with --workload NAME (`prosparsity trace workloads` lists them)")


@trace_app.command("verify")
def verify(
    files: Annotated[list[Path], typer.Argument(help="Trace files (.h5) to check.")],
    timeout: Annotated[
        float | None,
        bounded(
            float_in(0.1, MAX_TIMEOUT_S),
            "--timeout",
            help="Seconds allowed per file (default 60 + 1 per 10 MiB); a check that takes "
            "longer fails the file as not checked in time.",
        ),
    ] = None,
) -> None:
    """Check traces without analysing them: digest, metadata, every layer's data.

    Each file is checked in a child process with a time limit (--timeout)."""
    from prosparsity.core.errors import TraceError
    from prosparsity.harness.console import get_output
    from prosparsity.traces.probe import verify_bounded

    out = get_output()
    bad = 0
    for file in files:
        try:
            found = verify_bounded(file, timeout)
        except TraceError as exc:
            bad += 1
            out.error(str(exc))
            continue
        if found.digest:
            how = f"sha256 {found.digest[:16]}... verified"
        else:
            how = "no digest (schema v1: structure, checksums and values checked)"
        out.line(
            f"ok {file}: schema v{found.schema_version}, {found.records} records, "
            f"{found.with_data} with data; {how}"
        )
    if bad:
        raise typer.Exit(2)


@trace_app.command("upgrade")
def upgrade(
    file: Annotated[Path, typer.Argument(help="Trace file (.h5) to rewrite as schema v2.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the v2 trace here instead of in place."),
    ] = None,
) -> None:
    """Rewrite a trace as schema v2 (digest, one-read metadata); numbers stay identical.

    The source is verified first in a child process with a time limit (as ``trace
    verify``), since a v1 file has no digest to protect HDF5 from damage."""
    from prosparsity.harness.console import get_output
    from prosparsity.traces.probe import verify_bounded
    from prosparsity.traces.reader import TraceReader
    from prosparsity.traces.upgrade import upgrade as upgrade_trace

    out = get_output()
    version = verify_bounded(file).schema_version
    path = upgrade_trace(file, output)
    with TraceReader(path) as reader:
        out.info(
            f"wrote {path}: schema v{version} -> v{reader.schema_version}, "
            f"{len(reader.layers)} records, sha256 {reader.digest}"
        )


@trace_app.command("workloads")
def workloads() -> None:
    """List the paper workloads (the names `trace import --workload` accepts)."""
    from prosparsity.describe import workloads_report
    from prosparsity.harness.console import get_output

    get_output().reports([workloads_report()])


def register(app: typer.Typer) -> None:
    """Attach ``trace`` and its subcommands to the root app."""
    app.add_typer(trace_app, name="trace")
