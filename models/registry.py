"""The model registry: every network the harness can build and capture, by CLI name.

Each model family lives in its own module of the zoo, :mod:`prosparsity.models.zoo`, and
registers its entries at import time with :func:`register_model`. :func:`list_models` and
:func:`get_model` import every public module of the zoo first, so a new family needs no
list to be edited anywhere.

This module imports neither torch nor h5py: ``prosparsity models`` can list entries
cheaply (the families import torch lazily inside their builders where they can).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import HarnessError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from prosparsity.models.catalog import ModelInfo
    from prosparsity.models.releases import Release

__all__ = [
    "FAMILIES",
    "ModelEntry",
    "Runner",
    "catalog",
    "get_model",
    "list_models",
    "register_model",
]

log = logging.getLogger(__name__)

FAMILIES = ("cnn", "spikformer", "sdt", "spikebert", "spikingbert", "snntorch", "user")
"""Known model families (``ModelEntry.family``)."""


class Runner(StrEnum):
    """How a model consumes time (``ModelEntry.runner``).

    ``MULTI``: one forward on a time-first input ``[T, B, ...]`` (spikingjelly
    multi-step); every layer sees all T steps in one call, either as ``[T, B, ...]``
    or folded as ``[T*B, ...]`` (inside ``SeqToANNContainer``).
    ``LOOP``: the model's forward loops over T in Python (snntorch style); every layer
    is called T times with ``[B, ...]`` and the capture stacks the steps time-first.
    ``STEP``: the model takes one time step per call (spikingjelly's single-step mode,
    NeuroBench-style snntorch nets); the capture calls it T times with ``[B, ...]``.
    """

    MULTI = "multi"
    LOOP = "loop"
    STEP = "step"


@dataclass(frozen=True)
class ModelEntry:
    """One capturable model.

    Attributes:
        name: CLI name, e.g. ``"digits-cnn"``, ``"lenet5"``, ``"spikformer-cifar10"``.
        family: one of :data:`FAMILIES`.
        description: one line for ``prosparsity models``.
        build: ``build(time_steps=T, **options) -> torch.nn.Module`` (random init).
        make_input: ``make_input(samples=N, time_steps=T, seed=0) -> torch.Tensor``: the
            offline default input batch in the model's own format (digits images,
            random tokens for text models, random frames).
        time_steps: default T.
        dataset: what the default input is, e.g. ``"sklearn digits (test split)"``.
        checkpoint: file name under ``prosparsity/models/checkpoints/`` of the trained
            weights, or ``None`` (the model is then captured with random weights).
        runner: :attr:`Runner.MULTI` or :attr:`Runner.LOOP`.
        attention_operands: module name (as in ``model.named_modules()``) whose OUTPUT
            is a spike operand of attention -> ``(attention record name, operand)``,
            operand one of ``q, k, v, attn``. An optional third element names the axes
            after ``T,B`` of that output (default ``"L,D"`` for two axes, ``"H,L,D"`` for
            three; use e.g. ``"D,L"`` for channel-first Conv1d outputs).
        attentions: attention record name -> parameters of its ``attention`` record
            (``dim, seq_len, heads, variant``); when given, the capture writes that
            record just before the attention's first operand, and its ``dim``,
            ``seq_len``, ``heads`` override what the operand shapes suggest.
        input_batch_axis: the batch (sample) axis of ``make_input``'s tensor: 1 for
            time-first inputs ``[T, B, ...]``, 0 for e.g. token ids ``[B, L]``.
        trainer: ``trainer(out_dir, seed) -> metrics`` for models trained on the
            packaged data by ``python -m prosparsity.models.train NAME``; it writes
            ``out_dir / f"{name}.safetensors"`` (the state dict, read without unpickling)
            and returns a dict with at least ``test_accuracy``.
        options: default keyword options passed to ``build``.
        releases: the published checkpoint layouts this entry loads besides its own
            (:class:`~prosparsity.models.releases.Release`: name map, and the network that
            computes the authors' forward where the entry's own does not).
    """

    name: str
    family: str
    description: str
    build: Callable[..., torch.nn.Module]
    make_input: Callable[..., torch.Tensor]
    time_steps: int
    dataset: str
    checkpoint: str | None = None
    runner: Runner = Runner.MULTI
    attention_operands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    attentions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    input_batch_axis: int = 1
    trainer: Callable[..., dict] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    releases: tuple[Release, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"ModelEntry.name: invalid model name {self.name!r}")
        if self.family not in FAMILIES:
            raise ValueError(f"ModelEntry.family: {self.family!r} is not one of {FAMILIES}")
        if self.runner not in tuple(Runner):
            raise ValueError(
                f"ModelEntry.runner: {self.runner!r} is not one of {[str(r) for r in Runner]}"
            )
        object.__setattr__(self, "runner", Runner(self.runner))
        if self.time_steps < 1:
            raise ValueError(f"ModelEntry.time_steps: must be >= 1, got {self.time_steps}")
        for module, spec in self.attention_operands.items():
            if len(spec) not in (2, 3) or spec[1] not in ("q", "k", "v", "attn"):
                raise ValueError(
                    f"ModelEntry.attention_operands[{module!r}]: expected "
                    f"(attention, operand in q/k/v/attn[, axes]), got {spec!r}"
                )
        object.__setattr__(
            self, "attention_operands", MappingProxyType(dict(self.attention_operands))
        )
        object.__setattr__(
            self,
            "attentions",
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.attentions.items()}),
        )
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        names = [r.name for r in self.releases]
        if len(set(names)) != len(names):
            raise ValueError(f"ModelEntry.releases: duplicate names {names}")
        object.__setattr__(self, "releases", tuple(self.releases))

    @property
    def trained(self) -> bool:
        """Whether a packaged checkpoint exists for this entry."""
        return self.checkpoint is not None


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register_model(entry: ModelEntry) -> ModelEntry:
    """Add ``entry`` to the registry (at import time of its family module).

    Raises:
        ValueError: a different entry with the same name is already registered.
    """
    known = _REGISTRY.get(entry.name)
    if known is not None and known is not entry:
        raise ValueError(f"model {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry
    return entry


ZOO = "prosparsity.models.zoo"
"""The package whose public modules are the model families."""


def _family_modules() -> list[str]:
    """Modules of the zoo that may register entries (those not starting with ``_``)."""
    zoo = importlib.import_module(ZOO)
    return [
        f"{ZOO}.{mod.name}"
        for mod in pkgutil.iter_modules(zoo.__path__)
        if not mod.name.startswith("_")
    ]


def _load_all() -> None:
    """Import every family module of the zoo so that all entries register."""
    global _loaded
    if _loaded:
        return
    for name in _family_modules():
        importlib.import_module(name)
    _loaded = True


def list_models() -> tuple[ModelEntry, ...]:
    """All registered models, sorted by family then name."""
    _load_all()
    return tuple(sorted(_REGISTRY.values(), key=lambda e: (FAMILIES.index(e.family), e.name)))


def catalog() -> tuple[ModelInfo, ...]:
    """The registered entries as plain data (:mod:`prosparsity.models.catalog`), sorted
    like :func:`list_models`, without importing any model family (nor torch)."""
    from prosparsity.models.catalog import CATALOG

    return CATALOG


def get_model(name: str) -> ModelEntry:
    """The entry called ``name``.

    Raises:
        HarnessError: unknown name; the message lists the known ones.
    """
    if name not in _REGISTRY and not _loaded:
        # the family that registers it, as the catalog knows it: import only that one
        info = next((m for m in catalog() if m.name == name), None)
        if info is not None:
            importlib.import_module(f"{ZOO}.{info.module}")
    if name not in _REGISTRY and not _loaded:
        # import family modules one at a time: capturing one model imports only what
        # it needs (and the modules before it), not every framework
        for module in _family_modules():
            importlib.import_module(module)
            if name in _REGISTRY:
                break
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(e.name for e in list_models())
        raise HarnessError(
            f"unknown model '{name}'. Known models: {known}. "
            "A model of your own: --model package.module:factory"
        ) from None
