"""The paper's 19 workloads as layer records, built by small network builders.

The Prosperity paper simulates each workload as a flat layer sequence (the authors'
``simulator/configs.py``). This module rebuilds those sequences from a few builders (a
sequential CNN builder for LeNet-5 and the VGGs, a ResNet builder, a spiking-patch-splitting
stem and a transformer-encoder builder for Spikformer, SDT, SpikeBERT and SpikingBERT), with
the authors' layer names, so that a dump keyed by those names can be matched to shapes.

Record parameters by kind (the fields downstream cost models rely on; all integers):

* ``conv2d``: ``input_hw`` (square input side), ``in_channels``, ``out_channels``,
  ``kernel``, ``padding``, ``stride``, ``batch``, ``time_steps``. Dilation 1, groups 1.
* ``linear``: ``in_features``, ``out_features``, ``seq_len`` (tokens per sample, 1 for
  CNN classifiers), ``batch``, ``time_steps``.
* ``lif``: ``neurons`` (per sample and time step), ``batch``, ``time_steps``.
* ``maxpool2d``: ``input_hw``, ``channels``, ``kernel``, ``padding``, ``stride``,
  ``batch``, ``time_steps``.
* ``attention``: ``dim``, ``seq_len``, ``heads``, ``variant`` (``spikformer``, ``sdt``,
  ``spikebert``, ``spikingbert``: the authors' attention flavours), ``batch``,
  ``time_steps``.
* ``layernorm``: ``dim``, ``seq_len``, ``batch``, ``time_steps``. (SpikeBERT's
  ``layernorm_q`` normalises q, k and v together: the authors give it ``batch = 3``.)

Paper compatibility: the builders reproduce the authors' configuration exactly, including
a few values that look like slips (see :data:`AUTHOR_SLIPS`); ``workload(name,
corrected=True)`` gives the corrected values instead. Other modelling choices of the
authors kept as they are: ResNet-18 is simulated at 8x8 resolution throughout with no
shortcut convolutions; VGG max-pools are recorded with kernel 2, padding 1, stride 2 and
the next layer sees half the resolution; the first convolution of each CNN (the one that
reads the encoded image) is not part of the simulated network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from prosparsity.core.errors import ConfigError
from prosparsity.traces.schema import LayerKind, LayerRecord

__all__ = [
    "AUTHOR_SLIPS",
    "WORKLOADS",
    "PaperWorkload",
    "attention_operands",
    "get_workload",
    "workload",
]

#: Attention operands the authors' dumps hold per variant (keys ``NAME_<operand>``).
_OPERANDS: dict[str, tuple[str, ...]] = {
    "spikformer": ("q", "k", "v"),
    "sdt": ("q", "k", "v"),
    "spikebert": ("q", "k", "v"),
    "spikingbert": ("k", "v"),
}


def attention_operands(variant: str) -> tuple[str, ...]:
    """The spike operands an attention variant reads (``spikingbert`` has no spiking q)."""
    try:
        return _OPERANDS[variant]
    except KeyError:
        raise ConfigError("attention.variant", f"unknown variant '{variant}'") from None


@dataclass(frozen=True)
class PaperWorkload:
    """One paper workload: its preset layer records (shapes, no spikes). The workload a
    run counts and prices, spikes and all, is :class:`prosparsity.analysis.network.
    Workload`, which :meth:`~prosparsity.analysis.network.Workload.from_paper` builds from
    these records.

    Attributes:
        name: workload name, ``<model>_<dataset>``.
        model: network family (``lenet5``, ``vgg9``, ``vgg16``, ``resnet18``,
            ``spikformer``, ``sdt``, ``spikebert``, ``spikingbert``).
        dataset: dataset the paper ran it on.
        time_steps: T.
        batch: batch size (1 in every paper run).
        layers: the layer records in execution order (no data, empty shapes).
    """

    name: str
    model: str
    dataset: str
    time_steps: int
    batch: int
    layers: tuple[LayerRecord, ...]

    def layer(self, name: str) -> LayerRecord:
        """The record called ``name``."""
        for rec in self.layers:
            if rec.name == name:
                return rec
        raise ConfigError(f"{self.name}.{name}", "no such layer in this workload")


class _Seq:
    """Accumulates records of one network, stamping batch and time steps on each."""

    def __init__(self, time_steps: int, batch: int = 1) -> None:
        self.time_steps = time_steps
        self.batch = batch
        self.records: list[LayerRecord] = []

    def add(self, name: str, kind: LayerKind, **params: Any) -> None:
        params.update(batch=params.get("batch", self.batch), time_steps=self.time_steps)
        self.records.append(LayerRecord(name, kind, params))

    def conv(
        self, name: str, hw: int, cin: int, cout: int, k: int = 3, p: int = 1, s: int = 1
    ) -> None:
        self.add(
            name,
            LayerKind.CONV2D,
            input_hw=hw,
            in_channels=cin,
            out_channels=cout,
            kernel=k,
            padding=p,
            stride=s,
        )

    def lif(self, name: str, neurons: int) -> None:
        self.add(name, LayerKind.LIF, neurons=neurons)

    def pool(self, name: str, hw: int, channels: int, k: int, p: int, s: int) -> None:
        self.add(
            name, LayerKind.MAXPOOL2D, input_hw=hw, channels=channels, kernel=k, padding=p, stride=s
        )

    def fc(self, name: str, cin: int, cout: int, seq_len: int = 1) -> None:
        self.add(name, LayerKind.LINEAR, in_features=cin, out_features=cout, seq_len=seq_len)


# ------------------------------------------------------------------------------ CNNs

# A sequential CNN is a list of steps: ("conv", out_channels, kernel, padding),
# ("pool",) a recorded 2x2 max-pool, ("halve",) an unrecorded 2x down-sampling, and
# ("fc", out_features). Every conv and fc is followed by its LIF layer.
_Step = tuple[Any, ...]


def _sequential_cnn(
    seq: _Seq,
    hw: int,
    channels: int,
    steps: Iterable[_Step],
    *,
    conv_start: int = 1,
    lif_start: int = 1,
) -> None:
    conv_i, lif_i, pool_i, fc_i = conv_start, lif_start, 1, 0
    features: int | None = None  # set once the network is flattened
    for step in steps:
        op = step[0]
        if op == "conv":
            _, cout, k, p = step
            seq.conv(f"conv2d_{conv_i}", hw, channels, cout, k=k, p=p)
            hw = (hw - k + 2 * p) + 1
            channels = cout
            seq.lif(f"lif_{lif_i}", hw * hw * channels)
            conv_i += 1
        elif op == "pool":
            seq.pool(f"maxpool2d_{pool_i}", hw, channels, k=2, p=1, s=2)
            hw //= 2
            pool_i += 1
        elif op == "halve":
            hw //= 2
        elif op == "fc":
            cin = features if features is not None else hw * hw * channels
            seq.fc(f"fc_{fc_i}", cin, step[1])
            features = step[1]
            seq.lif(f"lif_{lif_i}", features)
            fc_i += 1
        else:  # pragma: no cover - programming error in a table below
            raise ValueError(op)
        if op in ("conv", "fc"):
            lif_i += 1


def _lenet5(seq: _Seq) -> None:
    # conv2d_0 reads the encoded image and is not simulated; LIF numbering starts at 2.
    _sequential_cnn(
        seq, 16, 6, [("conv", 16, 5, 0), ("halve",), ("fc", 120), ("fc", 84)], lif_start=2
    )


def _vgg9(seq: _Seq, hw: int) -> None:
    widths = [64, "pool", 128, 128, "pool", 256, 256, "pool"]
    steps: list[_Step] = [("pool",) if w == "pool" else ("conv", w, 3, 1) for w in widths]
    _sequential_cnn(seq, hw, 64, [*steps, ("fc", 1024)])


def _vgg16(seq: _Seq) -> None:
    widths = [64, "pool", 128, 128, "pool", 256, 256, 256, *[512] * 6]
    steps: list[_Step] = [("pool",) if w == "pool" else ("conv", w, 3, 1) for w in widths]
    _sequential_cnn(seq, 32, 64, [*steps, ("fc", 4096), ("fc", 4096)])


def _resnet18(seq: _Seq) -> None:
    # Four stages of two basic blocks (two 3x3 convs each), simulated at 8x8.
    hw, cin, i = 8, 64, 1
    for width in (64, 128, 256, 512):
        for _ in range(4):
            seq.conv(f"conv2d_{i}", hw, cin, width)
            seq.lif(f"lif_{i}", hw * hw * width)
            cin, i = width, i + 1


# ------------------------------------------------------------------------ transformers


@dataclass(frozen=True)
class _Encoder:
    """Shape of one transformer encoder block, in the authors' naming."""

    variant: str
    qkv_fc: str  # name of the fused q/k/v projection (``fc_q`` or ``fc_qkv``)
    qkv_lif: tuple[str, int]  # its LIF layer and how many of q/k/v it fires
    attn_lif: bool  # a LIF after attention (all but SDT)
    layernorms: tuple[str, ...]  # projections followed by a LayerNorm (by suffix)


