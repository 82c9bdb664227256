"""`prosparsity energy`: the component energy and area model, checked and shown.

Without a trace it prints the calibration (the component model against the paper's
Figure 8 Prosperity energies, workload by workload: error, leave-one-out error, band,
on-chip power) and Figure 10 (Prosperity's area and power by component group at the
paper's design, beside the paper's values where public). With a ``TRACE`` it also prints
the paper-mode against the component-mode (consistent) energy of every accelerator that
has either on that trace. ``--out DIR`` writes each report as CSV, JSON, Markdown and PNG;
``--json`` prints one document; ``--cacti PATH`` takes the buffers' figures from that
CACTI 7 binary instead of the packaged rows. docs/energy-and-area.md describes the model.
"""

from __future__ import annotations

from typing import Annotated

import typer

from prosparsity.harness.console import get_output


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("energy")
    def energy(
        trace: Annotated[str | None, typer.Argument(
            metavar="TRACE", help="Also compare the paper's and the component model's "
                                  "energy of every accelerator on this trace.")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload", help="Paper workload an .npz dump belongs to.")] = None,
        out: Annotated[str | None, typer.Option(
            "--out", help="Folder for the CSV, JSON, Markdown and PNG exports.")] = None,
        cacti: Annotated[str | None, typer.Option(
            "--cacti", metavar="PATH", help="A CACTI 7 binary to size the buffers with "
                                            "(default: the packaged CACTI rows).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")
                           ] = False,
    ) -> None:
        """The component energy and area model: calibration against Figure 8, Figure 10,
        and (with TRACE) the paper's against the component model's energy."""
        from prosparsity.accel.energy.designs import ComponentConfig
        from prosparsity.energy import calibration_report, figure10_report, modes_report
        from prosparsity.harness.envelope import document
        from prosparsity.reports import export_report
        from prosparsity.studies import check_out_dir

        output = get_output()
        folder = None if out is None else check_out_dir(out)  # '' is no folder
        options = ComponentConfig(cacti=cacti)
        reports = [("energy_calibration", calibration_report(options)),
                   ("figure10", figure10_report(options))]
        source = None
        if trace is not None:
            import prosparsity as ps

            with ps.open(trace, workload) as opened:
                sim = ps.simulate(opened, progress=output.info)
            source = opened.source
            for name, why in sim.skipped.items():
                output.info(f"skipped {name}: {why}")
            reports.append(("energy_modes", modes_report(sim)))
        if folder is not None:
            for stem, report in reports:
                for path in export_report(report, folder, stem):
                    output.info(f"wrote {path}")
        if as_json:
            data = {stem: report.to_dict() for stem, report in reports}
            output.json(document("energy", data, source=source))
            return
        output.reports([report for _, report in reports])
