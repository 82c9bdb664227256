"""Typed layer parameters: one frozen dataclass per :class:`LayerKind`, parsed once.

A :class:`~prosparsity.traces.schema.LayerRecord` keeps the free-form ``params`` mapping
it was given (what a trace file stores) and parses it, on construction, into the typed
object of its kind (:attr:`LayerRecord.parsed`). Every stage reads the typed object, so
the analysis and every cost model accept exactly the same records, and an invalid value
is reported once, naming ``<layer>.params.<field>`` (a trace reader adds the file).

Parsing rules, for every kind:

* aliases are normalised here, once: ``sequence_length`` -> ``seq_len``, ``num_heads`` ->
  ``heads``, ``attention_type`` -> ``variant`` (both spellings with different values is
  an error);
* integer fields take an int (numpy integers too) or a list of equal ints (a square
  kernel stored as ``[3, 3]``); bools, floats, strings and non-square lists are errors,
  and so are values below the field's minimum (0 for ``padding``, ``neurons``,
  ``spikes``, ``elements``; 1 otherwise);
* a field may be absent: shape parameters of a trace imported without ``--workload`` are
  unknown. Using an absent field raises :class:`MissingParam` (see ``require``), whose
  message says what needs it;
* keys the kind does not define are kept, unvalidated, in ``extra`` (capture records
  e.g. the neuron class of a LIF layer).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from prosparsity.core.errors import ConfigError

if TYPE_CHECKING:
    from prosparsity.traces.schema import LayerKind

__all__ = [
    "ALIASES",
    "AttentionOperandParams",
    "AttentionParams",
    "AttentionVariant",
    "ConvParams",
    "LayerNormParams",
    "LayerParams",
    "LifParams",
    "LinearParams",
    "MaxPoolParams",
    "MissingParam",
    "parse_params",
]


class MissingParam(ConfigError):
    """A parameter that a computation needs is absent from the record."""


class AttentionVariant(StrEnum):
    """The attention flavours of the paper's transformer workloads."""

    SPIKFORMER = "spikformer"
    SPIKEBERT = "spikebert"
    SDT = "sdt"
    SPIKINGBERT = "spikingbert"


#: Alternative spellings found in the authors' configs and older traces -> our field.
ALIASES: Mapping[str, str] = MappingProxyType(
    {"sequence_length": "seq_len", "num_heads": "heads", "attention_type": "variant"}
)

#: Integer fields whose smallest valid value is 0 (every other integer field needs >= 1).
_ZERO_OK = frozenset({"padding", "neurons", "spikes", "elements"})


def _as_int(layer: str, key: str, value: Any) -> int:
    if type(value) is int and value >= 1:  # the common case, without the checks below
        return value
    where = f"{layer}.params.{key}"
    if isinstance(value, list | tuple):
        if not value or len(set(value)) != 1:
            raise ConfigError(where, f"non-square values {tuple(value)} are not supported")
        value = value[0]
    # numbers.Integral covers numpy's integer scalars (without importing numpy here:
    # the paper package reads records); bool is an int but no count
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(where, f"must be an integer, got {value!r}")
    low = 0 if key in _ZERO_OK else 1
    if value < low:
        raise ConfigError(where, f"must be >= {low}, got {value!r}")
    return int(value)


def _as_pair(layer: str, key: str, value: Any) -> tuple[int, int]:
    """``input_hw``: one int (square) or ``[h, w]``."""
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ConfigError(f"{layer}.params.{key}", f"must be an int or [h, w], got {value!r}")
        h, w = (_as_int(layer, key, v) for v in value)
        return h, w
    side = _as_int(layer, key, value)
    return side, side


