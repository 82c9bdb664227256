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


# -- snntorch models whose forward loops over T (the runner comes from the framework) ----


class LeakyMLP(nn.Module):
    """An snntorch ``Leaky`` MLP; ``batch_first`` reads ``[B, T, ...]`` (NeuroBench)."""

    def __init__(self, batch_first: bool = False) -> None:
        super().__init__()
        import snntorch

        torch.manual_seed(3)
        self.batch_first = batch_first
        self.fc1 = nn.Linear(6, 10)
        self.lif1 = snntorch.Leaky(beta=0.8, threshold=0.4)
        self.fc2 = nn.Linear(10, 8)
        self.lif2 = snntorch.Leaky(beta=0.8, threshold=0.3)
        self.fc3 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        steps = x.unbind(1) if self.batch_first else x.unbind(0)
        outs = []
        for step in steps:
            s1, m1 = self.lif1(self.fc1(step), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            outs.append(self.fc3(s2))
        return torch.stack(outs).sum(0)


def make_leaky_mlp() -> LeakyMLP:
    return LeakyMLP()


def make_leaky_mlp_bt() -> LeakyMLP:
    return LeakyMLP(batch_first=True)


class LeakyConv(nn.Module):
    """An snntorch ``Leaky`` conv net with hidden state held by the neurons."""

    def __init__(self) -> None:
        super().__init__()
        import snntorch

        torch.manual_seed(4)
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.lif1 = snntorch.Leaky(beta=0.9, threshold=0.3, init_hidden=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.lif2 = snntorch.Leaky(beta=0.9, threshold=0.2, init_hidden=True)
        self.fc = nn.Linear(6 * 2 * 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, 1, 8, 8]
        outs = []
        for step in x:
            s1 = self.pool(self.lif1(self.conv1(step)))
            s2 = self.lif2(self.conv2(s1))
            outs.append(self.fc(s2.flatten(1)))
        return torch.stack(outs).sum(0)


def make_leaky_conv() -> LeakyConv:
    return LeakyConv()


# -- plain PyTorch: a neuron without the marker, and a batch-first multi-step model ------


class Fire(nn.Module):
    """A multi-step integrate-and-fire neuron over ``dim`` (no marker, no library)."""

    def __init__(self, dim: int = 0) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x.select(self.dim, 0))
        out = []
        for xt in x.unbind(self.dim):
            v = v + xt
            s = (v >= 0.5).float()
            v = v * (1 - s)
            out.append(s)
        return torch.stack(out, self.dim)


class FireMLP(nn.Module):
    """Multi-step Linear - Fire - Linear - Fire - Linear; ``dim`` is the time axis."""

    def __init__(self, dim: int = 0) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.fc1 = nn.Linear(6, 9)
        self.act1 = Fire(dim)
        self.fc2 = nn.Linear(9, 7)
        self.act2 = Fire(dim)
        self.fc3 = nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.act2(self.fc2(self.act1(self.fc1(x))))).mean(self.act1.dim)


def make_fire_mlp() -> FireMLP:
    return FireMLP(0)


def make_fire_mlp_bt() -> FireMLP:
    return FireMLP(1)


# -- spikingjelly: the same net single-step (the capture drives time) and multi-step ------


def make_sj_net(step_mode: str = "s") -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(6)
    net = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        neuron.IFNode(v_threshold=0.5),
        layer.Flatten(),
        layer.Linear(4 * 6 * 6, 5),
        neuron.LIFNode(tau=2.0, v_threshold=0.3),
        layer.Linear(5, 2),
    )
    functional.set_step_mode(net, step_mode)
    return net


def make_sj_net_multi() -> nn.Module:
    return make_sj_net("m")


class CountHead(nn.Module):
    """Multi-step body, then a classifier on the spike count summed over time."""

    def __init__(self) -> None:
        super().__init__()
        from spikingjelly.activation_based import layer, neuron

        torch.manual_seed(7)
        self.fc = layer.Linear(6, 8, step_mode="m")
        self.lif = neuron.IFNode(v_threshold=0.5, step_mode="m")
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lif(self.fc(x)).sum(0))


def make_count_head() -> CountHead:
    return CountHead()
