"""What the counters share: the JSON form of a key and of tuple values, and the padding
of a sample's time steps to a power of two."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, ClassVar

import numpy as np

from prosparsity.analysis.layers import next_power_of_two
from prosparsity.core.errors import ConfigError

__all__ = ["CounterKey", "TupleCounter", "pad_time_steps", "padded_steps"]


class CounterKey:
    """Base of the counter keys (frozen dataclasses whose fields are the parameters)."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The key as a JSON object: ``kind`` plus the parameters."""
        assert is_dataclass(self)
        return {"kind": self.kind, **asdict(self)}


class TupleCounter(CounterKey):
    """A counter whose value per layer is a tuple of ints."""

    def value_to_json(self, value: tuple[int, ...]) -> list[int]:
        return [int(v) for v in value]

    def value_from_json(self, doc: Any) -> tuple[int, ...]:
        return tuple(int(v) for v in doc)


def padded_steps(steps: int, multiple: int, field: str) -> int:
    """``T`` padded by silent steps to a power of two, and at least to ``multiple``, which
    must divide it.

    Raises:
        ConfigError: ``multiple`` does not divide the padded ``T`` (names ``field``).
    """
    padded = max(next_power_of_two(steps), multiple)
    if padded % multiple:
        raise ConfigError(field, f"{multiple} does not divide padded T={padded}")
    return padded


def pad_time_steps(view: np.ndarray, multiple: int, field: str) -> np.ndarray:
    """``(L, T, K)`` spikes with ``T`` padded as :func:`padded_steps` says.

    Raises:
        ConfigError: ``multiple`` does not divide the padded ``T`` (names ``field``).
    """
    positions, steps, cols = view.shape
    padded = padded_steps(steps, multiple, field)
    if padded == steps:
        return view
    return np.concatenate([view, np.zeros((positions, padded - steps, cols), dtype=bool)],
                          axis=1)
