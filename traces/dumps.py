"""Reading users' files: the one error boundary, and the authors' spike dumps.

:func:`reading` is the error boundary every reader of a user's file goes through (trace
import, ``analyze``/``simulate`` of an ``.npz``, capture's inputs and checkpoints, NIR
graphs, sweep specs): it checks the path first without opening it
(:func:`prosparsity.core.paths.input_problem`: not found, a symbolic-link loop,
permission, a directory, a FIFO or device), then turns whatever the parsing library
raises on malformed bytes (NumPy, zipfile, zlib, pickle, torch, tomllib, HDF5) into one
error naming the file, the layer when known, and what the file looks like when it is
not what its name says (:func:`prosparsity.core.paths.looks_like`: "a PNG image").

The authors dump one boolean tensor per layer input, in a dict keyed by their layer
names (``simulator/networks.py`` reads it). Two containers are read (:func:`load_dump`):

* ``.npz`` (NumPy, as in ``../shared/reference/traces``), opened with
  ``allow_pickle=False``; members are read lazily, one at a time, and a member whose
  ``.npy`` header declares more (or fewer) bytes than it holds is refused before any
  allocation;
* ``.pkl`` / ``.pt`` pickles. Files written by ``torch.save`` are read with
  ``torch.load(weights_only=True)``. The authors' own dumps are plain ``pickle.dump``
  files, which torch's restricted loader rejects; they are read with a restricted
  unpickler that resolves only the handful of globals a dict of tensors or arrays needs
  (tensor and storage rebuilders, ``OrderedDict``, NumPy array reconstruction) and
  refuses every other one, so no code from the file runs. Storages inside such pickles
  are themselves loaded with ``torch.load(weights_only=True)``.

Every array a :class:`Dump` hands out is spike data: bool or uint8 as stored, other
integer and float arrays converted to uint8 when their values are whole numbers in
0..255 (a float 0/1 dump reads the same in ``analyze`` as after ``trace import``), and
refused otherwise, naming the layer.
"""

from __future__ import annotations

import io
import logging
import pickle
import struct
import sys
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.core.errors import HarnessError, TraceError
from prosparsity.core.paths import input_problem, looks_like
from prosparsity.traces.layout import as_uint8

__all__ = ["DUMP_SUFFIXES", "PARSE_ERRORS", "Dump", "describe", "load_dump", "reading"]

log = logging.getLogger(__name__)

DUMP_SUFFIXES = (".npz", ".pkl", ".pickle", ".pt", ".pth")

#: what parsing libraries raise on malformed bytes (a crafted or damaged file)
PARSE_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError,
    UnicodeDecodeError, struct.error, KeyError, IndexError, TypeError, AttributeError,
    RuntimeError, OverflowError, RecursionError, MemoryError,
    SyntaxError, tokenize.TokenError,  # numpy's reading of a .npy header
)

ErrorType = Callable[[str, str], HarnessError]


def _trace_error(path: str, problem: str) -> HarnessError:
    return TraceError(path, problem)


def describe(exc: BaseException) -> str:
    """A parsing library's complaint in one line."""
    if isinstance(exc, MemoryError):
        return "it declares more data than fits in memory"
    if isinstance(exc, RecursionError):
        return "it nests too deeply"
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if len(text) < 12:  # a bare "101" (a KeyError on a text file's first byte)
        return f"{name}: {text}" if text else name
    return text if len(text) <= 300 else text[:297] + "..."


@contextmanager
def reading(path: str | Path, *, error: ErrorType = _trace_error, what: str = "file",
            expected: str | None = None, layer: str | None = None) -> Iterator[Path]:
    """The error boundary of a reader of the user's file ``path``.

    Checks the path without opening it, then runs the ``with`` body; an exception of
    :data:`PARSE_ERRORS` leaving the body becomes one ``error(path, problem)``.
    A :class:`~prosparsity.core.errors.HarnessError` (a reader's own one-line error)
    passes unchanged.

    Args:
        path: the file.
        error: builds the error from (path, problem); a :class:`TraceError` by default.
        what: what the file is, for the message on a directory ("spike dump").
        expected: what the file should be (``"a file written by torch.save"``): a file
            whose first bytes say it is something else is reported as such.
        layer: the layer being read, named in the message.

    Yields:
        ``path`` as a :class:`~pathlib.Path`.
    """
    problem = input_problem(path, what=what)
    if problem is not None:
        raise error(str(path), problem)
    try:
        yield Path(path)
    except HarnessError:
        raise
    except PARSE_ERRORS as exc:
        log.debug("reading %s failed", path, exc_info=True)
        what = f"layer '{layer}': " if layer else ""
        seen = looks_like(path) if expected else None
        if seen is not None:
            what += f"not {expected}: it is {seen} ({describe(exc)})"
        else:
            what += f"cannot read the file: {describe(exc)}"
        raise error(str(path), what) from None


