"""The model registry's entries, listed without importing the model families.

Each family module of the zoo (``zoo.cnn``, ``zoo.spikformer``, ...) defines torch
modules and registers its entries when imported, which takes torch and the spiking
frameworks: seconds. The listing ``prosparsity models`` needs only names, families, T,
weights and descriptions, so they are kept here as plain data;
:func:`prosparsity.models.registry.get_model` also
uses ``module`` to import only the family that registers a name.

A test (``tests/models/test_catalog.py``) imports every family and checks that this table
is exactly what they register; when a family gains or changes an entry it prints the
lines to put here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOG", "ModelInfo"]


@dataclass(frozen=True)
class ModelInfo:
    """What ``prosparsity models`` shows of a registry entry.

    Attributes:
        name: the CLI name.
        family: the model family (``registry.FAMILIES``).
        module: the module of :mod:`prosparsity.models.zoo` that registers it.
        time_steps: default T.
        trained: whether a packaged checkpoint exists.
        description: the entry's one-line description.
        releases: names of the published checkpoint layouts it loads besides its own
            (``ModelEntry.releases``).
    """

    name: str
    family: str
    module: str
    time_steps: int
    trained: bool
    description: str
    releases: tuple[str, ...] = ()


#: Every registered entry, sorted by family (``registry.FAMILIES`` order) then name.
CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo('digits-cnn', 'cnn', 'cnn', 8, True,
              'LeNet-5 trained on sklearn digits (upscaled to 32x32), T=8'),
    ModelInfo('lenet5', 'cnn', 'cnn', 32, False,
              'LeNet-5 of the paper (MNIST-shaped 32x32)'),
    ModelInfo('resnet18', 'cnn', 'cnn', 4, False,
              'CIFAR ResNet-18 (SeqToANNContainer convs)'),
    ModelInfo('resnet19', 'cnn', 'cnn', 4, False,
              'ResNet-19 (tdBN layout)'),
    ModelInfo('vgg16', 'cnn', 'cnn', 4, False,
              'VGG-16 of the paper (CIFAR-shaped, 134M parameters)'),
    ModelInfo('vgg9', 'cnn', 'cnn', 4, False,
              'VGG-9 of the paper (CIFAR-shaped)'),
    ModelInfo('digits-spikformer', 'spikformer', 'spikformer', 4, True,
              'small Spikformer (2 blocks, D=64, 16 tokens) trained on sklearn digits'),
    ModelInfo('spikformer-8-512', 'spikformer', 'spikformer', 4, False,
              "Spikformer-8-512, ImageNet (the authors' imagenet/model.py default; spikingjelly)",
              releases=('zk-zhou-imagenet',)),
    ModelInfo('spikformer-cifar10', 'spikformer', 'spikformer', 4, False,
              'Spikformer-4-384, CIFAR-10 (paper; spikingjelly spikformer_cifar10)',
              releases=('zk-zhou-cifar',)),
    ModelInfo('spikformer-cifar100', 'spikformer', 'spikformer', 4, False,
              'Spikformer-4-384, CIFAR-100 (paper; spikingjelly spikformer_cifar10)',
              releases=('zk-zhou-cifar',)),
    ModelInfo('spikformer-cifar10dvs', 'spikformer', 'spikformer', 16, False,
              'Spikformer-2-256, CIFAR10-DVS (paper; spikingjelly Spikformer)',
              releases=('zk-zhou-cifar10dvs',)),
    ModelInfo('spikformer-s', 'spikformer', 'spikformer', 4, False,
              'Spikformer-6-384, ImageNet (spikingjelly spikformer_s)',
              releases=('zk-zhou-imagenet',)),
    ModelInfo('spikformer-ti', 'spikformer', 'spikformer', 4, False,
              'Spikformer-4-256, ImageNet (spikingjelly spikformer_ti)',
              releases=('zk-zhou-imagenet',)),
    ModelInfo('digits-sdt', 'sdt', 'sdt', 4, True,
              'small SDT (2 blocks, D=64, 16 tokens) trained on sklearn digits'),
    ModelInfo('sdt-10-512', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 10-512, ImageNet (a published checkpoint; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-6-512', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 6-512, ImageNet (a published checkpoint; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-8-384', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 8-384, ImageNet (spikingjelly sdt_8_384)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-8-512', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 8-512, ImageNet (a published checkpoint; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-8-768', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 8-768, ImageNet (a published checkpoint; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-cifar10', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 4-512, CIFAR-10 (paper; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-cifar100', 'sdt', 'sdt', 4, False,
              'Spike-driven Transformer 4-512, CIFAR-100 (paper; spikingjelly)',
              releases=('biclab-sdt',)),
    ModelInfo('sdt-cifar10dvs', 'sdt', 'sdt', 10, False,
              'Spike-driven Transformer 2-512, CIFAR10-DVS (paper; spikingjelly)',
              releases=('biclab-sdt-dvs',)),
    ModelInfo('listops-spikebert', 'spikebert', 'spikebert', 4, True,
              'small SpikeBERT (2 blocks, D=32, 24 tokens) trained on generated ListOps'),
    ModelInfo('spikebert-mr', 'spikebert', 'spikebert', 4, False,
              'SpikeBERT 12-768, MR: 256 tokens, 2 classes (paper)',
              releases=('lvchangze-spikebert', 'lvchangze-spikebert-predistill')),
    ModelInfo('spikebert-sst2', 'spikebert', 'spikebert', 4, False,
              'SpikeBERT 12-768, SST-2: 128 tokens, 2 classes (paper)',
              releases=('lvchangze-spikebert', 'lvchangze-spikebert-predistill')),
    ModelInfo('spikebert-sst5', 'spikebert', 'spikebert', 4, False,
              'SpikeBERT 12-768, SST-5: 128 tokens, 5 classes (paper)',
              releases=('lvchangze-spikebert', 'lvchangze-spikebert-predistill')),
    ModelInfo('spikingbert-mnli', 'spikingbert', 'spikingbert', 16, False,
              'SpikingBERT 4-768, MNLI: 128 tokens, 3 classes, T=16 (paper)',
              releases=('neurocomplab-spikingbert',)),
    ModelInfo('spikingbert-qqp', 'spikingbert', 'spikingbert', 16, False,
              'SpikingBERT 4-768, QQP: 128 tokens, 2 classes, T=16 (paper)',
              releases=('neurocomplab-spikingbert',)),
    ModelInfo('spikingbert-sst2', 'spikingbert', 'spikingbert', 16, False,
              'SpikingBERT 4-768, SST-2: 128 tokens, 2 classes, T=16 (paper)',
              releases=('neurocomplab-spikingbert',)),
    ModelInfo('snntorch-lenet5', 'snntorch', 'snntorch_lenet', 8, False,
              'LeNet-5 on snntorch Leaky neurons, Python loop over T'),
)
