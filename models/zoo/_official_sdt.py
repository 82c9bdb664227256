"""The Spike-driven Transformer (V1) as its authors release it
(github.com/BICLab/Spike-Driven-Transformer), mapped onto spikingjelly 2.0's model.

The authors' checkpoints are timm training-script files (the state dict under
``state_dict``, beside the run's arguments) of their ``model/spikeformer.py`` with the
modules of ``module/sps.py`` and ``module/ms_conv.py``. For images their forward is
spikingjelly 2.0's ``SpikeDrivenTransformer`` under other names (facts read from both):

* stem ``MS_SPS``: ``proj_conv``/``proj_bn``/``proj_lif`` and stages ``1``-``3`` map to
  ``patch_embed.stages.{0,1,2}`` (conv, BN) and ``final_stage`` (conv, BN); the position
  embedding ``rpe_conv``/``rpe_bn`` keeps its names; both pool after the same LIFs and add
  the stem's membrane potential to the position embedding's;
* the authors' stem convolutions have no bias, spikingjelly's do: those biases are set to
  zero (the same function);
* attention ``MS_SSA_Conv``: ``q/k/v/proj`` ``_conv``/``_bn`` keep their names; the
  attention neuron the authors' forward uses is ``talking_heads_lif`` (threshold 0.5),
  spikingjelly's ``attn_lif``; neither holds parameters. Their ``talking_heads``
  convolution is created but never called: its weight is declared unused;
* MLP ``MS_MLP_Conv``: ``fc1_conv``/``fc1_bn``/``fc2_conv``/``fc2_bn`` are ``fc1``/``bn1``/
  ``fc2``/``bn2``;
* ``block`` is ``blocks``; ``head`` keeps its name.

For CIFAR10-DVS the authors' training script switches on ``dvs_mode``: a 3x3 max-pooling
(their ``Erode``, stride 1, ``MaxPool3d((1, 3, 3))`` over the last two axes of each
5-D tensor) of the key and value spikes over the feature map, of ``K * V`` over (token,
channel) before the token sum, and of ``Q * attn`` likewise. spikingjelly has no such
pooling; the SDT family's ``ErodeSpikeDrivenSelfAttention`` adds it, and the DVS release
builds the network with it.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from prosparsity.models.releases import KeyMap, Release

__all__ = ["biclab_keymap", "biclab_release"]

SOURCE = "github.com/BICLab/Spike-Driven-Transformer"


def biclab_keymap() -> KeyMap:
    """The authors' keys onto spikingjelly's ``SpikeDrivenTransformer`` (see module doc)."""
    rules = [
        ("patch_embed.proj_conv.weight", "patch_embed.stages.0.0.weight"),
        ("patch_embed.proj_bn.{p}", "patch_embed.stages.0.1.{p}"),
        ("patch_embed.proj_conv1.weight", "patch_embed.stages.1.0.weight"),
        ("patch_embed.proj_bn1.{p}", "patch_embed.stages.1.1.{p}"),
        ("patch_embed.proj_conv2.weight", "patch_embed.stages.2.0.weight"),
        ("patch_embed.proj_bn2.{p}", "patch_embed.stages.2.1.{p}"),
        ("patch_embed.proj_conv3.weight", "patch_embed.final_stage.0.weight"),
        ("patch_embed.proj_bn3.{p}", "patch_embed.final_stage.1.{p}"),
        ("patch_embed.rpe_conv.weight", "patch_embed.rpe_conv.weight"),
        ("patch_embed.rpe_bn.{p}", "patch_embed.rpe_bn.{p}"),
        ("head.{p}", "head.{p}"),
    ]
    for name in ("q", "k", "v", "proj"):
        for part in ("conv", "bn"):
            rules.append((f"block.{{i}}.attn.{name}_{part}.{{p}}",
                          f"blocks.{{i}}.attn.{name}_{part}.{{p}}"))
    for theirs, ours in (("fc1_conv", "fc1"), ("fc1_bn", "bn1"), ("fc2_conv", "fc2"),
                         ("fc2_bn", "bn2")):
        rules.append((f"block.{{i}}.mlp.{theirs}.{{p}}", f"blocks.{{i}}.mlp.{ours}.{{p}}"))
    no_bias = "the authors' stem convolution has no bias (zero: the same function)"
    return KeyMap(
        rules=tuple(rules),
        unused=(("block.{i}.attn.talking_heads.weight",
                 "a convolution the authors' attention creates but never calls"),),
        filled=tuple((f"patch_embed.stages.{s}.0.bias", no_bias) for s in range(3))
        + (("patch_embed.final_stage.0.bias", no_bias),),
    )


def biclab_release(name: str, *, dvs_build: Callable[..., nn.Module] | None = None) -> Release:
    """The authors' release onto a configuration's spikingjelly network; ``dvs_build``:
    the network of their CIFAR10-DVS mode (attention with the max-pooling), built by the
    SDT family (:class:`~prosparsity.models.zoo.sdt.ErodeSpikeDrivenSelfAttention`)."""
    differences = ("names: the authors' stem, attention and MLP modules are spikingjelly's "
                   "under other names; stem convolutions without bias",)
    if dvs_build is None:
        return Release(name=name, source=f"{SOURCE}, model/spikeformer.py",
                       keymap=biclab_keymap(), differences=differences)
    return Release(
        name=name, source=f"{SOURCE}, model/spikeformer.py (dvs_mode)",
        keymap=biclab_keymap(), build=dvs_build,
        differences=differences + ("DVS mode: 3x3 max-pooling of K, V, K*V and Q*attn",),
    )