# ----------------------------------------------------------------------------- pickles


def _load_storage_bytes(data: bytes) -> Any:
    """Stand-in for ``torch.storage._load_from_bytes`` that never runs pickled code."""
    import torch

    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import collections

    import torch

    allowed: dict[tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import _reconstruct
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _reconstruct
    return allowed


class _Refused(pickle.UnpicklingError):
    """The pickle asks for something a spike dump must not contain."""


def _torch_reason(message: str) -> str:
    """The informative middle of torch's weights-only refusal (drops its boilerplate)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    core = [
        line
        for line in lines
        if not line.startswith(
            ("Weights only load failed", "Check the documentation", "Please file")
        )
    ]
    return " ".join(core) or (lines[0] if lines else "unsupported content")


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of :func:`_allowed_globals`; refuses the rest."""

    def __init__(self, file: Any, allowed: Mapping[tuple[str, str], Any]) -> None:
        super().__init__(file)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(
                f"it asks for '{module}.{name}', but a spike dump may hold only tensors, "
                "arrays and plain containers"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("it uses persistent ids, which plain tensor pickles do not")


def _load_pickle(path: Path) -> Any:
    """A ``.pkl``/``.pt`` dump: ``torch.save``'s zip format with torch's weights-only
    loader, a plain pickle with the restricted unpickler."""
    if zipfile.is_zipfile(path):  # torch.save's format
        import torch

        try:
            with warnings_quiet():
                return torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            raise TraceError(
                path,
                "refused to unpickle (only tensors and plain containers allowed): "
                + _torch_reason(str(exc)),
            ) from None
        except PARSE_ERRORS as exc:
            raise TraceError(path, f"cannot read torch file: {describe(exc)}") from None
    seen = looks_like(path)
    if seen is None or not seen.startswith("a pickle"):
        found = f"it is {seen}" if seen else "its first bytes are neither"
        raise TraceError(path, f"not a pickle or a torch.save file: {found}")
    try:
        with path.open("rb") as fh:
            return _RestrictedUnpickler(fh, _allowed_globals()).load()
    except _Refused as exc:
        raise TraceError(path, f"refused to unpickle: {exc}") from None
    except PARSE_ERRORS as exc:
        raise TraceError(path, f"cannot read pickle (truncated or corrupt?): {describe(exc)}"
                         ) from None


@contextmanager
def warnings_quiet() -> Iterator[None]:
    """Without torch's pickle-protocol notice (a UserWarning before the one error line)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol")
        yield


# ------------------------------------------------------------------------------- dumps


def _to_numpy(path: Path, key: str, value: Any) -> np.ndarray:
    torch = sys.modules.get("torch")  # a tensor exists only if torch is loaded: never import it
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TraceError(path, f"expected a tensor or array, found {type(value).__name__}", key)
    if value.dtype == object or not (
        value.dtype == np.bool_
        or np.issubdtype(value.dtype, np.integer)
        or np.issubdtype(value.dtype, np.floating)
    ):
        raise TraceError(path, f"unsupported array type {value.dtype}", key)
    return value


def _spikes(path: Path, key: str, value: np.ndarray) -> np.ndarray:
    """Bool and uint8 arrays as stored; other integer and float arrays as uint8 when
    their values are whole numbers in 0..255 (else one error naming the layer)."""
    if value.dtype == np.bool_ or value.dtype == np.uint8:
        return value
    with np.errstate(invalid="ignore"):  # NaN: refused below, without a RuntimeWarning
        return as_uint8(path, key, value)


class Dump(Mapping[str, np.ndarray]):
    """Name -> array view of a spike dump; ``.npz`` members are read lazily, one at a
    time, and every read is inside the dump's error boundary (:func:`reading`)."""

    def __init__(self, path: Path, arrays: Mapping[str, Any], lazy: bool) -> None:
        self.path = path
        self._arrays = arrays
        self._lazy = lazy
        self.shapes: dict[str, tuple[int, ...]] = {}
        for key in arrays:
            if not isinstance(key, str):
                raise TraceError(path, f"dump keys must be layer names, found {key!r}")
        if not lazy:
            self._arrays = {k: _to_numpy(path, k, v) for k, v in arrays.items()}
            self.shapes = {k: tuple(v.shape) for k, v in self._arrays.items()}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            raise KeyError(key)
        if self._lazy and key not in self.shapes:
            self._header_shape(key)  # a member whose header lies about its size: not read
        try:
            value = self._arrays[key]
        except PARSE_ERRORS as exc:
            raise TraceError(self.path, f"cannot read array: {describe(exc)}", key) from None
        return _spikes(self.path, key, _to_numpy(self.path, key, value))

    def __contains__(self, key: object) -> bool:
        return key in self._arrays  # (Mapping's default would read the array)

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def close(self) -> None:
        """Close the ``.npz`` archive (a pickle's arrays are in memory)."""
        close = getattr(self._arrays, "close", None)
        if self._lazy and close is not None:
            close()

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape of one array (for ``.npz`` files read from the member's header alone)."""
        if key not in self.shapes:
            self.shapes[key] = self._header_shape(key) or tuple(self[key].shape)
        return self.shapes[key]

    def _header_shape(self, key: str) -> tuple[int, ...] | None:
        """The shape an ``.npz`` member's ``.npy`` header declares (None: read it whole).

        Raises:
            TraceError: the header declares more or fewer bytes than the member holds.
        """
        npz = self._arrays
        if not self._lazy or not isinstance(npz, np.lib.npyio.NpzFile):
            return None
        try:
            info = npz.zip.getinfo(f"{key}.npy")
        except KeyError:
            return None
        fmt = np.lib.format
        try:
            with npz.zip.open(info) as fh:
                version = fmt.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = fmt.read_array_header_2_0(fh)
                else:
                    return None
                offset = fh.tell()
        except PARSE_ERRORS:
            return None  # the full read names the problem
        if dtype.hasobject:
            return None  # refused by the full read, with numpy's words
        shape = tuple(int(s) for s in shape)
        declared = dtype.itemsize
        for s in shape:
            declared *= s
        held = info.file_size - offset
        if declared != held:
            raise TraceError(
                self.path,
                f"damaged array: its header declares shape {shape} of {dtype} ({declared:,} "
                f"bytes) but the member holds {held:,} bytes",
                key,
            )
        return shape


def load_dump(path: str | Path) -> Dump:
    """Open a spike dump (``.npz`` or pickle) as a mapping layer name -> array.

    Raises:
        TraceError: not a regular file, unknown suffix, unreadable file, refused pickle,
            or content that is not a dict of layer name -> tensor/array.
    """
    with reading(path, what="spike dump") as path:
        suffix = path.suffix.lower()
        if suffix == ".npz":
            if not zipfile.is_zipfile(path):  # np.load would call it "pickled data"
                seen = looks_like(path)
                found = ("(empty, truncated or another format)" if seen in (None, "a zip archive")
                         else f"(it is {seen})")
                raise TraceError(path, f"cannot read .npz file: not a zip archive {found}")
            try:
                npz = np.load(path, allow_pickle=False)
            except PARSE_ERRORS as exc:
                raise TraceError(path, f"cannot read .npz file: {describe(exc)}") from None
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise TraceError(path, "expected an .npz archive of arrays, found a single array")
            return Dump(path, npz, lazy=True)
        if suffix in DUMP_SUFFIXES:
            obj = _load_pickle(path)
            if not isinstance(obj, Mapping):
                raise TraceError(
                    path, f"expected a dict of layer name -> tensor, found {type(obj).__name__}"
                )
            return Dump(path, obj, lazy=False)
        raise TraceError(
            path, f"unknown dump type '{suffix}' (expected one of {', '.join(DUMP_SUFFIXES)})"
        )
