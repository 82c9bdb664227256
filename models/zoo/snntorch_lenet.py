"""LeNet-5 on snntorch, stepped in a Python loop over T (the ``loop`` runner).

The network is plain ``nn.Conv2d`` / ``nn.Linear`` / ``nn.MaxPool2d`` with
``snntorch.Leaky`` neurons; its forward takes a time-first input ``[T, B, C, H, W]``
and calls every layer once per time step with ``[B, ...]``, as snntorch tutorials do.
The capture engine stacks those calls time-first, so its trace has the same layout as
a spikingjelly model's.
"""

from __future__ import annotations

import snntorch
import torch
from torch import nn

from prosparsity.models.data import digits_time_input
from prosparsity.models.registry import ModelEntry, Runner, register_model

__all__ = ["SnnTorchLeNet5", "build_snntorch_lenet5"]


class SnnTorchLeNet5(nn.Module):
    """LeNet-5 (same shapes as :class:`prosparsity.models.zoo.cnn.SpikingLeNet5`) on
    ``snntorch.Leaky`` neurons (``beta`` = membrane decay)."""

    def __init__(
        self, in_channels: int = 1, input_hw: int = 32, num_classes: int = 10, beta: float = 0.5
    ) -> None:
        super().__init__()
        if input_hw % 4 or input_hw < 12:
            raise ValueError(f"input_hw: must be a multiple of 4, >= 12, got {input_hw}")
        side = (input_hw // 2 - 4) // 2
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv1.prosparsity_analog_input = True  # sees the image, not spikes
        self.lif1 = snntorch.Leaky(beta=beta)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.lif2 = snntorch.Leaky(beta=beta)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.lif3 = snntorch.Leaky(beta=beta)
        self.fc2 = nn.Linear(120, 84)
        self.lif4 = snntorch.Leaky(beta=beta)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B, C, H, W] -> [B, classes]`` (output averaged over T)."""
        mems = [n.init_leaky() for n in (self.lif1, self.lif2, self.lif3, self.lif4)]
        outs = []
        for step in x:
            s, mems[0] = self.lif1(self.conv1(step), mems[0])
            s = self.pool1(s)
            s, mems[1] = self.lif2(self.conv2(s), mems[1])
            s = self.pool2(s).flatten(1)
            s, mems[2] = self.lif3(self.fc1(s), mems[2])
            s, mems[3] = self.lif4(self.fc2(s), mems[3])
            outs.append(self.fc3(s))
        return torch.stack(outs).mean(0)


def build_snntorch_lenet5(time_steps: int = 8, **options: int | float) -> SnnTorchLeNet5:
    """An snntorch LeNet-5 (random weights); ``options`` go to the constructor."""
    del time_steps
    return SnnTorchLeNet5(**options)  # type: ignore[arg-type]


def _input(samples: int = 1, time_steps: int = 8, seed: int = 0) -> torch.Tensor:
    del seed
    return digits_time_input(samples, time_steps, upscale_factor=4)


register_model(
    ModelEntry(
        name="snntorch-lenet5",
        family="snntorch",
        description="LeNet-5 on snntorch Leaky neurons, Python loop over T",
        build=build_snntorch_lenet5,
        make_input=_input,
        time_steps=8,
        dataset="sklearn digits upscaled to 32x32 (test split)",
        runner=Runner.LOOP,
    )
)
