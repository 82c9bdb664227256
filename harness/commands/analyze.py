"""`prosparsity analyze TRACE`: bit and product density of a trace (spec §3-§4).

``--json`` prints one JSON object on stdout (``bit_density``, ``product_density``,
``tile_m``, ``tile_k``, ``binary``, ``row_classes`` and ``layers``: one object per analysed
layer with ``name``, ``kind``, ``m``, ``k``, ``n``, ``bit_density``, ``product_density``,
``em_rows``, ``pm_rows``, ``binary``, ...). Without it, a rich table (and a progress bar on
stderr while layers are analysed, when stderr is a terminal).

A trace of several samples (a ``B`` axis longer than 1) is analysed one sample at a time,
batch 1 as in the paper: the table shows mean ± standard deviation over the samples, and
the JSON document keeps every key above (densities and counts pooled over the samples)
and adds ``samples`` and ``bit_density_mean``, ``bit_density_std``,
``product_density_mean``, ``product_density_std`` at top level and per layer.
``--batched`` analyses the samples as one batched GEMM instead (rows of different samples
share tiles). A one-sample trace gives the same output either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from rich.table import Table

    from prosparsity.analysis.stats import LayerStats, ModelStats, SampleStats, Spread


def register(app: typer.Typer) -> None:
    """Attach ``analyze`` to the root app."""
    app.command("analyze")(analyze)


def analyze(
    trace: Annotated[Path, typer.Argument(help="Trace file (HDF5, format v1).")],
    tile_m: Annotated[
        int, typer.Option("--tile-m", help="Rows per tile (1..4096).")
    ] = DEFAULT_TILE.tile_m,
    tile_k: Annotated[
        int, typer.Option("--tile-k", help="Columns per tile (1..128).")
    ] = DEFAULT_TILE.tile_k,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
    batched: Annotated[
        bool,
        typer.Option(
            "--batched",
            help="Analyse all samples as one batched GEMM (rows of different samples share "
            "tiles) instead of one sample at a time.",
        ),
    ] = False,
) -> None:
    """Bit density and ProSparsity product density of a trace, per layer and in total."""
    from prosparsity.analysis.density import analysed_records
    from prosparsity.analysis.kernel import check_tile_sizes
    from prosparsity.harness.console import get_output
    from prosparsity.harness.pipeline import analyse, open_trace

    out = get_output()
    check_tile_sizes(tile_m, tile_k)
    with open_trace(trace) as (workload, info):
        n_layers = len(analysed_records(workload.layers))
        n_samples = 1 if batched else workload.samples()
        if not batched and n_samples == 1 and info.samples > 1:
            out.warn(
                f"the trace records {info.samples} samples but no layer has a B axis "
                "longer than 1: analysed as stored"
            )
        with out.progress() as progress:
            task = progress.add_task("analysing", total=n_layers * n_samples)

            def advance(_stats: LayerStats) -> None:
                progress.advance(task)

            result = analyse(workload, tile_m, tile_k, batched=batched, on_layer=advance)
    if result.n_samples > 1:
        _warn_not_binary(result.pooled)
        if as_json:
            out.json(result.to_json())
        else:
            out.print(_table(result.pooled, trace, result))
        return
    stats = result.samples[0]
    _warn_not_binary(stats)
    if as_json:
        out.json(stats.to_json())
        return
    out.print(_table(stats, trace))


def _warn_not_binary(stats: ModelStats) -> None:
    from prosparsity.harness.console import get_output

    for layer in stats.layers:
        if not layer.binary:
            get_output().warn(
                f"layer '{layer.name}' is not binary: analysed as {layer.planes} bit planes"
            )


def _spread(value: Spread) -> str:
    return f"{value.mean:.4f} ± {value.std:.4f}"


def _table(stats: ModelStats, trace: Path, spread: SampleStats | None = None) -> Table:
    """The per-layer table; with ``spread`` (several samples, ``stats`` = its pooled
    sums) the densities are mean ± std over samples and the GEMM count is left out."""
    from rich.table import Table

    title = f"{trace.name}: ProSparsity at tile {stats.tile_m}x{stats.tile_k}"
    if spread is None:
        caption = (
            "densities weighted by output passes nN = ceil(N/128); "
            "row classes per (row, column tile)"
        )
        densities = [(f"{x.bit_density:.4f}", f"{x.product_density:.4f}") for x in stats.layers]
        total = (f"{stats.bit_density:.4f}", f"{stats.product_density:.4f}")
    else:
        title += f", {spread.n_samples} samples, batch 1 each"
        caption = (
            "densities: mean ± sample std over samples, weighted by output passes "
            "nN = ceil(N/128); M: rows per sample; row classes summed over samples"
        )
        densities = [(_spread(x.bit_density), _spread(x.product_density)) for x in spread.layers]
        total = (_spread(spread.bit_density), _spread(spread.product_density))
    gemm_count = spread is None
    table = Table(title=title, caption=caption)
    columns = [("layer", "left"), ("kind", "left"), ("M", "right"), ("K", "right"),
               ("N", "right")]
    if gemm_count:
        columns.append(("GEMMs", "right"))
    columns += [("bit density", "right"), ("product density", "right"),
                ("EM rows", "right"), ("PM rows", "right"), ("binary", "center")]
    for col, justify in columns:
        table.add_column(col, justify=justify)
    for layer, (bit, product) in zip(stats.layers, densities, strict=True):
        gemms = [str(layer.n_gemms)] if gemm_count else []
        table.add_row(
            layer.name, layer.kind, str(layer.m), str(layer.k), str(layer.n), *gemms,
            bit, product, str(layer.counts.em_rows), str(layer.counts.pm_rows),
            "yes" if layer.binary else f"no ({layer.planes} planes)",
        )  # fmt: skip
    table.add_section()
    table.add_row(
        "total", "", "", "", "", *([""] if gemm_count else []), *total,
        str(stats.counts.em_rows), str(stats.counts.pm_rows), "yes" if stats.binary else "no",
    )  # fmt: skip
    return table
