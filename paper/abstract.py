"""The abstract's headline: Prosperity's average gains over PTB and over the A100.

The abstract claims 7.4x speedup and 8.0x energy efficiency over PTB, and 1.8x speedup
and 193x energy efficiency over the A100; it does not say which mean it takes. Keyed by
``(the paper's accelerator spelling, comparison)``, the comparison being ``speedup`` or
``energy_efficiency``. :mod:`prosparsity.reports.headline` sets Figure 8 reduced the same
way beside them.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper._base import PAPER
from prosparsity.paper._base import frozen as _frozen

HEADLINE_SOURCE = f"{PAPER}, abstract"

HEADLINE_CLAIM: Mapping[tuple[str, str], float] = _frozen({
    ("PTB", "speedup"): 7.4,
    ("PTB", "energy_efficiency"): 8.0,
    ("A100", "speedup"): 1.8,
    ("A100", "energy_efficiency"): 193.0,
})
"""The abstract's claimed average speedup and energy efficiency of Prosperity, x."""

HEADLINE_BASELINES: tuple[str, ...] = tuple(dict.fromkeys(b for b, _ in HEADLINE_CLAIM))
"""The accelerators the abstract compares with, as the paper spells them (PTB, A100)."""
