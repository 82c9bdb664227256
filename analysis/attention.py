"""Spiking GEMMs of attention blocks, as the Prosperity authors' simulator models them.

An attention block's spike operands ``q``, ``k``, ``v`` are each stored ``(T, [B,] L, D)``
(``D = heads * dh``). The authors split them per head and run small GEMMs per time step,
sample and head, with no reuse across time steps (each GEMM has ``T = 1``):

* **spikformer**, **spikebert**: ``kv = kᵀ·v`` then ``q·kv``. With ``L > dh`` the spike
  operand of the first GEMM (``_kv``) is ``k_h^T`` (``dh x L``: ``M = dh``, ``K = L``,
  ``N = dh``) and that of the second (``_qkv``) is ``q_h`` (``L x dh``: ``M = L``,
  ``K = dh``, ``N = dh``). With ``L <= dh`` the authors swap the roles so the smaller
  dimension is reduced (their ``eq_sequence_length = max(L, dh)``,
  ``eq_dim_per_head = min(L, dh)``): ``_kv`` uses ``k`` and ``_qkv`` uses ``v``, each
  *reshaped* (not transposed) as ``(T, B, max(L,dh), H, min(L,dh))``. That reshape
  reinterprets the memory of a ``(T, B, L, H*dh)`` tensor (a slip: rows then mix tokens
  and heads); we reproduce it to match their numbers. None of the paper's workloads has
  ``L <= dh``, so the slip never shows in the paper's figures.
* **spikingbert**: ``q`` is 8-bit (not a spike operand). ``_qk`` multiplies ``k_h``
  (``L x dh``: ``M = L``, ``K = dh``, ``N = L``) and ``_sv`` multiplies ``v_h^T``
  (``dh x L``: ``M = dh``, ``K = L``, ``N = L``).
* **sdt**: spike-driven attention uses masks and additions on the adder array, no
  spiking GEMM: it contributes no GEMM (and nothing to the densities).

GEMM names follow the authors: ``{attention}_t{t}_b{b}_h{h}_{kv|qkv|qk|sv}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from prosparsity.analysis.gemm import Gemm, RowSource, planes_for
from prosparsity.core.errors import ConfigError
from prosparsity.traces.params import AttentionVariant
from prosparsity.traces.schema import LayerRecord

__all__ = ["OPERANDS", "AttentionVariant", "RoleStack", "attention_gemms", "role_stacks"]


#: Operands each variant reads as spike data.
OPERANDS: Mapping[AttentionVariant, tuple[str, ...]] = {
    AttentionVariant.SPIKFORMER: ("q", "k", "v"),
    AttentionVariant.SPIKEBERT: ("q", "k", "v"),
    AttentionVariant.SDT: ("q", "k", "v"),
    AttentionVariant.SPIKINGBERT: ("k", "v"),
}


def _as_tbf(name: str, operand: str, data: np.ndarray, layout: str) -> np.ndarray:
    """``(T, B, L*D)`` view of an operand stored ``(T, L, D)``, ``(T, B, L, D)`` or per layout."""
    values = data.view(np.uint8) if data.dtype == np.bool_ else data
    axes = tuple(a for a in layout.split(",") if a)
    if axes and len(axes) != values.ndim:
        raise ConfigError(
            f"{name}_{operand}.layout", f"'{layout}' does not match data shape {values.shape}"
        )
    if axes and "B" in axes:
        values = np.moveaxis(values, [axes.index("T"), axes.index("B")], [0, 1])
    elif values.ndim == 4:
        pass
    elif values.ndim == 3:
        values = values[:, None]
    else:
        raise ConfigError(
            f"{name}_{operand}.shape",
            f"an attention operand is (T, [B,] L, D); got shape {values.shape}",
        )
    t, b = values.shape[:2]
    return values.reshape(t, b, -1)


def _head_blocks(flat: np.ndarray, rows: int, heads: int, cols: int) -> np.ndarray:
    """``(T, B, H, rows, cols)``: the authors' ``reshape(T,B,rows,H,cols).permute(0,1,3,2,4)``."""
    t, b, size = flat.shape
    if size != rows * heads * cols:
        raise ConfigError(
            "attention.shape",
            f"operand holds {size} values per step, expected {rows * heads * cols}",
        )
    return flat.reshape(t, b, rows, heads, cols).transpose(0, 1, 3, 2, 4)


def _fixed(block: np.ndarray) -> RowSource:
    block = np.ascontiguousarray(block)

    def source(r0: int, r1: int) -> np.ndarray:
        return block[r0:r1]

    return source


