"""Loading and saving model weights safely.

A checkpoint is read one of two ways, neither of which can run code of the file's
choosing. A safetensors file (recognised by its content, whatever its suffix: an 8-byte
little-endian header length, then a JSON header opening with ``{``; a file named
``*.safetensors`` is read as one in any case, so that a damaged one says so) is read with
``safetensors.torch.load_file``: a header of names, dtypes, shapes and offsets, then raw
tensor bytes, no unpickling at all. Anything else is read with
``torch.load(path, weights_only=True)``: torch's restricted unpickler accepts tensors and
plain containers and refuses anything that would run code. The packaged checkpoints of
the embedded models are safetensors files (:func:`read_state_dict` takes two to four
times less time on them than on the same tensors as ``.pt`` files; docs/benchmarks.md);
``.pt``/``.pth`` files from training scripts load as before. A checkpoint whose keys do
not fit the model is refused with the lists of missing and unexpected keys (and shape
mismatches), never half-loaded.
"""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prosparsity.core.errors import HarnessError, name_list
from prosparsity.core.paths import input_problem, looks_like, safetensors_header

__all__ = [
    "CheckpointError",
    "LoadedCheckpoint",
    "fit_problems",
    "load_checkpoint",
    "packaged_checkpoint",
    "read_safetensors",
    "read_state_dict",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
"""Where the trained embedded models' checkpoints ship (package data)."""

_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")
SAFETENSORS_SUFFIX = ".safetensors"


def _safetensors_header(path: str | Path) -> int | None:
    """:func:`~prosparsity.core.paths.safetensors_header` of ``path``'s first 9 bytes
    (``None`` when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return safetensors_header(fh.read(9))
    except OSError:
        return None


def torch_load_tensors(path: Path, *, allow: tuple[type, ...] = ()) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU, without torch's pickle-protocol
    notice (a UserWarning that would precede the one-line error on stderr).

    ``allow``: further plain-data classes the restricted unpickler may rebuild (by their
    ``__new__`` and attribute dict, never by calling code of the file's choosing).
    """
    with warnings.catch_warnings(), torch.serialization.safe_globals(list(allow)):
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        return torch.load(path, map_location="cpu", weights_only=True)


def load_failure(exc: BaseException, path: str | Path | None = None) -> str:
    """The first line of a failed :func:`torch_load_tensors`, in the harness's words.

    torch's refusal of a code-carrying pickle suggests ``weights_only=False``; the
    harness never does that, so it says what was refused instead. A file that is neither
    torch's zip format nor a pickle (a PNG renamed ``.pt``) is named for what it is
    (``path`` given), not reported as a refused pickle.
    """
    if path is not None:
        seen = looks_like(path)
        if seen != "a zip archive" and not (seen or "").startswith("a pickle"):
            found = f"it is {seen}" if seen else "it is neither a zip archive nor a pickle"
            return f"not a file written by torch.save ({found})"
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if first.startswith("Weights only load failed"):
        return "the file holds objects other than tensors (refused: unpickling it could run code)"
    if len(first) < 12:  # e.g. a bare "101" (a KeyError on a text file's first byte)
        return f"not a file written by torch.save ({type(exc).__name__}: {first})"
    return first


class CheckpointError(HarnessError):
    """A checkpoint cannot be read or does not fit the model."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path}: {problem}")


@dataclass(frozen=True)
class LoadedCheckpoint:
    """Provenance of weights loaded into a model.

    Attributes:
        path: the checkpoint file.
        sha256: its SHA-256 (hex).
    """

    path: Path
    sha256: str


def packaged_checkpoint(filename: str) -> Path:
    """Path of a checkpoint shipped with the package (``models/checkpoints/``)."""
    return CHECKPOINT_DIR / filename


def _read_safetensors(path: Path, header: int | None) -> dict[str, torch.Tensor]:
    """``safetensors.torch.load_file`` on the CPU.

    ``header``: the length :func:`_safetensors_header` read (``None``: the first bytes
    are no safetensors header, for a file that only its suffix calls one).

    Raises:
        CheckpointError: a corrupt or truncated file, in one line.
    """
    from safetensors.torch import load_file

    problem: str | None = None
    if header is None:
        seen = looks_like(path)
        problem = f"it is {seen}" if seen else "its first bytes are not a safetensors header"
    elif 8 + header > (size := path.stat().st_size):
        problem = f"truncated: its header claims {header:,} bytes, the file holds {size:,}"
    else:
        try:
            return load_file(path, device="cpu")
        except Exception as exc:  # SafetensorError (header, offsets, size), OSError, ...
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            problem = first.removeprefix("Error while deserializing header: ")
    raise CheckpointError(path, f"is not a readable safetensors file ({problem})")


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU, with no unpickling.

    Raises:
        CheckpointError: not a safetensors file, or a corrupt or truncated one (one line).
    """
    path = Path(path)
    return _read_safetensors(path, _safetensors_header(path))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a safetensors file or with the restricted unpickler.

    A file whose first bytes are a safetensors header, or whose name ends in
    ``.safetensors``, is read with ``safetensors.torch.load_file`` (no unpickling);
    anything else with ``torch.load(weights_only=True)``. The unpickled ones may hold
    a plain ``{name: tensor}`` mapping or one wrapped under ``state_dict``,
    ``model``, ``model_state_dict`` or ``net`` (common training-script layouts; timm's
    training scripts, which the Spikformer and Spike-driven Transformer releases use,
    save the state dict under ``state_dict`` beside the run's ``argparse.Namespace``, a
    plain attribute bag the restricted unpickler is allowed to rebuild); a ``module.``
    prefix on every key (``DataParallel``) is removed.

    Raises:
        CheckpointError: missing file, a corrupt or truncated safetensors file, not
            loadable with ``weights_only=True`` (e.g. a pickle carrying code), not a
            mapping of tensors, or a tensor holding NaN or infinite values (weights that
            would make every spike count meaningless).
    """
    path = Path(path)
    problem = input_problem(path)  # a FIFO or device is named, never opened
    if problem is not None:
        raise CheckpointError(path, problem)
    header = _safetensors_header(path)
    obj: Any
    if header is not None or path.suffix == SAFETENSORS_SUFFIX:
        obj = _read_safetensors(path, header)
    else:
        try:
            obj = torch_load_tensors(path, allow=(argparse.Namespace,))
        except Exception as exc:  # UnpicklingError, RuntimeError (not a zip/pickle), ...
            raise CheckpointError(
                path,
                f"cannot be loaded with torch.load(weights_only=True): "
                f"{load_failure(exc, path)}",
            ) from None
    if isinstance(obj, Mapping):
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise CheckpointError(path, "is not a state dict (a mapping of names to tensors)")
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise CheckpointError(
            path,
            f"holds NaN or infinite values in {len(bad)} tensor(s): {name_list(sorted(bad))}",
        )
    return state


def fit_problems(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> list[str]:
    """What keeps ``state`` from loading strictly into a network whose state dict is
    ``expected``: ``missing keys (n): ...``, ``unexpected keys (n): ...``, ``shape
    mismatches (n): name (checkpoint shape) vs model (shape)``; empty when it fits."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    parts = []
    if missing:
        parts.append(f"missing keys ({len(missing)}): {name_list(missing)}")
    if unexpected:
        parts.append(f"unexpected keys ({len(unexpected)}): {name_list(unexpected)}")
    if wrong:
        parts.append(f"shape mismatches ({len(wrong)}): {name_list(wrong)}")
    return parts


def load_checkpoint(model: nn.Module, path: str | Path) -> LoadedCheckpoint:
    """Load weights into ``model`` strictly.

    Raises:
        CheckpointError: unreadable file, or keys / shapes that do not fit: the message
            lists the missing keys, the unexpected keys and the shape mismatches.
    """
    from prosparsity.core.hashing import file_sha256

    path = Path(path)
    state = read_state_dict(path)
    parts = fit_problems(state, model.state_dict())
    if parts:
        raise CheckpointError(path, "does not fit the model: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    log.debug("loaded %d tensors from %s", len(state), path)
    return LoadedCheckpoint(path=path, sha256=file_sha256(path))


def save_checkpoint(model: nn.Module, path: str | Path) -> Path:
    """Save ``model``'s state dict: a safetensors file when ``path`` ends in
    ``.safetensors``, else ``torch.save`` (tensors only, loadable with
    ``weights_only=True``).

    Each tensor is saved as its own contiguous CPU copy (safetensors refuses tensors that
    share memory, e.g. tied weights). Written to a temporary name and renamed, so a failed
    save leaves no partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    try:
        if path.suffix == SAFETENSORS_SUFFIX:
            from safetensors.torch import save_file

            save_file(state, tmp, metadata={"format": "pt"})
        else:
            torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
