"""What the counters share: the base of the keys (JSON form of a key and of its values),
a counter's failure, and the padding of a sample's time steps to a power of two."""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from typing import Any, ClassVar

import numpy as np

from prosparsity.analysis.layers import next_power_of_two
from prosparsity.core.errors import ConfigError, HarnessError

__all__ = ["CounterError", "CounterFailure", "CounterKey", "TupleCounter", "pad_time_steps",
           "padded_steps"]


class CounterKey:
    """Base of the counter keys (frozen dataclasses whose fields are the parameters).

    A layer's value is stored as JSON as it is (ints, floats, strings, lists and dicts of
    them); a counter whose values are other objects overrides :meth:`value_to_json` and
    :meth:`value_from_json`.
    """

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The key as a JSON object: ``kind`` plus the parameters."""
        assert is_dataclass(self)
        return {"kind": self.kind, **asdict(self)}

    def value_to_json(self, value: Any) -> Any:
        """A layer's value as JSON."""
        return value

    def value_from_json(self, doc: Any) -> Any:
        """The inverse of :meth:`value_to_json`."""
        return doc


class CounterError(HarnessError):
    """A counter failed: the statistics hold no value of it (the message says which
    counter, from which package, on which layer, and why)."""


@dataclass(frozen=True)
class CounterFailure:
    """Why a counter has no result in a counting pass (its error is its own: the tile
    grids and the other counters of the pass are unaffected).

    Attributes:
        kind: the counter's kind.
        package: where the counter comes from (distribution and version, or module).
        layer: the layer it failed on.
        error: the exception, ``Type: message``.
        where: the source counted (trace file), for the message.
    """

    kind: str
    package: str
    layer: str
    error: str
    where: str = ""

    @property
    def message(self) -> str:
        """One line naming the counter, its package, the source and the layer."""
        at = f"{self.where}: " if self.where else ""
        return (f"{at}layer {self.layer}: counter {self.kind!r} ({self.package}) failed: "
                f"{self.error}")

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "package": self.package, "layer": self.layer,
                "error": self.error, "where": self.where}

    @staticmethod
    def from_json(doc: Any) -> CounterFailure:
        return CounterFailure(**{k: str(doc[k]) for k in ("kind", "package", "layer",
                                                          "error", "where")})


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
