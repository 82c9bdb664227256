"""The paper's energy model (spec §6) against the paper's own numbers."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from prosparsity.accel.energy import (
    PAPER_ENERGY,
    EnergyConfig,
    a100_energy_mj,
    energy_mj,
    reference_dram_bits,
)
from prosparsity.core.errors import ConfigError
from prosparsity.paper import energy as paper
from prosparsity.paper.energy import PROSPERITY_DRAM_BITS


def _rows(path: Path) -> dict[str, dict[str, float]]:
    with path.open() as f:
        rows = list(csv.reader(f))
    head = rows[0][1:]
    return {r[0]: {w: float(v) for w, v in zip(head, r[1:], strict=True) if v} for r in rows[1:]}


def test_default_config_is_the_papers_constants() -> None:
    assert PAPER_ENERGY == EnergyConfig()
    assert PAPER_ENERGY.dram_pj_per_bit == paper.DRAM_ENERGY_PJ_PER_BIT == 12.45
    assert PAPER_ENERGY.on_chip_power_mw == paper.ON_CHIP_POWER_MW
    assert PAPER_ENERGY.dram_traffic_ratio == paper.DRAM_TRAFFIC_RATIO_TO_PROSPERITY
    assert PAPER_ENERGY.a100_power_w == paper.A100_MEASURED_POWER_W
    assert PAPER_ENERGY.keys == ("Prosperity", "Eyeriss", "SATO", "PTB", "MINT", "Stellar")


def test_figure8_energy_reproduced_from_figure8_latency(reference_dir: Path) -> None:
    """E = P*t + 12.45 pJ/bit * ratio * D: every Figure 8 energy from its latency.

    Stellar is the exception: both its published energies sit a constant 0.1335 mJ
    (0.19% / 0.13%) above what the model gives from its published latency (the authors'
    spreadsheet, not their code, produced them), so it is checked to 0.5%.
    """
    latency = _rows(reference_dir / "paper" / "fig8_latency_seconds.csv")
    energy = _rows(reference_dir / "paper" / "fig8_energy_millijoules.csv")
    checked = 0
    for workload, want in energy["Stellar"].items():
        got = energy_mj("Stellar", latency["Stellar"][workload],
                        PROSPERITY_DRAM_BITS[workload])
        assert math.isclose(got, want, rel_tol=5e-3), workload
    for accel in set(PAPER_ENERGY.keys) - {"Stellar"}:
        for workload, want in energy[accel].items():
            got = energy_mj(accel, latency[accel][workload], PROSPERITY_DRAM_BITS[workload])
            assert math.isclose(got, want, rel_tol=1e-9), (accel, workload)
            checked += 1
    for workload, want in energy["A100"].items():
        got = a100_energy_mj(workload, latency["A100"][workload])
        assert got is not None and math.isclose(got, want, rel_tol=1e-9), workload
        checked += 1
    assert checked == 5 * 16 + 12


def test_by_hand() -> None:
    # 446.5 mW * 1 ms + 12.45 pJ/bit * 1e6 bit = 0.4465 + 0.01245 mJ
    assert math.isclose(energy_mj("Prosperity", 1e-3, 1e6), 0.4465 + 0.01245)
    assert math.isclose(energy_mj("PTB", 0.0, 1e6), 0.01245 * 2.53)
    assert a100_energy_mj("lenet5_mnist", 1.0) is None


def test_reference_dram_bits() -> None:
    assert reference_dram_bits("sdt_cifar10", 5.0) == 241565696
    assert reference_dram_bits("lenet5_mnist", 5.0) == 5.0  # not in the paper's table
    assert reference_dram_bits(None, None) is None


def test_validation() -> None:
    with pytest.raises(ConfigError, match="energy.key"):
        energy_mj("Nope", 1.0, 1.0)
    with pytest.raises(ConfigError, match="energy.on_chip_power_mw.X"):
        EnergyConfig(on_chip_power_mw={"X": -1.0}, dram_traffic_ratio={"X": 1.0})
    with pytest.raises(ConfigError, match="energy.dram_traffic_ratio"):
        EnergyConfig(on_chip_power_mw={"X": 1.0}, dram_traffic_ratio={"Y": 1.0})
