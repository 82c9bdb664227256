"""Import the Prosperity authors' per-layer spike dumps into a trace (format v2).

The authors dump one boolean tensor per layer input, in a dict keyed by their layer
names (``simulator/networks.py`` reads it): conv inputs shaped ``(T, C, H, W)``, fully
connected inputs ``(T, K)`` or ``(T, L, K)``, and for each attention layer ``NAME`` its
spike operands ``NAME_q``, ``NAME_k``, ``NAME_v`` shaped ``(T, L, dim)`` (SpikingBERT has
no spiking q). Two containers are read:

* ``.npz`` (NumPy, as in ``../shared/reference/traces``), opened with
  ``allow_pickle=False``;
* ``.pkl`` / ``.pt`` pickles. Files written by ``torch.save`` are read with
  ``torch.load(weights_only=True)``. The authors' own dumps are plain ``pickle.dump``
  files, which torch's restricted loader rejects; they are read with a restricted
  unpickler that resolves only the handful of globals a dict of tensors or arrays needs
  (tensor and storage rebuilders, ``OrderedDict``, NumPy array reconstruction) and
  refuses every other one, so no code from the file runs. Storages inside such pickles
  are themselves loaded with ``torch.load(weights_only=True)``.

With a workload (:mod:`prosparsity.traces.workloads`) each dump array is matched by name
to the workload's layer records and checked against the shape the workload implies;
attention operands become ``attention_operand`` records placed just before their
``attention`` record; records without data (LIF, LayerNorm, attention, max-pool) are
written in execution order; dump arrays the workload does not know (LeNet-5's
``conv2d_0``, the encoded image) are kept with ``in_network=False``, placed before the
next known layer of the dump.

Without a workload every array becomes a record whose kind is guessed from its name and
rank (see :func:`guess_record`); shape parameters that the dump cannot give (kernel,
stride, output width) are then absent.
"""

from __future__ import annotations

import io
import logging
import pickle
import re
import sys
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.core.atomic import check_output_path
from prosparsity.core.errors import ConfigError, TraceError, WriteError
from prosparsity.core.hashing import file_sha256
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.workloads import attention_operands, get_workload
from prosparsity.traces.writer import TraceWriteError, TraceWriter

__all__ = ["expected_dump_shape", "guess_record", "import_dump", "load_dump"]

log = logging.getLogger(__name__)

_DUMP_SUFFIXES = (".npz", ".pkl", ".pickle", ".pt", ".pth")


