"""`prosparsity analyze TRACE`: bit and product density of a trace (docs/operation-count.md).

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
``elements``, ``spike_rate``): :meth:`prosparsity.densities.DensityResult.to_json`.
Without it, the per-layer report (:meth:`~prosparsity.densities.DensityResult.layer_report`,
drawn by the reports' renderer), and a progress bar on stderr while layers are analysed,
when stderr is a terminal.

A trace of several samples (a ``B`` axis longer than 1) is analysed one sample at a time,
batch 1 as in the paper: the table shows mean ± standard deviation over the samples, and
the JSON data keeps every key above (densities and counts pooled over the samples)
and adds ``samples`` and ``bit_density_mean``, ``bit_density_std``,
``product_density_mean``, ``product_density_std`` at top level and per layer.
``--batched`` analyses the samples as one batched GEMM instead (rows of different samples
share tiles). A one-sample trace gives the same output either way.

``--counter KIND`` (repeatable) counts a counter of the counter protocol in the same
pass, at its published defaults, and shows the densities it reports as columns beside
bit and product density (``counter_densities`` in the JSON data, for the model and per
layer): Phi's pattern and correction densities (``phi_counts``) and Bishop's bundle
density and dense share (``bishop_bundles``), or an installed plugin's
(docs/analysis.md, docs/phi-and-bishop.md).

The title says when the trace's spikes are synthetic and when its totals exclude GEMMs
that the capture skipped (their input was not spikes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.harness.options import TILE_K, TILE_M, bounded
from prosparsity.paper.tiles import DEFAULT_TILE

if TYPE_CHECKING:
    from prosparsity.analysis.network import Workload
    from prosparsity.analysis.stats import LayerStats


def register(app: typer.Typer) -> None:
    """Attach ``analyze`` to the root app."""
    app.command("analyze")(analyze)


def analyze(
    trace: Annotated[str, typer.Argument(
        help="Trace file (.h5), or an .npz spike dump of a paper workload (see "
             "--workload).")],
    tile_m: Annotated[
        int, bounded(TILE_M, "--tile-m", help="Rows per tile.")
    ] = DEFAULT_TILE.tile_m,
    tile_k: Annotated[
        int, bounded(TILE_K, "--tile-k", help="Columns per tile.")
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
    counter: Annotated[list[str] | None, typer.Option(
        "--counter", metavar="KIND",
        help="Also count this counter (repeatable; at its published defaults) and show the "
             "densities it reports, e.g. phi_counts (pattern density), bishop_bundles "
             "(bundle density).")] = None,
) -> None:
    """Bit density and ProSparsity product density of a trace, per layer and in total."""
    import prosparsity as ps
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document
    from prosparsity.inputs import refuse_shapes_only

    out = get_output()
    with ps.open(trace, workload) as opened:
        wl, source = opened.workload, opened.source
        refuse_shapes_only(opened, "analyse")
        n_layers = opened.gemm_layers
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

            counted = ps.count(opened, (tile_m, tile_k), batched=batched,
                               counters=counter or (), on_layer=advance)
    for layer in counted.stats.layers:
        if not layer.binary:
            out.warn(f"layer '{layer.name}' is not binary: analysed as {layer.planes} bit "
                     "planes")
    if as_json:
        out.json(document("analyze", counted.to_json(), source=source,
                          tile=counted.stats.tile))
        return
    out.reports([counted.layer_report()])


def _stored_samples(workload: Workload) -> int:
    """Samples the trace file says it records (1 for dumps)."""
    from prosparsity.traces.reader import TraceReader

    reader = workload.spikes
    return int(reader.info.samples) if isinstance(reader, TraceReader) else 1
