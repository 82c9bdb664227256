"""The paper's workloads: which figure reports which.

The names and layer shapes of the 19 workloads are built in
:mod:`prosparsity.traces.workloads` (the importer needs them); this module only says
which of them each figure covers.
"""

from __future__ import annotations

from prosparsity.traces.workloads import WORKLOADS

__all__ = ["FIG8_WORKLOADS", "WORKLOADS"]

FIG8_WORKLOADS: tuple[str, ...] = tuple(
    name for name in WORKLOADS if name not in {"lenet5_mnist", "vgg9_cifar10", "vgg9_cifar10dvs"}
)
"""The 16 workloads of Figs. 7 and 8: all 19 of Fig. 11 but LeNet-5 and the two VGG-9s,
in the figures' order."""
