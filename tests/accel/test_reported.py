"""Configs of the reported-figure accelerators (Stellar, A100): defaults and validation."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from prosparsity.accel.reported import A100ReportedConfig, StellarConfig
from prosparsity.core.errors import ConfigError
from prosparsity.paper.fig8 import A100_MEASURED_LATENCY_S, STELLAR_REPORTED_LATENCY_S


@pytest.mark.parametrize(
    ("config_type", "table"),
    [(StellarConfig, STELLAR_REPORTED_LATENCY_S), (A100ReportedConfig, A100_MEASURED_LATENCY_S)],
)
def test_defaults_are_the_reported_tables(config_type: type, table: object) -> None:
    config = config_type()
    assert config.latency_s == table
    assert config.clock_hz == 500e6
    assert [f.name for f in dataclasses.fields(config)] == ["latency_s", "clock_hz"]


@pytest.mark.parametrize(("config_type", "key"), [(StellarConfig, "stellar"),
                                                  (A100ReportedConfig, "a100")])
def test_errors_name_the_field_path(config_type: type, key: str) -> None:
    with pytest.raises(ConfigError) as bad_latency:
        config_type(latency_s={"ok": 1.0, "w": 0.0})
    assert str(bad_latency.value) == f"{key}.latency_s.w: latency must be > 0 s, got 0.0"
    with pytest.raises(ConfigError) as bad_clock:
        config_type(clock_hz=0.0)
    assert str(bad_clock.value) == f"{key}.clock_hz: must be > 0"


def test_latency_table_is_copied_and_frozen() -> None:
    source = {"vgg16_cifar10": 0.5}
    config = StellarConfig(latency_s=source)
    source["vgg16_cifar10"] = 9.0
    assert isinstance(config.latency_s, MappingProxyType)
    assert config.latency_s == {"vgg16_cifar10": 0.5}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.clock_hz = 1.0  # type: ignore[misc]
