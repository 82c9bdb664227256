"""One small instance of each spiking neuron class snntorch 1.0 ships."""

from __future__ import annotations

import snntorch
from torch import nn


def build(name: str) -> nn.Module:
    """An instance of ``snntorch.<name>`` with the least arguments it needs."""
    cls = getattr(snntorch, name)
    if name in ("RLeaky", "RSynaptic"):
        return cls(beta=0.9, alpha=0.8, linear_features=4) if name == "RSynaptic" else cls(
            beta=0.9, linear_features=4
        )
    if name == "Synaptic":
        return cls(alpha=0.8, beta=0.9)
    if name == "Alpha":
        return cls(alpha=0.9, beta=0.8)
    if name == "SLSTM":
        return cls(input_size=4, hidden_size=4)
    if name == "SConv2dLSTM":
        return cls(in_channels=1, out_channels=2, kernel_size=3)
    if name == "StateLeaky":
        return cls(beta=0.9, channels=4)
    if name == "LinearLeaky":
        return cls(beta=0.9, in_features=4, out_features=4)
    if name == "AssociativeLeaky":
        return cls(in_dim=4, d_value=2, d_key=2, num_spiking_neurons=4)
    if name == "LeakyParallel":
        return cls(input_size=4, hidden_size=4)
    return cls(beta=0.9)