# ------------------------------------------------------------------------------- loading


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
    import torch

    if zipfile.is_zipfile(path):  # torch.save's format
        try:
            return torch.load(path, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            raise TraceError(
                path,
                "refused to unpickle (only tensors and plain containers allowed): "
                + _torch_reason(str(exc)),
            ) from None
        except (RuntimeError, OSError, EOFError, ValueError) as exc:
            raise TraceError(path, f"cannot read torch file: {exc}") from None
    try:
        with path.open("rb") as fh:
            return _RestrictedUnpickler(fh, _allowed_globals()).load()
    except _Refused as exc:
        raise TraceError(path, f"refused to unpickle: {exc}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        RuntimeError,
        OSError,
    ) as exc:
        raise TraceError(path, f"cannot read pickle (truncated or corrupt?): {exc}") from None


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


class _Dump(Mapping[str, np.ndarray]):
    """Name -> array view of a dump; ``.npz`` members are read lazily, one at a time."""

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
        try:
            value = self._arrays[key]
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise TraceError(self.path, f"cannot read array: {exc}", key) from None
        return _to_numpy(self.path, key, value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape of one array (for ``.npz`` files read from the member's header alone)."""
        if key not in self.shapes:
            self.shapes[key] = self._header_shape(key) or tuple(self[key].shape)
        return self.shapes[key]

    def _header_shape(self, key: str) -> tuple[int, ...] | None:
        """The shape an ``.npz`` member's ``.npy`` header declares (None: read it whole)."""
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
                    shape, _, dtype = fmt.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = fmt.read_array_header_2_0(fh)
                else:
                    return None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError):
            return None  # the full read names the problem
        if dtype.hasobject:
            return None  # refused by the full read, with numpy's words
        return tuple(int(s) for s in shape)


def load_dump(path: str | Path) -> _Dump:
    """Open a spike dump (``.npz`` or pickle) as a mapping layer name -> array.

    Raises:
        TraceError: unknown suffix, unreadable file, refused pickle, or content that is
            not a dict of layer name -> tensor/array.
    """
    path = Path(path)
    if not path.is_file():
        raise TraceError(path, "is a directory" if path.is_dir() else "file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if not zipfile.is_zipfile(path):  # np.load would call it "pickled data"
            raise TraceError(path, "cannot read .npz file: not a zip archive (empty, "
                             "truncated or another format)")
        try:
            npz = np.load(path, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise TraceError(path, f"cannot read .npz file: {exc}") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise TraceError(path, "expected an .npz archive of arrays, found a single array")
        return _Dump(path, npz, lazy=True)
    if suffix in _DUMP_SUFFIXES:
        obj = _load_pickle(path)
        if not isinstance(obj, Mapping):
            raise TraceError(
                path, f"expected a dict of layer name -> tensor, found {type(obj).__name__}"
            )
        return _Dump(path, obj, lazy=False)
    raise TraceError(
        path, f"unknown dump type '{suffix}' (expected one of {', '.join(_DUMP_SUFFIXES)})"
    )


# ------------------------------------------------------------------------------ matching


def expected_dump_shape(record: LayerRecord) -> tuple[tuple[int, ...], str]:
    """Shape and layout of a workload layer's input in the authors' dumps.

    conv2d: ``(T*B, C, H, W)``; linear: ``(T*B, K)`` when ``seq_len`` is 1, else
    ``(T*B, L, K)``; attention operand: ``(T*B, L, dim)``.
    """
    p = record.params
    t = int(p.get("time_steps", 1)) * int(p.get("batch", 1))
    if record.kind is LayerKind.CONV2D:
        hw = int(p["input_hw"])
        return (t, int(p["in_channels"]), hw, hw), "T,C,H,W"
    if record.kind is LayerKind.LINEAR:
        seq = int(p.get("seq_len", 1))
        if seq == 1:
            return (t, int(p["in_features"])), "T,K"
        return (t, seq, int(p["in_features"])), "T,L,K"
    if record.kind is LayerKind.ATTENTION_OPERAND:
        return (t, int(p["seq_len"]), int(p["dim"])), "T,L,D"
    raise ConfigError(f"{record.name}.kind", f"no dump layout for kind '{record.kind}'")


_OPERAND_RE = re.compile(r"^(?P<attn>.*attention.*)_(?P<op>q|k|v|attn|kv|out)$")


def guess_record(name: str, shape: tuple[int, ...], *, in_network: bool = True) -> LayerRecord:
    """A record for a dump array without workload metadata, kind guessed from name and rank.

    Rules, first match wins:

    * ``<...attention...>_q|k|v|kv|attn|out`` -> attention operand ``(T, L, D)`` (or
      ``(T, D)``), params ``operand, attention, dim`` (+ ``seq_len``);
    * name starting ``conv1d`` with rank 3 -> conv1d ``(T, C, L)``, params ``in_channels,
      input_len``;
    * rank 4 -> conv2d ``(T, C, H, W)``, params ``in_channels`` (+ ``input_hw`` when
      square);
    * rank 2 or 3, name not starting ``conv`` -> linear ``(T, K)`` / ``(T, L, K)``,
      params ``in_features`` (+ ``seq_len``).

    Raises:
        ConfigError: when no rule applies (the error names the layer).
    """
    rank = len(shape)
    m = _OPERAND_RE.match(name)
    if m and rank in (2, 3):
        params: dict[str, Any] = {"operand": m["op"], "attention": m["attn"], "dim": shape[-1]}
        if rank == 3:
            params["seq_len"] = shape[1]
        layout = "T,L,D" if rank == 3 else "T,D"
        return LayerRecord(name, LayerKind.ATTENTION_OPERAND, params, shape, layout, (), in_network)
    lname = name.lower()
    if lname.startswith("conv1d") and rank == 3:
        params = {"in_channels": shape[1], "input_len": shape[2]}
        return LayerRecord(name, LayerKind.CONV1D, params, shape, "T,C,L", (), in_network)
    if rank == 4:
        params = {"in_channels": shape[1]}
        if shape[2] == shape[3]:
            params["input_hw"] = shape[2]
        return LayerRecord(name, LayerKind.CONV2D, params, shape, "T,C,H,W", (), in_network)
    if rank in (2, 3) and not lname.startswith("conv"):
        params = {"in_features": shape[-1]}
        if rank == 3:
            params["seq_len"] = shape[1]
        layout = "T,K" if rank == 2 else "T,L,K"
        return LayerRecord(name, LayerKind.LINEAR, params, shape, layout, (), in_network)
    raise ConfigError(
        f"{name}.shape", f"cannot guess the layer kind of a rank-{rank} array {shape}"
    )


def _plan_with_workload(
    dump: _Dump, name: str, corrected: bool
) -> tuple[list[LayerRecord], TraceInfo]:
    wl = get_workload(name, corrected=corrected)
    plan: list[LayerRecord] = []
    first_index: dict[str, int] = {}  # dump key -> position in plan
    for rec in wl.layers:
        if rec.kind is LayerKind.ATTENTION:
            p = rec.params
            for op in attention_operands(str(p["variant"])):
                key = f"{rec.name}_{op}"
                params = {
                    "operand": op,
                    "attention": rec.name,
                    "dim": p["dim"],
                    "seq_len": p["seq_len"],
                    "heads": p["heads"],
                    "batch": p["batch"],
                    "time_steps": p["time_steps"],
                }
                plan.append(LayerRecord(key, LayerKind.ATTENTION_OPERAND, params))
        plan.append(rec)
    out: list[LayerRecord] = []
    for rec in plan:
        if not rec.has_data:
            out.append(rec)
            continue
        if rec.name not in dump:
            raise TraceError(
                dump.path, f"layer missing from the dump (workload {name} needs it)", rec.name
            )
        want, layout = expected_dump_shape(rec)
        got = dump.shape(rec.name)
        if got != want:
            raise TraceError(
                dump.path,
                f"shape {got} does not match workload {name}: expected {want} ({layout})",
                rec.name,
            )
        first_index[rec.name] = len(out)
        out.append(LayerRecord(rec.name, rec.kind, rec.params, got, layout))
    # dump arrays the workload does not simulate: keep them, before the next known one
    keys = list(dump)
    extras: list[tuple[int, LayerRecord]] = []
    for i, key in enumerate(keys):
        if key in first_index:
            continue
        nxt = next((first_index[k] for k in keys[i + 1 :] if k in first_index), len(out))
        try:
            rec = guess_record(key, dump.shape(key), in_network=False)
        except ConfigError as exc:
            raise TraceError(dump.path, exc.problem, key) from None
        extras.append((nxt, rec))
        log.info(
            "%s: %s is not part of workload %s; kept with in_network=False", dump.path, key, name
        )
    # insert from the back; among extras sharing a position this keeps the dump order
    for pos, rec in reversed(sorted(extras, key=lambda e: e[0])):
        out.insert(pos, rec)
    info = TraceInfo(
        model=wl.model,
        dataset=wl.dataset,
        time_steps=wl.time_steps,
        batch_size=wl.batch,
        samples=1,
        workload=name,
    )
    return out, info


def import_dump(
    path: str | Path,
    workload: str | None,
    out: str | Path,
    *,
    corrected: bool = False,
) -> Path:
    """Convert one spike dump into a trace.

    Args:
        path: the dump (``.npz``, or a ``.pkl``/``.pt`` pickle of a dict of tensors).
        workload: paper workload whose layer metadata to attach (one of
            :data:`prosparsity.traces.workloads.WORKLOADS`), or ``None`` to guess kinds.
        out: trace file to write (written to a temporary name, renamed on success).
        corrected: use the corrected workload values (see ``AUTHOR_SLIPS``).

    Returns:
        The path of the trace written.

    Raises:
        TraceError: unreadable or refused dump, missing layer, shape mismatch (naming the
            layer and both shapes).
        ConfigError: unknown workload name.
    """
    src = Path(path)
    try:
        target = check_output_path(out, "trace")
    except WriteError as exc:
        raise TraceWriteError(exc.path, exc.problem) from None
    if target.resolve() == src.resolve():
        raise TraceError(src, "the output would overwrite the dump being imported; choose "
                         "another -o file")
    dump = load_dump(src)
    if len(dump) == 0:
        raise TraceError(src, "the dump holds no arrays")
    if workload:
        records, info = _plan_with_workload(dump, workload, corrected)
    else:
        records = []
        for key in dump:
            try:
                records.append(guess_record(key, dump.shape(key)))
            except ConfigError as exc:
                raise TraceError(src, exc.problem, key) from None
        t_values = [r.shape[0] for r in records]
        info = TraceInfo(
            model=src.stem,
            time_steps=max(set(t_values), key=t_values.count),
            batch_size=1,
            samples=1,
        )
    extra = {
        "source": src.name,
        "source_sha256": file_sha256(src),
        "imported_by": "prosparsity trace import",
        "workload_corrected": str(bool(corrected)).lower(),
    }
    info = replace(info, extra=extra)
    with TraceWriter(target, info) as writer:
        for rec in records:
            try:
                writer.add_layer(rec, dump[rec.name] if rec.has_data else None)
            except TraceWriteError:
                raise  # the file system's fault, reported against the trace
            except TraceError as exc:
                if exc.path != str(writer.path):
                    raise
                # bad values come from the dump: name it, not the trace being written
                raise TraceError(src, exc.problem, exc.layer) from None
    log.info("imported %s -> %s (%d records)", src, target, len(records))
    return target
