"""Synthetic traces at the paper's official layer shapes (``prosparsity trace synth``).

Sweeps and benchmarks over all 19 workloads of the paper need spike data at their exact
shapes, but only a few of the authors' dumps are public. This module writes a trace (of
the current schema) for any workload of :mod:`prosparsity.traces.workloads` with
Bernoulli spikes:

* every spiking GEMM input (conv, FC, attention operands) at the shape the authors' dumps
  have (``traces.importer.expected_dump_shape``), time first;
* bit density ``p`` (a parameter; the CLI defaults to the paper's Figure 11 value for
  the workload);
* a share ``r`` of the bits repeated across time steps (default 0.7, as in
  ``../shared/reference/synthetic``): each position draws a base bit
  ``b ~ Bernoulli(p)`` once; at each time step it keeps ``b`` with probability ``r`` and
  otherwise draws a fresh ``Bernoulli(p)`` bit. The expected density stays ``p``
  (``r*p + (1-r)*p``), and product sparsity has the repeats to find.

One uniform number ``u`` per element and step decides both: ``u < r`` keeps the base
bit, else the bit is ``u < r + (1-r)*p``. Every layer and every sample has its own
random stream derived from ``seed`` (``numpy.random.SeedSequence``), so a trace is a
pure function of (workload, density, repeat share, samples, seed).

The trace is marked synthetic: ``dataset = "synthetic"`` and the ``extra`` attributes
``synthetic = "true"``, ``synthetic_bit_density``, ``synthetic_repeat_fraction`` and
``synthetic_seed`` (:func:`prosparsity.traces.provenance.is_synthetic`), so reports can
say so. Its ``workload`` attribute names the paper workload, so cost models price it as
that workload (its layer shapes are exactly the workload's). A one-sample trace uses the
authors' dump layouts (``T,C,H,W``, ``T,K``, ``T,L,K``, ``T,L,D``) and is read exactly
like an imported dump; a trace of ``N > 1`` samples adds a ``B`` axis after ``T`` (like
a capture), so that each sample can be analysed at batch 1.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from prosparsity.core.errors import ConfigError
from prosparsity.core.resources import check_room
from prosparsity.traces.importer import expected_dump_shape
from prosparsity.traces.provenance import EXTRA_SYNTHETIC, SYNTHETIC_DATASET, is_synthetic
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.workloads import attention_operands, get_workload
from prosparsity.traces.writer import TraceWriter, checked_output

__all__ = [
    "DEFAULT_REPEAT_FRACTION",
    "SYNTHETIC_DATASET",
    "SynthSize",
    "SynthSpec",
    "estimate_size",
    "is_synthetic",
    "synthetic_records",
    "synthetic_spikes",
    "write_synthetic",
]

log = logging.getLogger(__name__)

#: Share of each position's bits repeated across time steps (as in the shared
#: reference's synthetic traces).
DEFAULT_REPEAT_FRACTION = 0.7



@dataclass(frozen=True)
class SynthSpec:
    """What a synthetic trace is drawn from.

    Attributes:
        workload: one of the paper's 19 workloads (``traces.workloads.WORKLOADS``).
        bit_density: Bernoulli probability ``p`` of a spike, in ``[0, 1]``.
        samples: samples to draw (each its own base bits), at least 1.
        seed: seed of the random streams (non-negative integer).
        repeat_fraction: share ``r`` of bits repeated across time steps, in ``[0, 1]``.
        corrected: use the corrected layer values of ``traces.workloads.AUTHOR_SLIPS``.
    """

    workload: str
    bit_density: float
    samples: int = 1
    seed: int = 0
    repeat_fraction: float = DEFAULT_REPEAT_FRACTION
    corrected: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.bit_density, int | float) and 0 <= self.bit_density <= 1):
            raise ConfigError("bit_density", f"must be in [0, 1], got {self.bit_density!r}")
        if not (isinstance(self.repeat_fraction, int | float) and 0 <= self.repeat_fraction <= 1):
            raise ConfigError(
                "repeat_fraction", f"must be in [0, 1], got {self.repeat_fraction!r}"
            )
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or self.samples < 1:
            raise ConfigError("samples", f"must be a positive integer, got {self.samples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"must be a non-negative integer, got {self.seed!r}")
        get_workload(self.workload)  # unknown name -> ConfigError listing the known ones


def synthetic_spikes(
    shape: tuple[int, ...],
    bit_density: float,
    rng: np.random.Generator,
    repeat_fraction: float = DEFAULT_REPEAT_FRACTION,
) -> np.ndarray:
    """Bernoulli spikes of ``shape`` (time first) with repeats across time steps.

    ``base ~ Bernoulli(p)`` per position (``shape[1:]``); per step ``t`` and position, one
    ``u ~ U[0, 1)``: the bit is ``base`` when ``u < r``, else ``u < r + (1 - r) * p``.

    Args:
        shape: ``(T, ...)``.
        bit_density: ``p``.
        rng: the random stream to draw from.
        repeat_fraction: ``r``.

    Returns:
        A bool array of ``shape``.
    """
    base = rng.random(shape[1:], dtype=np.float32) < np.float32(bit_density)
    keep = np.float32(repeat_fraction)
    fresh = np.float32(repeat_fraction + (1.0 - repeat_fraction) * bit_density)
    out = np.empty(shape, dtype=bool)
    for t in range(shape[0]):
        u = rng.random(shape[1:], dtype=np.float32)
        out[t] = np.where(u < keep, base, u < fresh)
    return out


def synthetic_records(workload: str, samples: int = 1, *,
                      corrected: bool = False) -> tuple[LayerRecord, ...]:
    """The records of a synthetic trace of ``workload``, in execution order.

    Attention operands (``NAME_q``, ``NAME_k``, ``NAME_v``) are placed just before their
    ``attention`` record, as the importer places them. Data records get the shape and
    layout of the authors' dumps; with ``samples > 1`` a ``B`` axis of that length
    follows ``T`` and every record's ``batch`` parameter is ``samples`` (as a capture
    of that many samples records it).
    """
    out: list[LayerRecord] = []
    for rec in get_workload(workload, corrected=corrected).layers:
        if rec.kind is LayerKind.ATTENTION:
            p = rec.params
            for op in attention_operands(str(p["variant"])):
                params = {"operand": op, "attention": rec.name,
                          **{k: p[k] for k in ("dim", "seq_len", "heads", "batch", "time_steps")}}
                out.append(LayerRecord(f"{rec.name}_{op}", LayerKind.ATTENTION_OPERAND, params))
        out.append(rec)
    shaped = []
    for rec in out:
        if samples > 1:
            rec = replace(rec, params={**rec.params, "batch": samples})
        if rec.has_data:
            shape, layout = expected_dump_shape(replace(rec, params={**rec.params, "batch": 1}))
            if samples > 1:
                shape = (shape[0], samples, *shape[1:])
                layout = "T,B," + layout.split(",", 1)[1]
            rec = replace(rec, shape=shape, layout=layout, levels=(0, 1))
        shaped.append(rec)
    return tuple(shaped)


def _info(spec: SynthSpec) -> TraceInfo:
    wl = get_workload(spec.workload, corrected=spec.corrected)
    extra: Mapping[str, str] = {
        EXTRA_SYNTHETIC: "true",
        "synthetic_bit_density": repr(float(spec.bit_density)),
        "synthetic_repeat_fraction": repr(float(spec.repeat_fraction)),
        "synthetic_seed": str(spec.seed),
        "workload_corrected": str(bool(spec.corrected)).lower(),
        "generated_by": "prosparsity trace synth",
    }
    return TraceInfo(model=wl.model, dataset=SYNTHETIC_DATASET, time_steps=wl.time_steps,
                     batch_size=spec.samples, samples=spec.samples, weights="unknown",
                     workload=spec.workload, extra=extra)


@dataclass(frozen=True)
class SynthSize:
    """What writing a synthetic trace takes, estimated from the shapes alone.

    Attributes:
        trace_bytes: the file's size, about: every spike bit-packed (Bernoulli bits barely
            compress), plus the metadata.
        peak_bytes: memory at the peak, about: the largest layer unpacked (one byte per
            value), its packed copy, one sample's draw and its float32 random numbers, plus
            what every write takes (8 MiB).
    """

    trace_bytes: int
    peak_bytes: int


#: memory a write takes whatever its layers (the writer's 1 MiB pool chunks and their
#: copies, HDF5's buffers, the records): measured with tracemalloc, 4.7 MiB for lenet5_mnist
_PEAK_BASE = 8 << 20


def estimate_size(spec: SynthSpec) -> SynthSize:
    """:class:`SynthSize` of ``spec``'s trace, from the workload's shapes (nothing drawn)."""
    records = synthetic_records(spec.workload, spec.samples, corrected=spec.corrected)
    total = (16 << 10) + 1024 * len(records)  # superblock, seal, /meta, HDF5's objects
    peak = 0
    for rec in records:
        if not rec.has_data:
            continue
        values = math.prod(rec.shape)
        total += math.prod((*rec.shape[:-1], (rec.shape[-1] + 7) // 8))
        one = values // spec.samples  # one sample's values
        steps = max(1, rec.shape[0])
        # the layer unpacked, packed, one sample's draw, base bits and float32 draws
        peak = max(peak, values + values // 8 + (one if spec.samples > 1 else 0)
                   + 9 * (one // steps))
    return SynthSize(total, peak + _PEAK_BASE)


def write_synthetic(spec: SynthSpec, out: str | Path, *, check_size: bool = True) -> Path:
    """Write a synthetic trace (temporary name, renamed on success).

    Args:
        spec: workload, density, samples, seed, repeat share.
        out: the trace file to write.
        check_size: refuse, before drawing anything, a trace whose estimated size
            (:func:`estimate_size`) exceeds the free disk or its peak memory the
            available memory.

    Returns:
        The path written.

    Raises:
        ConfigError: bad spec values (from :class:`SynthSpec`).
        SizeError: it would not fit (the message gives the figures).
        TraceError: the file cannot be written.
    """
    target = checked_output(out)
    if check_size:
        size = estimate_size(spec)
        check_room(f"synthetic trace {target} ({spec.workload}, {spec.samples:,} samples)",
                   disk_bytes=size.trace_bytes, memory_bytes=size.peak_bytes, at=target.parent,
                   flag="--no-size-check")
    records = synthetic_records(spec.workload, spec.samples, corrected=spec.corrected)
    data_records = [r for r in records if r.has_data]
    streams = np.random.SeedSequence(spec.seed).spawn(len(data_records))
    stream_of = {r.name: s for r, s in zip(data_records, streams, strict=True)}
    with TraceWriter(target, _info(spec)) as writer:
        for rec in records:
            if not rec.has_data:
                writer.add_layer(rec)
                continue
            per_sample = stream_of[rec.name].spawn(spec.samples)
            if spec.samples == 1:
                data = synthetic_spikes(rec.shape, spec.bit_density,
                                        np.random.default_rng(per_sample[0]),
                                        spec.repeat_fraction)
            else:
                data = np.empty(rec.shape, dtype=bool)
                one = (rec.shape[0], *rec.shape[2:])
                for b, ss in enumerate(per_sample):
                    data[:, b] = synthetic_spikes(one, spec.bit_density,
                                                  np.random.default_rng(ss),
                                                  spec.repeat_fraction)
            writer.add_layer(rec, data)
    log.info("wrote synthetic %s (%d samples, p=%g) to %s", spec.workload, spec.samples,
             spec.bit_density, target)
    return target



