"""Typed views of a network's layers, the shapes every cost model prices.

The cost models need, from a layer record and the network it belongs to: its GEMM
dimensions split into time steps, batch and tokens (:func:`layer_gemm`), the shape of an
attention block (:func:`attention_shape`, the one attention-shape type of the project),
the size of a LayerNorm (:func:`layernorm_rows`) and the neurons of a LIF layer
(:func:`lif_neurons`). They are pure functions of the typed params
(:mod:`prosparsity.traces.params`) and :mod:`prosparsity.traces.shapes`; no data.

Notation (the paper's spiking GEMM, docs/analysis.md): ``T`` time steps, ``B`` batch, ``L`` tokens
(linear) or output positions (conv), ``K`` GEMM columns (``C/groups * k*k`` for a conv), ``N``
output features. A GEMM has ``M = B*L*T`` rows, token-major and time-minor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import (
    AttentionParams,
    AttentionVariant,
    LayerNormParams,
    LifParams,
)
from prosparsity.traces.schema import LayerKind, LayerRecord
from prosparsity.traces.shapes import gemm_shape

if TYPE_CHECKING:
    from prosparsity.analysis.network import Network

__all__ = [
    "WEIGHT_GEMM_KINDS",
    "AttentionShape",
    "LayerGemm",
    "attention_shape",
    "layer_gemm",
    "layernorm_elements",
    "layernorm_rows",
    "lif_neurons",
    "next_power_of_two",
]

#: Layer kinds that are a weight GEMM of their own (attention operands are not: they are
#: priced inside their attention block).
WEIGHT_GEMM_KINDS = frozenset({LayerKind.LINEAR, LayerKind.CONV1D, LayerKind.CONV2D})


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


def layer_gemm(network: Network, record: LayerRecord) -> LayerGemm:
    """The GEMM of a linear / conv1d / conv2d record, with ``T`` and ``B`` from the network.

    Raises:
        ConfigError: missing / inconsistent shape parameters (names the field).
    """
    shape = gemm_shape(record)
    steps, samples = network.time_steps_of(record), network.batch_of(record)
    if shape.m % (steps * samples):
        # the batch of a trace may be folded into the tokens: fall back to one sample
        samples = 1
        if shape.m % steps:
            raise ConfigError(
                f"{record.name}.params.time_steps",
                f"T={steps} does not divide the GEMM's {shape.m} rows",
            )
    return LayerGemm(
        record.name, steps, samples, shape.m // (steps * samples), shape.k, shape.n,
        shape.kernel, shape.groups,
    )  # fmt: skip


def lif_neurons(record: LayerRecord) -> int:
    """Neurons of a LIF record per sample and time step (``params['neurons']``)."""
    p = record.parsed
    assert isinstance(p, LifParams)
    return int(p.require("neurons", f"a {record.kind} layer"))


@dataclass(frozen=True)
class AttentionShape:
    """Shape of an attention block (the authors' ``Attention`` operator).

    Attributes:
        dim: model dimension ``D``; ``dim // heads`` per head.
        seq_len: tokens ``L``.
        heads: attention heads ``H``.
        variant: the attention flavour.
        time_steps: T.
        batch: B.
    """

    dim: int
    seq_len: int
    heads: int
    variant: AttentionVariant
    time_steps: int
    batch: int

    @property
    def head_dim(self) -> int:
        """``dh = dim // heads``."""
        return self.dim // self.heads

    @property
    def slices(self) -> int:
        """Head slices ``T * B * H`` (one small GEMM pair per slice)."""
        return self.time_steps * self.batch * self.heads


def attention_shape(network: Network, record: LayerRecord) -> AttentionShape:
    """Shape of an ``attention`` record, ``T`` and ``B`` defaulting to the network's.

    Raises:
        ConfigError: a missing field, or ``heads`` not dividing ``dim``.
    """
    return attention_shape_at(record, network.time_steps_of(record), network.batch_of(record))


def attention_shape_at(record: LayerRecord, time_steps: int, batch: int) -> AttentionShape:
    """:func:`attention_shape` with ``T`` and ``B`` given (already resolved)."""
    p = record.parsed
    assert isinstance(p, AttentionParams)
    need = "an attention block"
    dim, heads = p.require("dim", need), p.require("heads", need)
    if dim % heads:
        raise ConfigError(f"{record.name}.params.heads", f"{heads} does not divide dim {dim}")
    return AttentionShape(
        dim=dim, seq_len=p.require("seq_len", need), heads=heads,
        variant=p.require("variant", need), time_steps=time_steps, batch=batch,
    )  # fmt: skip


def layernorm_rows(network: Network, record: LayerRecord) -> tuple[int, int]:
    """``(rows, dim)`` of a LayerNorm record: ``B * T * L`` vectors of width ``dim``."""
    return layernorm_rows_at(record, network.time_steps_of(record), network.batch_of(record))


def layernorm_rows_at(record: LayerRecord, time_steps: int, batch: int) -> tuple[int, int]:
    """:func:`layernorm_rows` with ``T`` and ``B`` given (already resolved)."""
    p = record.parsed
    assert isinstance(p, LayerNormParams)
    dim = int(p.require("dim", f"a {record.kind} layer"))
    return batch * time_steps * (p.seq_len or 1), dim


def layernorm_elements(network: Network, record: LayerRecord) -> tuple[int, int]:
    """``(elements, dim)`` of a LayerNorm record: ``B * T * L * dim`` values of width dim."""
    rows, dim = layernorm_rows(network, record)
    return rows * dim, dim


def next_power_of_two(n: int) -> int:
    """Smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()
