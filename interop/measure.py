"""One small function between the interop package and the front door.

:func:`measure_trace` is the only place where :mod:`prosparsity.interop` counts and
prices a trace: through :func:`prosparsity.simulate` (every sample counted once, batch 1,
Prosperity priced on those statistics), like every other client.
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
    import prosparsity as ps
    from prosparsity.traces.params import LifParams

    with ps.open(Path(path)) as trace:
        sim = ps.simulate(trace, ["prosperity"], tile=(tile_m, tile_k))
        neurons = {
            r.name: (r.parsed.spikes, r.parsed.elements)
            for r in trace.workload.layers
            if isinstance(r.parsed, LifParams)
            and r.parsed.spikes is not None and r.parsed.elements is not None
        }
    samples = sim.densities.samples
    prosperity = sim.accelerators.get("prosperity")  # None: no spiking GEMM, no figure
    cycles = ((None,) * len(samples) if prosperity is None
              else tuple(float(bd.total_cycles) for bd in prosperity.runs))
    return TraceFigures(
        bit_density=tuple(s.bit_density for s in samples),
        product_density=tuple(s.product_density for s in samples),
        prosperity_cycles=cycles,
        neurons=neurons,
    )
