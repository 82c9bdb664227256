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
  Prosperity's DRAM traffic per workload;
* :mod:`~prosparsity.paper.abstract`: the headline claims over PTB and the A100;
* :mod:`~prosparsity.paper.study`: the study's design by registry name (the proposed
  accelerator, the headline's baseline, Figure 8's normalisation, Figure 9's ablations).

Workloads are keyed by the paper's names (``vgg16_cifar10``, ...), accelerators by the
paper's spelling (``Prosperity``, ``PTB``, ``Eyeriss``, ``Eyeriss_linear``, ``SATO``,
``MINT``, ``Stellar``, ``A100``), tiles by ``(tile_m, tile_k)``. Tables are read-only
mappings. The analysis, the cost models, the reports and the tests read them from here;
this package imports only the standard library and the workload list of
:mod:`prosparsity.traces.workloads`, and computes nothing.

Import from the module of the figure (``from prosparsity.paper.tiles import
DEFAULT_TILE``): this file imports nothing, so reading the default tile does not load
every table.
"""
