"""Models of your own: ``--model package.module:factory`` and an input tensor file.

The factory is imported (the module must be importable: installed, on ``PYTHONPATH``,
or in the current directory) and called with no arguments, or with ``time_steps=T`` when it accepts
that keyword; it must return a ``torch.nn.Module``. Its spiking neurons are recognised
when they are spikingjelly or snntorch neurons, or carry a true class attribute
``prosparsity_neuron`` (plain-PyTorch custom neurons). The input comes from a tensor
file: ``.pt`` (read with ``torch.load(weights_only=True)``: a tensor, or a mapping with a
single tensor) or ``.npy`` (``numpy.load(allow_pickle=False)``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prosparsity.core.errors import HarnessError, name_list
from prosparsity.core.paths import input_problem, looks_like
from prosparsity.models.checkpoint import (
    SAFETENSORS_SUFFIX,
    CheckpointError,
    load_failure,
    read_safetensors,
    torch_load_tensors,
)
from prosparsity.models.prepare import SetupError, esc
from prosparsity.traces.dumps import PARSE_ERRORS, describe

__all__ = [
    "build_user_model",
    "cwd_on_path",
    "factory_time_steps",
    "load_input_tensor",
    "parse_factory",
    "resolve_factory",
]

log = logging.getLogger(__name__)


def parse_factory(spec: str) -> tuple[str, str]:
    """Split ``"package.module:factory"``; a clear error otherwise."""
    module, sep, attr = spec.partition(":")
    if (
        not sep
        or not module
        or not attr
        or not all(p.isidentifier() for p in module.split(".") + attr.split("."))
    ):
        raise SetupError(
            "model", f"'{spec}'", "expected package.module:factory (e.g. mypkg.nets:make_snn)"
        )
    return module, attr


@contextmanager
def cwd_on_path() -> Iterator[None]:
    """Put the current directory first on ``sys.path`` while importing, as ``python -m``
    does (the ``prosparsity`` script's own path is its bin/ folder)."""
    cwd = str(Path.cwd())
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def resolve_factory(spec: str) -> object:
    """The object named by ``spec`` (``package.module:factory``), imported.

    The module is looked up on ``sys.path`` and in the current directory.
    """
    module_name, attr = parse_factory(spec)
    try:
        with cwd_on_path():
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SetupError(
            "model", f"'{spec}'", f"cannot import '{module_name}': {esc(exc)}"
        ) from None
    except Exception as exc:  # the user's module failed while it ran: SyntaxError, ...
        log.debug("importing %s failed", module_name, exc_info=True)
        raise SetupError(
            "model", f"'{spec}'",
            f"cannot import '{module_name}': {type(exc).__name__}: {esc(exc)}",
        ) from None
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SetupError("model", f"'{spec}'", f"'{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    return obj


def factory_time_steps(spec: str) -> int | None:
    """Check that ``spec`` names a usable factory; the default of its ``time_steps``.

    Returns:
        The factory's ``time_steps`` default when it is a positive int (or a module's
        ``time_steps`` attribute), else ``None`` (T then comes from elsewhere).

    Raises:
        SetupError: not importable, not a factory, or needs other arguments.
    """
    attr = parse_factory(spec)[1]
    obj = resolve_factory(spec)
    if isinstance(obj, nn.Module):
        steps = getattr(obj, "time_steps", None)
        return steps if isinstance(steps, int) and steps >= 1 else None
    if not callable(obj):
        raise SetupError("model", f"'{spec}'", f"'{attr}' is neither a factory nor a module")
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    try:
        sig.bind()
    except TypeError as exc:
        if "time_steps" not in sig.parameters:
            raise _uncallable(spec, attr, exc) from None
    param = sig.parameters.get("time_steps")
    if param is not None and isinstance(param.default, int) and param.default >= 1:
        return int(param.default)
    return None


def _uncallable(spec: str, attr: str, exc: TypeError) -> SetupError:
    return SetupError(
        "model",
        f"'{spec}'",
        f"the factory '{attr}' cannot be called with no arguments (or time_steps= only): "
        f"{esc(exc)}",
    )


def build_user_model(spec: str, time_steps: int | None = None) -> nn.Module:
    """Import and call the factory named by ``spec`` (``package.module:factory``).

    The factory gets ``time_steps=T`` when it takes that keyword.
    """
    attr = parse_factory(spec)[1]
    obj = resolve_factory(spec)  # imported and walked once (set-up checked it already)
    if isinstance(obj, nn.Module):
        return obj
    if not callable(obj):
        raise SetupError("model", f"'{spec}'", f"'{attr}' is neither a factory nor a module")
    kwargs = {}
    try:
        sig: inspect.Signature | None = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    params = sig.parameters if sig is not None else {}
    if time_steps is not None and "time_steps" in params:
        kwargs["time_steps"] = time_steps
    if sig is not None:
        try:
            sig.bind(**kwargs)
        except TypeError as exc:
            raise _uncallable(spec, attr, exc) from None
    try:
        model = obj(**kwargs)
    except Exception as exc:  # the user's code failed: say so in one line
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SetupError(
            "model", f"'{spec}'", f"the factory raised {type(exc).__name__}: {esc(text)}"
        ) from None
    if not isinstance(model, nn.Module):
        raise SetupError(
            "model",
            f"'{spec}'",
            f"the factory returned {type(model).__name__}, not a torch.nn.Module",
        )
    return model


def load_input_tensor(path: str | Path) -> torch.Tensor:
    """Read an input batch from ``.pt`` (weights_only), ``.npy`` or ``.safetensors``
    (neither unpickles). A ``.pt`` file may hold a mapping with one tensor; a
    ``.safetensors`` file must hold exactly one tensor, whatever its name."""
    path = Path(path)
    problem = input_problem(path, what="file")  # a FIFO or device is named, never opened
    if problem is not None:
        raise HarnessError(f"input {path}: {problem}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except PARSE_ERRORS as exc:
            seen = looks_like(path)
            what = f" (it is {seen})" if seen and seen != "a NumPy .npy array" else ""
            raise HarnessError(f"input {path}: not a plain .npy array{what}: "
                               f"{describe(exc)}") from None
        if arr.dtype.kind not in "biuf":
            raise HarnessError(f"input {path}: unsupported dtype {arr.dtype}")
        return torch.from_numpy(np.ascontiguousarray(arr))
    if suffix in (".pt", ".pth"):
        try:
            obj = torch_load_tensors(path)
        except Exception as exc:
            raise HarnessError(
                f"input {path}: cannot be loaded with torch.load(weights_only=True): "
                f"{load_failure(exc, path)}"
            ) from None
        if isinstance(obj, dict) and len(obj) == 1:
            obj = next(iter(obj.values()))
        if not isinstance(obj, torch.Tensor):
            raise HarnessError(
                f"input {path}: expected a tensor (or a mapping with one tensor), "
                f"got {type(obj).__name__}"
            )
        return obj
    if suffix == SAFETENSORS_SUFFIX:
        try:
            tensors = read_safetensors(path)
        except CheckpointError as exc:
            raise HarnessError(f"input {path}: {exc.problem}") from None
        if len(tensors) != 1:
            raise HarnessError(f"input {path}: expected one tensor, found {len(tensors)} "
                               f"({name_list(sorted(tensors)) or 'none'})")
        x = next(iter(tensors.values()))
        if x.is_complex():
            raise HarnessError(f"input {path}: unsupported dtype {x.dtype}")
        return x
    raise HarnessError(
        f"input {path}: unsupported file type '{suffix}' (use .pt, .npy or .safetensors)"
    )
