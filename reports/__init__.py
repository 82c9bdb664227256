"""Reports: render results, compute nothing.

Input rows (:mod:`~prosparsity.reports.rows`): ``DensityRow``, ``AccelRow``, ``SweepRow``,
``LayerRow``. Builders (:mod:`~prosparsity.reports.build`) turn rows into a
:class:`~prosparsity.reports.model.Report` with reference values attached
(:mod:`~prosparsity.reports.paper` for the paper's figures,
:class:`~prosparsity.reports.compare.OfficialSimReferences` for the authors' simulator).
A report renders as a rich table (:func:`~prosparsity.reports.render.render_report`),
exports to CSV / JSON / Markdown (:mod:`~prosparsity.reports.export`) and draws PNG plots
(:mod:`~prosparsity.reports.plots`, imports matplotlib).

Typical use::

    from prosparsity.reports import DensityRow, density_report, render_report, export_report

    report = density_report([DensityRow("lenet5_mnist", 0.2536, 0.0156)])
    get_output().print(render_report(report))
    export_report(report, Path("out"))
"""

from prosparsity.reports.build import (
    accelerator_report,
    density_report,
    layer_report,
    sweep_report,
)
from prosparsity.reports.compare import OfficialSimReferences, Reference
from prosparsity.reports.export import export_report, read_csv, read_json
from prosparsity.reports.model import Column, Record, Report, ReportKind
from prosparsity.reports.paper import paper_reference
from prosparsity.reports.render import render_report, render_summary
from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, SweepRow

__all__ = [
    "AccelRow",
    "Column",
    "DensityRow",
    "LayerRow",
    "OfficialSimReferences",
    "Record",
    "Reference",
    "Report",
    "ReportKind",
    "SweepRow",
    "accelerator_report",
    "density_report",
    "export_report",
    "layer_report",
    "paper_reference",
    "read_csv",
    "read_json",
    "render_report",
    "render_summary",
    "sweep_report",
]
