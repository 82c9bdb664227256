"""Training and scoring the small trained transformers of the zoo (``digits-spikformer``,
``digits-sdt``, ``listops-spikebert``).

One recipe for all: a packaged split (the digits of :mod:`prosparsity.models.data`, images
``[N, 1, 8, 8]`` in [0, 1] that the model repeats over T; or ListOps token ids), Adam with
a cosine schedule, cross-entropy on the time-averaged logits, BPTT through
spikingjelly's surrogate gradients, the network's state reset before every batch.
Deterministic on the CPU for a given seed: ``torch.manual_seed(seed)`` before the network
is built, the batch order drawn from a generator of the same seed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from spikingjelly.activation_based import functional
from torch import nn

__all__ = ["Tensors", "digits_tensors", "evaluate", "make_digits_input", "train_classifier"]

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""``(x_train, y_train, x_test, y_test)``."""

log = logging.getLogger(__name__)


def digits_tensors() -> Tensors:
    """``(x_train, y_train, x_test, y_test)`` of the packaged split; images ``[N, 1, 8, 8]``."""
    from prosparsity.models.data import digits_split

    split = digits_split()

    def images(x: Any) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float32).unsqueeze(1)

    def labels(y: Any) -> torch.Tensor:
        return torch.tensor(y, dtype=torch.long)

    return images(split.x_train), labels(split.y_train), images(split.x_test), labels(split.y_test)


def make_digits_input(samples: int = 1, time_steps: int = 4, seed: int = 0) -> torch.Tensor:
    """The first ``samples`` test-split digits, ``[T, N, 1, 8, 8]`` (``seed`` unused: the
    test split is fixed)."""
    from prosparsity.models.data import digits_time_input

    del seed
    return digits_time_input(samples, time_steps)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    """Top-1 accuracy of ``model`` on inputs ``x`` (samples on the first axis)."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        functional.reset_net(model)
        correct += int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    functional.reset_net(model)
    return correct / len(x)


def train_classifier(
    name: str,
    build: Callable[[], nn.Module],
    data: Callable[[], Tensors],
    out_dir: str | Path,
    seed: int = 0,
    *,
    epochs: int = 4,
    batch_size: int = 64,
    lr: float = 2e-3,
) -> dict[str, Any]:
    """Train ``build()`` on the training part of ``data()`` (e.g. :func:`digits_tensors`);
    write ``out_dir / f"{name}.safetensors"`` (the state dict, through a temporary name:
    :func:`~prosparsity.models.checkpoint.save_checkpoint`).

    Returns:
        ``test_accuracy``, ``train_accuracy``, ``epochs``, ``seed``, ``parameters``,
        ``train_seconds``, ``test_samples``.
    """
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = data()
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            functional.reset_net(model)
            loss = nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log.info("%s epoch %d: loss %.4f", name, epoch + 1, total / len(x_train))
    seconds = time.perf_counter() - start
    metrics = {
        "test_accuracy": evaluate(model, x_test, y_test),
        "train_accuracy": evaluate(model, x_train, y_train),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(seconds, 1),
        "test_samples": len(x_test),
    }
    from prosparsity.models.checkpoint import save_checkpoint

    save_checkpoint(model, Path(out_dir) / f"{name}.safetensors")
    return metrics
