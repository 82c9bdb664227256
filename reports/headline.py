"""The paper's headline beside ours: Prosperity's mean speedup and energy efficiency.

The abstract claims 7.4x speedup and 8.0x energy efficiency over PTB, and 1.8x and 193x
over the A100, without saying which mean it takes. :func:`headline` puts three numbers
side by side for each (baseline, comparison, mean):

* **claim**: the abstract's number (:data:`~prosparsity.paper.abstract.HEADLINE_CLAIM`);
* **paper**: the paper's own Figure 8 reduced the same way (per-workload ratio, then the
  geometric or arithmetic mean) over the same workloads as ours, those of ours that
  Figure 8 has; ``paper_all`` is the same reduction over every workload of Figure 8;
* **ours**: our results reduced the same way.

Per workload, speedup over X is ``latency(X) / latency(Prosperity)`` and energy
efficiency over X is ``energy(X) / energy(Prosperity)``; a workload enters a row only
when both numbers exist. Each row names its workloads and whether their traces were
real, synthetic or unknown. Like every builder here, this only reduces numbers already
computed: ratios and means.

Other accelerators can stand beside Prosperity (:class:`Subject`: the plugins Phi and
Bishop, or a third party's): their rows compare them with the same baselines and with
the baselines their own publications name, the claim column holding *their* claim, the
paper column empty (Figure 8 has no such accelerator), and the notes carrying their
caveat (``first-order model, no reference simulator``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from prosparsity.core.errors import ConfigError
from prosparsity.core.measures import geometric_mean, speedup
from prosparsity.paper.abstract import HEADLINE_BASELINES, HEADLINE_CLAIM, HEADLINE_SOURCE
from prosparsity.paper.fig8 import FIG8_ENERGY_MJ, FIG8_LATENCY_S, FIG8_SOURCE
from prosparsity.reports.paper import canonical_accelerator
from prosparsity.reports.rows import AccelRow

__all__ = [
    "Comparison",
    "Headline",
    "HeadlineRow",
    "MeanKind",
    "Subject",
    "TraceKind",
    "headline",
]

PROSPERITY = "Prosperity"
#: The section's title (a subject's caveat is appended: :attr:`Headline.title`).
HEADLINE_TITLE = "Headline: Prosperity against PTB and the A100 (the paper's abstract)"


class TraceKind(StrEnum):
    """Where a workload's spikes came from."""

    REAL = "real"  # captured from a trained network or the authors' dumps
    SYNTHETIC = "synthetic"  # generated (random spikes at a workload's shapes)
    UNKNOWN = "unknown"


class Comparison(StrEnum):
    """What a headline row compares."""

    SPEEDUP = "speedup"  # latency(baseline) / latency(Prosperity)
    ENERGY_EFFICIENCY = "energy_efficiency"  # energy(baseline) / energy(Prosperity)


class MeanKind(StrEnum):
    """How per-workload ratios are reduced."""

    GEOMETRIC = "geometric"
    ARITHMETIC = "arithmetic"


def _mean(values: Sequence[float], kind: MeanKind) -> float | None:
    if not values:
        return None
    if kind is MeanKind.GEOMETRIC:
        return geometric_mean(values)
    return statistics.fmean(values)


