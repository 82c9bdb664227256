"""Figure 11: bit density and product density of the 19 workloads at the default tile.

Density is the share of a spiking GEMM's ``M x K`` spike bits that cost an addition: all
non-zero bits (bit density) or only those left after ProSparsity's prefix reuse (product
density), summed over the workload's GEMMs. Values as published (the data behind the
figure), in the figure's order; the shared reference ``paper/fig11_density.csv`` holds the
same rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper._base import PAPER
from prosparsity.paper._base import frozen as _frozen
from prosparsity.paper.tiles import DEFAULT_TILE

FIG11_SOURCE = f"{PAPER}, Fig. 11 (density at tile {DEFAULT_TILE.tile_m}x{DEFAULT_TILE.tile_k})"

FIG11_BIT_DENSITY: Mapping[str, float] = _frozen({
    "vgg16_cifar10": 0.0896311236752404,
    "vgg16_cifar100": 0.342091911368899,
    "vgg9_cifar10": 0.135011258332625,
    "vgg9_cifar10dvs": 0.0435934999714727,
    "resnet18_cifar10": 0.0908938331407514,
    "resnet18_cifar100": 0.0863184307847854,
    "lenet5_mnist": 0.253639946627197,
    "spikformer_cifar10": 0.149227398221829,
    "spikformer_cifar10dvs": 0.135885987326363,
    "spikformer_cifar100": 0.147364188273993,
    "sdt_cifar10": 0.14632822672526,
    "sdt_cifar10dvs": 0.115268163571412,
    "sdt_cifar100": 0.151792594714042,
    "spikebert_sst2": 0.131895698226607,
    "spikebert_mr": 0.305794575550892,
    "spikebert_sst5": 0.478754381517748,
    "spikingbert_sst2": 0.204874077358761,
    "spikingbert_qqp": 0.221496281323132,
    "spikingbert_mnli": 0.212678943668399,
})
"""Fig. 11, bit density per workload (tile-independent)."""

FIG11_PRODUCT_DENSITY: Mapping[str, float] = _frozen({
    "vgg16_cifar10": 0.0248430437511867,
    "vgg16_cifar100": 0.0278573897149827,
    "vgg9_cifar10": 0.0455644027046535,
    "vgg9_cifar10dvs": 0.0178470404251762,
    "resnet18_cifar10": 0.025060983507663,
    "resnet18_cifar100": 0.0262870592085029,
    "lenet5_mnist": 0.0156137872264083,
    "spikformer_cifar10": 0.0483428041755353,
    "spikformer_cifar10dvs": 0.0354457035242954,
    "spikformer_cifar100": 0.0441038212416956,
    "sdt_cifar10": 0.0508084223820613,
    "sdt_cifar10dvs": 0.0262837289393633,
    "sdt_cifar100": 0.054780539488181,
    "spikebert_sst2": 0.0123278758189341,
    "spikebert_mr": 0.0504123527366477,
    "spikebert_sst5": 0.0243068758073869,
    "spikingbert_sst2": 0.0297604444864633,
    "spikingbert_qqp": 0.0410144350550196,
    "spikingbert_mnli": 0.0388498972128103,
})
"""Fig. 11, product density per workload at :data:`~prosparsity.paper.tiles.DEFAULT_TILE`."""
