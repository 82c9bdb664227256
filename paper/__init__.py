"""The Prosperity paper's published numbers: one home, each cited.

    C. Wei, C. Guo, et al., "Prosperity: Accelerating Spiking Neural Networks via
    Product Sparsity", HPCA 2025.

Every constant here is a number printed in the paper or in the data behind its figures,
transcribed once and named after the figure or section it comes from (each figure's
``*_SOURCE`` is the citation the reports show):

* :mod:`~prosparsity.paper.tiles`: the default tile (``DEFAULT_TILE``, 256 x 16);
* :mod:`~prosparsity.paper.workloads`: which of the 19 workloads each figure covers;
* :mod:`~prosparsity.paper.fig11`: bit and product density (Fig. 11);
* :mod:`~prosparsity.paper.fig8`: latency and energy per accelerator (Fig. 8), with the
  measured A100 and reported Stellar latencies;
* :mod:`~prosparsity.paper.fig7`: the tile-size exploration (Fig. 7) and its sweep points;
* :mod:`~prosparsity.paper.energy`: the energy model's constants (Sec. VI) and
  Prosperity's DRAM traffic per workload.

Workloads are keyed by the paper's names (``vgg16_cifar10``, ...), accelerators by the
paper's spelling (``Prosperity``, ``PTB``, ``Eyeriss``, ``Eyeriss_linear``, ``SATO``,
``MINT``, ``Stellar``, ``A100``), tiles by ``(tile_m, tile_k)``. Tables are read-only
mappings. The analysis, the cost models, the reports and the tests read them from here;
this package imports only the standard library and the workload list of
:mod:`prosparsity.traces.workloads`, and computes nothing.
"""

from prosparsity.paper._base import PAPER
from prosparsity.paper.energy import (
    A100_MEASURED_POWER_W,
    CLOCK_HZ,
    DRAM_ENERGY_PJ_PER_BIT,
    DRAM_TRAFFIC_RATIO_TO_PROSPERITY,
    ON_CHIP_POWER_MW,
    PROSPERITY_DRAM_BITS,
)
from prosparsity.paper.fig7 import (
    FIG7_SOURCE,
    FIG7_TILE_K_NORMALIZED_LATENCY,
    FIG7_TILE_K_PRODUCT_DENSITY,
    FIG7_TILE_M_NORMALIZED_LATENCY,
    FIG7_TILE_M_PRODUCT_DENSITY,
    SWEEP_TILE_K,
    SWEEP_TILE_M,
)
from prosparsity.paper.fig8 import (
    A100_MEASURED_LATENCY_S,
    FIG8_ENERGY_MJ,
    FIG8_LATENCY_S,
    FIG8_SOURCE,
    STELLAR_REPORTED_LATENCY_S,
)
from prosparsity.paper.fig11 import FIG11_BIT_DENSITY, FIG11_PRODUCT_DENSITY, FIG11_SOURCE
from prosparsity.paper.tiles import DEFAULT_TILE, Tile
from prosparsity.paper.workloads import FIG8_WORKLOADS, WORKLOADS

__all__ = [
    "A100_MEASURED_LATENCY_S",
    "A100_MEASURED_POWER_W",
    "CLOCK_HZ",
    "DEFAULT_TILE",
    "DRAM_ENERGY_PJ_PER_BIT",
    "DRAM_TRAFFIC_RATIO_TO_PROSPERITY",
    "FIG7_SOURCE",
    "FIG7_TILE_K_NORMALIZED_LATENCY",
    "FIG7_TILE_K_PRODUCT_DENSITY",
    "FIG7_TILE_M_NORMALIZED_LATENCY",
    "FIG7_TILE_M_PRODUCT_DENSITY",
    "FIG8_ENERGY_MJ",
    "FIG8_LATENCY_S",
    "FIG8_SOURCE",
    "FIG8_WORKLOADS",
    "FIG11_BIT_DENSITY",
    "FIG11_PRODUCT_DENSITY",
    "FIG11_SOURCE",
    "ON_CHIP_POWER_MW",
    "PAPER",
    "PROSPERITY_DRAM_BITS",
    "STELLAR_REPORTED_LATENCY_S",
    "SWEEP_TILE_K",
    "SWEEP_TILE_M",
    "Tile",
    "WORKLOADS",
]
