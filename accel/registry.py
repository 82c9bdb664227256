"""The accelerator registry: the plugin protocol every accelerator model uses.

An accelerator is a name, a frozen config whose no-argument construction is its published
design, the statistics a config needs counted (:class:`~prosparsity.accel.base.Needs`) and
a pure pricing function ``simulate(stats, config) -> Breakdown | None``. Everything else
the harness needs to know about it is declared once, on its registration
(:func:`register`): how reports spell it, whether it is a cost model or a published
figure, whether it is a GPU (its figure is a latency, not cycles at a clock), which
figures it has (DRAM traffic, energy), whether throughput divides the shared operation
count by its latency.

Built-in models (``accel/*.py``) register when :mod:`prosparsity.accel.builtins` imports
them; third-party packages declare an entry point in the group ``prosparsity.accelerators``
whose target is a module that registers its models on import (or an
:class:`AcceleratorModel`, or a sequence of them). :func:`registry` imports both; a plugin
that fails to import is left out and recorded (:func:`plugin_errors`), so the others still
run. Nothing here prints: failures are recorded and reported through :mod:`warnings`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from prosparsity.core.errors import HarnessWarning
from prosparsity.core.version import TOOL, tool_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prosparsity.accel.base import Breakdown, Needs
    from prosparsity.analysis.network import Network
    from prosparsity.analysis.stats import ModelStats

__all__ = [
    "ENTRY_POINT_GROUP",
    "AcceleratorModel",
    "Claim",
    "Kind",
    "PluginError",
    "PricingFailure",
    "find",
    "plugin_errors",
    "register",
    "registry",
]

log = logging.getLogger(__name__)

#: The entry-point group third-party accelerator models are discovered in.
ENTRY_POINT_GROUP = "prosparsity.accelerators"
#: The distribution the built-in models belong to.
HOST_PACKAGE = TOOL


class Kind(StrEnum):
    """What an accelerator's figures are."""

    MODEL = "model"  # a cost model priced on counted statistics
    REPORTED = "reported"  # a figure published or measured for some workloads only


@dataclass(frozen=True)
class Claim:
    """A figure the accelerator's own publication claims, shown beside ours in the
    headline (``reproduce``).

    Attributes:
        comparison: ``speedup`` (latency(baseline) / latency) or ``energy_efficiency``
            (energy(baseline) / energy).
        value: the claimed ratio.
        baseline: the registry name of the accelerator it is over, or ``""`` when the
            publication does not name one (then it is a note, not a row).
        source: where it is claimed (paper, section or abstract).
    """

    comparison: str
    value: float
    baseline: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.comparison not in ("speedup", "energy_efficiency"):
            raise ValueError(f"claim comparison {self.comparison!r}: speedup or "
                             "energy_efficiency")


class SimulateFn(Protocol):
    """``simulate(stats, config) -> Breakdown | None``."""

    def __call__(self, stats: ModelStats, config: Any, /) -> Breakdown | None: ...


class NeedsFn(Protocol):
    """``needs(config) -> Needs``."""

    def __call__(self, config: Any, /) -> Needs: ...


class AppliesFn(Protocol):
    """``applies(network) -> None`` when the model prices this network, else why not."""

    def __call__(self, network: Network, /) -> str | None: ...


class CalibrateFn(Protocol):
    """``calibrate(config, stats) -> config``: the config fitted on the statistics of the
    samples it names (``config.calibration_samples``), held apart from the priced ones."""

    def __call__(self, config: Any, stats: Sequence[ModelStats], /) -> Any: ...


def _no_needs(config: Any) -> Needs:
    from prosparsity.accel.base import Needs

    return Needs()