_ENCODERS = {
    "spikformer": _Encoder("spikformer", "fc_q", ("lif_q", 3), True, ()),
    "sdt": _Encoder("sdt", "fc_q", ("lif_q", 3), False, ()),
    "spikebert": _Encoder("spikebert", "fc_q", ("lif_q", 3), True, ("q", "o", "1", "2")),
    "spikingbert": _Encoder("spikingbert", "fc_qkv", ("lif_kv", 2), True, ("o", "2")),
}


def _encoder(
    seq: _Seq, enc: _Encoder, index: int, dim: int, seq_len: int, heads: int, mlp: int = 4
) -> None:
    sfx = f"_enc_{index}"

    def norm(which: str, width: int, batch: int | None = None) -> None:
        if which in enc.layernorms:
            extra = {} if batch is None else {"batch": batch}
            seq.add(
                f"layernorm_{which}{sfx}", LayerKind.LAYERNORM, dim=width, seq_len=seq_len, **extra
            )

    seq.fc(enc.qkv_fc + sfx, dim, 3 * dim, seq_len)
    norm("q", dim, batch=3 * seq.batch)  # q, k and v normalised together
    lif_name, fired = enc.qkv_lif
    seq.lif(lif_name + sfx, fired * dim * seq_len)
    seq.add(
        f"attention{sfx}",
        LayerKind.ATTENTION,
        dim=dim,
        seq_len=seq_len,
        heads=heads,
        variant=enc.variant,
    )
    if enc.attn_lif:
        seq.lif(f"lif_attn{sfx}", dim * seq_len)
    for which, cin, cout in (("o", dim, dim), ("1", dim, mlp * dim), ("2", mlp * dim, dim)):
        seq.fc(f"fc_{which}{sfx}", cin, cout, seq_len)
        norm(which, cout)
        seq.lif(f"lif_{which}{sfx}", cout * seq_len)


