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
    def is_gpu(self) -> bool:
        """A GPU (the paper's measured A100, the GPU-equivalent models): reports give
        its latency, not cycles at a clock of its own."""
        return self in _GPUS

    @property
    def is_reported(self) -> bool:
        """A published or measured figure (Stellar, the A100), not a model: it has a
        number only for the paper's workloads it was reported on."""
        return self in _REPORTED

    @property
    def models_dram(self) -> bool:
        """Whether the harness's model of it counts DRAM traffic (Prosperity, PTB and the
        GPU-equivalent models); the others' DRAM bits are not a figure ("—"), not 0."""
        return self in _DRAM

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

    @property
    def shares_op_count(self) -> bool:
        """Whether throughput and efficiency (GOP/s, GOP/J) divide the workload's shared
        operation count (``prosparsity.analysis.ops``, the authors' ``compute_num_OPS``)
        by this accelerator's latency and energy: every accelerator but Stellar, whose
        paper counts its own operations (issue 11)."""
        return self is not AcceleratorId.STELLAR

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
_GPUS = frozenset({AcceleratorId.A100, AcceleratorId.GPU_A100, AcceleratorId.GPU_H100})
_REPORTED = frozenset({AcceleratorId.STELLAR, AcceleratorId.A100})
_DRAM = frozenset({AcceleratorId.PROSPERITY, AcceleratorId.PTB, AcceleratorId.GPU_A100,
                   AcceleratorId.GPU_H100})