@dataclass(frozen=True)
class AcceleratorModel:
    """One registered accelerator and every fact the harness knows about it.

    Attributes:
        name: registry name, what the CLI, sweep specs and the API take (``ptb``).
        simulate: ``simulate(stats, config) -> Breakdown | None``, pure; ``None`` means
            "no figure for this workload" (a reported figure on another workload).
        config_type: the frozen config dataclass; ``config_type()`` is the published
            design.
        needs_fn: ``config -> Needs``: what a config needs counted.
        display: how reports and the paper's tables spell it (``PTB``,
            ``Eyeriss_linear``); the registry name when not given.
        kind: a cost model, or a reported figure.
        gpu: a GPU: its figure is a latency; cycles at a clock of its own are no figure.
        dram: the model counts DRAM traffic (``None`` is shown for the others, not 0).
        energy_key: the accelerator's key in the paper's energy model
            (:mod:`prosparsity.accel.energy`), or ``None`` when its breakdown carries its
            own energy (the A100's measured power) or it has none.
        energy: whether it has an energy figure at all (default: it has an energy key).
        op_count: throughput and efficiency (GOP/s, GOP/J) divide the workload's shared
            operation count by its latency and energy (Stellar's paper counts its own).
        label: a caveat every report title carries beside the name (``first-order
            model, no reference simulator``), or ``""``.
        description: one line for ``prosparsity accelerators`` and ``--help``.
        applies: ``network -> None`` when the model prices that network, else one line
            saying why not (Bishop: spiking transformers only); ``None``: every network.
            A model that does not apply is skipped with that reason, never priced.
        calibrate: ``(config, stats) -> config`` for a model whose config is fitted on
            samples held apart from the priced ones (Phi's patterns): its config has a
            field ``calibration_samples`` naming them; on a trace of several samples the
            front door counts those once with the others, fits the config on their
            statistics and prices the other samples only (``None``: no calibration).
        package: the distribution that registered it.
        version: that distribution's version (``""`` for the host's built-ins).
        claims: what its own publication claims (:class:`Claim`): the headline shows
            each beside our number over the same baseline.
        entry_point: the entry point it was loaded through (``""``: registered by the
            host's own import); such a model is a plugin: its pricing errors are its own
            (:class:`PricingFailure`), never the run's.
    """

    name: str
    simulate: SimulateFn
    config_type: type
    needs_fn: NeedsFn = _no_needs
    display: str = ""
    kind: Kind = Kind.MODEL
    gpu: bool = False
    dram: bool = False
    energy_key: str | None = None
    energy: bool | None = None
    op_count: bool = True
    label: str = ""
    description: str = ""
    applies: AppliesFn | None = None
    calibrate: CalibrateFn | None = None
    claims: tuple[Claim, ...] = ()
    package: str = HOST_PACKAGE
    version: str = ""
    entry_point: str = ""

    def __post_init__(self) -> None:
        if self.energy is None:
            object.__setattr__(self, "energy", self.energy_key is not None)
        if not self.name or self.name != self.name.strip().lower() or " " in self.name:
            raise ValueError(f"accelerator name {self.name!r}: lower case, no spaces")
        if not self.display:
            object.__setattr__(self, "display", self.name)
        object.__setattr__(self, "kind", Kind(self.kind))

    @property
    def reported(self) -> bool:
        """A published or measured figure, not a model."""
        return self.kind is Kind.REPORTED

    @property
    def cycles(self) -> bool:
        """Whether its cycle count is a figure (a cost model of an accelerator at its
        clock; not a GPU, not a reported latency)."""
        return not (self.gpu or self.reported)

    @property
    def figures(self) -> tuple[str, ...]:
        """The figures it has: ``latency`` always, then ``cycles``, ``dram_bits``,
        ``energy_mj`` as declared."""
        return ("latency_s", *(name for name, has in (
            ("total_cycles", self.cycles), ("dram_bits", self.dram),
            ("energy_mj", self.energy)) if has))

    @property
    def title(self) -> str:
        """The display name with its caveat, for report titles and tables."""
        return f"{self.display} ({self.label})" if self.label else self.display

    @property
    def plugin(self) -> bool:
        """Loaded through an entry point (a third party's, or one the host declares)."""
        return bool(self.entry_point)

    @property
    def package_version(self) -> str:
        """The version of :attr:`package`: :attr:`version`, or for the host's built-ins
        (registered with none) the installed harness's."""
        if self.version or self.package != HOST_PACKAGE:
            return self.version
        return tool_version()

    @property
    def origin(self) -> str:
        """``package version``."""
        return f"{self.package} {self.package_version}".strip()

    def default_config(self) -> Any:
        """The published design's configuration."""
        return self.config_type()

    def why_not(self, network: Network | None) -> str | None:
        """Why this model has no figure for ``network`` (its ``applies`` fact), or
        ``None`` when it applies (also when the network is not known)."""
        if self.applies is None or network is None:
            return None
        return self.applies(network)

    def to_json(self) -> dict[str, Any]:
        """The model's facts as ``accelerators --json`` lists them and every ``simulate
        --json`` entry names its model: ``name``, ``display``, ``kind``, ``gpu``,
        ``figures``, ``package``, ``version``, ``label``, ``description``, ``plugin``."""
        return {"name": self.name, "display": self.display, "kind": str(self.kind),
                "gpu": self.gpu, "figures": list(self.figures), "package": self.package,
                "version": self.package_version, "label": self.label,
                "description": self.description, "plugin": self.plugin}

    def needs(self, config: Any | None = None) -> Needs:
        """What ``config`` (default: the published design) needs counted; the classes of
        its counters are registered (:func:`~prosparsity.analysis.counters.register_counter`),
        so statistics holding their results read back (a sweep's cache)."""
        needs = self.needs_fn(self.default_config() if config is None else config)
        if needs.counters:
            from prosparsity.analysis.counters import register_counter

            for counter in needs.counters:
                register_counter(type(counter))
        return needs


