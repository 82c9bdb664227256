"""Reference values and the comparison of our numbers against them.

A *reference* is a number someone else published for exactly the same workload,
accelerator and configuration (the paper's figures, the authors' simulator run on the same
trace), with where it comes from. A report record carrying a reference shows the relative
difference ``(ours - reference) / |reference|`` and is *flagged* when that exceeds the
metric's :class:`~prosparsity.reports.metrics.Tolerance`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prosparsity.paper.energy import CLOCK_HZ
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.reports.metrics import Metric
from prosparsity.reports.rows import tile_config


@dataclass(frozen=True)
class Reference:
    """A published value and its source (``"Prosperity (HPCA 2025), Fig. 11"``)."""

    value: float
    source: str


def relative_difference(ours: float, reference: float) -> float:
    """``(ours - reference) / |reference|``; 0 when both are 0, ±inf when only the reference is."""
    if reference == 0.0:
        return 0.0 if ours == 0.0 else math.copysign(math.inf, ours)
    return (ours - reference) / abs(reference)


class ReferenceSource(Protocol):
    """Anything that can look up a reference value (see :func:`first_reference`)."""

    def __call__(
        self,
        metric: str,
        workload: str,
        accelerator: str,
        tile_m: int = DEFAULT_TILE.tile_m,
        tile_k: int = DEFAULT_TILE.tile_k,
        layer: str = "",
    ) -> Reference | None: ...


def first_reference(
    sources: Iterable[ReferenceSource],
    metric: str,
    workload: str,
    accelerator: str,
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    layer: str = "",
) -> Reference | None:
    """The first reference any of ``sources`` has for this metric, or ``None``."""
    for source in sources:
        found = source(metric, workload, accelerator, tile_m=tile_m, tile_k=tile_k, layer=layer)
        if found is not None:
            return found
    return None


_RUN_FIELDS = {
    Metric.TOTAL_CYCLES: "total_cycles",
    Metric.COMPUTE_CYCLES: "compute_cycles",
    Metric.MEM_STALL_CYCLES: "mem_stall_cycles",
    Metric.PREPROCESS_STALL_CYCLES: "preprocess_stall_cycles",
    Metric.DRAM_BITS: "dram_bits",
    Metric.BIT_DENSITY: "bit_density",
    Metric.PRODUCT_DENSITY: "product_density",
}


class OfficialSimReferences:
    """Reference values from the authors' simulator run on the very same trace.

    Reads documents in the format of ``reference/official-sim/*.json`` (already parsed):
    ``{"workload", "default_config": {"tile_m", "tile_k", "freq_hz", ...}, "runs": {KEY:
    {total_cycles, compute_cycles, mem_stall_cycles, preprocess_stall_cycles, dram_bits,
    [bit_density, product_density], [per_layer: {LAYER: {..., lif_latency}}]}}}``, where KEY
    is an accelerator (``Prosperity``, ``PTB``, ``Eyeriss``, ...), an ablation
    (``Prosperity:bit``) or a tile configuration (``Prosperity:M32_K16``).

    Args:
        documents: workload name -> (parsed document, source description).
    """

    def __init__(self, documents: Mapping[str, tuple[Mapping[str, Any], str]]) -> None:
        self._docs = dict(documents)

    @classmethod
    def from_documents(cls, docs: Iterable[tuple[Mapping[str, Any], str]]) -> OfficialSimReferences:
        """Build from ``(document, source)`` pairs, keyed by each document's ``workload``."""
        return cls({str(doc["workload"]): (doc, source) for doc, source in docs})

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(self._docs)

    def run_keys(self, workload: str) -> tuple[str, ...]:
        """The run keys the document of ``workload`` holds (empty if none)."""
        doc = self._docs.get(workload)
        return tuple(doc[0].get("runs", {})) if doc else ()

    def _run(
        self, workload: str, accelerator: str, tile_m: int, tile_k: int
    ) -> tuple[Mapping[str, Any], str, float] | None:
        entry = self._docs.get(workload)
        if entry is None:
            return None
        doc, source = entry
        runs = doc.get("runs", {})
        cfg = doc.get("default_config", {})
        default = (int(cfg.get("tile_m", DEFAULT_TILE.tile_m)),
                   int(cfg.get("tile_k", DEFAULT_TILE.tile_k)))
        by_lower = {key.lower(): key for key in runs}
        key = accelerator.lower()
        if (tile_m, tile_k) != default:
            key = f"{key}:{tile_config(tile_m, tile_k).lower()}"
        if key not in by_lower:
            return None
        return runs[by_lower[key]], source, float(cfg.get("freq_hz", CLOCK_HZ))

    def __call__(
        self,
        metric: str,
        workload: str,
        accelerator: str,
        tile_m: int = DEFAULT_TILE.tile_m,
        tile_k: int = DEFAULT_TILE.tile_k,
        layer: str = "",
    ) -> Reference | None:
        found = self._run(workload, accelerator, tile_m, tile_k)
        if found is None:
            return None
        run, source, freq_hz = found
        if layer:
            per_layer = run.get("per_layer", {})
            if layer not in per_layer:
                return None
            run = per_layer[layer]
            if metric == Metric.ADDED_CYCLES:
                # ``lif_latency`` is what a LIF layer adds when it overlaps the GEMM before
                # it; the authors' simulator leaves it 0 on every other layer.
                value = run.get("lif_latency")
                if value is None or not layer.startswith("lif"):
                    return None
                return Reference(float(value), source)
        if metric == Metric.LATENCY_S and "total_cycles" in run:
            return Reference(float(run["total_cycles"]) / freq_hz, source)
        field = _RUN_FIELDS.get(metric)
        if field is None or field not in run:
            return None
        return Reference(float(run[field]), source)
