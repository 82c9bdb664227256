"""Reports of things listed one per row: layers, models, accelerators, workloads, GPU
measurements; the columns every command shares, and their one builder.

A command's table is a :class:`~prosparsity.reports.model.Report` like any other, drawn
by :func:`prosparsity.reports.render.render_report`: a row per key (a layer, a model's
name), a column per metric, text where the cell is a word (a layer's kind). The columns
below are the one set of labels and units of the things several commands show (a
layer's shape and densities in ``analyze``, ``trace info`` and ``capture``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prosparsity.reports.model import Column, Record, Report, ReportKind

__all__ = [
    "BINARY",
    "GEMMS",
    "KIND",
    "LEVELS",
    "NEURON_SPIKE_RATE",
    "OPERAND_BIT_DENSITY",
    "OPERAND_PRODUCT_DENSITY",
    "RAW_BIT_DENSITY",
    "Cell",
    "listing",
]

Cell = float | int | str | None
"""One cell's value: a number, a word (a text column), or ``None`` (no figure: "—")."""

#: A layer record's kind (``conv2d``, ``linear``, ``lif``, ...).
KIND = Column("kind", "Kind", text=True)
#: A neuron layer's spikes over its outputs, as capture recorded them.
NEURON_SPIKE_RATE = Column("neuron_spike_rate", "Neuron spike rate", ".4f", keep=True)
#: The ones of the matrix an accelerator multiplies (after im2col).
OPERAND_BIT_DENSITY = Column("bit_density", "Bit density (GEMM operand)", ".4f",
                             spread="bit_density_std", compare=False, keep=True)
#: The same matrix after ProSparsity.
OPERAND_PRODUCT_DENSITY = Column("product_density", "Product density (GEMM operand)", ".4f",
                                 spread="product_density_std", compare=False, keep=True)
#: ``nnz / size`` of the tensor as stored (before im2col).
RAW_BIT_DENSITY = Column("raw_bit_density", "Bit density (raw input)", ".4f")
#: GEMMs one layer record stands for.
GEMMS = Column("n_gemms", "GEMMs", ",d")
#: The values a spike tensor holds (``0,1`` for binary spikes).
LEVELS = Column("levels", "Levels", text=True)
#: Whether the GEMM operand holds only 0 and 1 (else: how many bit planes).
BINARY = Column("binary", "Binary", text=True)


def listing(kind: ReportKind, title: str, columns: Sequence[Column],
            rows: Iterable[tuple[str, Mapping[str, Cell]]], *, key: str = "workload",
            key_header: str, notes: Sequence[str] = ()) -> Report:
    """A report with one row per ``(key value, cells)`` of ``rows``, in order.

    Each cell is looked up by its column's metric: a text column takes the word, any
    other the number (``None``: no figure, shown "—"); a metric a row lacks is an empty
    cell. Spreads (``Column.spread``) and ranges (``Column.upper``) are cells too.

    Args:
        kind: which report.
        title: its title.
        columns: the columns after the key, in order.
        rows: ``(key value, metric -> cell)`` per row.
        key: the record field the key value fills (``workload``, ``accelerator``,
            ``layer``, ``config``).
        key_header: the key column's header.
        notes: sentences under the table.

    Raises:
        ValueError: a number in a text column or a word in a number column.
    """
    text = {c.metric for c in columns if c.text}
    metrics = [c.metric for c in columns]
    metrics += [m for c in columns for m in (c.spread, c.upper) if m]
    records = []
    for value, cells in rows:
        where = {"workload": "", "accelerator": "", "layer": "", "config": "", key: value}
        for metric in metrics:
            if metric not in cells:
                continue
            cell = cells[metric]
            if metric in text:
                if not isinstance(cell, str):
                    raise ValueError(f"{title}: {value} {metric}: a word expected, got "
                                     f"{cell!r}")
                records.append(Record.word(where["workload"], where["accelerator"], metric,
                                           cell, where["layer"], where["config"]))
            elif isinstance(cell, str):
                raise ValueError(f"{title}: {value} {metric}: a number expected, got {cell!r}")
            else:
                records.append(Record.of(where["workload"], where["accelerator"], metric,
                                         cell, layer=where["layer"], config=where["config"]))
    return Report(kind, title, tuple(columns), tuple(records), row_keys=(key,),
                  notes=tuple(notes), key_headers=(key_header,))
