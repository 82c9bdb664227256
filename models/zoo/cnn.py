"""Spiking CNNs on spikingjelly layers and neurons: LeNet-5, VGG-9, VGG-16, ResNet-18,
ResNet-19, and the small trained ``digits-cnn``.

All are spikingjelly multi-step networks (``step_mode="m"``): input ``[T, B, C, H, W]``
(direct encoding, the analog image at every step), output the firing-rate readout
``[B, classes]`` (the last layer's output averaged over T). Neurons are LIF
(``tau=2``, threshold 1, hard reset, ATan surrogate). spikingjelly's own VGG/ResNet
builders import torchvision, which this project does not install, so the networks are
built here.

Shapes follow the paper's workloads (``../shared/reference/paper/workloads.json``,
docs/paper-numbers.md) where the paper defines them: LeNet-5's ``conv2``, ``fc1``, ``fc2`` have the
shapes of the paper's ``conv2d_1``, ``fc_0``, ``fc_1``; VGG-9 and VGG-16 follow the
paper's layer lists (VGG-16 pools only twice, so its first FC has 32,768 inputs).
ResNet-18/19 are the usual CIFAR variants; they use raw ``nn.Conv2d`` inside
``SeqToANNContainer`` (inputs ``[T*B, ...]``), which the capture engine unfolds.

The first convolution of every model sees the analog image, not spikes: it is marked
``prosparsity_analog_input`` and the capture skips it (it is no spiking GEMM), as the
paper leaves out its ``conv2d_0``. A ResNet's first FC sees average-pooled spikes
(fractions) and is marked and skipped likewise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from prosparsity.models.data import DIGITS_DATASET, digits_split, digits_time_input, upscale
from prosparsity.models.data import random_frames as _random_frames
from prosparsity.models.registry import ModelEntry, register_model
from prosparsity.models.releases import KeyMap, Release

__all__ = [
    "SpikingLeNet5",
    "SpikingResNet",
    "SpikingVGG",
    "build_digits_cnn",
    "build_lenet5",
    "build_resnet18",
    "build_resnet19",
    "build_vgg9",
    "build_vgg16",
    "train_digits_cnn",
]

log = logging.getLogger(__name__)

DIGITS_UPSCALE = 4  # 8x8 digits -> 32x32, the input size of the paper's LeNet-5
DIGITS_CNN_T = 8


def lif() -> neuron.LIFNode:
    """The LIF neuron used by every CNN here (multi-step)."""
    return neuron.LIFNode(
        tau=2.0,
        v_threshold=1.0,
        detach_reset=True,
        surrogate_function=surrogate.ATan(),
        step_mode="m",
    )


def _ch(channels: int, width: float) -> int:
    return max(1, round(channels * width))


class _RateReadout(nn.Module):
    """Average the last layer's output over T: ``[T, B, K] -> [B, K]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(0)


class SpikingLeNet5(nn.Module):
    """LeNet-5: conv5x5(6, pad 2) - BN - LIF - pool - conv5x5(16) - BN - LIF - pool -
    FC120 - LIF - FC84 - LIF - FC(classes). At 32x32 input the GEMM shapes are the
    paper's (conv2 6->16 on 16x16, fc1 576->120, fc2 120->84). BatchNorm (folded into
    the convolution on an accelerator) makes direct-encoded training converge."""

    def __init__(
        self,
        in_channels: int = 1,
        input_hw: int = 32,
        num_classes: int = 10,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if input_hw % 4 or input_hw < 12:
            raise ValueError(f"input_hw: must be a multiple of 4, >= 12, got {input_hw}")
        side = (input_hw // 2 - 4) // 2
        self.conv1 = layer.Conv2d(in_channels, 6, 5, padding=2, step_mode="m")
        self.conv1.prosparsity_analog_input = True  # sees the image, not spikes
        self.bn1 = layer.BatchNorm2d(6, step_mode="m") if batch_norm else nn.Identity()
        self.lif1 = lif()
        self.pool1 = layer.MaxPool2d(2, step_mode="m")
        self.conv2 = layer.Conv2d(6, 16, 5, step_mode="m")
        self.bn2 = layer.BatchNorm2d(16, step_mode="m") if batch_norm else nn.Identity()
        self.lif2 = lif()
        self.pool2 = layer.MaxPool2d(2, step_mode="m")
        self.flatten = layer.Flatten(step_mode="m")
        self.fc1 = layer.Linear(16 * side * side, 120, step_mode="m")
        self.lif3 = lif()
        self.fc2 = layer.Linear(120, 84, step_mode="m")
        self.lif4 = lif()
        self.fc3 = layer.Linear(84, num_classes, step_mode="m")
        self.readout = _RateReadout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.lif1(self.bn1(self.conv1(x))))
        x = self.pool2(self.lif2(self.bn2(self.conv2(x))))
        x = self.lif3(self.fc1(self.flatten(x)))
        x = self.lif4(self.fc2(x))
        return self.readout(self.fc3(x))


VGG9_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, "M")
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 512, 512, 512, 512, 512, 512,
)  # fmt: skip


