"""Import the Prosperity authors' per-layer spike dumps into a trace (format v2).

The authors dump one boolean tensor per layer input, in a dict keyed by their layer
names (``simulator/networks.py`` reads it): conv inputs shaped ``(T, C, H, W)``, fully
connected inputs ``(T, K)`` or ``(T, L, K)``, and for each attention layer ``NAME`` its
spike operands ``NAME_q``, ``NAME_k``, ``NAME_v`` shaped ``(T, L, dim)`` (SpikingBERT has
no spiking q). Reading the containers (``.npz``, pickles) is :mod:`prosparsity.traces.dumps`.

With a workload (:mod:`prosparsity.traces.workloads`; given, or the file's stem when it
names one, as ``analyze`` reads a dump) each dump array is matched by name to the
workload's layer records and checked against the shape the workload implies (``T`` and
batch included); attention operands become ``attention_operand`` records placed just
before their ``attention`` record; records without data (LIF, LayerNorm, attention,
max-pool) are written in execution order; dump arrays the workload does not know
(LeNet-5's ``conv2d_0``, the encoded image) are kept with ``in_network=False``, placed
before the next known layer of the dump. :func:`open_dump` applies the same checks to a
dump read in place (``analyze`` / ``simulate`` of an ``.npz``), so both commands accept
and refuse the same files.

Without a workload every array becomes a record whose kind is guessed from its name and
rank (see :func:`guess_record`); shape parameters that the dump cannot give (kernel,
stride, output width) are then absent (:func:`missing_shapes` names the layers whose
GEMM cannot be priced for that reason).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prosparsity.core.atomic import check_output_path
from prosparsity.core.errors import ConfigError, TraceError, WriteError
from prosparsity.core.hashing import file_sha256
from prosparsity.traces.dumps import Dump, load_dump
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.workloads import WORKLOADS, attention_operands, get_workload
from prosparsity.traces.writer import TraceWriteError, TraceWriter

__all__ = [
    "PlannedDump",
    "expected_dump_shape",
    "guess_record",
    "import_dump",
    "load_dump",
    "missing_shapes",
    "open_dump",
    "plan_dump",
    "stem_workload",
]

log = logging.getLogger(__name__)


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
    dump: Dump, name: str, corrected: bool
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


def stem_workload(path: str | Path) -> str | None:
    """The paper workload a dump's file name names (``lenet5_mnist.npz``), or ``None``."""
    stem = Path(path).stem
    return stem if stem in WORKLOADS else None


@dataclass(frozen=True)
class PlannedDump:
    """A spike dump opened and matched to its records.

    Attributes:
        dump: the arrays (an ``.npz`` stays open until :meth:`Dump.close`).
        workload: the paper workload the records come from (``None``: kinds guessed).
        inferred: the workload was taken from the file's name, not given.
        records: the records of the trace to write, in execution order.
        info: its file attributes (without the import's ``extra``).
    """

    dump: Dump
    workload: str | None
    inferred: bool
    records: tuple[LayerRecord, ...]
    info: TraceInfo


def plan_dump(path: str | Path, workload: str | None = None, *,
              corrected: bool = False) -> PlannedDump:
    """Open a dump and match it to its records: those of ``workload`` (or of the
    workload the file's stem names), each array checked against the shape the workload
    implies; without either, records guessed from names and ranks.

    Raises:
        ConfigError: unknown workload name (checked before the file is opened).
        TraceError: unreadable dump, no arrays, a layer missing or at the wrong shape.
    """
    if workload:
        get_workload(workload, corrected=corrected)  # unknown name: before any reading
    name = workload or stem_workload(path)
    dump = load_dump(path)
    try:
        if len(dump) == 0:
            raise TraceError(dump.path, "the dump holds no arrays")
        if name:
            try:
                records, info = _plan_with_workload(dump, name, corrected)
            except TraceError as exc:
                if workload:
                    raise
                raise TraceError(exc.path, f"{exc.problem} (the workload is the one the file "
                                 "is named after; pass --workload NAME for another)",
                                 exc.layer) from None
        else:
            records = []
            for key in dump:
                try:
                    records.append(guess_record(key, dump.shape(key)))
                except ConfigError as exc:
                    raise TraceError(dump.path, exc.problem, key) from None
            t_values = [r.shape[0] for r in records]
            info = TraceInfo(
                model=dump.path.stem,
                time_steps=max(set(t_values), key=t_values.count),
                batch_size=1,
                samples=1,
            )
    except BaseException:
        dump.close()
        raise
    return PlannedDump(dump, name, bool(name) and not workload, tuple(records), info)


@contextmanager
def open_dump(path: str | Path, workload: str | None = None, *,
              corrected: bool = False) -> Iterator[PlannedDump]:
    """A dump of a paper workload, checked as ``trace import`` checks it, open for the
    ``with`` block (``analyze`` and ``simulate`` read an ``.npz`` in place through it).

    Raises:
        ConfigError: unknown workload name.
        TraceError: no workload given and the file's name names none; anything
            :func:`plan_dump` refuses.
    """
    if not workload and stem_workload(path) is None:
        raise TraceError(path, "an .npz dump needs --workload NAME (one of the paper's "
                         f"workloads: {', '.join(WORKLOADS)}), or import it first with "
                         "`prosparsity trace import`")
    planned = plan_dump(path, workload, corrected=corrected)
    try:
        yield planned
    finally:
        planned.dump.close()


def missing_shapes(records: Iterable[LayerRecord]) -> list[str]:
    """Names of the in-network GEMM records whose GEMM shape cannot be derived (a conv
    without kernel, stride or output size: what a dump imported without a workload
    lacks), in order."""
    from prosparsity.traces.shapes import gemm_shape

    out = []
    for rec in records:
        if not rec.has_data or not rec.in_network or rec.kind is LayerKind.ATTENTION_OPERAND:
            continue
        try:
            gemm_shape(rec)
        except (ConfigError, KeyError, TypeError, ValueError):
            out.append(rec.name)
    return out


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
            :data:`prosparsity.traces.workloads.WORKLOADS`), or ``None``: the workload
            the file's stem names, else kinds are guessed.
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
    planned = plan_dump(src, workload, corrected=corrected)
    dump, records = planned.dump, planned.records
    if planned.inferred:
        log.info("%s: workload %s (from the file name)", src, planned.workload)
    extra = {
        "source": src.name,
        "source_sha256": file_sha256(src),
        "imported_by": "prosparsity trace import",
        "workload_corrected": str(bool(corrected)).lower(),
    }
    info = replace(planned.info, extra=extra)
    try:
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
    finally:
        dump.close()
    log.info("imported %s -> %s (%d records)", src, target, len(records))
    return target
