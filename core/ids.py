"""Identities that several stages name: the accelerators.

An accelerator is spelled three ways in the project's sources: its registry name
(``eyeriss-linear``, what the CLI takes), the paper's spelling (``Eyeriss_linear``, what
reports print and the paper's tables are keyed by) and the key of the paper's energy
model (``Eyeriss``, shared by Eyeriss and Eyeriss-linear). :class:`AcceleratorId` carries
all three, so that the registry, the suite, the energy model and the reports key on one
value and never on a display string.

No stage owns this module; every stage may import it (it imports nothing of the project).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AcceleratorId"]


class AcceleratorId(StrEnum):
    """One accelerator model of the harness; the value is its registry name."""

    PROSPERITY = "prosperity"
    PTB = "ptb"
    EYERISS = "eyeriss"
    EYERISS_LINEAR = "eyeriss-linear"
    SATO = "sato"
    MINT = "mint"
    LOAS = "loas"
    STELLAR = "stellar"
    A100 = "a100"
    GPU_A100 = "gpu-a100"
    GPU_H100 = "gpu-h100"

    @property
    def display(self) -> str:
        """How reports print it: the paper's spelling for the paper's accelerators
        (``Prosperity``, ``PTB``, ``Eyeriss_linear``, ``A100``, ``LoAS``), the registry
        name for the harness's own GPU-equivalent models (``gpu-a100`` is not the
        paper's measured ``A100``)."""
        return _DISPLAY.get(self, self.value)

    @property
    def paper_key(self) -> str | None:
        """The spelling of the paper's tables (Figure 8 rows, ``energy_constants.json``),
        or ``None`` for a model the paper has no published number for."""
        return _PAPER.get(self)

    @property
    def energy_key(self) -> str | None:
        """Key of the paper's energy model (spec §6), or ``None`` when the model prices
        its own energy (the A100's measured power) or has none (LoAS, GPU models)."""
        return _ENERGY.get(self)

    @classmethod
    def parse(cls, name: str) -> AcceleratorId | None:
        """The id of a registry name or of a display spelling (case-insensitive,
        ``_`` and ``-`` alike), or ``None``."""
        wanted = name.strip().lower().replace("_", "-")
        for member in cls:
            if wanted in (member.value, member.display.lower().replace("_", "-")):
                return member
        return None


_DISPLAY = {
    AcceleratorId.PROSPERITY: "Prosperity",
    AcceleratorId.PTB: "PTB",
    AcceleratorId.EYERISS: "Eyeriss",
    AcceleratorId.EYERISS_LINEAR: "Eyeriss_linear",
    AcceleratorId.SATO: "SATO",
    AcceleratorId.MINT: "MINT",
    AcceleratorId.LOAS: "LoAS",
    AcceleratorId.STELLAR: "Stellar",
    AcceleratorId.A100: "A100",
}
_PAPER = {
    a: _DISPLAY[a]
    for a in (
        AcceleratorId.PROSPERITY,
        AcceleratorId.PTB,
        AcceleratorId.EYERISS,
        AcceleratorId.EYERISS_LINEAR,
        AcceleratorId.SATO,
        AcceleratorId.MINT,
        AcceleratorId.STELLAR,
        AcceleratorId.A100,
    )
}
_ENERGY = {
    AcceleratorId.PROSPERITY: "Prosperity",
    AcceleratorId.PTB: "PTB",
    AcceleratorId.EYERISS: "Eyeriss",
    AcceleratorId.EYERISS_LINEAR: "Eyeriss",
    AcceleratorId.SATO: "SATO",
    AcceleratorId.MINT: "MINT",
    AcceleratorId.STELLAR: "Stellar",
}
