"""One small function between the interop package and the counting and pricing stages.

:func:`measure_trace` is the only place where :mod:`prosparsity.interop` calls the
analysis (``analysis.density.analyze_samples``) and the accelerator suite
(``accel.suite.run_suite`` on an ``accel.workload.Workload``). Those APIs are being
reshaped (count once, price many); when they change, only this function follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

__all__ = ["TraceFigures", "measure_trace"]

PAPER_TILE_M = 256
PAPER_TILE_K = 16


@dataclass(frozen=True)
class TraceFigures:
    """What a trace says, one value per sample (batch 1, the paper's setting).

    Attributes:
        bit_density: per sample, bit density of the GEMM operands (im2col).
        product_density: per sample, product density (spec section 4).
        prosperity_cycles: per sample, Prosperity's total cycles (paper configuration).
        neurons: neuron layer -> ``(spikes, elements)`` over all samples (``lif``
            records that carry them).
    """

    bit_density: tuple[float, ...]
    product_density: tuple[float, ...]
    prosperity_cycles: tuple[float, ...]
    neurons: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "neurons", MappingProxyType(dict(self.neurons)))

    @property
    def samples(self) -> int:
        return len(self.product_density)


def measure_trace(
    path: str | Path, tile_m: int = PAPER_TILE_M, tile_k: int = PAPER_TILE_K
) -> TraceFigures:
    """Densities and Prosperity cycles of every sample of a trace.

    Each sample is analysed and simulated alone, at batch 1, as ``prosparsity analyze``
    does.
    """
    from prosparsity.accel.suite import run_suite
    from prosparsity.accel.workload import Workload
    from prosparsity.analysis.density import analyze_samples
    from prosparsity.traces.io import TraceReader
    from prosparsity.traces.schema import LayerKind

    with TraceReader(Path(path)) as reader:
        stats = analyze_samples(reader, tile_m, tile_k)
        neurons = {
            r.name: (int(r.params["spikes"]), int(r.params["elements"]))
            for r in reader.layers
            if r.kind is LayerKind.LIF and "spikes" in r.params and "elements" in r.params
        }
        layers, axis = [], {}
        for rec in reader.layers:
            if not rec.in_network:
                continue
            params = {**rec.params, "batch": 1} if "batch" in rec.params else rec.params
            if rec.has_data and "B" in rec.axes:
                axis[rec.name] = rec.axes.index("B")
                shape = list(rec.shape)
                shape[axis[rec.name]] = 1
                rec = replace(rec, shape=tuple(shape))
            layers.append(replace(rec, params=params))
        cycles = []
        for b in range(stats.n_samples):

            def load(name: str, b: int = b) -> object:
                if name not in axis:
                    return reader.read(name)
                return reader.read_range(name, axis[name], b, b + 1)

            workload = Workload(
                name=reader.info.model,
                layers=tuple(layers),
                loader=load,
                time_steps=int(reader.info.time_steps),
                batch=1,
                source=str(path),
            )
            result = run_suite(workload, ["prosperity"], {"tile_m": tile_m, "tile_k": tile_k})
            cycles.append(float(result.results["prosperity"].total_cycles))
    return TraceFigures(
        bit_density=tuple(float(s.bit_density) for s in stats.samples),
        product_density=tuple(float(s.product_density) for s in stats.samples),
        prosperity_cycles=tuple(cycles),
        neurons=neurons,
    )