class SpikingVGG(nn.Module):
    """VGG: [conv3x3 - BN - LIF | maxpool]* then FC - LIF blocks and a last FC.

    Args:
        cfg: channels per conv layer, ``"M"`` for a 2x2 max-pool.
        hidden: widths of the hidden FC layers.
        in_channels, input_hw, num_classes: input and output.
        width: multiplier on every channel count and hidden width (tiny test models).
    """

    def __init__(
        self,
        cfg: Sequence[int | str],
        hidden: Sequence[int],
        in_channels: int = 3,
        input_hw: int = 32,
        num_classes: int = 10,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        feats: list[nn.Module] = []
        c, hw = in_channels, input_hw
        for v in cfg:
            if v == "M":
                feats.append(layer.MaxPool2d(2, step_mode="m"))
                hw //= 2
                continue
            out = _ch(int(v), width)
            conv = layer.Conv2d(c, out, 3, padding=1, bias=False, step_mode="m")
            conv.prosparsity_analog_input = not feats  # the first conv sees the image
            feats += [
                conv,
                layer.BatchNorm2d(out, step_mode="m"),
                lif(),
            ]
            c = out
        self.features = nn.Sequential(*feats)
        self.flatten = layer.Flatten(step_mode="m")
        cls: list[nn.Module] = []
        k = c * hw * hw
        for h in hidden:
            cls += [layer.Linear(k, _ch(h, width), step_mode="m"), lif()]
            k = _ch(h, width)
        cls.append(layer.Linear(k, num_classes, step_mode="m"))
        self.classifier = nn.Sequential(*cls)
        self.readout = _RateReadout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.classifier(self.flatten(self.features(x))))


