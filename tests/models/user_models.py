"""Factories used by the tests of ``--model package.module:factory``."""

from __future__ import annotations

import torch
from torch import nn


class Heaviside(nn.Module):
    """A plain-PyTorch multi-step integrate-and-fire neuron (no spiking library)."""

    prosparsity_neuron = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, ...]
        v = torch.zeros_like(x[0])
        out = []
        for xt in x:
            v = v + xt
            s = (v >= 0.5).float()
            v = v * (1 - s)
            out.append(s)
        return torch.stack(out)


class MLP(nn.Module):
    def __init__(self, time_steps: int) -> None:
        super().__init__()
        self.time_steps = time_steps
        self.fc1 = nn.Linear(6, 8)
        self.act = Heaviside()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x))).mean(0)


def make_mlp(time_steps: int = 4) -> MLP:
    torch.manual_seed(0)
    return MLP(time_steps)


def not_a_model() -> int:
    return 3
