"""`prosparsity analyze TRACE`: bit and product density of a trace (spec §3-§4).

``TRACE`` is what ``simulate`` takes: a trace file, or an authors' ``.npz`` spike dump
of a paper workload (``--workload NAME`` unless the file is named after it). A paper
workload *name* has layer shapes only, no spikes, so there is nothing to analyse: that
is refused with one line saying so.

Two numbers are shown per layer, labelled, in execution order (see
``docs/capture.md``, "Neuron spike rate, GEMM-operand density, and NeuroBench's
ActivationSparsity"):

* **neuron spike rate** (``lif`` rows): the neuron layer's spikes over its outputs, as
  capture recorded them (``spikes / elements``; "—" for a trace without them), over all
  samples;
* **bit density (GEMM operand)** (GEMM rows): the ones of the matrix the accelerator
  multiplies, after im2col, with product density on the same matrix.

``M`` is rows per sample. ``--json`` prints the common envelope
(:mod:`prosparsity.harness.envelope`) whose ``data`` is the statistics document
(``bit_density``, ``product_density``, ``tile_m``, ``tile_k``, ``binary``,
``row_classes``, ``layers``: one object per analysed layer with ``name``, ``kind``,
``m``, ``k``, ``n``, ``bit_density``, ``product_density``, ``em_rows``, ``pm_rows``,
``binary``, ...) plus ``neuron_layers`` (``name``, ``neurons``, ``spikes``,
``elements``, ``spike_rate``). Without it, a rich table (and a progress bar on stderr
while layers are analysed, when stderr is a terminal).

A trace of several samples (a ``B`` axis longer than 1) is analysed one sample at a time,
batch 1 as in the paper: the table shows mean ± standard deviation over the samples, and
the JSON data keeps every key above (densities and counts pooled over the samples)
and adds ``samples`` and ``bit_density_mean``, ``bit_density_std``,
``product_density_mean``, ``product_density_std`` at top level and per layer.
``--batched`` analyses the samples as one batched GEMM instead (rows of different samples
share tiles). A one-sample trace gives the same output either way.

The title says when the trace's spikes are synthetic and when its totals exclude GEMMs
that the capture skipped (their input was not spikes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from rich.table import Table

    from prosparsity.analysis.network import Network, Workload
    from prosparsity.analysis.stats import LayerStats, ModelStats, SampleStats, Spread
    from prosparsity.core.jsonvalue import JSONObject
    from prosparsity.harness.envelope import Source

#: The docs section that explains the two densities.
DENSITY_DOCS = ("docs/capture.md#neuron-spike-rate-gemm-operand-density-and-neurobenchs-"
                "activationsparsity")


def register(app: typer.Typer) -> None:
    """Attach ``analyze`` to the root app."""
    app.command("analyze")(analyze)


def analyze(
    trace: Annotated[str, typer.Argument(
        help="Trace file (.h5), or an .npz spike dump of a paper workload (see "
             "--workload).")],
    tile_m: Annotated[
        int, typer.Option("--tile-m", help="Rows per tile (1..4096).")
    ] = DEFAULT_TILE.tile_m,
    tile_k: Annotated[
        int, typer.Option("--tile-k", help="Columns per tile (1..128).")
    ] = DEFAULT_TILE.tile_k,
    workload: Annotated[str | None, typer.Option(
        "--workload", help="Paper workload an .npz dump belongs to (default: the file's "
                           "name).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
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
    from prosparsity.analysis.grid import check_tile_sizes
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document
    from prosparsity.harness.pipeline import analyse, open_input, refuse_shapes_only

    out = get_output()
    check_tile_sizes(tile_m, tile_k)
    with open_input(trace, workload) as opened:
        wl, source = opened.workload, opened.source
        refuse_shapes_only(wl, trace, "analyse")
        n_layers = len(analysed_records(wl.layers))
        n_samples = 1 if batched else wl.samples()
        stored = _stored_samples(wl)
        if not batched and n_samples == 1 and stored > 1:
            out.warn(
                f"the trace records {stored} samples but no layer has a B axis "
                "longer than 1: analysed as stored"
            )
        with out.progress() as progress:
            task = progress.add_task("analysing", total=n_layers * n_samples)

            def advance(_stats: LayerStats) -> None:
                progress.advance(task)

            result = analyse(wl, tile_m, tile_k, batched=batched, on_layer=advance)
        network = wl.network
    several = result.n_samples > 1
    stats = result.pooled if several else result.samples[0]
    _warn_not_binary(stats)
    if as_json:
        data = result.to_json() if several else stats.to_json()
        data["neuron_layers"] = neuron_layers(network)
        out.json(document("analyze", data, source=source, tile=stats.tile))
        return
    out.print(_table(stats, network, source, result if several else None))


def _stored_samples(workload: Workload) -> int:
    """Samples the trace file says it records (1 for dumps)."""
    from prosparsity.traces.io import TraceReader

    reader = workload.spikes
    return int(reader.info.samples) if isinstance(reader, TraceReader) else 1


def neuron_layers(network: Network) -> list[JSONObject]:
    """The ``lif`` records' neuron spike rates (``None`` where not recorded)."""
    from prosparsity.traces.params import LifParams

    out = []
    for record in network.layers:
        p = record.parsed
        if isinstance(p, LifParams):
            out.append({"name": record.name, "neurons": p.neurons, "spikes": p.spikes,
                        "elements": p.elements, "spike_rate": p.spike_rate})
    return out


