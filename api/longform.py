"""What every result of the front door shares: the long form and the views.

:class:`LongForm` is the base of :class:`~prosparsity.results.AcceleratorResult`,
:class:`~prosparsity.densities.DensityResult`, :class:`~prosparsity.results.Simulation`
and :class:`~prosparsity.studies.Study`: from its :meth:`~LongForm.records` (one row per
workload, sample, accelerator, configuration, layer where asked, and metric) it builds a
pandas DataFrame and an Arrow table; from its :meth:`~LongForm.reports` the terminal
(``__rich__``) and notebook (``_repr_html_``) views and the self-contained
``report.html`` (:meth:`~LongForm.write_html`), each through the reports' one renderer
per concept. Also here: the provenance rule applied to a report's title, and the plain
numbers every JSON document holds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from rich.console import RenderableType

    from prosparsity.reports.model import Report
    from prosparsity.traces.provenance import Provenance

__all__ = ["LONG_COLUMNS", "LongForm", "finite", "json_number", "long_record",
           "titled_report", "write_report_page"]

#: Columns of the long form (:meth:`LongForm.records`), in order.
LONG_COLUMNS = ("workload", "sample", "accelerator", "config", "layer", "metric", "value",
                "unit")


class LongForm:
    """Conversions shared by every result: long-form records, a DataFrame, an Arrow
    table, and the terminal, notebook and HTML-page views of its reports."""

    def records(self, *, layers: bool = False) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        """One line (the views show the numbers): the workload, the samples and the
        accelerators, where the result has them."""
        parts = []
        model = getattr(getattr(self, "model", None), "name", None)
        if isinstance(model, str):  # one accelerator's result
            parts.append(model)
        for name in ("title", "workload"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                parts.append(repr(value))
                break
        for name in ("n_samples", "samples"):
            value = getattr(self, name, None)
            if isinstance(value, int):
                parts.append(f"{value} sample{'' if value == 1 else 's'}")
                break
        accelerators = getattr(self, "accelerators", None)
        if isinstance(accelerators, Mapping):
            parts.append("accelerators: " + ", ".join(accelerators))
        simulations = getattr(self, "simulations", None)
        if isinstance(simulations, tuple):
            parts.append(f"{len(simulations)} workloads")
        return f"<{type(self).__name__} {', '.join(parts)}>"

    def reports(self) -> list[Report]:  # pragma: no cover
        raise NotImplementedError

    def to_frame(self, *, layers: bool = False) -> pd.DataFrame:
        """The long form as a pandas DataFrame (columns :data:`LONG_COLUMNS`)."""
        import pandas as pd

        return pd.DataFrame(self.records(layers=layers), columns=list(LONG_COLUMNS))

    def to_arrow(self, *, layers: bool = False) -> pa.Table:
        """The long form as an Arrow table (columns :data:`LONG_COLUMNS`)."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.records(layers=layers), schema=_arrow_schema())

    def __rich__(self) -> RenderableType:
        from rich.console import Group

        from prosparsity.reports.render import render_report

        return Group(*(render_report(r) for r in self.reports()))

    def _repr_html_(self) -> str:
        from prosparsity.reports.html import report_fragment

        return "\n".join(report_fragment(r) for r in self.reports())

    def html_meta(self) -> dict[str, str]:
        """What the HTML page says about the run under its title (inputs, provenance)."""
        return {}

    def write_html(self, path: str | Path, *, title: str = "prosparsity", plots: bool = True,
                   meta: Mapping[str, str] | None = None) -> Path:
        """One self-contained ``report.html`` at ``path``: every report, their plots
        (``plots``), what :meth:`html_meta` says and the tool's version; returns ``path``.

        Raises:
            WriteError: ``path`` cannot be a file, or the write failed.
        """
        return write_report_page(path, title, self.reports(), plots=plots,
                                 meta={**self.html_meta(), **(meta or {})})


def write_report_page(path: str | Path, title: str, reports: Sequence[Report], *,
                      plots: bool = True, meta: Mapping[str, str] | None = None,
                      extra: Sequence[str] = ()) -> Path:
    """``reports`` as one self-contained HTML page at ``path``, with their plots drawn
    into a temporary folder and embedded (:func:`prosparsity.reports.html.write_page`).

    Raises:
        WriteError: ``path`` cannot be a file, or the write failed.
    """
    import tempfile

    from prosparsity.core.atomic import check_output_path
    from prosparsity.reports.html import Figure, write_page

    path = check_output_path(path, "report")
    figures = []
    with tempfile.TemporaryDirectory(prefix="prosparsity-plots-") as tmp:
        if plots:
            from prosparsity.reports.plots import plot_report

            for i, report in enumerate(reports):
                figures += [Figure(report.title, png)
                            for png in plot_report(report, Path(tmp), f"{i}-{report.kind}")]
        return write_page(path, title, reports, figures, meta=meta, extra=extra)


@functools.cache
def _arrow_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("workload", pa.string()), ("sample", pa.int64()),
                      ("accelerator", pa.string()), ("config", pa.string()),
                      ("layer", pa.string()), ("metric", pa.string()),
                      ("value", pa.float64()), ("unit", pa.string())])


def long_record(workload: str, sample: int | None, accelerator: str, config: str,
                layer: str, metric: str, value: float | None) -> dict[str, Any]:
    """One row of the long form (the metric's unit from :mod:`prosparsity.reports.metrics`)."""
    from prosparsity.reports.metrics import unit_of

    return {"workload": workload, "sample": sample, "accelerator": accelerator,
            "config": config, "layer": layer, "metric": metric,
            "value": None if value is None else float(value), "unit": unit_of(metric)}


def json_number(value: Any) -> int | float | None:
    """A plain JSON number (numpy scalars converted; integral floats kept as floats)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    return float(value)


def finite(value: float | None) -> float | None:
    """``value`` as a float, ``None`` when missing or not finite (a report shows "—")."""
    import math

    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def titled_report(report: Report, provenance: Mapping[str, Provenance]) -> Report:
    """``report`` with its title and notes marked by the provenance rule
    (:func:`prosparsity.traces.provenance.titled`), for the workloads it shows."""
    import dataclasses

    from prosparsity.traces.provenance import titled

    shown = dict.fromkeys(r.workload for r in report.records)
    title, notes = titled(report.title, {w: provenance[w] for w in shown if w in provenance})
    if not notes:
        return report
    return dataclasses.replace(report, title=title, notes=report.notes + notes)