@dataclass(frozen=True)
class HeadlineRow:
    """One headline number three ways.

    Attributes:
        baseline: the accelerator Prosperity is compared with (``PTB``, ``A100``).
        comparison: speedup or energy efficiency.
        mean: geometric or arithmetic.
        claim: the abstract's number, or ``None`` (a baseline the abstract does not name).
        paper: Figure 8 reduced over ``paper_workloads``, or ``None`` when it has none.
        ours: our results reduced over ``workloads``, or ``None`` when there are none.
        workloads: our workloads in this row.
        traces: the trace kind of each of ``workloads``, in the same order.
        paper_workloads: those of ``workloads`` that Figure 8 has for this baseline.
        paper_all: Figure 8 reduced over every workload it has for this baseline.
        paper_all_workloads: how many workloads that is.
        accelerator: whose speedup it is (Prosperity, or a :class:`Subject`).
        caveat: that accelerator's label (``first-order model, ...``), or ``""``.
    """

    baseline: str
    comparison: Comparison
    mean: MeanKind
    claim: float | None
    paper: float | None
    ours: float | None
    workloads: tuple[str, ...]
    traces: tuple[TraceKind, ...]
    paper_workloads: tuple[str, ...]
    paper_all: float | None
    paper_all_workloads: int
    accelerator: str = PROSPERITY
    caveat: str = ""

    @property
    def label(self) -> str:
        """``speedup over PTB (geometric mean)``; ``Phi speedup over Stellar (geometric
        mean)`` for another accelerator than Prosperity."""
        what = "speedup" if self.comparison is Comparison.SPEEDUP else "energy efficiency"
        who = "" if self.accelerator == PROSPERITY else f"{self.accelerator} "
        return f"{who}{what} over {self.baseline} ({self.mean} mean)"

    def trace_summary(self) -> str:
        """``1 real (lenet5_mnist), 4 synthetic (...)``: the row's workloads by kind."""
        parts = []
        for kind in TraceKind:
            names = [w for w, k in zip(self.workloads, self.traces, strict=True) if k is kind]
            if names:
                parts.append(f"{len(names)} {kind} ({', '.join(names)})")
        return ", ".join(parts) if parts else "none"

    def to_json(self) -> dict[str, Any]:
        """JSON form of the row."""
        return {
            "accelerator": self.accelerator,
            "caveat": self.caveat,
            "baseline": self.baseline,
            "comparison": str(self.comparison),
            "mean": str(self.mean),
            "claim": self.claim,
            "paper": self.paper,
            "ours": self.ours,
            "workloads": [{"workload": w, "trace": str(k)}
                          for w, k in zip(self.workloads, self.traces, strict=True)],
            "paper_workloads": list(self.paper_workloads),
            "paper_all": self.paper_all,
            "paper_all_workloads": self.paper_all_workloads,
        }


