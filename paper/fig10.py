"""Figure 10: Prosperity's area and power breakdown, as far as the public sources give it.

The paper's Figure 10 has two pie charts, area (left) and power (right), of the default
design (Design Compiler and CACTI at 28 nm). The authors could not release their synthesis
scripts; their artifact's ``simulator/buffer_cacti.py`` runs CACTI 7 on their buffer
configuration and its README says the result "should be identical to the value in the
left pie chart in Figure 10". Those buffer areas are the only Figure 10 values the public
sources give (the stored copy of the paper's text carries no figure values); the power
chart's total is the on-chip power of Sec. VI, 446.5 mW. The other slices (adder array,
detector, pruner, dispatcher, LIF and SFU units) are not published.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper._base import PAPER
from prosparsity.paper._base import frozen as _frozen
from prosparsity.paper.energy import ON_CHIP_POWER_MW

FIG10_SOURCE = f"{PAPER}, Fig. 10 (buffer area: the authors' buffer_cacti.py, CACTI 7, 28 nm)"

FIG10_BUFFER_AREA_MM2: Mapping[str, float] = _frozen({
    "spike_buffer": 0.011071,
    "weight_buffer": 0.084640,
    "output_buffer_0": 0.084640,
    "output_buffer_1": 0.121722,
})
"""Area of each of Prosperity's four buffers, mm² (8 KB spike buffer with 4-B accesses,
32,384-B weight buffer and 32,384-B + 64-KB output buffers with 128-B accesses); the
shared reference ``cacti/README.md`` gives the same table."""

FIG10_BUFFER_AREA_TOTAL_MM2 = 0.302073
"""Their sum as the artifact states it, mm²."""

FIG10_BUFFER_LEAKAGE_MW = 68.11
"""Leakage of the four buffers in the same CACTI run, mW (not a Figure 10 value: the
shared reference ``cacti/README.md``)."""

FIG10_TOTAL_POWER_MW = ON_CHIP_POWER_MW["Prosperity"]
"""Prosperity's on-chip power, mW (Sec. VI, 446.5 mW; the total of the power chart)."""
