"""Schema v1 traces (written before 2026-11; still read): the legacy layout.

A v1 trace is HDF5 at offset 0, without a seal (digest)::

    /                       attributes: schema, schema_version=1, the file attributes
                            (model, dataset, time_steps, ...), ``extra`` (JSON text),
                            ``complete`` (set by a writer that finished) and
                            ``layer_count``
    /layers/NNNNN           one group per record, seven attributes (name, kind, params
                            as JSON text, shape, layout, levels, in_network)
    /layers/NNNNN/data      GEMM layers only; attribute ``encoding`` ("packbits" or
                            "uint8"), Fletcher-32 checksummed chunks

It is checked as far as a file without a digest allows: structure, chunk counts (a
damaged chunk index would otherwise read as zeros), checksums, levels and padding bits.
Because HDF5 itself parses every byte of such a file, and stalls or crashes on some
damaged ones, :class:`~prosparsity.traces.reader.TraceReader` opens a v1 file in-process
only after :func:`prosparsity.traces.probe.ensure_verified` has checked it in a child
process; ``prosparsity trace upgrade`` (:mod:`prosparsity.traces.upgrade`) rewrites one
as v2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from prosparsity.core.errors import TraceError
from prosparsity.traces.layout import DATA, ENCODINGS, INFO_INT, INFO_STR, check_stored
from prosparsity.traces.metadata import tuplify
from prosparsity.traces.schema import (
    READABLE_VERSIONS,
    SCHEMA_NAME,
    LayerKind,
    LayerRecord,
    TraceInfo,
)

__all__ = ["Layers", "read_info", "read_layers", "read_version"]

LAYERS = "layers"
_REQUIRED_ATTRS = (
    "schema",
    "schema_version",
    "model",
    "dataset",
    "time_steps",
    "batch_size",
    "samples",
    "weights",
    "checkpoint",
    "checkpoint_sha256",
    "workload",
    "tool_version",
    "created",
)
_LAYER_ATTRS = ("name", "kind", "params", "shape", "layout", "levels", "in_network")


def attr_str(value: Any) -> str:
    """An HDF5 string attribute as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def read_version(path: Path, f: h5py.File) -> int:
    """The schema version of a file without a seal: 1, or an error.

    Raises:
        TraceError: not a prosparsity trace, an unreadable version, or a later version
            without its header (a v2 file whose seal was lost).
    """
    a = f.attrs
    if "schema" not in a or attr_str(a["schema"]) != SCHEMA_NAME:
        found = attr_str(a["schema"]) if "schema" in a else "no schema attribute"
        raise TraceError(
            path, f"not a prosparsity trace (schema '{found}', expected '{SCHEMA_NAME}')"
        )
    if "schema_version" not in a:
        raise TraceError(path, "missing attribute 'schema_version'")
    raw = np.asarray(a["schema_version"])
    version = raw.item() if raw.size == 1 else raw.tolist()
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    readable = " and ".join(str(v) for v in READABLE_VERSIONS)
    if not np.issubdtype(raw.dtype, np.integer) or version not in READABLE_VERSIONS:
        raise TraceError(
            path,
            f"unsupported schema version {version!r} (this tool reads versions {readable})",
        )
    version = int(version)
    if version != 1:
        raise TraceError(
            path, f"damaged trace: a version {version} trace without its header (digest)"
        )
    return version


def read_info(path: Path, f: h5py.File) -> TraceInfo:
    """The file attributes of a v1 trace."""
    a = f.attrs
    missing = [k for k in _REQUIRED_ATTRS if k not in a]
    if missing:
        raise TraceError(path, f"missing attribute(s) {', '.join(missing)}")
    if not bool(a.get("complete", False)):
        raise TraceError(
            path, "incomplete trace: the writer did not finish (no 'complete' marker)"
        )
    if LAYERS not in f:
        raise TraceError(path, "missing group '/layers'")
    extra_raw = attr_str(a["extra"]) if "extra" in a else "{}"
    try:
        extra = json.loads(extra_raw)
    except json.JSONDecodeError:
        raise TraceError(path, "attribute 'extra' is not valid JSON") from None
    if not isinstance(extra, dict):
        raise TraceError(path, "attribute 'extra' is not a JSON object")
    ints = {}
    for key in INFO_INT:
        raw = np.asarray(a[key])
        if raw.size != 1 or not np.issubdtype(raw.dtype, np.integer):
            raise TraceError(path, f"attribute '{key}' is not a whole number")
        ints[key] = int(raw.item())
    return TraceInfo(
        **{k: attr_str(a[k]) for k in INFO_STR},
        **ints,
        extra={str(k): str(v) for k, v in extra.items()},
    )


