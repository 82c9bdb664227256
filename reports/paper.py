"""The paper's published numbers as report references.

The numbers themselves, each cited, live in :mod:`prosparsity.paper`; this module only
looks them up for a report record (:func:`paper_reference`) and attaches the figure they
come from. Workload names are the paper's (``vgg16_cifar10``, ``lenet5_mnist``, ...);
accelerator names are the paper's spelling (``Eyeriss``, ``PTB``, ``SATO``, ``MINT``,
``Stellar``, ``A100``, ``Prosperity``) and are matched case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper.fig7 import (
    FIG7_SOURCE,
    FIG7_TILE_K_NORMALIZED_LATENCY,
    FIG7_TILE_K_PRODUCT_DENSITY,
    FIG7_TILE_M_NORMALIZED_LATENCY,
    FIG7_TILE_M_PRODUCT_DENSITY,
)
from prosparsity.paper.fig8 import FIG8_ENERGY_MJ, FIG8_LATENCY_S, FIG8_SOURCE
from prosparsity.paper.fig11 import FIG11_BIT_DENSITY, FIG11_PRODUCT_DENSITY, FIG11_SOURCE
from prosparsity.paper.tiles import DEFAULT_TILE
from prosparsity.reports.compare import Reference
from prosparsity.reports.metrics import Metric

_FIG8: dict[Metric, Mapping[str, Mapping[str, float]]] = {
    Metric.LATENCY_S: FIG8_LATENCY_S,
    Metric.ENERGY_MJ: FIG8_ENERGY_MJ,
}
_FIG7_LATENCY = {**FIG7_TILE_M_NORMALIZED_LATENCY, **FIG7_TILE_K_NORMALIZED_LATENCY}
_FIG7_DENSITY = {**FIG7_TILE_M_PRODUCT_DENSITY, **FIG7_TILE_K_PRODUCT_DENSITY}


def canonical_accelerator(name: str) -> str | None:
    """The paper's spelling of an accelerator name (case-insensitive), or ``None``."""
    wanted = name.strip().lower()
    for known in FIG8_LATENCY_S:
        if known.lower() == wanted:
            return known
    return None


def paper_reference(
    metric: str,
    workload: str,
    accelerator: str = "Prosperity",
    tile_m: int = DEFAULT_TILE.tile_m,
    tile_k: int = DEFAULT_TILE.tile_k,
    layer: str = "",
) -> Reference | None:
    """The paper's value for one metric of one workload, if the paper has it.

    Args:
        metric: a :class:`Metric` (``bit_density``, ``product_density``, ``latency_s``,
            ``energy_mj``, ``normalized_latency``); other metrics have no paper value.
        workload: the paper's workload name.
        accelerator: accelerator name (densities and Fig. 7 belong to Prosperity).
        tile_m: Prosperity tile rows of our result.
        tile_k: Prosperity tile columns of our result.
        layer: a layer name; the paper has whole-workload numbers only.

    Returns:
        The value with its source, or ``None`` when the paper has no number for exactly
        this workload, accelerator and configuration.
    """
    if layer:
        return None
    tile = (tile_m, tile_k)
    acc = canonical_accelerator(accelerator)
    if metric in (Metric.LATENCY_S, Metric.ENERGY_MJ):
        if acc is None or (acc == "Prosperity" and tile != DEFAULT_TILE):
            return None
        value = _FIG8[Metric(metric)].get(acc, {}).get(workload)
        return None if value is None else Reference(value, FIG8_SOURCE)
    if acc != "Prosperity":
        return None
    if metric == Metric.BIT_DENSITY:
        # Bit density does not depend on the tile; Fig. 11 has it for every workload.
        value = FIG11_BIT_DENSITY.get(workload)
        return None if value is None else Reference(value, FIG11_SOURCE)
    if metric == Metric.PRODUCT_DENSITY:
        if tile == DEFAULT_TILE and workload in FIG11_PRODUCT_DENSITY:
            return Reference(FIG11_PRODUCT_DENSITY[workload], FIG11_SOURCE)
        value = _FIG7_DENSITY.get(tile, {}).get(workload)
        return None if value is None else Reference(value, FIG7_SOURCE)
    if metric == Metric.NORMALIZED_LATENCY:
        value = _FIG7_LATENCY.get(tile, {}).get(workload)
        return None if value is None else Reference(value, FIG7_SOURCE)
    return None
