"""Where a trace's spikes came from, and what its capture left out.

A trace says so in its file attributes (:class:`~prosparsity.traces.schema.TraceInfo`):

* **synthetic** spikes (``prosparsity trace synth``): ``dataset = "synthetic"`` and the
  extra attribute ``synthetic = "true"``; random spikes at a workload's shapes, not the
  paper's data;
* **GEMMs skipped at capture** (extra ``skipped_gemms``, a JSON list of
  ``{"layer": ..., "reason": ...}``): GEMMs whose input is not spikes (an analog image
  into the first convolution): they are in no total;
* **GEMMs without a neuron** (extra ``gemms_without_neuron``, a JSON list of layer
  names): recorded GEMMs whose input no recognised neuron produced, so the LIF cost
  before them is missing;
* **random weights** (``weights = "random"``): a registry model captured without a
  checkpoint; its spikes say little about a trained network's;
* **an official release's checkpoint** (extras ``release``, ``release_source``): the
  published layout the checkpoint was read as, and where the authors define it.

The attribute names live here, the format's side; capture writes them and every report
reads them through :meth:`Provenance.of_info`. Traces without them (imported dumps, older
captures) are neither synthetic nor missing anything, as far as the file can tell.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from prosparsity.core.errors import TraceError
from prosparsity.core.jsonvalue import JSONObject
from prosparsity.traces.schema import TraceInfo

__all__ = [
    "EXTRA_NO_NEURON",
    "EXTRA_RELEASE",
    "EXTRA_RELEASE_SOURCE",
    "EXTRA_SKIPPED",
    "EXTRA_SYNTHETIC",
    "SYNTHETIC_DATASET",
    "Provenance",
    "SkippedLayer",
    "is_synthetic",
    "titled",
]

EXTRA_SKIPPED = "skipped_gemms"
EXTRA_NO_NEURON = "gemms_without_neuron"
EXTRA_SYNTHETIC = "synthetic"
EXTRA_RELEASE = "release"
EXTRA_RELEASE_SOURCE = "release_source"
SYNTHETIC_DATASET = "synthetic"
RANDOM_WEIGHTS = "random"
"""``TraceInfo.weights`` of a capture without a checkpoint."""


def is_synthetic(info: TraceInfo) -> bool:
    """Whether a trace's spikes are synthetic (``prosparsity trace synth``): its dataset is
    :data:`SYNTHETIC_DATASET` or its ``extra`` says ``synthetic = true``."""
    return (info.dataset == SYNTHETIC_DATASET
            or str(info.extra.get(EXTRA_SYNTHETIC, "")).lower() == "true")


@dataclass(frozen=True)
class SkippedLayer:
    """A GEMM the capture did not record.

    Attributes:
        layer: the layer's name in the model.
        reason: why (``analog input``, ...).
    """

    layer: str
    reason: str

    def __str__(self) -> str:
        return f"{self.layer} ({self.reason})" if self.reason else self.layer


@dataclass(frozen=True)
class Provenance:
    """What a trace's file attributes say about its spikes and its coverage.

    Attributes:
        synthetic: random spikes at a workload's shapes (``trace synth``).
        skipped: GEMMs the capture left out (in no total), in capture order.
        without_neuron: recorded GEMMs whose LIF cost is missing.
        random_weights: captured from a network with random weights.
    """

    synthetic: bool = False
    skipped: tuple[SkippedLayer, ...] = ()
    without_neuron: tuple[str, ...] = ()
    random_weights: bool = False

    @staticmethod
    def of_info(info: TraceInfo, where: str = "") -> Provenance:
        """Read the attributes of a trace (``where`` names the file in errors).

        Raises:
            TraceError: an attribute that is not the JSON list capture writes.
        """
        extra = info.extra
        synthetic = is_synthetic(info)
        skipped = tuple(
            SkippedLayer(str(item.get("layer", "")), str(item.get("reason", "")))
            if isinstance(item, Mapping) else SkippedLayer(str(item), "")
            for item in _json_list(extra, EXTRA_SKIPPED, where or info.model)
        )
        without = tuple(str(x) for x in _json_list(extra, EXTRA_NO_NEURON, where or info.model))
        return Provenance(synthetic, skipped, without, info.weights == RANDOM_WEIGHTS)

    @property
    def excludes_layers(self) -> bool:
        """True when totals leave out layers the capture skipped."""
        return bool(self.skipped)

    def skipped_text(self) -> str:
        """``conv1 (analog input), ...``, or ``""``."""
        return ", ".join(str(s) for s in self.skipped)

    def facts(self, label: str) -> tuple[tuple[str, str], ...]:
        """What a table must say about the spikes of ``label`` (a workload or a file):
        ``(mark, note)`` pairs, the mark for the title, the note naming the layers;
        :func:`titled` joins them over a table's inputs."""
        facts = []
        if self.synthetic:
            facts.append((SYNTHETIC_MARK, f"{label}: synthetic spikes (random, at the "
                          "workload's shapes), not a network's activity."))
        if self.random_weights:
            facts.append((RANDOM_MARK, f"{label}: captured with random weights (no "
                          "checkpoint), not a trained network's spikes."))
        if self.skipped:
            facts.append((SKIPPED_MARK, f"{label}: skipped at capture, in no total (input "
                          f"not spikes): {self.skipped_text()}."))
        if self.without_neuron:
            facts.append((NO_NEURON_MARK, f"{label}: no recognised neuron before "
                          f"{', '.join(self.without_neuron)} (LIF cost missing)."))
        return tuple(facts)

    def to_json(self) -> JSONObject:
        """JSON form (``synthetic``, ``skipped_at_capture``, ``gemms_without_neuron``,
        ``random_weights``)."""
        return {
            "synthetic": self.synthetic,
            "random_weights": self.random_weights,
            "skipped_at_capture": [{"layer": s.layer, "reason": s.reason}
                                   for s in self.skipped],
            "gemms_without_neuron": list(self.without_neuron),
        }


SYNTHETIC_MARK = "synthetic spikes"
RANDOM_MARK = "random weights"
SKIPPED_MARK = "totals exclude GEMMs skipped at capture"
NO_NEURON_MARK = "LIF cost missing"


def titled(title: str, provenance: Mapping[str, Provenance]) -> tuple[str, tuple[str, ...]]:
    """The one provenance rule of every table, plot and export: ``title`` marked with
    what the spikes of its inputs are (``— synthetic spikes: a; totals exclude GEMMs
    skipped at capture: b``), and the notes that name the layers.

    Args:
        title: the table's title.
        provenance: label (workload or file) -> its provenance, in the table's order.
    """
    marks: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    for label, prov in provenance.items():
        for mark, note in prov.facts(label):
            marks.setdefault(mark, []).append(label)
            notes.setdefault(mark, []).append(note)
    if not marks:
        return title, ()
    order = [m for m in (SYNTHETIC_MARK, RANDOM_MARK, SKIPPED_MARK, NO_NEURON_MARK)
             if m in marks]
    text = "; ".join(f"{mark}: {', '.join(marks[mark])}" for mark in order)
    return f"{title} — {text}", tuple(n for mark in order for n in notes[mark])


def _json_list(extra: Mapping[str, str], key: str, where: str) -> list[object]:
    text = extra.get(key)
    if text is None or text == "":
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise TraceError(where, f"attribute '{key}' is not JSON (a list written by "
                         f"capture): {text[:60]!r}") from None
    if not isinstance(value, list):
        raise TraceError(where, f"attribute '{key}' is not a JSON list: {text[:60]!r}")
    return value