def _sps(seq: _Seq, dim: int, sizes: tuple[int, int, int, int], pool_first: bool) -> None:
    """Spiking patch splitting stem (Spikformer / SDT), layer names suffixed ``_sps``."""
    widths = (dim // 8, dim // 4, dim // 2, dim)
    for i in range(3):
        hw, cin, cout = sizes[i], widths[i], widths[i + 1]
        seq.conv(f"conv2d_{i + 1}_sps", hw, cin, cout)
        seq.lif(f"lif_{i + 1}_sps", hw * hw * cout)
        if i > 0 or pool_first:
            seq.pool(f"maxpool2d_{i + 1}_sps", hw, cout, k=3, p=1, s=2)
    seq.conv("conv2d_rpe_sps", sizes[3], dim, dim)
    # the authors name the SDT stem's last LIF after its shortcut
    seq.lif("lif_sc_sps" if pool_first else "lif_rpe_sps", sizes[3] * sizes[3] * dim)


def _vision_transformer(
    seq: _Seq,
    variant: str,
    dim: int,
    depth: int,
    heads: int,
    sizes: tuple[int, int, int, int],
) -> None:
    _sps(seq, dim, sizes, pool_first=variant == "sdt")
    for i in range(depth):
        _encoder(seq, _ENCODERS[variant], i, dim, sizes[3] ** 2, heads)


def _bert(seq: _Seq, variant: str, dim: int, depth: int, heads: int, seq_len: int) -> None:
    for i in range(depth):
        _encoder(seq, _ENCODERS[variant], i, dim, seq_len, heads)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class _Preset:
    model: str
    dataset: str
    time_steps: int
    build: Callable[[_Seq], None]


def _vit(variant: str, dim: int, depth: int, heads: int, first_hw: int) -> Callable[[_Seq], None]:
    sizes = (first_hw, 32, 16, 8)
    return lambda s: _vision_transformer(s, variant, dim, depth, heads, sizes)


def _bert_preset(variant: str, depth: int, heads: int, seq_len: int) -> Callable[[_Seq], None]:
    return lambda s: _bert(s, variant, 768, depth, heads, seq_len)


_PRESETS: dict[str, _Preset] = {
    "lenet5_mnist": _Preset("lenet5", "mnist", 32, _lenet5),
    "vgg9_cifar10": _Preset("vgg9", "cifar10", 4, lambda s: _vgg9(s, 32)),
    "vgg9_cifar10dvs": _Preset("vgg9", "cifar10dvs", 4, lambda s: _vgg9(s, 128)),
    "vgg16_cifar10": _Preset("vgg16", "cifar10", 32, _vgg16),
    "vgg16_cifar100": _Preset("vgg16", "cifar100", 32, _vgg16),
    "resnet18_cifar10": _Preset("resnet18", "cifar10", 32, _resnet18),
    "resnet18_cifar100": _Preset("resnet18", "cifar100", 32, _resnet18),
    "spikformer_cifar10": _Preset("spikformer", "cifar10", 4, _vit("spikformer", 384, 4, 12, 32)),
    "spikformer_cifar10dvs": _Preset(
        "spikformer", "cifar10dvs", 16, _vit("spikformer", 256, 2, 16, 64)
    ),
    "spikformer_cifar100": _Preset("spikformer", "cifar100", 4, _vit("spikformer", 384, 4, 12, 32)),
    "sdt_cifar10": _Preset("sdt", "cifar10", 4, _vit("sdt", 512, 4, 8, 32)),
    "sdt_cifar10dvs": _Preset("sdt", "cifar10dvs", 10, _vit("sdt", 512, 2, 8, 64)),
    "sdt_cifar100": _Preset("sdt", "cifar100", 4, _vit("sdt", 512, 4, 8, 32)),
    "spikebert_sst2": _Preset("spikebert", "sst2", 4, _bert_preset("spikebert", 12, 8, 128)),
    "spikebert_mr": _Preset("spikebert", "mr", 4, _bert_preset("spikebert", 12, 8, 256)),
    "spikebert_sst5": _Preset("spikebert", "sst5", 4, _bert_preset("spikebert", 12, 8, 128)),
    "spikingbert_sst2": _Preset("spikingbert", "sst2", 16, _bert_preset("spikingbert", 4, 12, 128)),
    "spikingbert_qqp": _Preset("spikingbert", "qqp", 16, _bert_preset("spikingbert", 4, 12, 128)),
    "spikingbert_mnli": _Preset("spikingbert", "mnli", 16, _bert_preset("spikingbert", 4, 12, 128)),
}

#: Names of the paper's workloads, ``<model>_<dataset>``.
WORKLOADS: tuple[str, ...] = tuple(_PRESETS)

#: Values in the authors' configuration that disagree with the network they describe,
#: as ``{workload model: {layer: (field, authors' value builder, corrected builder)}}``.
#: They are reproduced by default (numbers then match the paper); ``corrected=True``
#: applies the corrected value.
#:
#: * ResNet-18 ``lif_3`` / ``lif_4``: the authors count 8·8·128 neurons after
#:   ``conv2d_3`` / ``conv2d_4``, which output 64 channels (8·8·64).
#: * VGG-9 ``lif_6``: 4096 neurons after ``fc_0``, which has 1024 outputs.
AUTHOR_SLIPS: dict[str, dict[str, tuple[str, int, int]]] = {
    "resnet18": {
        "lif_3": ("neurons", 8 * 8 * 128, 8 * 8 * 64),
        "lif_4": ("neurons", 8 * 8 * 128, 8 * 8 * 64),
    },
    "vgg9": {"lif_6": ("neurons", 4096, 1024)},
}


def get_workload(name: str, *, corrected: bool = False) -> PaperWorkload:
    """The paper workload ``name`` (one of :data:`WORKLOADS`).

    Args:
        name: workload name, e.g. ``lenet5_mnist``.
        corrected: apply the corrections listed in :data:`AUTHOR_SLIPS` instead of
            reproducing the authors' values.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    preset = _PRESETS.get(name)
    if preset is None:
        raise ConfigError("workload", f"unknown workload '{name}' (known: {', '.join(WORKLOADS)})")
    seq = _Seq(preset.time_steps)
    preset.build(seq)
    records = seq.records
    slips = AUTHOR_SLIPS.get(preset.model, {})
    out = []
    for rec in records:
        if rec.name in slips:
            field, paper, fixed = slips[rec.name]
            out.append(replace(rec, params={**rec.params, field: fixed if corrected else paper}))
        else:
            out.append(rec)
    return PaperWorkload(name, preset.model, preset.dataset, preset.time_steps, 1,
                         tuple(out))


def workload(name: str, *, corrected: bool = False) -> tuple[LayerRecord, ...]:
    """The layer records of workload ``name`` in execution order (see :func:`get_workload`)."""
    return get_workload(name, corrected=corrected).layers