@dataclass(frozen=True)
class Subject:
    """An accelerator set beside Prosperity in the headline.

    Attributes:
        name: how the rows spell it (``Phi``).
        caveat: its label (``first-order model, no reference simulator``), or ``""``.
        claims: ``(baseline as the rows spell it, comparison) -> claimed ratio``, what its
            own publication claims over a named baseline.
        unnamed: ``comparison -> claimed ratio`` over baselines its publication does
            not name (a note, not a row).
        source: where its claims come from.
    """

    name: str
    caveat: str = ""
    claims: Mapping[tuple[str, str], float] = field(default_factory=dict)
    unnamed: Mapping[str, float] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Headline:
    """The headline section: one row per (baseline, comparison, mean).

    Attributes:
        rows: in the order baseline, comparison, mean.
        sources: where the claim and the paper column come from.
    """

    rows: tuple[HeadlineRow, ...]
    sources: tuple[str, ...] = (HEADLINE_SOURCE, FIG8_SOURCE)
    subjects: tuple[Subject, ...] = ()

    def row(self, baseline: str, comparison: Comparison | str,
            mean: MeanKind | str = MeanKind.GEOMETRIC,
            accelerator: str = PROSPERITY) -> HeadlineRow:
        """The row for one baseline, comparison and mean (of Prosperity, or of
        ``accelerator``).

        Raises:
            ConfigError: no such row.
        """
        for r in self.rows:
            if (r.baseline.lower() == baseline.lower() and r.comparison == comparison
                    and r.mean == mean and r.accelerator.lower() == accelerator.lower()):
                return r
        raise ConfigError("headline.row", f"no row for {accelerator}'s {comparison} over "
                          f"{baseline} ({mean})")

    def to_json(self) -> dict[str, Any]:
        """JSON form of the section."""
        return {"sources": list(self.sources), "rows": [r.to_json() for r in self.rows]}

    def table(self) -> tuple[list[str], list[list[str]], list[str]]:
        """The section as text: headers, one row of cells per :class:`HeadlineRow`
        (``—`` where a number does not exist), and the notes under it."""
        only_prosperity = all(r.accelerator == PROSPERITY for r in self.rows)
        headers = ["Prosperity" if only_prosperity else "Comparison", "claim",
                   "paper (same workloads)", "ours", "workloads"]
        cells = []
        for r in self.rows:
            where = r.trace_summary()
            if r.accelerator == PROSPERITY and len(r.paper_workloads) != len(r.workloads):
                missing = [w for w in r.workloads if w not in r.paper_workloads]
                where += f"; not in Figure 8: {', '.join(missing)}"
            cells.append([r.label, _times(r.claim), _times(r.paper), _times(r.ours), where])
        alls = []
        for r in self.rows:
            if r.paper_all is not None and r.mean is MeanKind.GEOMETRIC:
                arith = self.row(r.baseline, r.comparison, MeanKind.ARITHMETIC).paper_all
                alls.append(f"{r.label.split(' (')[0]} {_times(r.paper_all)} geometric, "
                            f"{_times(arith)} arithmetic ({r.paper_all_workloads} workloads)")
        notes = [
            "claim: the abstract's number (it names no mean); paper: Figure 8's own "
            "latencies and energies reduced the same way over those of our workloads it "
            "has; ours: our results over the workloads named (per workload "
            "baseline / Prosperity, then the mean).",
            "Figure 8 over all its workloads: " + "; ".join(alls) + ".",
        ]
        notes += self._subject_notes()
        notes.append("Sources: " + "; ".join(
            dict.fromkeys([*self.sources, *(s.source for s in self.subjects if s.source)]))
            + ".")
        return headers, cells, notes

    @property
    def title(self) -> str:
        """The section's title, with the caveat of every other accelerator beside
        Prosperity (``... — Phi, Bishop: first-order model, no reference simulator``)."""
        caveats: dict[str, list[str]] = {}
        for s in self.subjects:
            if s.caveat:
                caveats.setdefault(s.caveat, []).append(s.name)
        if not caveats:
            return HEADLINE_TITLE
        return HEADLINE_TITLE + " — " + "; ".join(f"{', '.join(n)}: {c}"
                                                  for c, n in caveats.items())

    def _subject_notes(self) -> list[str]:
        """The other accelerators' caveats and the claims over unnamed baselines."""
        notes = []
        caveats: dict[str, list[str]] = {}
        for s in self.subjects:
            if s.caveat:
                caveats.setdefault(s.caveat, []).append(s.name)
        for caveat, names in caveats.items():
            notes.append(f"{', '.join(names)}: {caveat} (ours: this harness's model on "
                         "our traces; claim: its publication's own number, on its "
                         "workloads, beside ours over the same baseline).")
        for s in self.subjects:
            if s.unnamed:
                said = ", ".join(f"{_times(v)} {str(c).replace('_', ' ')}"
                                 for c, v in s.unnamed.items())
                notes.append(f"{s.name} claims {said} over baselines its publication does "
                             "not name: no row.")
        return notes


def _times(value: float | None) -> str:
    """``7.31×``, ``185.3×``, ``—`` for none."""
    if value is None:
        return "—"
    return f"{value:.1f}×" if value >= 100 else f"{value:.2f}×"


def _ratios(num: Mapping[str, float], den: Mapping[str, float],
            workloads: Iterable[str]) -> dict[str, float]:
    """``num[w] / den[w]`` for each workload that has both (positive, finite)."""
    out = {}
    for w in workloads:
        ratio = speedup(num.get(w), den.get(w))
        if ratio is not None:
            out[w] = ratio
    return out


def _ours(rows: Sequence[AccelRow], accelerator: str, comparison: Comparison) -> dict[str, float]:
    wanted = canonical_accelerator(accelerator) or accelerator
    out: dict[str, float] = {}
    for row in rows:
        name = canonical_accelerator(row.accelerator) or row.accelerator
        if name.lower() != wanted.lower():
            continue
        value = row.latency_s if comparison is Comparison.SPEEDUP else row.energy_mj
        if value is not None:
            out[row.workload] = value
    return out


