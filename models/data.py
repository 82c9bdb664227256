"""Offline data: scikit-learn's handwritten digits, shipped inside scikit-learn.

Nothing is downloaded. The 1,797 8x8 images (integer intensities 0..16) are scaled to
[0, 1] and split once, stratified, with a fixed seed: 1,347 training and 450 test
images. Every trained embedded model and every default capture input uses this split.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from prosparsity.core.errors import HarnessError

__all__ = [
    "DIGITS_DATASET",
    "DigitsSplit",
    "digits_split",
    "digits_time_input",
    "random_frames",
    "upscale",
]

DIGITS_DATASET = "sklearn digits (test split)"
SPLIT_SEED = 0
TEST_FRACTION = 0.25


@dataclass(frozen=True)
class DigitsSplit:
    """The fixed split. Images are float32 in [0, 1], shape ``(N, 8, 8)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@lru_cache(maxsize=1)
def digits_split() -> DigitsSplit:
    """The fixed, stratified train/test split of sklearn's digits (cached)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    for arr in (x_tr, x_te, y_tr, y_te):
        arr.setflags(write=False)
    return DigitsSplit(x_tr, y_tr, x_te, y_te)


def upscale(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upscaling of ``(..., H, W)`` images by an integer factor."""
    if factor == 1:
        return images
    return images.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def digits_time_input(
    samples: int, time_steps: int, *, upscale_factor: int = 1, start: int = 0
) -> torch.Tensor:
    """Test images as a direct-encoded, time-first batch ``[T, N, 1, H, W]``.

    The same analog image is presented at every time step (direct encoding: the first
    convolution turns it into currents, its LIF layer into spikes).

    Args:
        samples: N, taken in order from the test split starting at ``start``.
        time_steps: T.
        upscale_factor: nearest-neighbour upscaling (4 gives 32x32 images).
        start: index of the first test image.
    """
    split = digits_split()
    n_test = len(split.x_test)
    if not 1 <= samples <= n_test - start:
        raise HarnessError(
            f"samples: must be in 1..{n_test - start} (the digits test split), got {samples}"
        )
    x = torch.from_numpy(np.array(split.x_test[start : start + samples]))[:, None]
    x = upscale(x, upscale_factor)
    return x.unsqueeze(0).repeat(time_steps, 1, 1, 1, 1)


def random_frames(
    samples: int, time_steps: int, shape: tuple[int, ...], seed: int = 0
) -> torch.Tensor:
    """Random analog frames ``[T, N, *shape]`` in [0, 1) (inputs for untrained models)."""
    gen = torch.Generator().manual_seed(seed)
    frame = torch.rand((samples, *shape), generator=gen)
    return frame.unsqueeze(0).repeat(time_steps, *([1] * (frame.ndim)))
