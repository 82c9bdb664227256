"""The paper's energy model (Sec. VI), which gives Figure 8's energies.

For accelerator ``a`` on workload ``w``::

    E [mJ] = ON_CHIP_POWER_MW[a] [mW] * t [s]
             + DRAM_ENERGY_PJ_PER_BIT [pJ/bit] * DRAM_TRAFFIC_RATIO_TO_PROSPERITY[a]
               * PROSPERITY_DRAM_BITS[w] [bit] * 1e-9

and the A100's energy is its measured board power times its measured latency
(``A100_MEASURED_POWER_W[w] * 1000 * t``). The pricing lives in
:mod:`prosparsity.accel.energy`; these are the paper's constants, keyed by the paper's
accelerator spelling. The shared reference ``paper/energy_constants.json`` and
``paper/prosperity_dram_bits.csv`` hold the same values.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper._base import frozen as _frozen

CLOCK_HZ = 500e6
"""The clock at which the paper simulates every accelerator, Hz (500 MHz, Sec. VI)."""

DRAM_ENERGY_PJ_PER_BIT = 12.45
"""DRAM energy per bit moved, pJ (from DRAMsim3, Sec. VI)."""

ON_CHIP_POWER_MW: Mapping[str, float] = _frozen({
    "Prosperity": 446.5,
    "Eyeriss": 1410.5,
    "SATO": 319.5,
    "PTB": 982.0,
    "MINT": 396.3,
    "Stellar": 834.0,
})
"""On-chip power of each accelerator, mW (Sec. VI; Stellar's from its paper)."""

DRAM_TRAFFIC_RATIO_TO_PROSPERITY: Mapping[str, float] = _frozen({
    "Prosperity": 1.0,
    "Eyeriss": 5.47,
    "SATO": 4.85,
    "PTB": 2.53,
    "MINT": 3.12,
    "Stellar": 1.23,
})
"""Each accelerator's DRAM traffic relative to Prosperity's on the same workload (Sec. VI)."""

PROSPERITY_DRAM_BITS: Mapping[str, int] = _frozen({
    "vgg16_cifar10": 2306605056,
    "vgg16_cifar100": 2306605056,
    "resnet18_cifar10": 730988544,
    "resnet18_cifar100": 730988544,
    "spikformer_cifar10": 140574720,
    "spikformer_cifar10dvs": 217841664,
    "spikformer_cifar100": 140574720,
    "sdt_cifar10": 241565696,
    "sdt_cifar10dvs": 549388288,
    "sdt_cifar100": 241565696,
    "spikebert_sst2": 2505572352,
    "spikebert_mr": 4982833152,
    "spikebert_sst5": 2505572352,
    "spikingbert_sst2": 2585788416,
    "spikingbert_qqp": 2585788416,
    "spikingbert_mnli": 2585788416,
})
"""Prosperity's DRAM traffic on each workload of Fig. 8, bits: the energy model's ``D``
(the authors' ``reference/mem_reference.csv``)."""

A100_MEASURED_POWER_W: Mapping[str, float] = _frozen({
    "spikformer_cifar10": 96.0,
    "spikformer_cifar10dvs": 84.0,
    "spikformer_cifar100": 90.0,
    "sdt_cifar10": 91.0,
    "sdt_cifar10dvs": 81.0,
    "sdt_cifar100": 89.0,
    "spikebert_sst2": 132.0,
    "spikebert_mr": 184.0,
    "spikebert_sst5": 137.0,
    "spikingbert_sst2": 107.0,
    "spikingbert_qqp": 109.0,
    "spikingbert_mnli": 107.0,
})
"""The A100's board power the authors measured on each transformer workload of Fig. 8, W."""