def headline(
    rows: Sequence[AccelRow],
    traces: Mapping[str, TraceKind | str] | None = None,
    baselines: Sequence[str] = HEADLINE_BASELINES,
    subjects: Sequence[Subject] = (),
) -> Headline:
    """Prosperity's mean speedup and energy efficiency: the claim, Figure 8, ours; and
    beside it each of ``subjects`` over the same baselines and over those its claims
    name (a row where ours or a claim exists).

    Args:
        rows: our results, one per workload and accelerator (accelerators spelled as the
            paper does, matched case-insensitively: ``Prosperity``, ``PTB``, ``A100``).
        traces: workload -> where its spikes came from (``real``, ``synthetic``); a
            workload not named is ``unknown``.
        baselines: accelerators to compare with, in row order.
        subjects: other accelerators to set beside Prosperity (their rows follow).

    Raises:
        ConfigError: a trace kind that is not one of :class:`TraceKind` (names the workload).
    """
    kinds: dict[str, TraceKind] = {}
    for workload, kind in (traces or {}).items():
        try:
            kinds[workload] = TraceKind(kind)
        except ValueError:
            raise ConfigError(f"headline.traces.{workload}",
                              f"unknown trace kind {kind!r} (one of "
                              f"{', '.join(TraceKind)})") from None
    order = list(dict.fromkeys(r.workload for r in rows))
    out: list[HeadlineRow] = []
    for baseline in baselines:
        paper_name = canonical_accelerator(baseline)
        for comparison in Comparison:
            figure = FIG8_LATENCY_S if comparison is Comparison.SPEEDUP else FIG8_ENERGY_MJ
            paper_base = figure.get(paper_name or "", {})
            paper_all = _ratios(paper_base, figure[PROSPERITY], figure[PROSPERITY])
            ours = _ratios(_ours(rows, baseline, comparison),
                           _ours(rows, PROSPERITY, comparison), order)
            same = [w for w in ours if w in paper_all]
            for mean in MeanKind:
                out.append(HeadlineRow(
                    baseline=paper_name or baseline,
                    comparison=comparison,
                    mean=mean,
                    claim=HEADLINE_CLAIM.get((paper_name or "", str(comparison))),
                    paper=_mean([paper_all[w] for w in same], mean),
                    ours=_mean(list(ours.values()), mean),
                    workloads=tuple(ours),
                    traces=tuple(kinds.get(w, TraceKind.UNKNOWN) for w in ours),
                    paper_workloads=tuple(same),
                    paper_all=_mean(list(paper_all.values()), mean),
                    paper_all_workloads=len(paper_all),
                ))
    for subject in subjects:
        out += _subject_rows(subject, rows, kinds, order, baselines)
    return Headline(tuple(out), subjects=tuple(subjects))


def _subject_rows(subject: Subject, rows: Sequence[AccelRow], kinds: Mapping[str, TraceKind],
                  order: Sequence[str], baselines: Sequence[str]) -> list[HeadlineRow]:
    """``subject`` over ``baselines`` and the baselines of its claims: our ratio (its
    latency or energy over the baseline's, per workload, then the mean) and its claim."""
    out = []
    named = [b for b, _ in subject.claims]
    for baseline in dict.fromkeys([*baselines, *named]):
        name = canonical_accelerator(baseline) or baseline
        for comparison in Comparison:
            ours = _ratios(_ours(rows, baseline, comparison),
                           _ours(rows, subject.name, comparison), order)
            claim = next((v for (b, c), v in subject.claims.items()
                          if b.lower() == baseline.lower() and c == comparison), None)
            if not ours and claim is None:
                continue
            for mean in MeanKind:
                out.append(HeadlineRow(
                    baseline=name, comparison=comparison, mean=mean, claim=claim,
                    paper=None, ours=_mean(list(ours.values()), mean),
                    workloads=tuple(ours),
                    traces=tuple(kinds.get(w, TraceKind.UNKNOWN) for w in ours),
                    paper_workloads=(), paper_all=None, paper_all_workloads=0,
                    accelerator=subject.name, caveat=subject.caveat))
    return out
