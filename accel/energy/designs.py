"""Designs: the component list of each accelerator, sized from its config.

:func:`design_of` builds the components of one accelerator configuration
(:class:`Design`); :class:`ComponentConfig` holds the model's own options. Every size
follows from the accelerator's config by a rule stated where the component is built:

**Prosperity** (the paper's Sec. IV, the authors' ``simulator/accelerator.py`` and
``simulator/buffer_cacti.py``), with ``tile_m``, ``tile_k``, ``adders`` (A) and
``weight_bits`` (w) of :class:`~prosparsity.accel.prosperity.ProsperityConfig`:

* ``adders``: A adders of ``accumulator_bits`` (24: the 96 KB of output buffer hold a
  256 x 128 tile of 24-bit partial sums);
* ``tcam`` (detector): ``tile_m x tile_k`` ternary cells (1 KB at 256 x 16, the paper's
  1 KB TCAM); ``popcount``: ``popcount_units`` units of ``tile_k - 1`` adders of
  ``log2(tile_k + 1)`` bits;
* ``pruner``: a ``tile_m``-wide one-bit selection (one comparator slice per TCAM row);
* ``dispatcher``: issue type 2 sorts each tile's rows by popcount (a ``tile_m``-entry
  row queue and one popcount comparator per popcount unit); issue type 1 tracks each
  row's forest depth (``tile_m`` depth registers and a counter);
* ``forest``: one prefix pointer (``log2 tile_m`` bits and a valid bit) per tile row;
* buffers, each ``buffer_tiles`` (16) times the authors' simulator's one-tile buffer,
  the ratio of their CACTI configuration at the default design: spike
  ``16 * tile_m * tile_k`` bits (8 KB), 4-B accesses (``tile_k / 8`` when wider); weight
  ``16 * tile_k * A * w`` bits (32 KB), A*w-bit accesses; output 0 holds 8 bits and
  output 1 the other ``accumulator_bits - 8`` of a ``tile_m x A`` tile of partial sums
  (32 KB and 64 KB), A-byte accesses. ``paper_buffers`` (default) sizes the two "32 KB"
  buffers at the authors' 32,384 B (their script's figure; 32,768 otherwise);
* ``SFU``: ``lif_units`` LIF units (adder, comparator and membrane register of
  ``accumulator_bits``), ``multipliers`` 8-bit multipliers, and ``exp_units`` and
  ``div_units`` priced as 16-bit multipliers (the tables have no exponent or divider).

**Baselines** (consistent mode), from their configs' published array sizes (the sources
each model module cites): PTB 16 x 8 PEs (an adder, ``time_window_steps`` partial-sum
registers, a weight and a spike-window register each) and its 16 LIF units; SATO 128 PEs
(adder and partial-sum register) and one LIF unit (one neuron per cycle, as its cycle
model has it); MINT 128 PEs and its 16 LIF units; Eyeriss 14 x 12 PEs of 16-bit
multiply-accumulate with the published per-PE scratchpads (224 filter, 12 input and 24
partial-sum 16-bit words) and the 108 KB global buffer (Chen et al., JSSC 2017, whose
stored abstract confirms the 168 PEs; the sizes are its published figures, not re-read in
a stored copy; 8-B accesses assumed); LoAS 128 adders (the harness's throughput bound)
with their partial-sum registers, plus Prosperity's detector, pruner, dispatcher and
forest at its tile when ``prosparsity`` is set. For PTB, SATO, MINT and LoAS the stored
sources give no buffer sizes: they get Prosperity's default buffers (8 KB spike, 32 KB
weight, 96 KB output), so the comparison is iso-buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from prosparsity.accel.energy.components import (
    Component,
    SramSource,
    adders,
    bits_for,
    comparators,
    dram,
    lif_units,
    multipliers,
    registers,
    sram_buffer,
    tcam,
)
from prosparsity.accel.energy.fitted import CALIBRATION_FACTOR
from prosparsity.accel.energy.tables import sram
from prosparsity.core.errors import ConfigError
from prosparsity.paper.energy import DRAM_ENERGY_PJ_PER_BIT

__all__ = ["AUTHORS_32K_BYTES", "DEFAULT_COMPONENTS", "PROSPERITY", "ComponentConfig",
           "Design", "design_of", "registry_name"]

#: Registry names of the accelerators with a design here.
PROSPERITY, PTB, SATO, MINT, EYERISS, EYERISS_LINEAR, LOAS = (
    "prosperity", "ptb", "sato", "mint", "eyeriss", "eyeriss-linear", "loas")


def registry_name(accelerator: Any) -> str:
    """The registry name of an accelerator given by name or as its registered model."""
    return str(getattr(accelerator, "name", accelerator))

#: The authors' CACTI script sizes its "32 KB" weight and first output buffers at 32,384
#: bytes (``simulator/buffer_cacti.py``); ``paper_buffers`` reproduces it.
AUTHORS_32K_BYTES = 32384


@dataclass(frozen=True)
class ComponentConfig:
    """Options of the component model; the defaults are the paper-compatible reading.

    Attributes:
        accumulator_bits: partial-sum width of the adders, LIF units and output buffers.
        buffer_tiles: spike and weight buffers hold this many one-tile buffers.
        paper_buffers: the authors' 32,384-B figure for Prosperity's 32-KB buffers.
        dram_pj_per_bit: DRAM energy per bit moved, pJ.
        calibration: factor on the on-chip energy (the fitted one; 1.0: uncalibrated).
        cacti: path of a CACTI 7 binary to run for the buffers instead of the packaged
            rows (:mod:`prosparsity.accel.energy.cacti`); ``None``: the packaged rows.
    """

    accumulator_bits: int = 24
    buffer_tiles: int = 16
    paper_buffers: bool = True
    dram_pj_per_bit: float = DRAM_ENERGY_PJ_PER_BIT
    calibration: float = CALIBRATION_FACTOR
    cacti: str | None = None

    def __post_init__(self) -> None:
        for name in ("accumulator_bits", "buffer_tiles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"energy.{name}", f"must be a positive integer, got {value!r}")
        if self.accumulator_bits <= 8:
            raise ConfigError("energy.accumulator_bits",
                              f"must be > 8 (output buffer 1 holds the bits above 8), "
                              f"got {self.accumulator_bits}")
        for name in ("dram_pj_per_bit", "calibration"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"energy.{name}", f"must be >= 0, got {getattr(self, name)!r}")

    def sram_source(self) -> SramSource:
        """Where buffer figures come from: the packaged rows, or the given CACTI."""
        if self.cacti is None:
            return sram
        from prosparsity.accel.energy.cacti import CactiRunner

        return CactiRunner(self.cacti).figures


DEFAULT_COMPONENTS = ComponentConfig()
"""The calibrated, paper-compatible options."""


@dataclass(frozen=True)
class Design:
    """The components of one accelerator configuration.

    Attributes:
        accelerator: registry name.
        components: every component, DRAM last.
    """

    accelerator: str
    components: tuple[Component, ...]

    def component(self, name: str) -> Component:
        """The component called ``name``.

        Raises:
            KeyError: no such component.
        """
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def area_mm2(self) -> float:
        """On-chip area, mm²."""
        return sum(c.area_mm2 for c in self.components)

    @property
    def leak_mw(self) -> float:
        """On-chip leakage, mW."""
        return sum(c.leak_mw for c in self.components)


def _shrunk(size_bytes: float, opts: ComponentConfig) -> float:
    """A buffer of the rule's size, the authors' 32,384 B per 32 KB under paper_buffers."""
    return size_bytes * AUTHORS_32K_BYTES / 32768 if opts.paper_buffers else size_bytes


def _detector(tile_m: int, tile_k: int, popcount_units: int, issue_type: int
              ) -> list[Component]:
    """The ProSparsity detector, pruner, dispatcher and forest at one tile."""
    count_bits = bits_for(tile_k + 1)
    row_bits = bits_for(tile_m)
    out = [
        tcam("tcam", "detector", tile_m, tile_k),
        adders("popcount", "detector", popcount_units * max(tile_k - 1, 1), count_bits),
        comparators("pruner", "pruner", tile_m, 1),
        registers("forest", "forest", tile_m, row_bits + 1),
    ]
    if issue_type == 2:
        out += [registers("dispatcher", "dispatcher", tile_m, row_bits),
                comparators("dispatcher_sort", "dispatcher", popcount_units, count_bits)]
    else:
        out += [registers("dispatcher", "dispatcher", tile_m, count_bits),
                adders("dispatcher_sort", "dispatcher", 1, row_bits)]
    return out


def _prosperity_buffers(tile_m: int, tile_k: int, n_adders: int, weight_bits: int,
                        opts: ComponentConfig, source: SramSource) -> list[Component]:
    t = opts.buffer_tiles
    acc_high = opts.accumulator_bits - 8
    return [
        sram_buffer("spike_buffer", "buffers", t * tile_m * tile_k / 8,
                    max(4, -(-tile_k // 8)), source),
        sram_buffer("weight_buffer", "buffers",
                    _shrunk(t * tile_k * n_adders * weight_bits / 8, opts),
                    n_adders * weight_bits / 8, source),
        sram_buffer("output_buffer_0", "buffers", _shrunk(tile_m * n_adders, opts),
                    n_adders, source),
        sram_buffer("output_buffer_1", "buffers", tile_m * n_adders * acc_high / 8,
                    n_adders, source),
    ]


def _prosperity(cfg: Any, opts: ComponentConfig, source: SramSource) -> list[Component]:
    acc = opts.accumulator_bits
    return [
        adders("adders", "adders", cfg.adders, acc),
        *_detector(cfg.tile_m, cfg.tile_k, cfg.popcount_units, cfg.issue_type),
        *_prosperity_buffers(cfg.tile_m, cfg.tile_k, cfg.adders, cfg.weight_bits, opts,
                             source),
        lif_units("lif", "SFU", cfg.lif_units, acc),
        multipliers("multipliers", "SFU", cfg.multipliers, 8),
        multipliers("exp_units", "SFU", cfg.exp_units, 16),
        multipliers("dividers", "SFU", cfg.div_units, 16),
    ]


def _iso_buffers(opts: ComponentConfig, source: SramSource) -> list[Component]:
    """Prosperity's default buffers, for a baseline whose sizes the sources lack."""
    return _prosperity_buffers(256, 16, 128, 8, opts, source)