def _conv_bn(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> layer.SeqToANNContainer:
    """Raw conv + BN run on ``[T*B, ...]`` by ``SeqToANNContainer``."""
    return layer.SeqToANNContainer(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    )


class _BasicBlock(nn.Module):
    """Spiking basic block: LIF(BN(conv(LIF(BN(conv(x))))) + shortcut(x))."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv_bn(cin, cout, stride)
        self.lif1 = lif()
        self.conv2 = _conv_bn(cout, cout)
        self.shortcut = (
            _conv_bn(cin, cout, stride, kernel=1) if stride != 1 or cin != cout else nn.Identity()
        )
        self.lif2 = lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.lif1(self.conv1(x)))
        return self.lif2(out + self.shortcut(x))


class SpikingResNet(nn.Module):
    """CIFAR-style spiking ResNet of basic blocks.

    Args:
        stem: channels of the 3x3 stem convolution.
        stages: ``(channels, blocks, stride)`` per stage.
        hidden: widths of hidden FC layers after global average pooling.
        width: multiplier on every channel count (tiny test models).
    """

    def __init__(
        self,
        stem: int,
        stages: Sequence[tuple[int, int, int]],
        hidden: Sequence[int] = (),
        in_channels: int = 3,
        num_classes: int = 10,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        c = _ch(stem, width)
        self.stem = _conv_bn(in_channels, c)
        self.stem[0].prosparsity_analog_input = True  # sees the image
        self.stem_lif = lif()
        blocks: list[nn.Module] = []
        for channels, count, stride in stages:
            out = _ch(channels, width)
            for i in range(count):
                blocks.append(_BasicBlock(c, out, stride if i == 0 else 1))
                c = out
        self.layers = nn.Sequential(*blocks)
        self.pool = layer.SeqToANNContainer(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        cls: list[nn.Module] = []
        for h in hidden:
            cls += [layer.Linear(c, _ch(h, width), step_mode="m"), lif()]
            c = _ch(h, width)
        cls.append(layer.Linear(c, num_classes, step_mode="m"))
        cls[0].prosparsity_analog_input = True  # sees average-pooled spikes (fractions)
        self.classifier = nn.Sequential(*cls)
        self.readout = _RateReadout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem_lif(self.stem(x)))
        return self.readout(self.classifier(self.pool(x)))


# ---------------------------------------------------------------------------------------
# builders (``build(time_steps=T, **options)``; T is a property of the input here)


def build_lenet5(
    time_steps: int = 32, *, in_channels: int = 1, input_hw: int = 32, num_classes: int = 10
) -> SpikingLeNet5:
    """The paper's LeNet-5 (MNIST-shaped, 32x32)."""
    del time_steps
    return SpikingLeNet5(in_channels, input_hw, num_classes)


def build_digits_cnn(time_steps: int = DIGITS_CNN_T) -> SpikingLeNet5:
    """LeNet-5 on digits upscaled to 32x32 (the trained ``digits-cnn``)."""
    del time_steps
    return SpikingLeNet5(1, 8 * DIGITS_UPSCALE, 10)


def build_vgg9(time_steps: int = 4, **options: Any) -> SpikingVGG:
    """VGG-9 of the paper (CIFAR-shaped): 6 convs, FC 4096 -> 1024 -> classes."""
    del time_steps
    return SpikingVGG(VGG9_CFG, (1024,), **options)


def build_vgg16(time_steps: int = 4, **options: Any) -> SpikingVGG:
    """VGG-16 of the paper: 13 convs (two pools), FC 32768 -> 4096 -> 4096 -> classes."""
    del time_steps
    return SpikingVGG(VGG16_CFG, (4096, 4096), **options)


def build_resnet18(time_steps: int = 4, **options: Any) -> SpikingResNet:
    """CIFAR ResNet-18: stem 64, stages 64/128/256/512 x 2 blocks."""
    del time_steps
    return SpikingResNet(64, ((64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)), **options)


def build_resnet19(time_steps: int = 4, **options: Any) -> SpikingResNet:
    """ResNet-19 (Zheng et al., tdBN): stem 128, stages 128x3/256x3/512x2, FC 256."""
    del time_steps
    return SpikingResNet(128, ((128, 3, 1), (256, 3, 2), (512, 2, 2)), hidden=(256,), **options)


def _digits_input(samples: int = 1, time_steps: int = DIGITS_CNN_T, seed: int = 0) -> torch.Tensor:
    del seed  # the test split in order: deterministic
    return digits_time_input(samples, time_steps, upscale_factor=DIGITS_UPSCALE)


def _mnist_shaped(samples: int = 1, time_steps: int = 32, seed: int = 0) -> torch.Tensor:
    # digits upscaled to MNIST's padded 32x32: real images, not noise
    del seed
    return digits_time_input(samples, time_steps, upscale_factor=DIGITS_UPSCALE)


def _cifar_shaped(samples: int = 1, time_steps: int = 4, seed: int = 0) -> torch.Tensor:
    return _random_frames(samples, time_steps, (3, 32, 32), seed)


# ---------------------------------------------------------------------------------------
# training digits-cnn


def train_digits_cnn(
    out_dir: str | Path,
    seed: int = 0,
    *,
    epochs: int = 8,
    batch_size: int = 64,
    lr: float = 2e-3,
    time_steps: int = DIGITS_CNN_T,
) -> dict[str, Any]:
    """Train ``digits-cnn`` on the digits training split; write ``digits-cnn.safetensors``.

    Surrogate-gradient BPTT (spikingjelly multi-step, ATan surrogate), Adam with a
    cosine schedule, cross-entropy on the rate readout.

    Returns:
        ``test_accuracy``, ``train_accuracy``, ``epochs``, ``time_steps``,
        ``train_seconds``.
    """
    from prosparsity.models.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    split = digits_split()

    def images(x: Any) -> torch.Tensor:
        return upscale(torch.from_numpy(x.copy())[:, None], DIGITS_UPSCALE)

    x_tr, y_tr = images(split.x_train), torch.from_numpy(split.y_train.copy())
    x_te, y_te = images(split.x_test), torch.from_numpy(split.y_test.copy())
    model = build_digits_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()

    def run(x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(model)
        return model(x.unsqueeze(0).repeat(time_steps, 1, 1, 1, 1))

    def accuracy(x: torch.Tensor, y: torch.Tensor) -> float:
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x), 256):
                correct += int((run(x[i : i + 256]).argmax(1) == y[i : i + 256]).sum())
        return correct / len(x)

    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_tr), generator=gen)
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            loss = nn.functional.cross_entropy(run(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        log.info("epoch %d: loss %.4f", epoch + 1, total / len(order))
    seconds = time.perf_counter() - start
    functional.reset_net(model)
    save_checkpoint(model, Path(out_dir) / "digits-cnn.safetensors")
    return {
        "test_accuracy": accuracy(x_te, y_te),
        "train_accuracy": accuracy(x_tr, y_tr),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "time_steps": time_steps,
        "train_seconds": round(seconds, 1),
        "test_samples": len(x_te),
    }


# ---------------------------------------------------------------------------------------
# registry

register_model(
    ModelEntry(
        name="digits-cnn",
        family="cnn",
        description="LeNet-5 trained on sklearn digits (upscaled to 32x32), T=8",
        build=build_digits_cnn,
        make_input=_digits_input,
        time_steps=DIGITS_CNN_T,
        dataset=DIGITS_DATASET,
        checkpoint="digits-cnn.safetensors",
        trainer=train_digits_cnn,
    )
)
register_model(
    ModelEntry(
        name="lenet5",
        family="cnn",
        description="LeNet-5 of the paper (MNIST-shaped 32x32)",
        build=build_lenet5,
        make_input=_mnist_shaped,
        time_steps=32,
        dataset="sklearn digits upscaled to 32x32 (test split)",
    )
)
def spikingjelly_resnet_layout() -> Release:
    """spikingjelly's ``spiking_resnet`` / ``sew_resnet`` state dicts (torchvision's ResNet
    names), recognised in order to be refused with the reason."""
    rules = ("conv1.weight", "bn1.{p}", "layer{s}.{b}.conv{c}.weight", "layer{s}.{b}.bn{c}.{p}",
             "fc.{p}")
    return Release(
        "spikingjelly-resnet", "spikingjelly.activation_based.model.spiking_resnet / sew_resnet",
        KeyMap(rules=tuple((r, r) for r in rules),
               unused=(("layer{s}.{b}.downsample.{n}.{p}", "a shortcut projection"),)),
        refusal="spikingjelly's ResNets are ImageNet networks (7x7 stem, max-pool, torchvision's "
                "stages), not the paper's CIFAR ResNet this entry builds; spikingjelly's CNN "
                "zoo needs torchvision, which cannot be installed beside the CPU torch",
    )


for _name, _build, _desc in (
    ("vgg9", build_vgg9, "VGG-9 of the paper (CIFAR-shaped)"),
    ("vgg16", build_vgg16, "VGG-16 of the paper (CIFAR-shaped, 134M parameters)"),
    ("resnet18", build_resnet18, "CIFAR ResNet-18 (SeqToANNContainer convs)"),
    ("resnet19", build_resnet19, "ResNet-19 (tdBN layout)"),
):
    register_model(
        ModelEntry(
            name=_name,
            family="cnn",
            description=_desc,
            build=_build,
            make_input=_cifar_shaped,
            time_steps=4,
            dataset="random CIFAR-shaped frames (3x32x32)",
            releases=(spikingjelly_resnet_layout(),) if _name.startswith("resnet") else (),
        )
    )
