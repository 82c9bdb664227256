"""One small function between the interop package and the counting and pricing stages.

:func:`measure_trace` is the only place where :mod:`prosparsity.interop` calls the
analysis (``analysis.density.count_samples``: the statistics of every sample, counted
once) and a cost model (Prosperity's pure ``simulate(stats, config)`` on those
statistics); when those APIs change, only this function follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from prosparsity.paper.tiles import DEFAULT_TILE

__all__ = ["TraceFigures", "measure_trace"]


@dataclass(frozen=True)
class TraceFigures:
    """What a trace says, one value per sample (batch 1, the paper's setting).

    Attributes:
        bit_density: per sample, bit density of the GEMM operands (im2col); ``None``
            for a trace without any spiking GEMM (here and in the next two).
        product_density: per sample, product density (spec section 4).
        prosperity_cycles: per sample, Prosperity's total cycles (paper configuration).
        neurons: neuron layer -> ``(spikes, elements)`` over all samples (``lif``
            records that carry them).
    """

    bit_density: tuple[float | None, ...]
    product_density: tuple[float | None, ...]
    prosperity_cycles: tuple[float | None, ...]
    neurons: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "neurons", MappingProxyType(dict(self.neurons)))

    @property
    def samples(self) -> int:
        return len(self.product_density)


def measure_trace(
    path: str | Path, tile_m: int = DEFAULT_TILE.tile_m, tile_k: int = DEFAULT_TILE.tile_k
) -> TraceFigures:
    """Densities and Prosperity cycles of every sample of a trace.

    Each sample is counted alone, at batch 1, as ``prosparsity analyze`` does, and
    Prosperity (paper configuration at this tile) is priced on those statistics.
    """
    from prosparsity.accel.base import registry
    from prosparsity.accel.prosperity import ProsperityConfig
    from prosparsity.analysis.density import count_samples
    from prosparsity.analysis.network import Workload
    from prosparsity.core.ids import AcceleratorId
    from prosparsity.traces.io import TraceReader
    from prosparsity.traces.params import LifParams

    with TraceReader(Path(path)) as reader:
        samples = count_samples(Workload.from_reader(reader), tile_m, tile_k)
        neurons = {
            r.name: (r.parsed.spikes, r.parsed.elements)
            for r in reader.layers
            if isinstance(r.parsed, LifParams)
            and r.parsed.spikes is not None and r.parsed.elements is not None
        }
    prosperity = registry()[AcceleratorId.PROSPERITY]
    config = ProsperityConfig(tile_m=tile_m, tile_k=tile_k)
    cycles: list[float | None] = []
    for stats in samples:
        if stats.no_gemm:
            cycles.append(None)
            continue
        bd = prosperity.simulate(stats, config)
        assert bd is not None
        cycles.append(float(bd.total_cycles))
    return TraceFigures(
        bit_density=tuple(s.bit_density for s in samples),
        product_density=tuple(s.product_density for s in samples),
        prosperity_cycles=tuple(cycles),
        neurons=neurons,
    )
