"""Framework adapters: which modules of a network are spiking neurons, and how it runs.

The capture engine (:mod:`prosparsity.models.engine`) knows nothing of spiking
libraries. Everything framework-specific sits behind the small
:class:`NeuronAdapter` protocol, one adapter per framework, registered with
:func:`register_adapter`:

* ``spikingjelly``: every ``neuron.BaseNode`` (IF, LIF, PLIF, ...). Its ``step_mode``
  decides the runner (``"m"``: multi-step, ``"s"``: the model loops over T); modules
  inside ``SeqToANNContainer`` see the folded batch ``[T*B, ...]``.
* ``snntorch``: every spiking neuron class snntorch ships: the ``SpikingNeuron``
  family (``Leaky``, ``Synaptic``, ``Alpha``, ``Lapicque``, ``RLeaky``, ``RSynaptic``,
  ``SLSTM``, ``SConv2dLSTM``, ...; one time step per call, the model loops over T)
  and the sequence neurons that take all T steps in one call (``StateLeaky``,
  ``LinearLeaky``, ``AssociativeLeaky``, ``LeakyParallel``; multi-step).
* ``torch``: plain-PyTorch neurons that carry a true class attribute
  ``prosparsity_neuron`` (optionally ``prosparsity_runner = "loop"`` or ``"multi"``),
  and spike encoders marked ``prosparsity_encoder``.

Encoders (spikingjelly's surrogate spike functions used as a Heaviside encoder, as
SpikeBERT does) make spikes without being neuron layers: they get no ``lif`` record,
but the GEMMs they feed count as fed by a neuron.
* ``user``: classes named on the command line (``--neuron pkg.mod:Class``), see
  :func:`user_adapter`.

An adapter never imports its framework: a model built on spikingjelly or snntorch has
imported it already, so the adapter looks the classes up in ``sys.modules``.
:func:`resolve_neurons` walks a model once and returns the :class:`NeuronMap` the
engine uses (module name -> adapter) and the runner the frameworks imply.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.registry import Runner

__all__ = [
    "NeuronAdapter",
    "NeuronMap",
    "adapters",
    "ClassLoadError",
    "load_class",
    "register_adapter",
    "reset_states",
    "resolve_neurons",
    "user_adapter",
]


@runtime_checkable
class NeuronAdapter(Protocol):
    """What the capture engine needs to know about one spiking framework.

    Attributes:
        name: the framework's name, as printed in capture summaries.
    """

    name: str

    def is_neuron(self, module: nn.Module) -> bool:
        """Whether ``module`` is a spiking neuron layer of this framework."""
        ...

    def runner(self, module: nn.Module) -> Runner | None:
        """How a network made of this neuron consumes time (``None``: no opinion)."""
        ...

    def spikes(self, output: Any) -> Any:
        """The output spike tensor of a neuron call (its forward's return value)."""
        ...

    def reset(self, module: nn.Module) -> None:
        """Clear the neuron's state before a new input."""
        ...

    def folded(self, module: nn.Module) -> bool:
        """Whether ``module``'s submodules see the time-folded batch ``[T*B, ...]``."""
        ...

    def is_encoder(self, module: nn.Module) -> bool:
        """Whether ``module`` turns values into spikes without being a neuron layer (a
        stateless Heaviside / surrogate spike function: no membrane, no LIF cost)."""
        ...


_ADAPTERS: dict[str, NeuronAdapter] = {}


def register_adapter(adapter: NeuronAdapter) -> NeuronAdapter:
    """Add a framework adapter (at import time); later registrations are consulted later.

    Raises:
        ValueError: another adapter already uses that name.
    """
    known = _ADAPTERS.get(adapter.name)
    if known is not None and known is not adapter:
        raise ValueError(f"neuron adapter {adapter.name!r} is registered twice")
    _ADAPTERS[adapter.name] = adapter
    return adapter


def adapters() -> tuple[NeuronAdapter, ...]:
    """The registered adapters, in registration order."""
    return tuple(_ADAPTERS.values())


def _first(output: Any) -> Any:
    """The spikes of a neuron call: the output, or its first element (``(spk, mem)``)."""
    if isinstance(output, tuple | list) and output:
        return output[0]
    return output


def _loaded(module: str, *names: str) -> tuple[type, ...]:
    """Classes of an already imported framework module (empty if it is not imported)."""
    mod = sys.modules.get(module)
    if mod is None:
        return ()
    return tuple(c for c in (getattr(mod, n, None) for n in names) if isinstance(c, type))


class _SpikingJelly:
    """spikingjelly.activation_based: ``neuron.BaseNode`` and its step modes."""

    name = "spikingjelly"

    def is_neuron(self, module: nn.Module) -> bool:
        base = _loaded("spikingjelly.activation_based.neuron", "BaseNode")
        return bool(base) and isinstance(module, base)

    def runner(self, module: nn.Module) -> Runner | None:
        return Runner.LOOP if getattr(module, "step_mode", "s") == "s" else Runner.MULTI

    def spikes(self, output: Any) -> Any:
        return _first(output)

    def reset(self, module: nn.Module) -> None:
        module.reset()

    def folded(self, module: nn.Module) -> bool:
        container = _loaded("spikingjelly.activation_based.layer", "SeqToANNContainer")
        return bool(container) and isinstance(module, container)

    def is_encoder(self, module: nn.Module) -> bool:
        base = _loaded("spikingjelly.activation_based.surrogate", "SurrogateFunctionBase")
        return bool(base) and isinstance(module, base)


# snntorch neurons that take all T steps in one call ([T, B, ...]); the others take one.
_SNNTORCH_SEQUENCE = ("StateLeaky", "LinearLeaky", "AssociativeLeaky", "LeakyParallel")


class _SnnTorch:
    """snntorch: the ``SpikingNeuron`` family and the sequence neurons."""

    name = "snntorch"

    def _classes(self) -> tuple[type, ...]:
        return _loaded("snntorch", "SpikingNeuron", *_SNNTORCH_SEQUENCE)

    def is_neuron(self, module: nn.Module) -> bool:
        classes = self._classes()
        return bool(classes) and isinstance(module, classes)

    def runner(self, module: nn.Module) -> Runner | None:
        sequence = _loaded("snntorch", *_SNNTORCH_SEQUENCE)
        return Runner.MULTI if sequence and isinstance(module, sequence) else Runner.LOOP

    def spikes(self, output: Any) -> Any:
        return _first(output)

    def reset(self, module: nn.Module) -> None:
        reset_mem = getattr(module, "reset_mem", None)
        if callable(reset_mem):
            reset_mem()

    def folded(self, module: nn.Module) -> bool:
        return False

    def is_encoder(self, module: nn.Module) -> bool:
        return False


class _PlainTorch:
    """Plain-PyTorch neurons marked with a true class attribute ``prosparsity_neuron``."""

    name = "torch"

    def is_neuron(self, module: nn.Module) -> bool:
        return bool(getattr(module, "prosparsity_neuron", False))

    def runner(self, module: nn.Module) -> Runner | None:
        hint = getattr(module, "prosparsity_runner", None)
        return Runner(hint) if hint in tuple(Runner) else None

    def spikes(self, output: Any) -> Any:
        return _first(output)

    def reset(self, module: nn.Module) -> None:
        reset = getattr(module, "reset", None)
        if callable(reset):
            reset()

    def folded(self, module: nn.Module) -> bool:
        return False

    def is_encoder(self, module: nn.Module) -> bool:
        return bool(getattr(module, "prosparsity_encoder", False))


@dataclass(frozen=True)
class _UserClasses:
    """Neuron classes named by the user (``--neuron pkg.mod:Class``)."""

    classes: tuple[type, ...]
    name: str = "user"

    def is_neuron(self, module: nn.Module) -> bool:
        return isinstance(module, self.classes)

    def runner(self, module: nn.Module) -> Runner | None:
        return _PlainTorch().runner(module)

    def spikes(self, output: Any) -> Any:
        return _first(output)

    def reset(self, module: nn.Module) -> None:
        _PlainTorch().reset(module)

    def folded(self, module: nn.Module) -> bool:
        return False

    def is_encoder(self, module: nn.Module) -> bool:
        return False


for _adapter in (_SpikingJelly(), _SnnTorch(), _PlainTorch()):
    register_adapter(_adapter)


class ClassLoadError(HarnessError):
    """:func:`load_class` failed: ``problem`` says why, without the spec in front (so a
    caller can name the spec its own way)."""

    def __init__(self, what: str, spec: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{what} '{spec}': {problem}")


def load_class(spec: str, what: str = "neuron class") -> type:
    """Import ``package.module:Class`` (the current directory is on the path).

    Raises:
        ClassLoadError: malformed spec, import failure, or not a class.
    """
    from prosparsity.models.user import cwd_on_path

    module_name, sep, attr = spec.partition(":")
    if (
        not sep
        or not module_name
        or not attr
        or not all(p.isidentifier() for p in module_name.split(".") + attr.split("."))
    ):
        raise ClassLoadError(what, spec, "expected package.module:Class")
    try:
        with cwd_on_path():
            obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ClassLoadError(what, spec, f"cannot import '{module_name}': {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ClassLoadError(what, spec, f"'{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    if not isinstance(obj, type) or not issubclass(obj, nn.Module):
        raise ClassLoadError(what, spec, f"'{attr}' is not a torch.nn.Module class")
    return obj


def user_adapter(classes: Iterable[type]) -> NeuronAdapter | None:
    """An adapter recognising the given classes (``None`` when there are none)."""
    classes = tuple(classes)
    return _UserClasses(classes) if classes else None


@dataclass(frozen=True)
class NeuronMap:
    """The spiking neurons of one model, as the adapters see them.

    Attributes:
        neurons: module name -> the adapter that recognised it, in module order.
        encoders: names of spike-encoding modules (no neuron layers).
        folded: names of modules that see the time-folded batch ``[T*B, ...]``.
        runner: the runner the neurons' frameworks imply (``None``: no neuron has an
            opinion, e.g. only plain-PyTorch neurons or none at all).
        frameworks: framework name -> neuron layers found.
    """

    neurons: Mapping[str, NeuronAdapter] = field(default_factory=dict)
    encoders: frozenset[str] = frozenset()
    folded: frozenset[str] = frozenset()
    runner: Runner | None = None
    frameworks: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "neurons", MappingProxyType(dict(self.neurons)))
        object.__setattr__(self, "frameworks", MappingProxyType(dict(self.frameworks)))


def resolve_neurons(model: nn.Module, extra: Iterable[type] = ()) -> NeuronMap:
    """Find the neurons of ``model`` and the runner they imply.

    Args:
        model: the network.
        extra: user neuron classes (``--neuron``), consulted before the frameworks.

    Raises:
        HarnessError: neurons of different frameworks disagree on the runner.
    """
    chain: list[NeuronAdapter] = []
    user = user_adapter(extra)
    if user is not None:
        chain.append(user)
    chain.extend(adapters())
    neurons: dict[str, NeuronAdapter] = {}
    runners: dict[Runner, str] = {}
    counts: dict[str, int] = {}
    folded: set[str] = set()
    encoders: set[str] = set()
    for name, module in model.named_modules():
        if any(name.startswith(f"{n}.") for n in neurons):
            continue  # modules inside a neuron (snntorch's SLSTM cells) are its own business
        for adapter in chain:
            if adapter.folded(module):
                folded.update(
                    f"{name}.{sub}" if name else sub for sub, _ in module.named_modules() if sub
                )
            if adapter.is_encoder(module):
                encoders.add(name)
                break
            if adapter.is_neuron(module):
                neurons[name] = adapter
                counts[adapter.name] = counts.get(adapter.name, 0) + 1
                hint = adapter.runner(module)
                if hint is not None:
                    runners.setdefault(
                        hint,
                        f"{name or type(module).__name__} ({adapter.name} {type(module).__name__})",
                    )
                break
    if len(runners) > 1:
        detail = " and ".join(f"{who} wants '{r}'" for r, who in runners.items())
        raise HarnessError(
            f"the model's neurons disagree on how time is run: {detail}; "
            "choose the runner explicitly"
        )
    runner = next(iter(runners)) if runners else None
    return NeuronMap(neurons, frozenset(encoders), frozenset(folded), runner, counts)


def reset_states(model: nn.Module, neurons: NeuronMap | None = None) -> None:
    """Reset the state of every stateful module before a new input.

    Neurons are reset by their adapter; spikingjelly memory modules that are no
    neurons (e.g. ``layer.*`` with state) through ``reset()``.
    """
    neurons = neurons if neurons is not None else resolve_neurons(model)
    memory = _loaded("spikingjelly.activation_based.base", "MemoryModule")
    for name, module in model.named_modules():
        adapter = neurons.neurons.get(name)
        if adapter is not None:
            adapter.reset(module)
        elif memory and isinstance(module, memory):
            module.reset()
        elif callable(getattr(module, "reset_mem", None)):
            module.reset_mem()
