"""Users' own models, written as a user would (factories for ``--model``), and an
independent reference: the spiking GEMMs of a sample computed from plain-PyTorch forward
hooks, and the spec's densities counted with a straightforward residual count.

Nothing here uses the harness: the reference is what a user would write to check it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from spikingjelly.activation_based import layer, neuron
from torch import nn

T = 4
D, HEADS, L = 16, 2, 12  # model width, heads, tokens (L > dh = 8)


def _lif(threshold: float = 0.5) -> neuron.LIFNode:
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, step_mode="m")


class FunctionalAttention(nn.Module):
    """Spiking self-attention with its two products written as ``@`` (no module for them):
    ``a = q @ kᵀ`` then ``a @ v``, on LIF outputs ``[T, B, H, L, dh]``; ``einsum=True``
    writes the first product as ``einsum('tbhld,tbhmd->tbhlm')``."""

    def __init__(self, einsum: bool = False) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.einsum = einsum
        self.q, self.k, self.v = (layer.Linear(D, D, step_mode="m") for _ in range(3))
        self.q_lif, self.k_lif, self.v_lif = _lif(), _lif(), _lif()
        self.attn_lif = _lif(0.25)
        self.proj = layer.Linear(D, D, step_mode="m")
        self.proj_lif = _lif()
        self.head = layer.Linear(D, 3, step_mode="m")
        for lin in (self.q, self.k, self.v, self.proj):
            nn.init.normal_(lin.weight, 0.0, 1.5 / math.sqrt(D))

    def heads(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, L, D] -> [T, B, H, L, dh]
        t, b, n, d = x.shape
        return x.reshape(t, b, n, HEADS, d // HEADS).transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, L, D] spikes
        q = self.heads(self.q_lif(self.q(x)))
        k = self.heads(self.k_lif(self.k(x)))
        v = self.heads(self.v_lif(self.v(x)))
        if self.einsum:
            a = torch.einsum("tbhld,tbhmd->tbhlm", q, k)
        else:
            a = q @ k.transpose(-2, -1)
        o = (a @ v) * 0.125  # [T, B, H, L, dh]
        t, b, h, n, dh = o.shape
        o = self.attn_lif(o.transpose(2, 3).reshape(t, b, n, h * dh))
        return self.head(self.proj_lif(self.proj(o))).mean(0)


class LinearAttention(nn.Module):
    """Spikformer-style linear attention written functionally: ``kv = kᵀ @ v``, then
    ``q @ kv``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(12)
        self.q, self.k, self.v = (layer.Linear(D, D, step_mode="m") for _ in range(3))
        self.q_lif, self.k_lif, self.v_lif = _lif(), _lif(), _lif()
        self.attn_lif = _lif(0.5)
        self.proj = layer.Linear(D, D, step_mode="m")
        for lin in (self.q, self.k, self.v):
            nn.init.normal_(lin.weight, 0.0, 1.5 / math.sqrt(D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.reshape(t, b, n, HEADS, d // HEADS).transpose(2, 3)

        q, k, v = (heads(f(g(x))) for f, g in ((self.q_lif, self.q), (self.k_lif, self.k),
                                             (self.v_lif, self.v)))
        kv = k.transpose(-2, -1) @ v  # [T, B, H, dh, dh]
        o = (q @ kv) * 0.125
        o = self.attn_lif(o.transpose(2, 3).reshape(t, b, n, d))
        return self.proj(o).mean(0)


class BatchFirstMLP(nn.Module):
    """A spikingjelly multi-step MLP whose ``forward`` takes ``[B, T, F]`` and transposes
    to ``[T, B, F]`` before its layers."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(13)
        self.fc1 = layer.Linear(10, 20, step_mode="m")
        self.lif1 = _lif(0.4)
        self.fc2 = layer.Linear(20, 20, step_mode="m")
        self.lif2 = _lif(0.4)
        self.fc3 = layer.Linear(20, 4, step_mode="m")
        for lin in (self.fc1, self.fc2):
            nn.init.normal_(lin.weight, 0.0, 2.0 / math.sqrt(lin.in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, F]
        y = x.transpose(0, 1)  # [T, B, F]
        return self.fc3(self.lif2(self.fc2(self.lif1(self.fc1(y))))).mean(0)


class NoGemm(nn.Module):
    """Neurons only, and a classifier on the analog input: nothing to capture."""

    def __init__(self) -> None:
        super().__init__()
        self.lif = _lif()
        self.readout = layer.Linear(6, 2, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.lif(x)
        return self.readout(x * 0.3).mean(0)


class Wide(nn.Module):
    """One wide Linear on the input spikes: incompressible GEMM data (the failure tests)."""

    def __init__(self, width: int = 4096, delay_s: float = 0.0) -> None:
        super().__init__()
        self.fc = layer.Linear(width, 4, step_mode="m")
        self.lif = _lif()
        self.delay_s = delay_s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay_s:
            import time

            time.sleep(self.delay_s)  # a slow model: the signal tests' window
        return self.lif(self.fc(x)).mean(0)


def make_wide(time_steps: int = T) -> Wide:
    return Wide()


def make_slow(time_steps: int = T) -> Wide:
    return Wide(64, delay_s=0.05)


def make_functional_attention(time_steps: int = T) -> FunctionalAttention:
    return FunctionalAttention()


def make_einsum_attention(time_steps: int = T) -> FunctionalAttention:
    return FunctionalAttention(einsum=True)


def make_linear_attention(time_steps: int = T) -> LinearAttention:
    return LinearAttention()


def make_batch_first(time_steps: int = 5) -> BatchFirstMLP:
    return BatchFirstMLP()


def make_no_gemm(time_steps: int = T) -> NoGemm:
    return NoGemm()


# -- the independent reference --------------------------------------------------------------


class Hooks:
    """Plain forward hooks: every ``nn.Linear`` input and every named module's output, of
    the last forward pass (a capture runs a probe pass first)."""

    def __init__(self, model: nn.Module) -> None:
        self.inputs: dict[str, torch.Tensor] = {}
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles = []
        for name, mod in model.named_modules():
            if not name:
                continue
            if isinstance(mod, nn.Linear):
                self.handles.append(mod.register_forward_pre_hook(
                    lambda m, a, n=name: self.inputs.__setitem__(n, a[0].detach().clone())))
            self.handles.append(mod.register_forward_hook(
                lambda m, a, o, n=name: self.outputs.__setitem__(n, o.detach().clone())))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def residual_nnz(tile: np.ndarray) -> int:
    """Non-zeros left after ProSparsity in one tile (the paper's rank-one rule, docs/analysis.md),
    by the plain rule: each row's prefix is its largest subset row (ties: the smaller index; an
    identical row only when its index is smaller; no prefix for rows of popcount <= 1)."""
    rows = [frozenset(np.flatnonzero(r)) for r in tile]
    total = 0
    for i, r in enumerate(rows):
        best = 0
        if len(r) > 1:
            for j, s in enumerate(rows):
                if j == i or not s or not s <= r or (len(s) == len(r) and j > i):
                    continue
                best = max(best, len(s))
        total += len(r) - best
    return total


def gemm_counts(s: np.ndarray, n: int, tile_m: int = 256, tile_k: int = 16) -> tuple[int, ...]:
    """``(nN*nnz, nN*residual, nN*M*K)`` of a binary GEMM operand ``s`` (M x K) against
    ``n`` output columns (docs/analysis.md)."""
    passes = -(-n // 128)
    m, k = s.shape
    nnz = int(s.sum())
    res = sum(residual_nnz(s[r:r + tile_m, c:c + tile_k])
              for r in range(0, m, tile_m) for c in range(0, k, tile_k))
    return passes * nnz, passes * res, passes * m * k


def linear_operand(x: torch.Tensor, b: int) -> np.ndarray:
    """Sample ``b`` of a Linear input ``[T, B, ..., K]`` as GEMM rows: token-major,
    time-minor (the paper's spiking GEMM, docs/analysis.md)."""
    xb = x[:, b].numpy().astype(np.uint8)  # [T, ..., K]
    tk = xb.reshape(xb.shape[0], -1, xb.shape[-1])  # [T, L, K]
    return tk.transpose(1, 0, 2).reshape(-1, xb.shape[-1])


def densities(gemms: list[tuple[np.ndarray, int]]) -> tuple[float, float]:
    """Bit and product density of a list of ``(operand, N)`` GEMMs."""
    sums = np.array([gemm_counts(s, n) for s, n in gemms], dtype=np.int64).sum(axis=0)
    return sums[0] / sums[2], sums[1] / sums[2]
