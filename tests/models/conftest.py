"""Helpers for the capture tests: replay a recorded layer input through its module and
compare with what the module really produced during the captured forward pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn


class OutputRecorder:
    """Forward hooks that keep every GEMM module's real output (test side).

    A capture runs a probe pass before the real ones (docs/capture.md, "Layouts"), which
    these hooks see too: :meth:`last` gives the calls of the last forward pass.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.outputs: dict[str, list[torch.Tensor]] = defaultdict(list)
        self.inputs: dict[str, list[torch.Tensor]] = defaultdict(list)
        self._handles: list = []

    @contextmanager
    def attach(self) -> Iterator[OutputRecorder]:
        for name, mod in self.model.named_modules():
            if isinstance(mod, nn.Linear | nn.Conv1d | nn.Conv2d):
                self._handles.append(mod.register_forward_hook(self._hook(name)))
        try:
            yield self
        finally:
            for h in self._handles:
                h.remove()

    def last(self, name: str, calls: int = 1) -> torch.Tensor:
        """The output of the last call of ``name`` (``calls > 1``: the last ``calls``
        outputs, stacked)."""
        outs = self.outputs[name]
        return outs[-1] if calls == 1 else torch.stack(outs[-calls:])

    def _hook(self, name: str):
        def hook(mod: nn.Module, args: tuple, out: torch.Tensor) -> None:
            self.inputs[name].append(args[0].detach().clone())
            self.outputs[name].append(out.detach().clone())

        return hook


def replay(module: nn.Module, recorded: np.ndarray, how: str) -> torch.Tensor:
    """Push a recorded ``[T, B, ...]`` input through ``module`` the way the model called it.

    how: "multi" (spikingjelly multi-step module, one call on [T, B, ...]), "folded"
    (raw module inside SeqToANNContainer, one call on [T*B, ...]), "loop" (one call per
    step on [B, ...], outputs stacked).
    """
    x = torch.from_numpy(recorded.astype(np.float32))
    with torch.no_grad():
        if how == "multi":
            return module(x)
        if how == "folded":
            t, b = x.shape[:2]
            out = module(x.flatten(0, 1))
            return out.reshape(t, b, *out.shape[1:])
        if how == "loop":
            return torch.stack([module(step) for step in x])
    raise ValueError(how)


@pytest.fixture()
def tmp_trace(tmp_path: Path) -> Path:
    return tmp_path / "t.h5"