def _warn_not_binary(stats: ModelStats) -> None:
    from prosparsity.harness.console import get_output

    for layer in stats.layers:
        if not layer.binary:
            get_output().warn(
                f"layer '{layer.name}' is not binary: analysed as {layer.planes} bit planes"
            )


def _spread(value: Spread | None) -> str:
    return "—" if value is None else f"{value.mean:.4f} ± {value.std:.4f}"


def _density(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def _table(stats: ModelStats, network: Network, source: Source,
           spread: SampleStats | None = None) -> Table:
    """The per-layer table in execution order: GEMM rows (densities of the GEMM
    operand) and neuron rows (spike rate); with ``spread`` (several samples, ``stats`` =
    its pooled sums) the densities are mean ± std over samples and the GEMM count is
    left out."""
    from rich.table import Table

    from prosparsity.harness.pipeline import source_caption, source_marks
    from prosparsity.traces.params import LifParams

    title = f"{source.label}: ProSparsity at tile {stats.tile_m}x{stats.tile_k}"
    if spread is None:
        caption = ("bit and product density of the GEMM operand (im2col), weighted by "
                   "output passes nN = ceil(N/128); M: rows per sample; row classes per "
                   "(row, column tile)")
        densities = {x.name: (f"{x.bit_density:.4f}", f"{x.product_density:.4f}")
                     for x in stats.layers}
        total = (_density(stats.bit_density), _density(stats.product_density))
    else:
        title += f", {spread.n_samples} samples, batch 1 each"
        caption = (
            "bit and product density of the GEMM operand (im2col): mean ± sample std over "
            "samples, weighted by output passes nN = ceil(N/128); M: rows per sample; row "
            "classes summed over samples"
        )
        densities = {x.name: (_spread(x.bit_density), _spread(x.product_density))
                     for x in spread.layers}
        total = (_spread(spread.bit_density), _spread(spread.product_density))
    title += "".join(f"; {mark}" for mark in source_marks(source))
    lines = [caption,
             "neuron spike rate: spikes / outputs of the neuron layer as captured (all "
             "samples; — when not recorded); the two differ, see " + DENSITY_DOCS,
             *source_caption(source)]
    gemm_count = spread is None
    table = Table(title=title, caption="\n".join(lines), caption_justify="left")
    columns = [("layer", "left"), ("kind", "left"), ("M", "right"), ("K", "right"),
               ("N", "right")]
    if gemm_count:
        columns.append(("GEMMs", "right"))
    columns += [("neuron\nspike rate", "right"), ("bit density\n(GEMM operand)", "right"),
                ("product density\n(GEMM operand)", "right"), ("EM rows", "right"),
                ("PM rows", "right"), ("binary", "center")]
    for col, justify in columns:
        table.add_column(col, justify=justify)
    by_name = {layer.name: layer for layer in stats.layers}
    blank = [""] if gemm_count else []
    for record in network.layers:
        layer = by_name.get(record.name)
        if layer is not None:
            bit, product = densities[layer.name]
            gemms = [str(layer.n_gemms)] if gemm_count else []
            table.add_row(
                layer.name, layer.kind, str(layer.m), str(layer.k), str(layer.n), *gemms,
                "", bit, product, str(layer.counts.em_rows), str(layer.counts.pm_rows),
                "yes" if layer.binary else f"no ({layer.planes} planes)",
            )  # fmt: skip
        elif isinstance(record.parsed, LifParams):
            rate = record.parsed.spike_rate
            table.add_row(record.name, str(record.kind), "", "", "", *blank,
                          "—" if rate is None else f"{rate:.4f}", "", "", "", "", "")
    table.add_section()
    table.add_row(
        "total", "", "", "", "", *blank, "", *total,
        str(stats.counts.em_rows), str(stats.counts.pm_rows), "yes" if stats.binary else "no",
    )  # fmt: skip
    return table