def _pe_array(pes: int, acc: int, psums: int) -> list[Component]:
    return [adders("adders", "PEs", pes, acc),
            registers("psum_registers", "PEs", pes * psums, acc)]


def _baseline(accel: str, cfg: Any, opts: ComponentConfig,
              source: SramSource) -> list[Component]:
    acc = opts.accumulator_bits
    if accel == PTB:
        pes = cfg.array_rows * cfg.array_lanes
        return [*_pe_array(pes, acc, cfg.time_window_steps),
                registers("pe_operands", "PEs", pes, cfg.weight_bits + cfg.time_window_steps),
                lif_units("lif", "SFU", cfg.lif_units, acc), *_iso_buffers(opts, source)]
    if accel == SATO:
        return [*_pe_array(cfg.pes, acc, 1), lif_units("lif", "SFU", 1, acc),
                *_iso_buffers(opts, source)]
    if accel == MINT:
        return [*_pe_array(cfg.pes, acc, 1), lif_units("lif", "SFU", cfg.lif_units, acc),
                *_iso_buffers(opts, source)]
    if accel in (EYERISS, EYERISS_LINEAR):
        pes = cfg.pe_rows * cfg.pe_cols
        return [multipliers("macs", "PEs", pes, 16),
                adders("mac_adders", "PEs", pes, 16),
                registers("scratchpads", "PEs", pes * (224 + 12 + 24), 16),
                sram_buffer("global_buffer", "buffers", 108 * 1024, 8, source)]
    if accel == LOAS:
        out = [*_pe_array(cfg.adders, acc, 1)]
        if cfg.prosparsity:
            out += _detector(cfg.tile_m, cfg.tile_k, 8, 2)
        return out + _iso_buffers(opts, source)
    raise KeyError(accel)


@lru_cache(maxsize=256)
def _design(accel: str, config: Any, opts: ComponentConfig) -> Design | None:
    source = opts.sram_source()
    if accel == PROSPERITY:
        parts = _prosperity(config, opts, source)
    else:
        try:
            parts = _baseline(accel, config, opts, source)
        except KeyError:
            return None
    return Design(accel, (*parts, dram(opts.dram_pj_per_bit)))


def design_of(accelerator: Any, config: Any,
              options: ComponentConfig | None = None) -> Design | None:
    """The components of ``accelerator`` in ``config``; ``None`` for an accelerator with no
    design here (a GPU, a reported figure) or a config without the fields its design
    is sized from.

    Raises:
        ConfigError: an option the model rejects, or a CACTI run that fails.
    """
    accel = registry_name(accelerator)
    opts = options or ComponentConfig()
    try:
        try:
            return _design(accel, config, opts)
        except TypeError:  # an unhashable config: build it uncached
            return _design.__wrapped__(accel, config, opts)
    except AttributeError:  # not the accelerator's config (a stand-in): no design
        return None