@dataclass(frozen=True)
class PricingFailure:
    """A plugin's pricing that raised: its result is this line, and the other
    accelerators of the run are priced as usual.

    Attributes:
        name: the accelerator's registry name.
        package: its distribution (``name version``).
        workload: what it was pricing.
        error: the exception, ``Type: message``.
    """

    name: str
    package: str
    workload: str
    error: str

    @property
    def message(self) -> str:
        """One line naming the plugin, its package, the workload and the error."""
        return (f"accelerator plugin {self.name!r} ({self.package}) failed to price "
                f"{self.workload}: {self.error}")

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be loaded or registered.

    Attributes:
        entry_point: the entry point's name.
        package: its distribution (``name version``).
        problem: what went wrong, one line.
    """

    entry_point: str
    package: str
    problem: str

    def __str__(self) -> str:
        return (f"accelerator plugin {self.entry_point!r} of {self.package} not loaded: "
                f"{self.problem}")


_REGISTRY: dict[str, AcceleratorModel] = {}
_ERRORS: list[PluginError] = []
_state = {"loaded": False}
_origin: dict[str, str] = {}  # set while an entry point loads: package, version, name


def register(
    name: str,
    *,
    config_type: type,
    needs: NeedsFn | None = None,
    display: str = "",
    kind: Kind | str = Kind.MODEL,
    gpu: bool = False,
    dram: bool = False,
    energy_key: str | None = None,
    energy: bool | None = None,
    op_count: bool = True,
    label: str = "",
    description: str = "",
    applies: AppliesFn | None = None,
    calibrate: CalibrateFn | None = None,
    claims: tuple[Claim, ...] = (),
) -> Callable[[Any], Any]:
    """Decorator registering an accelerator's ``simulate`` function with its facts.

    Usage::

        @register("ptb", config_type=PTBConfig, needs=needs, display="PTB", dram=True,
                  energy_key="PTB")
        def simulate(stats: ModelStats, config: PTBConfig | None = None) -> Breakdown: ...

    The function is returned unchanged, so it stays directly callable. The arguments
    are :class:`AcceleratorModel`'s attributes; the description defaults to the first
    line of the function's docstring.

    Raises:
        ValueError: a name registered twice, or a bad name.
    """

    def deco(fn: Any) -> Any:
        doc = (fn.__doc__ or "").strip().splitlines()
        model = AcceleratorModel(
            name=name, simulate=fn, config_type=config_type, needs_fn=needs or _no_needs,
            display=display, kind=Kind(kind), gpu=gpu, dram=dram, energy_key=energy_key,
            energy=energy, op_count=op_count, label=label,
            description=description or (doc[0] if doc else ""), applies=applies,
            calibrate=calibrate, claims=tuple(claims),
            package=_origin.get("package", HOST_PACKAGE),
            version=_origin.get("version", ""), entry_point=_origin.get("entry_point", ""),
        )  # fmt: skip
        _add(model)
        return fn

    return deco


def _add(model: AcceleratorModel) -> None:
    known = _REGISTRY.get(model.name)
    if known is not None and known.simulate is not model.simulate:
        raise ValueError(f"accelerator {model.name!r} registered twice ({known.package} "
                         f"and {model.package})")
    _REGISTRY[model.name] = model


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        package = dist.name if dist is not None else ep.value.split(":")[0]
        version = dist.version if dist is not None else ""
        before = set(_REGISTRY)
        _origin.update(package=package, version=version, entry_point=ep.name)
        try:
            loaded = ep.load()
            models: Iterable[Any] = ()
            if isinstance(loaded, AcceleratorModel):
                models = (loaded,)
            elif isinstance(loaded, list | tuple):
                models = loaded
            elif isinstance(loaded, ModuleType):  # registered on import; or imported before
                models = [m for m in _REGISTRY.values() if not m.entry_point and _within(
                    getattr(m.simulate, "__module__", ""), loaded.__name__)]
            for model in models:
                if not isinstance(model, AcceleratorModel):
                    raise TypeError(f"{ep.value} holds a {type(model).__name__}, not an "
                                    "AcceleratorModel")
                _add(replace(model, package=package, version=version,
                             entry_point=ep.name))
        except Exception as exc:  # a plugin's failure is its own
            for name in set(_REGISTRY) - before:
                del _REGISTRY[name]
            error = PluginError(ep.name, f"{package} {version}".strip(),
                                f"{type(exc).__name__}: {exc}")
            _ERRORS.append(error)
            warnings.warn(str(error), HarnessWarning, stacklevel=3)
        finally:
            _origin.clear()


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _load() -> None:
    if _state["loaded"]:
        return
    _state["loaded"] = True
    import prosparsity.accel.builtins  # noqa: F401  (imports, so registers, the built-ins)

    _load_entry_points()


def registry() -> Mapping[str, AcceleratorModel]:
    """Name -> registered accelerator: the built-ins in the paper's order
    (:data:`prosparsity.accel.builtins.MODULES`), then the installed plugins by package
    and name."""
    _load()
    from prosparsity.accel.builtins import MODULES

    rank = {f"{__package__}.{m}": i for i, m in enumerate(MODULES)}
    seq = {name: i for i, name in enumerate(_REGISTRY)}

    def key(model: AcceleratorModel) -> tuple[int, int, str, int]:
        module = getattr(model.simulate, "__module__", "")
        if model.package == HOST_PACKAGE and module in rank:
            return (0, rank[module], "", seq[model.name])
        return (1, 0, f"{model.package}/{model.name}", 0)

    return {m.name: m for m in sorted(_REGISTRY.values(), key=key)}


def find(name: str) -> AcceleratorModel | None:
    """The accelerator a registry name or a display spelling names (case-insensitive,
    ``_`` and ``-`` alike), or ``None``."""

    def norm(text: str) -> str:
        return text.strip().lower().replace("_", "-")

    wanted = norm(name)
    for model in registry().values():
        if wanted in (model.name, norm(model.display)):
            return model
    return None


def plugin_errors() -> tuple[PluginError, ...]:
    """The plugins that could not be loaded (each also reported once as a warning)."""
    _load()
    return tuple(_ERRORS)

