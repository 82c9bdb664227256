"""What prosparsity says about things without counting them, as reports.

* a trace (``trace info``): :func:`layer_doc` describes one layer record of an open trace:
  its GEMM shapes (``M`` per sample), the neuron spike rate capture recorded (``lif``
  records), and the bit density of the GEMM operand after im2col (what an accelerator
  multiplies) beside that of the raw stored input, read with the reader's checks;
  :func:`trace_report` and :func:`trace_layers_report` are its tables;
* what a capture recorded (:func:`captured_report`);
* the registries: accelerator models (:func:`accelerators_report`), capture's models
  (:func:`models_report`), the paper's workloads (:func:`workloads_report`);
* the GPU-equivalent model against measured latencies (:func:`gpu_check`) and GEMMs timed
  on a GPU (:func:`gemm_timing_report`).

Each table is a :class:`~prosparsity.reports.model.Report` (:mod:`prosparsity.reports.
listings`), drawn by the reports' one renderer. Light: numpy and the trace reader, no
numba, no torch (the GPU check imports scipy, to fit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prosparsity.reports.listings import (
    KIND,
    LEVELS,
    NEURON_SPIKE_RATE,
    OPERAND_BIT_DENSITY,
    RAW_BIT_DENSITY,
    Cell,
    listing,
)
from prosparsity.reports.model import Column, Report, ReportKind

if TYPE_CHECKING:
    from prosparsity.accel.gpu_validation import GPUValidation
    from prosparsity.accel.registry import AcceleratorModel
    from prosparsity.core.jsonvalue import JSON, JSONObject
    from prosparsity.inputs import Source
    from prosparsity.interop.gpu_timing import MeasuredGemm
    from prosparsity.models.capture import CaptureResult
    from prosparsity.models.catalog import ModelInfo
    from prosparsity.traces.reader import TraceReader
    from prosparsity.traces.schema import LayerRecord, TraceInfo

__all__ = [
    "GPUCheck",
    "LayerDoc",
    "accelerators_report",
    "captured_report",
    "gemm_timing_report",
    "gpu_check",
    "info_json",
    "layer_doc",
    "models_report",
    "trace_layers_report",
    "trace_report",
    "workloads_report",
]


@dataclass(frozen=True)
class LayerDoc:
    """One layer of ``trace info``: its GEMM shapes (M per sample), neuron spike rate
    (``lif`` records), GEMM-operand and raw-input bit density (``None``: no figure)."""

    name: str
    kind: str
    gemms: list[dict[str, int]]
    neuron_spike_rate: float | None
    operand_bit_density: float | None
    raw_bit_density: float | None
    levels: list[int]
    in_network: bool
    shape: list[int]
    layout: str

    def to_json(self) -> JSONObject:
        """The layer's entry of ``trace info --json`` (the field names)."""
        return asdict(self)


