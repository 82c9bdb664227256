"""RowSkip: an example accelerator plugin for prosparsity-harness (docs/plugins.md).

An imaginary accelerator, simple enough to check by hand: its array of ``adders`` adders
takes one *row segment* per cycle (one GEMM row's ``width`` consecutive columns) and
adds the weights of its spikes into ``adders`` output columns at once; a segment
without a spike is skipped for free. So one weight GEMM of ``N`` output columns costs

    cycles = ceil(N / adders) * busy          busy = row segments holding a spike

and every other layer (LIF, attention, pooling) costs nothing here. It has no DRAM or
energy model.

What a plugin declares, all of it below:

* a **counter** (:class:`BusySegments`): a frozen dataclass whose fields are its
  parameters, a ``kind``, and ``count(layer)``, a pure function of one weight-GEMM
  layer's spikes, run by the harness inside its one counting pass; optionally
  ``densities(layer, value, adders)``, what ``prosparsity analyze --counter
  busy_segments`` shows beside bit and product density;
* a **frozen config** (:class:`RowSkipConfig`) whose no-argument form is the design;
* ``needs(config)``: what the config needs counted;
* a pure **pricing function** ``simulate(stats, config) -> Breakdown``;
* the **registration** (:data:`MODEL`): the name and the facts reports need.

``pyproject.toml`` declares ``MODEL`` and the counter as entry points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from prosparsity.accel.base import Breakdown, LayerBreakdown, Needs, ceil_div
from prosparsity.accel.registry import AcceleratorModel
from prosparsity.analysis.counters import LayerSpikes, TupleCounter
from prosparsity.analysis.stats import LayerStats, ModelStats
from prosparsity.core.errors import ConfigError

__all__ = ["MODEL", "BusySegments", "RowSkipConfig", "needs", "simulate"]


@dataclass(frozen=True)
class BusySegments(TupleCounter):
    """Row segments of ``width`` columns holding at least one spike, one count per
    operand of the layer (a channel group or a bit plane)."""

    kind: ClassVar[str] = "busy_segments"
    width: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 1:
            raise ConfigError("busy_segments.width", f"must be a positive integer, got "
                              f"{self.width!r}")

    def count(self, layer: LayerSpikes) -> tuple[int, ...]:
        out = []
        for operand in layer.operands:
            s = operand.matrix()  # (M, K) booleans, the GEMM's rows
            m, k = s.shape
            padded = np.zeros((m, ceil_div(k, self.width) * self.width), dtype=bool)
            padded[:, :k] = s
            out.append(int(padded.reshape(m, -1, self.width).any(axis=2).sum()))
        return tuple(out)

    def densities(self, layer: LayerStats, value: Sequence[int],
                  adders: int) -> Mapping[str, tuple[int, int]]:
        """The share of row segments the array does not skip (pass-weighted)."""
        busy = total = 0
        for gemm, count in zip(layer.gemms, value, strict=True):
            passes = ceil_div(gemm.n, adders)
            busy += passes * count
            total += passes * gemm.m * ceil_div(gemm.k, self.width)
        return {"busy_segment_share": (busy, total)}


@dataclass(frozen=True)
class RowSkipConfig:
    """The design: ``adders`` adders, row segments of ``width`` columns, ``clock_hz``."""

    adders: int = 128
    width: int = 16
    clock_hz: float = 500e6

    def __post_init__(self) -> None:
        for name in ("adders", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"rowskip.{name}", f"must be a positive integer, got "
                                  f"{value!r}")
        if not self.clock_hz > 0:
            raise ConfigError("rowskip.clock_hz", f"must be > 0, got {self.clock_hz!r}")


def needs(config: RowSkipConfig) -> Needs:
    """Spike statistics (any tile) and the busy segments at the config's width."""
    return Needs(spikes=True, counters=frozenset({BusySegments(config.width)}))


def simulate(stats: ModelStats, config: RowSkipConfig | None = None) -> Breakdown:
    """RowSkip: an example plugin, one cycle per busy row segment and output pass."""
    cfg = config or RowSkipConfig()
    busy = stats.counter(BusySegments(cfg.width))  # layer -> per operand
    layers = []
    for layer in stats.layers:
        if layer.name not in busy:  # attention blocks: not counted, not priced here
            continue
        cycles = sum(ceil_div(g.n, cfg.adders) * b
                     for g, b in zip(layer.gemms, busy[layer.name], strict=True))
        layers.append(LayerBreakdown(layer.name, layer.kind, total_cycles=cycles,
                                     compute_cycles=cycles))
    return Breakdown.of_layers("rowskip", stats.model, cfg.clock_hz, layers,
                               notes=("RowSkip: an example plugin (docs/plugins.md)",))


#: The registration: everything the harness knows about RowSkip.
MODEL = AcceleratorModel(
    name="rowskip", simulate=simulate, config_type=RowSkipConfig, needs_fn=needs,
    display="RowSkip", label="example plugin", description="skips silent row segments",
)