def _as_str(layer: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{layer}.params.{key}", f"must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class LayerParams:
    """Parameters every record may carry.

    Attributes:
        layer: the record's name (for messages; not a parameter).
        time_steps: T of this record, or ``None`` (the trace's T applies).
        batch: samples of this record, or ``None`` (the trace's batch applies).
        extra: keys this kind does not define, as given.
    """

    layer: str = field(default="", compare=False)
    time_steps: int | None = None
    batch: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    _PAIRS: ClassVar[frozenset[str]] = frozenset()
    _STRS: ClassVar[frozenset[str]] = frozenset()

    def require(self, name: str, needed_by: str = "") -> Any:
        """The value of field ``name``; raises :class:`MissingParam` when it is absent."""
        value = getattr(self, name)
        if value is None:
            why = f" (needed for {needed_by})" if needed_by else ""
            raise MissingParam(f"{self.layer}.params.{name}", f"missing{why}")
        return value

    def time_steps_or(self, default: int) -> int:
        """``time_steps``, else ``default`` (the workload's T)."""
        return default if self.time_steps is None else self.time_steps

    def batch_or(self, default: int) -> int:
        """``batch``, else ``default`` (the workload's batch)."""
        return default if self.batch is None else self.batch

    @classmethod
    def parse(cls, layer: str, raw: Mapping[str, Any]) -> LayerParams:
        """Parse ``raw`` (aliases normalised, values validated)."""
        known = _field_names(cls)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            name = ALIASES.get(key, key)
            if name not in known:
                extra[key] = value
                continue
            if name in values and values[name] != value:
                raise ConfigError(
                    f"{layer}.params.{name}",
                    f"given twice with different values ({key}={value!r}, {values[name]!r})",
                )
            values[name] = value
        parsed: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name in cls._PAIRS:
                parsed[name] = _as_pair(layer, name, value)
            elif name in cls._STRS:
                parsed[name] = _as_str(layer, name, value)
            elif name == "variant":
                parsed[name] = _variant(layer, value)
            else:
                parsed[name] = _as_int(layer, name, value)
        return cls(layer=layer, extra=MappingProxyType(extra), **parsed)


@functools.cache
def _field_names(cls: type[LayerParams]) -> frozenset[str]:
    """The parameter fields of ``cls`` (computed once per class: a trace's open parses
    every record)."""
    return frozenset(f.name for f in fields(cls)) - {"layer", "extra"}


def _variant(layer: str, value: Any) -> AttentionVariant:
    try:
        return AttentionVariant(str(value).lower())
    except ValueError:
        raise ConfigError(
            f"{layer}.params.variant",
            f"unknown attention variant {value!r} (one of {', '.join(AttentionVariant)})",
        ) from None


@dataclass(frozen=True)
class LinearParams(LayerParams):
    """``linear``: ``in_features``, ``out_features`` and, with tokens, ``seq_len``."""

    in_features: int | None = None
    out_features: int | None = None
    seq_len: int | None = None


@dataclass(frozen=True)
class ConvParams(LayerParams):
    """``conv1d`` / ``conv2d``: channels, square kernel, stride, padding, dilation,
    groups, and the input size (``input_hw`` as ``(h, w)`` for conv2d, ``input_len``
    for conv1d) when the record has no stored shape."""

    in_channels: int | None = None
    out_channels: int | None = None
    kernel: int | None = None
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    input_hw: tuple[int, int] | None = None
    input_len: int | None = None

    _PAIRS: ClassVar[frozenset[str]] = frozenset({"input_hw"})


@dataclass(frozen=True)
class AttentionOperandParams(LayerParams):
    """``attention_operand``: which operand (``q``, ``k``, ``v``, ...) of which
    ``attention`` record, and its shape (``dim``, ``seq_len``, ``heads``)."""

    operand: str | None = None
    attention: str | None = None
    dim: int | None = None
    seq_len: int | None = None
    heads: int | None = None

    _STRS: ClassVar[frozenset[str]] = frozenset({"operand", "attention"})


@dataclass(frozen=True)
class LifParams(LayerParams):
    """``lif``: ``neurons`` per sample and time step; optionally ``spikes`` (output
    spikes recorded) and ``elements`` (output values recorded), whose ratio is the
    neuron spike rate (COMMON contract 3; older traces lack them)."""

    neurons: int | None = None
    spikes: int | None = None
    elements: int | None = None

    @property
    def spike_rate(self) -> float | None:
        """``spikes / elements``, or ``None`` when not recorded."""
        if self.spikes is None or not self.elements:
            return None
        return self.spikes / self.elements


@dataclass(frozen=True)
class LayerNormParams(LayerParams):
    """``layernorm``: normalised width ``dim`` over ``seq_len`` tokens (default 1)."""

    dim: int | None = None
    seq_len: int | None = None


@dataclass(frozen=True)
class AttentionParams(LayerParams):
    """``attention``: the block's ``dim``, ``seq_len``, ``heads`` and ``variant``."""

    dim: int | None = None
    seq_len: int | None = None
    heads: int | None = None
    variant: AttentionVariant | None = None


@dataclass(frozen=True)
class MaxPoolParams(LayerParams):
    """``maxpool2d``: input size ``input_hw`` as ``(h, w)``, ``channels``, ``kernel``,
    ``stride``, ``padding``."""

    input_hw: tuple[int, int] | None = None
    channels: int | None = None
    kernel: int | None = None
    stride: int | None = None
    padding: int | None = None

    _PAIRS: ClassVar[frozenset[str]] = frozenset({"input_hw"})


def _classes() -> Mapping[str, type[LayerParams]]:
    return {
        "linear": LinearParams,
        "conv1d": ConvParams,
        "conv2d": ConvParams,
        "attention_operand": AttentionOperandParams,
        "lif": LifParams,
        "layernorm": LayerNormParams,
        "attention": AttentionParams,
        "maxpool2d": MaxPoolParams,
    }


_BY_KIND = _classes()


def parse_params(layer: str, kind: LayerKind | str, raw: Mapping[str, Any]) -> LayerParams:
    """The typed parameters of a record of ``kind`` named ``layer``.

    Raises:
        ConfigError: a value of the wrong type or range, naming ``<layer>.params.<field>``.
    """
    return _BY_KIND[str(kind)].parse(layer, raw)
