"""Model set-up for a capture: build the network, load its weights, make its input.

:func:`prepare_capture` turns what a user names (a registry model, a factory
``package.module:factory``, or a NIR graph; a checkpoint; an input file; T; a layout; a
runner; extra neuron classes) into a :class:`PreparedCapture`: the network with its
weights, the input batch, the :class:`~prosparsity.models.engine.CaptureConfig` and the
trace's file attributes. Nothing runs the network here.

Errors are :class:`SetupError`\\ s: they name the parameter in the API's words
(``input file``, ``layout``, ``time steps``). The CLI renders the same error with its
option names (``--input``, ``--layout``, ``-T``) through :meth:`SetupError.render`.

Layout. A time-major input is ``[T, B, ...]`` (``TB``) or ``[B, T, ...]`` (``BT``). The
default is what the model's framework expects (``TB`` for spikingjelly, snntorch and
plain-PyTorch models and for the registry). T is checked against the input: a shape
whose time axis under the chosen layout is not T is an error naming both readings,
and so is a shape that fits T under both layouts (``[4, 4, ...]`` with T = 4) when
the layout was not stated. Without a known T (a factory that takes no ``time_steps``
and no ``time_steps`` given) the layout must be stated. Registry models take ``TB``;
a ``BT`` input file is transposed for them. A user factory gets the input unchanged; the
layout describes only the input file: what each layer sees is observed by the capture's
probe pass (:mod:`prosparsity.models.engine.layout`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch
from torch import nn

from prosparsity.core.errors import HarnessError
from prosparsity.models.adapters import ClassLoadError, load_class, resolve_neurons
from prosparsity.models.engine import CaptureConfig, Layout
from prosparsity.models.registry import ModelEntry, Runner
from prosparsity.traces.schema import TraceInfo

__all__ = [
    "API_WORDS",
    "NetworkSource",
    "PreparedCapture",
    "SetupError",
    "check_finite",
    "check_output_path",
    "esc",
    "prepare_capture",
    "read_layout",
    "resolve_device",
]

log = logging.getLogger(__name__)

API_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "model": "model factory",
        "name": "model",
        "nir": "NIR graph",
        "input": "input file",
        "checkpoint": "checkpoint",
        "samples": "samples",
        "time_steps": "time steps",
        "out": "output",
        "layout": "layout",
        "runner": "runner",
        "neuron": "neuron class",
        "release": "release",
        "device": "device",
        "nir_reset": "NIR reset",
    }
)
"""How :class:`SetupError` names each parameter outside the CLI."""

class SetupError(HarnessError):
    """A capture cannot be set up: a model, input, weight or option problem.

    Args:
        param: the parameter at fault (a key of :data:`API_WORDS`).
        subject: what was given (quoted model spec, path, value), or ``""``.
        problem: the text; ``{input}``, ``{layout}``... name other parameters.
    """

    def __init__(self, param: str, subject: str, problem: str) -> None:
        self.param = param
        self.subject = subject
        self.problem = problem
        super().__init__(self.render(API_WORDS))

    def render(self, words: Mapping[str, str]) -> str:
        """The message with parameters named by ``words`` (falling back to the API's)."""
        names = {k: words.get(k, v) for k, v in API_WORDS.items()}
        head = names[self.param] + (f" {self.subject}" if self.subject else "")
        return f"{head}: {self.problem.format(**names)}"


@dataclass(frozen=True)
class PreparedCapture:
    """A network ready to be captured.

    Attributes:
        net: the network, weights loaded.
        inputs: the whole input batch (batch axis ``config.input_batch_axis``).
        config: how the engine reads the network's calls.
        info: file attributes of the trace to write.
        source: how errors name the input, a :class:`SetupError` problem fragment
            (``"{input} x.pt"`` or ``"its input"``).
        family: the model family.
        notes: what the set-up assumed that changes the numbers (a NIR graph's reset),
            for the capture to warn about.
    """

    net: nn.Module
    inputs: torch.Tensor
    config: CaptureConfig
    info: TraceInfo
    source: str
    family: str
    notes: tuple[str, ...] = ()


def check_output_path(out: str | Path, sources: Mapping[str, str | Path | None] = {}) -> Path:
    """Refuse an output path that cannot become a trace, before anything runs.

    The checks are :func:`prosparsity.core.atomic.check_output_path`'s (empty, a
    directory, under a file, a name too long for the file system), plus: the output
    must not be one of the files the capture reads.

    Args:
        out: the trace to write.
        sources: parameter -> file read by the capture (input, checkpoint, NIR graph).

    Raises:
        SetupError: naming the output.
    """
    from prosparsity.core.atomic import check_output_path as check_target
    from prosparsity.core.errors import WriteError

    try:
        path = check_target(out, "trace")
    except WriteError as exc:
        raise SetupError("out", exc.path, esc(exc.problem)) from None
    for param, given in sources.items():
        if given is not None and Path(given).resolve() == path.resolve():
            raise SetupError(
                "out", str(out), f"would overwrite the {{{param}}} file; choose another"
            )
    return path


def check_finite(tensor: torch.Tensor, param: str, subject: str) -> None:
    """Refuse NaN or infinite values in an input batch (checked in slices, so the check
    costs no copy of the input's size).

    Raises:
        SetupError: naming how many values and the first index.
    """
    if not tensor.is_floating_point() or tensor.numel() == 0:
        return
    flat = tensor.reshape(-1)
    step = 1 << 20
    bad_count, first = 0, -1
    for start in range(0, flat.numel(), step):
        bad = ~torch.isfinite(flat[start : start + step])
        n = int(bad.sum())
        if n and first < 0:
            first = start + int(torch.nonzero(bad)[0])
        bad_count += n
    if bad_count:
        index = tuple(int(i) for i in np.unravel_index(first, tuple(tensor.shape)))
        raise SetupError(
            param,
            subject,
            f"holds {bad_count} NaN or infinite value(s) (first at index {index})",
        )


def read_layout(
    shape: Sequence[int],
    layout: Layout | str | None,
    time_steps: int | None,
    *,
    default: Layout = Layout.TB,
    framework: str = "",
    subject: str = "",
) -> tuple[Layout, int]:
    """Decide how a time-major input is laid out and what its T is.

    Args:
        shape: the input's shape (at least two axes).
        layout: the stated layout, or ``None`` for the framework's ``default``.
        time_steps: the T the model runs at, or ``None`` when unknown.
        default: the layout the model's framework expects.
        framework: how to name the default's origin in messages.
        subject: how to name the input in messages.

    Returns:
        ``(layout, T)``.

    Raises:
        SetupError: a contradicting or ambiguous shape (the message names both
            readings), or an input without two leading axes.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise SetupError(
            "input",
            subject,
            f"shape {shape} has no time and batch axes ([T, B, ...] or [B, T, ...])",
        )
    readings = {Layout.TB: (shape[0], shape[1]), Layout.BT: (shape[1], shape[0])}

    def both() -> str:
        return "; ".join(f"as {lay}: T={t}, B={b}" for lay, (t, b) in readings.items())

    stated = Layout(layout) if layout is not None else None
    if stated is not None:
        t, _ = readings[stated]
        if time_steps is not None and t != time_steps:
            other = Layout.BT if stated is Layout.TB else Layout.TB
            fits = readings[other][0] == time_steps
            hint = f"; it is {other} ({{layout}} {other})" if fits else ""
            raise SetupError(
                "layout",
                str(stated),
                f"the input of shape {shape} read as {stated} has T={t}, but the model runs "
                f"at T={time_steps} ({{time_steps}}) ({both()}){hint}",
            )
        return stated, time_steps if time_steps is not None else t
    origin = f"the default for {framework} models" if framework else "the default"
    if time_steps is None:
        raise SetupError(
            "layout",
            "",
            f"the input of shape {shape} can be read two ways ({both()}) and T is not known: "
            "state {layout} or {time_steps}",
        )
    fits = [lay for lay, (t, _) in readings.items() if t == time_steps]
    if fits == [default]:
        return default, time_steps
    if len(fits) == 2 and readings[Layout.TB] == readings[Layout.BT]:
        # [T, T, ...]: both readings give T=B=T, but the data differ: say which
        raise SetupError(
            "layout",
            "",
            f"the input of shape {shape} is ambiguous: T={time_steps} fits both readings "
            f"({both()}), whose samples differ; state {{layout}} TB or BT",
        )
    if fits:
        raise SetupError(
            "layout",
            "",
            f"the input of shape {shape} does not fit T={time_steps} as {default} ({origin}): "
            f"{both()}; if it is batch-first, state {{layout}} {fits[0]}",
        )
    raise SetupError(
        "time_steps",
        str(time_steps),
        f"the input of shape {shape} has no axis of T={time_steps} ({both()})",
    )


def _neuron_classes(specs: Sequence[str]) -> tuple[type, ...]:
    classes = []
    for spec in specs:
        try:
            classes.append(load_class(spec))
        except ClassLoadError as exc:
            raise SetupError("neuron", f"'{spec}'", esc(exc.problem)) from None
    return tuple(classes)


def _runner_of(
    net: nn.Module, classes: tuple[type, ...], runner: str | None, label: str
) -> tuple[Runner, dict[str, int]]:
    """The runner given, else the one the model's neuron frameworks imply (multi)."""
    try:
        found = resolve_neurons(net, classes)
    except HarnessError as exc:
        if runner is None:
            raise SetupError(
                "name", label, f"{esc(exc)} ({{runner}} multi, loop or step)"
            ) from None
        return Runner(runner), {}
    if runner is not None:
        return Runner(runner), dict(found.frameworks)
    return found.runner or Runner.MULTI, dict(found.frameworks)


@dataclass(frozen=True)
class NetworkSource:
    """A network built by other means than the registry or a factory (a NIR graph).

    Attributes:
        name: the trace's model name.
        family: the trace's model family.
        build: ``build(time_steps, layout) -> nn.Module``.
        param: how errors name it (a key of :data:`API_WORDS`).
        label: what was given (a path), for messages and the output-path check.
        runner: the runner its modules need (``None``: from its neurons).
        framework: how layout messages name its convention.
        notes: what building it assumed that changes the numbers (warned at capture).
        extra: further ``TraceInfo.extra`` entries of its traces.
    """

    name: str
    family: str
    build: Callable[[int, Layout], nn.Module]
    param: str = "model"
    label: str = ""
    runner: Runner | None = None
    framework: str = ""
    notes: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


def prepare_capture(
    model: str | NetworkSource | None,
    *,
    checkpoint: str | Path | None = None,
    input_path: str | Path | None = None,
    samples: int | None = None,
    time_steps: int | None = None,
    random_weights: bool = False,
    runner: str | None = None,
    seed: int = 0,
    layout: Layout | str | None = None,
    neurons: Sequence[str] = (),
    release: str | None = None,
) -> PreparedCapture:
    """Build the network, load its weights, make or read its input.

    Args:
        model: a registry name, a factory ``package.module:factory``, or a
            :class:`NetworkSource` (e.g. a NIR graph's).
        checkpoint: weights to load (default: the entry's packaged checkpoint, if any).
        input_path: input tensor file (``.pt``/``.npy``); required for factories and
            network sources; default for registry models: the entry's offline input.
        samples: number of samples (default 1, or the whole input file).
        time_steps: T (default: the entry's, the factory's ``time_steps`` default, or
            the input's time axis under a stated layout).
        random_weights: ignore the packaged checkpoint.
        runner: ``multi`` or ``loop`` (default: the framework's).
        seed: seed of the random initialisation and of random default inputs.
        layout: the input's axis order, ``TB`` or ``BT`` (default: the framework's).
        neurons: further neuron classes, ``package.module:Class``.
        release: the published checkpoint layout to read the checkpoint as (a registry
            model's ``releases``, or ``native``); default: the one its keys are in
            (:func:`prosparsity.models.releases.load_weights`).

    Raises:
        SetupError, CheckpointError, HarnessError: what cannot be set up, by parameter.
    """
    from prosparsity.models.checkpoint import LoadedCheckpoint, load_checkpoint, packaged_checkpoint
    from prosparsity.models.releases import load_weights, release_extra
    from prosparsity.models.user import load_input_tensor

    if samples is not None and samples < 1:
        raise SetupError("samples", str(samples), "must be >= 1")
    if time_steps is not None and time_steps < 1:
        raise SetupError("time_steps", str(time_steps), "must be >= 1")
    if layout is not None and layout not in tuple(Layout):
        raise SetupError("layout", repr(layout), "is not one of TB, BT")
    if runner is not None and runner not in tuple(Runner):
        raise SetupError("runner", repr(runner), "is not one of multi, loop, step")
    classes = _neuron_classes(neurons)
    if release is not None and checkpoint is None:
        raise SetupError("release", release, "names the layout of a {checkpoint}: give one")
    notes: tuple[str, ...] = ()
    torch.manual_seed(seed)
    extra: dict[str, str] = {"seed": str(seed)}
    source = f"{{input}} {esc(input_path)}" if input_path is not None else "its input"
    ckpt = Path(checkpoint) if checkpoint is not None else None
    loaded: LoadedCheckpoint | None = None
    weights_of: ModelEntry | None = None  # a registry model, built once its input is read
    if isinstance(model, NetworkSource) or (model is not None and ":" in model):
        factory_steps = None
        if isinstance(model, NetworkSource):
            param, label, framework = model.param, model.label or model.name, model.framework
        else:
            from prosparsity.models.user import factory_time_steps

            param, label, framework = "model", model, ""
            # a malformed spec or an unusable factory is the first thing to report
            factory_steps = factory_time_steps(model)
        if input_path is None:
            raise SetupError(param, f"'{label}'",
                             "a user model needs {input} (a .pt, .npy or .safetensors)")
        if release is not None:
            raise SetupError("release", release, "applies to registry models only")
        inputs = load_input_tensor(input_path)
        check_finite(inputs, "input", str(input_path))
        known = time_steps if time_steps is not None else factory_steps
        lay, t = read_layout(
            inputs.shape, layout, known, framework=framework, subject=str(input_path)
        )
        if isinstance(model, NetworkSource):
            net = model.build(t, lay)
            name, family = model.name, model.family
            notes = model.notes
            extra.update(model.extra)
            if runner is None and model.runner is not None:
                runner = str(model.runner)
        else:
            from prosparsity.models.user import build_user_model

            net = build_user_model(model, t)
            name, family = model, "user"
        run, frameworks = _runner_of(net, classes, runner, f"'{label}'")
        cfg = CaptureConfig(
            time_steps=t,
            runner=run,
            input_batch_axis=1 if lay is Layout.TB else 0,
            layout=lay,
            neuron_classes=classes,
        )
        dataset = f"input file {Path(input_path).name}"
        default_weights = "unknown"
    else:
        from prosparsity.models.registry import get_model

        if model is None:
            raise SetupError("name", "", "give a registry model, a factory or a NIR graph")
        entry = get_model(model)
        if runner is not None and runner != entry.runner:
            raise SetupError("runner", "", f"model '{model}' runs as '{entry.runner}'")
        t = time_steps if time_steps is not None else entry.time_steps
        token_ids = entry.input_batch_axis == 0
        if token_ids and layout is not None:
            raise SetupError(
                "layout", str(layout), f"model '{model}' takes token ids [B, L] without a time axis"
            )
        if ckpt is None and entry.checkpoint and not random_weights:
            ckpt = packaged_checkpoint(entry.checkpoint)
        # with a checkpoint, the network is built for it (its release) once the input is read
        net = entry.build(time_steps=t, **entry.options) if ckpt is None else None
        weights_of = entry
        if input_path is not None:
            inputs = load_input_tensor(input_path)
            check_finite(inputs, "input", str(input_path))
            dataset = f"input file {Path(input_path).name}"
            if not token_ids:
                lay, _ = read_layout(
                    inputs.shape, layout, t, framework="registry", subject=str(input_path)
                )
                if lay is Layout.BT:
                    inputs = inputs.transpose(0, 1).contiguous()
        else:
            inputs = entry.make_input(samples=samples or 1, time_steps=t, seed=seed)
            dataset = entry.dataset
        cfg = CaptureConfig(
            time_steps=t,
            runner=entry.runner,
            input_batch_axis=entry.input_batch_axis,
            attention_operands=entry.attention_operands,
            attentions=entry.attentions,
            neuron_classes=classes,
        )
        name, family = entry.name, entry.family
        default_weights = "random"
    axis = int(cfg.input_batch_axis or 0)
    if inputs.ndim <= axis:
        raise SetupError(
            "input", "", f"the input of shape {tuple(inputs.shape)} has no batch axis {axis}"
        )
    if samples is not None:
        if samples > inputs.shape[axis]:
            raise SetupError(
                "samples", str(samples), f"the input holds only {inputs.shape[axis]} samples"
            )
        inputs = inputs.narrow(axis, 0, samples)
    if inputs.dtype == torch.float64:
        inputs = inputs.float()
    if weights_of is not None and ckpt is not None:  # a registry model's checkpoint
        weights = load_weights(weights_of, ckpt, time_steps=t, release=release)
        net, loaded = weights.net, weights.checkpoint
        cfg = dataclasses.replace(cfg, attention_operands=weights.attention_operands,
                                  attentions=weights.attentions)
        extra.update(release_extra(weights))
    elif ckpt is not None:
        loaded = load_checkpoint(net, ckpt)
    if weights_of is not None:
        frameworks = dict(resolve_neurons(net, classes).frameworks)
    extra.update(runner=str(cfg.runner), family=family)
    if frameworks:
        extra["neuron_frameworks"] = ",".join(f"{k}:{v}" for k, v in sorted(frameworks.items()))
    info = TraceInfo(
        model=name,
        dataset=dataset,
        time_steps=cfg.time_steps,
        weights="trained" if loaded else default_weights,
        checkpoint=str(loaded.path) if loaded else "",
        checkpoint_sha256=loaded.sha256 if loaded else "",
        extra=extra,
    )
    return PreparedCapture(net, inputs, cfg, info, source, family, notes)


def resolve_device(device: str | None) -> torch.device | None:
    """The torch device a capture runs on (``None``: where the model is, the CPU).

    Raises:
        SetupError: not a device torch knows, or CUDA asked for where torch sees none.
    """
    if device is None or str(device).strip().lower() == "cpu":
        return None
    text = str(device).strip().lower()
    try:
        where = torch.device(text)
    except (RuntimeError, ValueError):
        raise SetupError("device", f"'{esc(device)}'", "expected cpu, cuda or cuda:N") from None
    if where.type != "cuda":
        raise SetupError("device", f"'{esc(device)}'", "expected cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = torch.__version__
        raise SetupError(
            "device",
            f"'{esc(device)}'",
            f"torch {build} sees no CUDA device (a CPU-only build, or no GPU or driver on "
            "this machine); capture on the cpu",
        )
    count = torch.cuda.device_count()
    if where.index is not None and where.index >= count:
        raise SetupError(
            "device", f"'{esc(device)}'", f"this machine has {count} CUDA device(s)"
        )
    return where


def esc(text: object) -> str:
    """``text`` safe inside a :class:`SetupError` problem (braces doubled)."""
    return str(text).replace("{", "{{").replace("}", "}}")