class Layers:
    """The records of a v1 trace with, per record with data, its data set path and
    encoding (every data set already checked against its record)."""

    def __init__(self) -> None:
        self.records: list[LayerRecord] = []
        self.where: dict[str, str] = {}
        self.encodings: dict[str, str] = {}


def read_layers(path: Path, f: h5py.File) -> Layers:
    """Every record of a v1 trace, in execution order, each data set checked (shape,
    dtype, encoding, filters, and the number of stored chunks)."""
    layers = f[LAYERS]
    keys = sorted(layers.keys())
    expected = int(f.attrs.get("layer_count", len(keys)))
    if len(keys) != expected:
        raise TraceError(path, f"file lists {expected} layers but holds {len(keys)} (truncated?)")
    out = Layers()
    names: set[str] = set()
    for key in keys:
        g = layers[key]
        label = attr_str(g.attrs["name"]) if "name" in g.attrs else f"#{key}"
        missing = [k for k in _LAYER_ATTRS if k not in g.attrs]
        if missing:
            raise TraceError(path, f"missing layer attribute(s) {', '.join(missing)}", label)
        try:
            kind = LayerKind(attr_str(g.attrs["kind"]))
        except ValueError:
            raise TraceError(
                path, f"unknown layer kind '{attr_str(g.attrs['kind'])}'", label
            ) from None
        try:
            params = tuplify(json.loads(attr_str(g.attrs["params"])))
        except json.JSONDecodeError:
            raise TraceError(path, "layer attribute 'params' is not valid JSON", label) from None
        if not isinstance(params, dict):
            raise TraceError(path, "layer attribute 'params' is not a JSON object", label)
        rec = LayerRecord(
            name=label,
            kind=kind,
            params=params,
            shape=tuple(int(s) for s in np.asarray(g.attrs["shape"]).reshape(-1)),
            layout=attr_str(g.attrs["layout"]),
            levels=tuple(int(v) for v in np.asarray(g.attrs["levels"]).reshape(-1)),
            in_network=bool(g.attrs["in_network"]),
        )
        if rec.name in out.where or rec.name in names:
            raise TraceError(path, "duplicate layer name", rec.name)
        if rec.has_data:
            _check_dataset(path, f, key, rec, out)
        out.records.append(rec)
        names.add(rec.name)
    return out


def _check_dataset(path: Path, f: h5py.File, key: str, rec: LayerRecord, out: Layers) -> None:
    g = f[LAYERS][key]
    if DATA not in g:
        raise TraceError(path, f"{rec.kind} layer has no data", rec.name)
    ds = g[DATA]
    if not isinstance(ds, h5py.Dataset):
        raise TraceError(path, f"'/{LAYERS}/{key}/{DATA}' is not a data set", rec.name)
    enc = attr_str(ds.attrs.get("encoding", ""))
    if enc not in ENCODINGS:
        raise TraceError(path, f"unknown data encoding '{enc}'", rec.name)
    out.where[rec.name] = f"{LAYERS}/{key}/{DATA}"
    out.encodings[rec.name] = enc
    check_stored(path, rec, ds, enc)
    if ds.chunks is not None:
        # A damaged chunk index reads as missing chunks, i.e. zeros, without error.
        want = math.prod(-(-s // c) for s, c in zip(ds.shape, ds.chunks, strict=True))
        got = ds.id.get_num_chunks()
        if got != want:
            raise TraceError(
                path,
                f"damaged trace: its data has {got} of its {want} chunks (the chunk index "
                "is damaged)",
                rec.name,
            )
