"""Statistics on disk, without pickle: what a sweep's cache stores per count.

A :class:`~prosparsity.analysis.stats.ModelStats` becomes a JSON document (its layers,
GEMMs, counts, network and counter values, each counter serialising its own values) plus
named int64 arrays of the tile grids, written as ``<stem>.npz`` and read back with
``allow_pickle=False``. :data:`STATS_FORMAT` versions the document.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from prosparsity.analysis.counters import Counter, CounterFailure, counter_from_json
from prosparsity.analysis.grid import TileGrid
from prosparsity.analysis.network import Network
from prosparsity.analysis.stats import Counts, GemmStats, LayerStats, ModelStats
from prosparsity.core.atomic import atomic_write_bytes
from prosparsity.core.errors import ConfigError

__all__ = ["STATS_FORMAT", "deserialise", "load", "save", "serialise"]

#: Version of the serialised form (:func:`serialise`).
STATS_FORMAT = 1


def serialise(stats: ModelStats) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A JSON document and the named int64 arrays of the tile grids."""
    arrays: dict[str, np.ndarray] = {}
    layers = []
    for i, layer in enumerate(stats.layers):
        gemms = []
        for j, g in enumerate(layer.gemms):
            prefix = f"l{i}_g{j}_"
            grid = g.grid
            for name in ("rows", "cols", *TileGrid._PER_TILE):
                arrays[prefix + name] = np.asarray(getattr(grid, name), dtype=np.int64)
            gemms.append({
                "name": g.name, "layer": g.layer, "role": g.role, "m": g.m, "k": g.k,
                "n": g.n, "kernel": g.kernel, "passes": g.passes, "plane": g.plane,
                "copies": g.copies, "tile_m": grid.tile_m, "tile_k": grid.tile_k,
                "counts": _counts_json(g.counts), "arrays": prefix,
            })  # fmt: skip
        layers.append({
            "name": layer.name, "kind": layer.kind, "binary": layer.binary,
            "planes": layer.planes, "counts": _counts_json(layer.counts), "gemms": gemms,
        })  # fmt: skip
    doc = {
        "format": STATS_FORMAT,
        "model": stats.model,
        "tile_m": stats.tile_m,
        "tile_k": stats.tile_k,
        "adders": stats.adders,
        "has_data": stats.has_data,
        "counts": _counts_json(stats.counts),
        "network": None if stats.network is None else stats.network.to_json(),
        "layers": layers,
        "counters": [
            {
                "key": key.to_json(),
                "layers": {name: key.value_to_json(v) for name, v in values.items()},
            }
            for key, values in stats.counters.items()
        ],
        "counter_failures": [
            {"key": key.to_json(), "failure": failure.to_json()}
            for key, failure in stats.counter_failures.items()
        ],
    }
    return doc, arrays

def deserialise(doc: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ModelStats:
    """The inverse of :func:`serialise`.

    Raises:
        ConfigError: a document of another format version or missing arrays.
    """
    if doc.get("format") != STATS_FORMAT:
        raise ConfigError(
            "stats.format", f"unsupported format {doc.get('format')!r} (reads {STATS_FORMAT})"
        )
    try:
        layers = []
        for entry in doc["layers"]:
            gemms = []
            for g in entry["gemms"]:
                prefix = g["arrays"]
                grid = TileGrid(
                    tile_m=int(g["tile_m"]), tile_k=int(g["tile_k"]),
                    **{n: np.asarray(arrays[prefix + n])
                       for n in ("rows", "cols", *TileGrid._PER_TILE)},
                )  # fmt: skip
                gemms.append(GemmStats(
                    name=g["name"], layer=g["layer"], role=g["role"], m=int(g["m"]),
                    k=int(g["k"]), n=int(g["n"]), kernel=int(g["kernel"]),
                    passes=int(g["passes"]), plane=int(g["plane"]), grid=grid,
                    counts=Counts(**g["counts"]), copies=int(g["copies"]),
                ))  # fmt: skip
            layers.append(LayerStats(
                name=entry["name"], kind=entry["kind"], binary=bool(entry["binary"]),
                planes=int(entry["planes"]), gemms=tuple(gemms),
                counts=Counts(**entry["counts"]),
            ))  # fmt: skip
        counters: dict[Counter, dict[str, Any]] = {}
        for c in doc["counters"]:
            key = counter_from_json(c["key"])
            counters[key] = {n: key.value_from_json(v) for n, v in c["layers"].items()}
        failures = {counter_from_json(f["key"]): CounterFailure.from_json(f["failure"])
                    for f in doc.get("counter_failures", ())}
        network = doc["network"]
        return ModelStats(
            model=doc["model"], tile_m=int(doc["tile_m"]), tile_k=int(doc["tile_k"]),
            layers=tuple(layers), counts=Counts(**doc["counts"]),
            network=None if network is None else Network.from_json(network),
            counters=counters, counter_failures=failures, adders=int(doc["adders"]),
            has_data=bool(doc["has_data"]),
        )  # fmt: skip
    except KeyError as exc:
        raise ConfigError("stats", f"incomplete statistics document: missing {exc}") from None

def save(stats: ModelStats, stem: str | Path, what: str = "statistics") -> tuple[Path, Path]:
    """Write ``<stem>.npz`` then ``<stem>.json`` (each through a temporary file renamed
    on success, the folder created; the JSON last, so its presence means both are
    whole). Returns both paths.

    Raises:
        WriteError: a file cannot be written (path and reason; ``what`` names it).
    """
    stem = Path(stem)
    doc, arrays = serialise(stats)
    npz_path = atomic_write_bytes(stem.with_suffix(".npz"), _npz_bytes(arrays), what)
    json_path = atomic_write_bytes(stem.with_suffix(".json"),
                                   json.dumps(doc, sort_keys=True).encode(), what)
    return json_path, npz_path

def load(stem: str | Path) -> ModelStats:
    """Read what :func:`save` wrote (``allow_pickle=False``)."""
    stem = Path(stem)
    doc = json.loads(stem.with_suffix(".json").read_text())
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return deserialise(doc, arrays)


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as an ``.npz`` (what ``np.savez_compressed`` writes: a zip of ``.npy``
    members), deflated at level 1: six times faster than numpy's level 6 on tile grids for
    files a quarter larger (a sweep writes one per count)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _counts_json(c: Counts) -> dict[str, int]:
    return {f.name: int(getattr(c, f.name)) for f in fields(c)}
