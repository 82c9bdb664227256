"""Row validation: bad values raise a ConfigError naming the field."""

from __future__ import annotations

import math

import pytest

from prosparsity.core.errors import ConfigError
from prosparsity.reports.rows import AccelRow, DensityRow, LayerRow, SweepRow, tile_config


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: DensityRow("w", 1.5, 0.1), "DensityRow.bit_density"),
        (lambda: DensityRow("w", 0.1, 0.2), "DensityRow.product_density"),
        (lambda: DensityRow("w", 0.2, 0.1, em_share=-0.1), "DensityRow.em_share"),
        (lambda: DensityRow("w", 0.2, 0.1, n_samples=0), "DensityRow.n_samples"),
        (lambda: DensityRow("", 0.2, 0.1), "DensityRow.workload"),
        (lambda: DensityRow("w", 0.2, 0.1, tile_m=0), "DensityRow.tile_m"),
        (lambda: AccelRow("w", "PTB", 0.0), "AccelRow.latency_s"),
        (lambda: AccelRow("w", "PTB", 1.0, energy_mj=math.nan), "AccelRow.energy_mj"),
        (lambda: AccelRow("w", " ", 1.0), "AccelRow.accelerator"),
        (lambda: SweepRow("w", 256, 16, 1.0, 0.0, 0.1, 0.2), "SweepRow.bit_sparsity_latency_s"),
        (lambda: LayerRow("w", "PTB", "fc_0", "gemm", -1.0), "LayerRow.total_cycles"),
    ],
)
def test_bad_rows_name_the_field(make, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.field == field
    assert str(err.value).startswith(field + ":")


def test_tile_config_label() -> None:
    assert tile_config(256, 16) == "M256_K16"
    assert SweepRow("w", 32, 16, 1.0, 2.0, 0.1, 0.2).config == "M32_K16"
