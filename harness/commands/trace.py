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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from prosparsity.describe import LayerDoc

trace_app = typer.Typer(
    name="trace",
    help="Inspect trace files and import the paper authors' spike dumps.",
    no_args_is_help=True,
)


def _fmt_int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


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
    from rich.table import Table

    from prosparsity.describe import layer_doc
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document
    from prosparsity.inputs import trace_source
    from prosparsity.traces.io import TraceReader
    from prosparsity.traces.provenance import titled

    out = get_output()
    with TraceReader(file) as reader:
        inf = reader.info
        source = trace_source(Path(file), reader, inf.workload or None)
        layers = [layer_doc(reader, rec) for rec in reader.layers]
        if as_json:
            attrs_doc = {
                "model": inf.model, "dataset": inf.dataset, "workload": inf.workload or None,
                "time_steps": inf.time_steps, "batch_size": inf.batch_size,
                "samples": inf.samples, "weights": inf.weights,
                "checkpoint": inf.checkpoint or None,
                "checkpoint_sha256": inf.checkpoint_sha256 or None,
                "tool_version": inf.tool_version, "created": inf.created,
                "extra": dict(sorted(inf.extra.items())),
            }  # fmt: skip
            out.json(document("trace info", {"info": attrs_doc,
                                             "layers": [d.to_json() for d in layers]},
                              source=source))
            return
        attrs = Table(title=f"trace {file}", show_header=False, box=None, pad_edge=False)
        attrs.add_column("attribute", style="bold")
        attrs.add_column("value")
        rows = [
            ("model", inf.model),
            ("dataset", inf.dataset),
            ("workload", inf.workload or "-"),
            ("time steps", str(inf.time_steps)),
            ("batch size", str(inf.batch_size)),
            ("samples", str(inf.samples)),
            ("weights", inf.weights),
            ("checkpoint", inf.checkpoint or "-"),
            ("checkpoint sha256", inf.checkpoint_sha256 or "-"),
            ("tool version", inf.tool_version),
            ("created", inf.created),
        ]
        rows += [(k, v) for k, v in sorted(inf.extra.items())]
        for key, value in rows:
            attrs.add_row(key, value)
        out.print(attrs)

        rows = [_layer_row(i, doc) for i, doc in enumerate(layers)]
        provenance = {source.label: source.provenance}
        if len(rows) > RICH_ROWS:
            title, notes = titled(f"layers (execution order, {len(rows):,} records)",
                                  provenance)
            out.text(_plain_table(title, rows) + "\n".join([*_CAPTION, *notes]) + "\n")
            return
        title, notes = titled("layers (execution order)", provenance)
        table = Table(title=title, caption="\n".join([*_CAPTION, *notes]),
                      caption_justify="left")
        for header, right, fold in _COLUMNS:
            # numbers never wrap; names, kinds and shapes fold (not cut) when narrow
            table.add_column(header, justify="right" if right else "left",
                             overflow="fold" if fold else "ellipsis", no_wrap=not fold)
        for row in rows:
            table.add_row(*row)
        out.print(table)


#: above this many records `trace info` prints a plain aligned table: rich lays out
#: about 2,000 rows a second, plain text 10,000 rows in a few milliseconds
RICH_ROWS = 500


# (header, right-aligned, may fold)
_COLUMNS = (
    ("#", True, False),
    ("layer", False, True),
    ("kind", False, True),
    ("M\n(per sample)", True, False),
    ("K", True, False),
    ("N", True, False),
    ("neuron\nspike rate", True, False),
    ("bit density\n(GEMM operand)", True, False),
    ("bit density\n(raw input)", True, False),
    ("levels", False, True),
    ("in net", False, False),
    ("input shape", False, True),
)
_CAPTION = (
    "neuron spike rate: spikes / outputs of a neuron layer as captured (all samples); "
    "bit density (GEMM operand): ones of the matrix the accelerator multiplies, after "
    "im2col (prosparsity analyze's bit density); (raw input): nnz / size of the stored "
    "tensor",
    "the two differ (pooling, im2col, padding): see docs/capture.md#neuron-spike-rate-"
    "gemm-operand-density-and-neurobenchs-activationsparsity",
)


def _layer_row(i: int, doc: LayerDoc) -> tuple[str, ...]:
    """One row of the layer table."""
    from prosparsity.traces.schema import LayerKind

    gemms = doc.gemms
    mkn = tuple(" / ".join(_fmt_int(g[a]) for g in gemms) if gemms else "-" for a in "mkn")
    lif = doc.kind == str(LayerKind.LIF)
    rate = doc.neuron_spike_rate
    shape = "x".join(str(s) for s in doc.shape) or "-"
    if doc.layout:
        shape += f" {doc.layout}"
    return (
        str(i), doc.name, doc.kind, *mkn,
        ("—" if rate is None else f"{rate:.4f}") if lif else "",
        _fmt_density(doc.operand_bit_density), _fmt_density(doc.raw_bit_density),
        ",".join(str(v) for v in doc.levels) or "-",
        "yes" if doc.in_network else "no", shape,
    )  # fmt: skip


def _fmt_density(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _plain_table(title: str, rows: list[tuple[str, ...]]) -> str:
    """The layer table as aligned plain text (headers on one line)."""
    headers = [h.replace("\n", " ") for h, _, _ in _COLUMNS]
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers)]
    right = [r for _, r, _ in _COLUMNS]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    body = [title, line(headers), "  ".join("-" * w for w in widths)]
    body += [line(r) for r in rows]
    return "\n".join(body) + "\n"


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
    from prosparsity.traces.importer import import_dump
    from prosparsity.traces.io import read_layers

    out = get_output()
    path = import_dump(file, workload, output, corrected=corrected)
    layers = read_layers(path)
    gemm = sum(1 for r in layers if r.has_data)
    outside = sum(1 for r in layers if not r.in_network)
    out.info(
        f"wrote {path}: {len(layers)} records, {gemm} with spike data, "
        f"{outside} not part of the simulated network"
    )


@trace_app.command("verify")
def verify(
    files: Annotated[list[Path], typer.Argument(help="Trace files (.h5) to check.")],
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.1,
            help="Seconds allowed per file (default 60 + 1 per 10 MiB); a check that "
            "takes longer (HDF5 stalled on a malformed file) fails the file.",
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
    from prosparsity.traces.io import TraceReader
    from prosparsity.traces.io import upgrade as upgrade_trace
    from prosparsity.traces.probe import verify_bounded

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
    from rich.table import Table

    from prosparsity.harness.console import get_output
    from prosparsity.traces.workloads import WORKLOADS, get_workload

    table = Table(title="paper workloads")
    for col in ("workload", "model", "dataset", "T", "records", "GEMM layers"):
        table.add_column(col, justify="right" if col in ("T", "records", "GEMM layers") else "left")
    for name in WORKLOADS:
        wl = get_workload(name)
        gemm = sum(1 for r in wl.layers if r.has_data)
        table.add_row(
            name, wl.model, wl.dataset, str(wl.time_steps), str(len(wl.layers)), str(gemm)
        )
    get_output().print(table)


def register(app: typer.Typer) -> None:
    """Attach ``trace`` and its subcommands to the root app."""
    app.add_typer(trace_app, name="trace")