def layer_doc(reader: TraceReader, rec: LayerRecord) -> LayerDoc:
    """One layer's entry: GEMM shape (M per sample), neuron spike rate, GEMM-operand and
    raw-input bit density (read with a read's checks), as JSON values."""
    import numpy as np

    from prosparsity.analysis.streamed import operand_ones
    from prosparsity.core.errors import ConfigError
    from prosparsity.traces.params import LifParams
    from prosparsity.traces.schema import LayerKind
    from prosparsity.traces.shapes import attention_gemm_shapes, gemm_shape

    shapes: list[dict[str, int]] = []
    per_sample = _samples_in(rec)
    if rec.kind is LayerKind.ATTENTION:
        # its per-head GEMMs as the authors model them ("kv / q·kv" or "qk / sv")
        try:
            shapes = [{"m": g.m, "k": g.k, "n": g.n} for g in attention_gemm_shapes(rec)]
        except ConfigError:
            pass
    elif rec.kind.is_gemm and rec.kind is not LayerKind.ATTENTION_OPERAND:
        try:
            g = gemm_shape(rec)
            shapes = [{"m": g.m // per_sample, "k": g.k, "n": g.n}]
        except ConfigError:
            pass  # not enough metadata (e.g. imported without a workload)
    raw = operand = None
    size = 1
    for s in rec.shape:
        size *= s
    if rec.has_data and size:
        # a multi-level input counts as its bit planes, as analyze counts it (a SEW-ADD
        # residual of values 0..2 is two planes): the operand density of linear layers
        # too comes from the analysis' own rule, not from nnz / size
        if rec.kind in (LayerKind.CONV2D, LayerKind.CONV1D, LayerKind.LINEAR):
            nnz = 0

            def counted(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
                nonlocal nnz  # the raw input's ones, from the same read as im2col's
                for chunk in chunks:
                    nnz += int(np.count_nonzero(chunk))
                    yield chunk

            try:
                ones, elements = operand_ones(rec, counted(reader.iter_chunks(rec.name, 64)))
                operand = ones / elements if elements else None
                raw = nnz / size
            except ConfigError:  # not enough metadata for im2col: count the input alone
                raw = reader.nnz(rec.name) / size
        else:
            raw = reader.nnz(rec.name) / size
    p = rec.parsed
    rate = p.spike_rate if isinstance(p, LifParams) else None
    return LayerDoc(
        name=rec.name, kind=str(rec.kind), gemms=shapes, neuron_spike_rate=rate,
        operand_bit_density=operand, raw_bit_density=raw, levels=list(rec.levels),
        in_network=rec.in_network, shape=list(rec.shape), layout=rec.layout,
    )


def _samples_in(rec: LayerRecord) -> int:
    """Length of a record's B axis (1 without one): M is shown per sample."""
    axes = rec.axes
    if "B" in axes and len(axes) == len(rec.shape):
        return max(1, rec.shape[axes.index("B")])
    return 1


# ----------------------------------------------------------------------------- a trace
#: Shared by ``trace info``'s layer table: what the two densities are.
TRACE_LAYER_NOTES = (
    "neuron spike rate: spikes / outputs of a neuron layer as captured (all samples); "
    "bit density (GEMM operand): ones of the matrix the accelerator multiplies, after "
    "im2col (prosparsity analyze's bit density); (raw input): nnz / size of the stored "
    "tensor",
    "the two differ (pooling, im2col, padding): see docs/capture.md#neuron-spike-rate-"
    "gemm-operand-density-and-neurobenchs-activationsparsity",
)


def info_json(info: TraceInfo) -> JSONObject:
    """A trace file's attributes as ``trace info --json`` has them (``None``: not set)."""
    return {
        "model": info.model, "dataset": info.dataset, "workload": info.workload or None,
        "time_steps": info.time_steps, "batch_size": info.batch_size,
        "samples": info.samples, "weights": info.weights,
        "checkpoint": info.checkpoint or None,
        "checkpoint_sha256": info.checkpoint_sha256 or None,
        "tool_version": info.tool_version, "created": info.created,
        "extra": dict(sorted(info.extra.items())),
    }


def trace_report(path: str | Path, info: TraceInfo) -> Report:
    """A trace file's attributes, one row each (``trace info``)."""
    rows: list[tuple[str, str]] = [
        ("model", info.model), ("dataset", info.dataset), ("workload", info.workload or "—"),
        ("time steps", str(info.time_steps)), ("batch size", str(info.batch_size)),
        ("samples", str(info.samples)), ("weights", info.weights),
        ("checkpoint", info.checkpoint or "—"),
        ("checkpoint sha256", info.checkpoint_sha256 or "—"),
        ("tool version", info.tool_version), ("created", info.created),
    ]
    rows += sorted(info.extra.items())
    return listing(ReportKind.TRACE, f"trace {path}", (Column("value", "Value", text=True),),
                   ((key, {"value": value}) for key, value in rows), key="config",
                   key_header="Attribute")


def trace_layers_report(docs: Sequence[LayerDoc], source: Source) -> Report:
    """One row per layer record of a trace, in execution order (``trace info``): its
    kind, GEMM shape (``M`` per sample; an attention block's two per-head GEMMs as
    ``a / b``), the neuron spike rate of a ``lif`` record, the bit density of its GEMM
    operand and of its raw stored input, its value levels, whether it is part of the
    simulated network, and its stored shape; titled with the trace's provenance."""
    from prosparsity.traces.provenance import titled
    from prosparsity.traces.schema import LayerKind

    def shape_of(doc: LayerDoc, axis: str) -> str:
        return " / ".join(f"{g[axis]:,}" for g in doc.gemms) or "—"

    def cells(i: int, doc: LayerDoc) -> dict[str, Cell]:
        out: dict[str, Cell] = {
            "record": i, "kind": doc.kind, "m": shape_of(doc, "m"), "k": shape_of(doc, "k"),
            "n": shape_of(doc, "n"), "bit_density": doc.operand_bit_density,
            "raw_bit_density": doc.raw_bit_density,
            "levels": ",".join(str(v) for v in doc.levels) or "—",
            "in_network": "yes" if doc.in_network else "no",
            "shape": ("x".join(str(s) for s in doc.shape) or "—")
            + (f" {doc.layout}" if doc.layout else "")}
        if doc.kind == str(LayerKind.LIF):
            out["neuron_spike_rate"] = doc.neuron_spike_rate
        return out

    title, notes = titled(f"Layers (execution order, {len(docs):,} records)",
                          {source.label: source.provenance})
    columns = (Column("record", "#", "d"), KIND,
               Column("m", "M (per sample)", text=True, align="right"),
               Column("k", "K", text=True, align="right"),
               Column("n", "N", text=True, align="right"), NEURON_SPIKE_RATE,
               OPERAND_BIT_DENSITY, RAW_BIT_DENSITY, LEVELS,
               Column("in_network", "In network", text=True),
               Column("shape", "Input shape", text=True))
    return listing(ReportKind.TRACE_LAYERS, title, columns,
                   ((doc.name, cells(i, doc)) for i, doc in enumerate(docs)), key="layer",
                   key_header="Layer", notes=(*TRACE_LAYER_NOTES, *notes))


def captured_report(result: CaptureResult) -> Report:
    """The layers a capture recorded (``capture``): each GEMM input's kind, shape, layout
    as stored, the layout the layer was seen in (observed by the probe pass), value
    levels; each attention block's variant and heads; each neuron layer's spike rate."""
    from prosparsity.traces.params import LifParams

    rows: list[tuple[str, dict[str, Cell]]] = []
    layouts = result.summary.layouts
    for rec in result.summary.records:
        if rec.has_data:
            rows.append((rec.name, {"kind": str(rec.kind),
                                    "shape": "x".join(map(str, rec.shape)),
                                    "layout": rec.layout,
                                    "seen": layouts.get(rec.name, ""),
                                    "levels": ",".join(str(v) for v in rec.levels)}))
        elif isinstance(rec.parsed, LifParams):  # the rate analyze and trace info show
            rows.append((rec.name, {"kind": "lif",
                                    "neuron_spike_rate": rec.parsed.spike_rate}))
        elif str(rec.kind) == "attention":
            p = rec.params
            rows.append((rec.name, {"kind": "attention", "layout":
                                    f"{p.get('variant', '')}, {p.get('heads', '')} heads"}))
    columns = (KIND, Column("shape", "Shape", text=True), Column("layout", "Layout", text=True),
               Column("seen", "Seen as", text=True), LEVELS, NEURON_SPIKE_RATE)
    return listing(ReportKind.CAPTURED, f"{result.path}", columns, rows, key="layer",
                   key_header="Layer")


# ----------------------------------------------------------------------------- registries
def accelerators_report(models: Iterable[AcceleratorModel]) -> Report:
    """The registered accelerator models (``accelerators``): how the paper spells each,
    its kind, the figures it has, the package that registered it, and what it is."""
    def cells(m: AcceleratorModel) -> dict[str, Cell]:
        return {"display": m.display, "kind": str(m.kind) + (", GPU" if m.gpu else ""),
                "figures": ", ".join(m.figures),
                "package": m.origin,
                "description": m.description + (f" ({m.label})" if m.label else "")}

    columns = (Column("display", "Paper spelling", text=True), KIND,
               Column("figures", "Figures", text=True),
               Column("package", "Package", text=True),
               Column("description", "Description", text=True))
    return listing(ReportKind.ACCELERATOR_MODELS, "Accelerator models", columns,
                   ((m.name, cells(m)) for m in models), key="accelerator",
                   key_header="Accelerator")


def models_report(entries: Iterable[ModelInfo]) -> Report:
    """The models ``capture`` knows (``models``): family, time steps, weights, and the
    official checkpoint releases each loads (``--checkpoint``)."""
    columns = (Column("family", "Family", text=True), Column("time_steps", "T", "d"),
               Column("weights", "Weights", text=True),
               Column("description", "Description", text=True),
               Column("releases", "Official releases it loads", text=True))
    return listing(ReportKind.MODELS, "Models capture knows", columns,
                   ((e.name, {"family": e.family, "time_steps": e.time_steps,
                              "weights": "trained" if e.trained else "random",
                              "description": e.description,
                              "releases": ", ".join(e.releases) or "—"}) for e in entries),
                   key="workload", key_header="Model")


def workloads_report() -> Report:
    """The paper's workloads (``trace workloads``): network, dataset, time steps, layer
    records, and how many of them are GEMMs with spike data."""
    from prosparsity.traces.workloads import WORKLOADS, get_workload

    def cells(name: str) -> dict[str, Cell]:
        wl = get_workload(name)
        return {"model": wl.model, "dataset": wl.dataset, "time_steps": wl.time_steps,
                "records": len(wl.layers), "gemms": sum(1 for r in wl.layers if r.has_data)}

    columns = (Column("model", "Model", text=True), Column("dataset", "Dataset", text=True),
               Column("time_steps", "T", "d"), Column("records", "Records", "d"),
               Column("gemms", "GEMM layers", "d"))
    return listing(ReportKind.WORKLOADS, "Paper workloads", columns,
                   ((name, cells(name)) for name in WORKLOADS), key="workload",
                   key_header="Workload")


# ----------------------------------------------------------------------------- GPU
@dataclass(frozen=True)
class GPUCheck:
    """The GPU-equivalent model against measured A100 latencies, and what the fitted
    host constants predict for the H100 (``gpu-error``).

    Attributes:
        validation: the in-sample and leave-one-out fit.
        h100_s: workload -> the H100 prediction with the constants fitted to every point.
        h100_band_s: workload -> ``(low, high)``: the band of that prediction.
    """

    validation: GPUValidation
    h100_s: Mapping[str, float]
    h100_band_s: Mapping[str, tuple[float, float]]

    def notes(self) -> list[str]:
        """The errors, the band, and what the model cannot explain, in words."""
        v = self.validation
        low, high = v.loo_range
        lines = [
            f"in-sample (host constants fitted to all {len(v.rows)}): max |error| "
            f"{v.in_sample_max * 100:.1f}%, mean |error| {v.in_sample_mean * 100:.1f}%",
            f"leave-one-out (fitted to the other {len(v.rows) - 1}, this one predicted): "
            f"max |error| {v.loo_max * 100:.1f}%, mean |error| {v.loo_mean * 100:.1f}%",
            f"band of every prediction p: measured between p/{1 + high:.3f} and "
            f"p/{1 + low:.3f} (leave-one-out errors {low * 100:+.1f}% .. {high * 100:+.1f}%)",
        ]
        for r in v.unexplained:
            need = r.point.needed_kernel_s(v.host.inference_s)
            median = v.family_median_kernel_s(r.point.family)
            lines.append(
                f"not explained by a model of this kind: {r.workload} ({r.measured_s:.5f} s "
                f"measured, {r.point.launches} kernel launches) needs {need * 1e6:.0f} us per "
                f"launch where its family ({r.point.family}) needs {median * 1e6:.0f} us")
        for group in v.indistinguishable:
            measured = [r.measured_s for r in group]
            spread = (max(measured) - min(measured)) / (max(measured) + min(measured))
            names = ", ".join(f"{r.workload} {r.measured_s:.5f} s" for r in group)
            lines.append(f"same layer shapes, measured differently ({names}): no shape-based "
                         f"model separates them (floor +-{spread * 100:.1f}%)")
        return lines

    def report(self) -> Report:
        """One row per measured workload: family, launches, measured and modelled
        latency (in-sample and leave-one-out) with their errors, the H100 prediction and
        its band; the errors and the unexplained points as notes."""
        v = self.validation
        columns = (Column("family", "Family", text=True), Column("launches", "Launches", "d"),
                   Column("measured_s", "Measured (s)", ".5f"),
                   Column("model_s", "Model (s)", ".5f"), Column("error", "Error", "+.1%"),
                   Column("loo_s", "LOO (s)", ".5f"), Column("loo_error", "LOO error", "+.1%"),
                   Column("h100_s", "H100 (s)", ".5f"),
                   Column("latency_low_s", "H100 band (s)", ".4f", upper="latency_high_s"))
        rows = ((r.workload, {
            "family": str(r.point.family), "launches": r.point.launches,
            "measured_s": r.measured_s, "model_s": r.model_s, "error": r.error,
            "loo_s": r.loo_s, "loo_error": r.loo_error, "h100_s": self.h100_s[r.workload],
            "latency_low_s": self.h100_band_s[r.workload][0],
            "latency_high_s": self.h100_band_s[r.workload][1]}) for r in v.rows)
        return listing(ReportKind.GPU_VALIDATION,
                       "GPU-equivalent model vs the A100 latencies measured by the "
                       f"Prosperity authors ({v.structure} host constants)", columns, rows,
                       key_header="Workload", notes=self.notes())

    def to_json(self) -> dict[str, JSON]:
        """The ``gpu-error --json`` data."""
        v = self.validation
        return {
            "structure": str(v.structure),
            "host_s_per_kernel": dict(v.host.kernel_s),
            "inference_s": v.host.inference_s,
            "rows": [{"workload": r.workload, "family": str(r.point.family),
                      "kernel_launches": r.point.launches, "device_s": r.point.device_s,
                      "measured_s": r.measured_s, "model_s": r.model_s, "error": r.error,
                      "loo_model_s": r.loo_s, "loo_error": r.loo_error,
                      "h100_model_s": self.h100_s[r.workload],
                      "h100_low_s": self.h100_band_s[r.workload][0],
                      "h100_high_s": self.h100_band_s[r.workload][1]} for r in v.rows],
            "in_sample": {"max_abs_error": v.in_sample_max,
                          "mean_abs_error": v.in_sample_mean},
            "leave_one_out": {"max_abs_error": v.loo_max, "mean_abs_error": v.loo_mean,
                              "error_range": list(v.loo_range)},
            "max_abs_error": v.in_sample_max,
            "unexplained": [r.workload for r in v.unexplained],
            "indistinguishable": [[r.workload for r in g] for g in v.indistinguishable],
        }


def gpu_check(structure: str = "per-family") -> GPUCheck:
    """Validate the GPU-equivalent model on the paper's 12 measured A100 latencies
    (``structure``: which host constants are fitted, ``per-family`` or ``global``), and
    predict the H100 with the constants fitted to all of them."""
    from prosparsity.accel.gpu import H100_SXM, GPUConfig, band_s
    from prosparsity.accel.gpu_validation import HostFit, measured_points, validate_gpu_model

    validation = validate_gpu_model(structure=HostFit(structure))
    h100 = GPUConfig(spec=H100_SXM, host=validation.host, error_range=validation.loo_range)
    points = measured_points({r.workload: r.measured_s for r in validation.rows}, h100)
    predicted = {p.workload: p.predict_s(validation.host) for p in points}
    return GPUCheck(validation, predicted,
                    {w: band_s(s, validation.loo_range) for w, s in predicted.items()})


def gemm_timing_report(device: str, rows: Sequence[MeasuredGemm]) -> Report:
    """GEMMs timed on a GPU beside the model (``gpu-error --measure``): measured, the
    model's device time, their ratio, and the model's time with the host's launches."""
    columns = (Column("shape", "M x K x N", text=True),
               Column("measured_s", "Measured (s)", ".3g"),
               Column("model_device_s", "Model device (s)", ".3g"),
               Column("ratio", "Model / measured", ".2f"),
               Column("model_layer_s", "Model incl. launch (s)", ".3g"))
    return listing(ReportKind.GPU_TIMING,
                   f"GEMMs measured on {device} (dense FP32 torch.matmul)", columns,
                   ((r.layer, {"shape": f"{r.m:,} x {r.k:,} x {r.n:,}",
                               "measured_s": r.measured_s,
                               "model_device_s": r.model_device_s,
                               "ratio": r.model_device_s / r.measured_s
                               if r.measured_s > 0 else None,
                               "model_layer_s": r.model_layer_s}) for r in rows),
                   key="layer", key_header="Layer")
