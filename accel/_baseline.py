"""Layer shapes and spike views shared by the baseline accelerator models.

The baseline models (PTB, Eyeriss, SATO, MINT, LoAS) need three things from a layer
record: its GEMM dimensions split into time steps, batch and tokens, the shape of its
LIF / LayerNorm / attention block, and, for the spike-driven ones, the layer's spikes
arranged per token and time step. This module provides exactly that, on top of
:mod:`prosparsity.traces.shapes` (GEMM shapes) and :mod:`prosparsity.analysis.gemm`
(GEMM operands); it holds no pricing.

Notation (spec §1): ``T`` time steps, ``B`` batch, ``L`` tokens (linear) or output
positions (conv), ``K`` GEMM columns (``C/groups * k*k`` for a conv), ``N`` output
features. A GEMM has ``M = B*L*T`` rows, token-major and time-minor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import gemm_shape

#: Layer kinds that the authors' baselines price as a weight GEMM (attention operands
#: are not: the baselines skip attention, or price it from its shape only).
WEIGHT_GEMM_KINDS = frozenset({LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D})


def _int_param(record: LayerRecord, key: str, *aliases: str) -> int:
    for name in (key, *aliases):
        if name in record.params:
            value = record.params[name]
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ConfigError(f"{record.name}.params.{name}",
                                  f"must be a non-negative integer, got {value!r}")
            return int(value)
    raise ConfigError(f"{record.name}.params.{key}", f"missing (needed for a {record.kind} layer)")


@dataclass(frozen=True)
class LayerGemm:
    """GEMM view of a linear / convolution layer, split into ``B``, ``L`` and ``T``.

    Attributes:
        name: the layer's name.
        time_steps: T.
        batch: B.
        positions: L, tokens of a linear layer or output positions of a convolution.
        k: GEMM columns per group.
        n: output features per group.
        kernel: convolution kernel size (1 for linear layers).
        groups: independent GEMMs of this shape (grouped convolution), usually 1.
    """

    name: str
    time_steps: int
    batch: int
    positions: int
    k: int
    n: int
    kernel: int = 1
    groups: int = 1

    @property
    def m(self) -> int:
        """GEMM rows ``M = B * L * T``."""
        return self.batch * self.positions * self.time_steps


def layer_gemm(workload: Any, record: LayerRecord) -> LayerGemm:
    """The GEMM of a linear / conv1d / conv2d record, with ``T`` and ``B`` from the workload.

    Raises:
        ConfigError: missing / inconsistent shape parameters (names the field).
    """
    shape = gemm_shape(record)
    steps, samples = workload.time_steps_of(record), workload.batch_of(record)
    if steps < 1 or samples < 1 or shape.m % (steps * samples):
        # the batch of a trace may be folded into the tokens: fall back to one sample
        samples = 1
        if steps < 1 or shape.m % steps:
            raise ConfigError(f"{record.name}.params.time_steps",
                              f"T={steps} does not divide the GEMM's {shape.m} rows")
    return LayerGemm(record.name, steps, samples, shape.m // (steps * samples), shape.k,
                     shape.n, shape.kernel, shape.groups)


def spike_views(workload: Any, record: LayerRecord) -> Iterator[np.ndarray]:
    """The layer's spiking GEMM operand(s) as ``(B, L, T, K)`` booleans (spec §1 rows).

    One array per channel group of a grouped convolution and per bit plane of a
    multi-level input (each is a binary GEMM of its own); a plain spiking layer yields one.
    """
    from prosparsity.analysis.gemm import gemms_of

    g = layer_gemm(workload, record)
    for gemm in gemms_of(record, workload.data(record.name)):
        for plane in range(gemm.planes):
            mat = gemm.matrix(plane)
            yield mat.reshape(g.batch, g.positions, g.time_steps, g.k)


def lif_neurons(record: LayerRecord) -> int:
    """Neurons of a LIF record per sample and time step (``params['neurons']``)."""
    return _int_param(record, "neurons")


@dataclass(frozen=True)
class AttentionShape:
    """Shape of an attention block (the authors' ``Attention`` operator).

    Attributes:
        dim: model dimension; ``dim // heads`` per head.
        seq_len: tokens L.
        heads: attention heads H.
        variant: ``spikformer``, ``spikebert``, ``sdt`` or ``spikingbert``.
        time_steps: T.
        batch: B.
    """

    dim: int
    seq_len: int
    heads: int
    variant: str
    time_steps: int
    batch: int

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


def attention_shape(workload: Any, record: LayerRecord) -> AttentionShape:
    """Shape of an ``attention`` record."""
    heads = _int_param(record, "heads")
    if heads < 1:
        raise ConfigError(f"{record.name}.params.heads", "must be >= 1")
    return AttentionShape(
        _int_param(record, "dim"), _int_param(record, "seq_len", "sequence_length"), heads,
        str(record.params.get("variant", "")).lower(),
        workload.time_steps_of(record), workload.batch_of(record),
    )


def layernorm_elements(workload: Any, record: LayerRecord) -> tuple[int, int]:
    """``(elements, dim)`` of a LayerNorm record: ``B * T * L * dim`` values of width dim."""
    dim = _int_param(record, "dim")
    seq = record.params.get("seq_len", record.params.get("sequence_length", 1))
    return workload.batch_of(record) * workload.time_steps_of(record) * int(seq) * dim, dim


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for non-negative integers."""
    return -(-a // b)


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()