def attention_gemms(
    name: str,
    variant: AttentionVariant | str,
    heads: int,
    operands: Mapping[str, np.ndarray],
    layouts: Mapping[str, str] | None = None,
) -> tuple[Gemm, ...]:
    """The spiking GEMMs of one attention block, in the authors' order (t, b, h, role).

    Args:
        name: the attention record's name (``attention_enc_0``).
        variant: attention flavour.
        heads: number of heads ``H``.
        operands: spike tensors by operand name (``q``, ``k``, ``v``), each
            ``(T, [B,] L, D)``.
        layouts: optional axis layout per operand (e.g. ``"T,L,D"``).

    Raises:
        ConfigError: unknown variant, missing operand or inconsistent shapes.
    """
    try:
        variant = AttentionVariant(variant)
    except ValueError:
        raise ConfigError(
            f"{name}.params.variant",
            f"unknown attention variant {variant!r} (one of {', '.join(AttentionVariant)})",
        ) from None
    if variant is AttentionVariant.SDT:
        return ()
    layouts = layouts or {}
    need = OPERANDS[variant]
    for op in need:
        if op not in operands:
            raise ConfigError(f"{name}.operands", f"missing spike operand '{op}' ({variant})")
    flat = {op: _as_tbf(name, op, np.asarray(operands[op]), layouts.get(op, "")) for op in need}
    data_k = np.asarray(operands["k"])
    seq = data_k.shape[-2]
    dim = data_k.shape[-1]
    if heads < 1 or dim % heads:
        raise ConfigError(f"{name}.params.heads", f"{heads} does not divide dim {dim}")
    dh = dim // heads
    t, b = flat["k"].shape[:2]
    planes = max(
        planes_for(LayerRecord(f"{name}_{op}", "attention_operand"), np.asarray(operands[op]))
        for op in need
    )
    gemms: list[Gemm] = []

    if variant in (AttentionVariant.SPIKFORMER, AttentionVariant.SPIKEBERT):
        eq_l, eq_dh = max(seq, dh), min(seq, dh)
        first, second = ("k", "q") if seq > dh else ("k", "v")
        a1 = _head_blocks(flat[first], eq_l, heads, eq_dh)
        a2 = _head_blocks(flat[second], eq_l, heads, eq_dh)
        for ti in range(t):
            for bi in range(b):
                for h in range(heads):
                    tag = f"{name}_t{ti}_b{bi}_h{h}"
                    s_kv = a1[ti, bi, h].T  # (eq_dh, eq_l)
                    gemms.append(
                        Gemm(
                            f"{tag}_kv", name, eq_dh, eq_l, eq_dh, 1, planes, "kv", 0, _fixed(s_kv)
                        )
                    )
                    s_q = a2[ti, bi, h]  # (eq_l, eq_dh)
                    gemms.append(
                        Gemm(
                            f"{tag}_qkv", name, eq_l, eq_dh, eq_dh, 1, planes, "qkv", 0, _fixed(s_q)
                        )
                    )
    else:  # spikingbert
        ak = _head_blocks(flat["k"], seq, heads, dh)
        av = _head_blocks(flat["v"], seq, heads, dh)
        for ti in range(t):
            for bi in range(b):
                for h in range(heads):
                    tag = f"{name}_t{ti}_b{bi}_h{h}"
                    gemms.append(
                        Gemm(
                            f"{tag}_qk",
                            name,
                            seq,
                            dh,
                            seq,
                            1,
                            planes,
                            "qk",
                            0,
                            _fixed(ak[ti, bi, h]),
                        )
                    )
                    gemms.append(
                        Gemm(
                            f"{tag}_sv",
                            name,
                            dh,
                            seq,
                            seq,
                            1,
                            planes,
                            "sv",
                            0,
                            _fixed(av[ti, bi, h].T),
                        )
                    )
    return tuple(gemms)


@dataclass(frozen=True)
class RoleStack:
    """The equal-shape GEMMs of one role of an attention block (``kv``, ``qkv``, ``qk``
    or ``sv``), one per time step, sample and head, counted together: the unit the
    analysis hands to the ProSparsity kernel (one call per role and bit plane).

    Attributes:
        name: ``<attention>_<role>``.
        layer: the attention record's name.
        role: the authors' suffix.
        m: rows of each GEMM.
        k: columns of each GEMM.
        n: output columns of each GEMM.
        copies: GEMMs in the stack (``T * B * H``).
        planes: bit planes of the operands.
        gemms: the GEMMs, in the authors' order (t, b, h).
    """

    name: str
    layer: str
    role: str
    m: int
    k: int
    n: int
    copies: int
    planes: int
    gemms: tuple[Gemm, ...]

    def matrices(self, plane: int = 0) -> np.ndarray:
        """``(copies, m, k)`` bool stack of one bit plane of the GEMMs' operands."""
        if not self.gemms:
            return np.zeros((0, self.m, self.k), dtype=bool)
        return np.stack([g.matrix(plane) for g in self.gemms])


def role_stacks(gemms: Sequence[Gemm]) -> tuple[RoleStack, ...]:
    """The GEMMs of one attention block grouped by role, roles in order of appearance."""
    roles: dict[str, list[Gemm]] = {}
    for g in gemms:
        roles.setdefault(g.role, []).append(g)
    out = []
    for role, members in roles.items():
        first = members[0]
        out.append(
            RoleStack(
                name=f"{first.layer}_{role}", layer=first.layer, role=role, m=first.m,
                k=first.k, n=first.n, copies=len(members),
                planes=max(g.planes for g in members), gemms=tuple(members),
            )
        )  # fmt: skip
    return tuple(out)
