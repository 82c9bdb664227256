"""Energy off the paper's design point: when a sweep may report energy, and when not.

The paper's energy model (``prosparsity.accel.energy``, spec §6)::

    E [mJ] = P [mW] * t [s] + e_DRAM [pJ/bit] * r * D [bit] * 1e-9

prices each accelerator with one on-chip power ``P`` measured (or synthesised) for its
*default* design. A swept field that changes the hardware (more adders, bigger buffers
through the tile size, more LIF or popcount units, a wider memory interface, another
clock) changes ``P`` in a way the paper does not give, so the sweep does not guess: the
energy of such a configuration is **null**, and the row's ``note`` says which field
moved it off the calibrated design. The default point is priced exactly as
``prosparsity simulate`` prices it, so Figure 8's energies are reproduced there.

Fields that leave the hardware as it is are listed in :data:`SAME_HARDWARE_FIELDS`:
simulator-compatibility switches (``paper_compat``, ``paper_compatible``), Prosperity's
``sparsity`` (an operating mode of the same chip: the bit-sparsity and dense ablations
skip the detector's work, the paper prices them with the same power) and Eyeriss's
``price_transformer_ops`` (what the model counts, not what the chip is). Every other
field counts as hardware, including fields added to a config later, so a new knob can
never silently reuse the default's power.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prosparsity.sweep.configs import changed_fields

#: Per registry name, the config fields that do not change the hardware (energy stays
#: priced by the paper's model when only these differ from the default).
SAME_HARDWARE_FIELDS: Mapping[str, frozenset[str]] = {
    "prosperity": frozenset({"sparsity", "paper_compat"}),
    "ptb": frozenset({"paper_compatible"}),
    "eyeriss": frozenset({"paper_compatible", "price_transformer_ops"}),
    "eyeriss-linear": frozenset({"paper_compatible", "price_transformer_ops"}),
}


def energy_withheld(accelerator: str, config: Any, default: Any) -> str | None:
    """Why the energy of ``config`` is not reported, or ``None`` when it is.

    Args:
        accelerator: registry name.
        config: the configuration priced.
        default: the accelerator's default configuration (the paper's design).

    Returns:
        ``None`` when ``config`` equals ``default`` on every hardware field; else one
        sentence naming the fields (``adders=256 (default 128)``).
    """
    same = SAME_HARDWARE_FIELDS.get(accelerator, frozenset())
    moved = {k: v for k, v in changed_fields(config, default).items() if k not in same}
    if not moved:
        return None
    what = ", ".join(f"{k}={v!r} (default {d!r})" for k, (v, d) in moved.items())
    return (f"energy not reported: {what} changes the hardware; the paper's energy "
            "constants describe its default design only")
