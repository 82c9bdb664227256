"""The golden of the registry's traces: what every quickly captured registry model records.

For each model of :data:`CASES` (random seeded weights unless the entry ships trained
ones, the smallest T, two samples of the entry's own offline input) and for tiny
configurations of the three transformer families (weights drawn large enough that their
neurons fire), the golden keeps every record's name, kind, params, shape, layout and
levels, and the SHA-256 of its stored spike bytes (``read_packed`` for binary layers,
the uint8 values otherwise). ``tests/models/test_registry_golden.py`` checks that
captures still produce exactly these; ``python -m tests.models.registry_golden``
rewrites ``tests/models/golden/registry_traces.json`` on purpose.

The SpikeBERT registry entries are left out (12-20 s each on the 2-core machine, a
29k-token embedding), and so are the CIFAR-100 twins of the CIFAR-10 entries (the same
network but for the classifier); their code paths are covered by the entries kept and by
the tiny SpikeBERT configuration.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden" / "registry_traces.json"

#: registry model -> T of the capture (``None``: the entry's own T)
CASES: dict[str, int | None] = {
    "digits-cnn": None,
    "digits-spikformer": None,
    "lenet5": 1,
    "vgg9": 1,
    "vgg16": 1,
    "resnet18": 1,
    "resnet19": 1,
    "snntorch-lenet5": 2,
    "spikformer-cifar10": 1,
    "spikformer-cifar10dvs": 1,
    "spikformer-ti": 1,
    "spikformer-s": 1,
    "sdt-cifar10": 1,
    "sdt-cifar10dvs": 1,
    "sdt-8-384": 1,
}
SAMPLES = 2
TINY = ("tiny-spikformer", "tiny-sdt", "tiny-spikebert")
TINY_T = 3


def describe(path: Path) -> list[dict[str, Any]]:
    """Every record of a trace, with a digest of its stored spike bytes."""
    from prosparsity.traces.io import TraceReader

    out = []
    with TraceReader(path) as reader:
        for rec in reader.layers:
            row: dict[str, Any] = {
                "name": rec.name,
                "kind": str(rec.kind),
                "params": json.loads(json.dumps(dict(rec.params), default=list)),
            }
            if rec.has_data:
                stored = reader.read_packed(rec.name) if rec.binary else reader.read(rec.name)
                row.update(
                    shape=list(rec.shape),
                    layout=rec.layout,
                    levels=list(rec.levels),
                    sha256=hashlib.sha256(stored.tobytes()).hexdigest(),
                )
            out.append(row)
    return out


def capture_registry(name: str, folder: Path) -> list[dict[str, Any]]:
    """The records of a registry model captured as :data:`CASES` says."""
    from prosparsity.models.capture import capture_model
    from prosparsity.models.registry import get_model

    entry = get_model(name)
    out = folder / f"{name}.h5"
    capture_model(
        name, out, samples=SAMPLES, time_steps=CASES[name], random_weights=not entry.trained
    )
    return describe(out)


def lively(model: Any, gain: float = 3.0, seed: int = 0) -> Any:
    """Re-draw GEMM weights large enough that the neurons fire: the builders' own
    initialisations (std 0.02) leave tiny random networks silent, and silent layers
    would make comparisons vacuous."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d):
                std = gain / math.sqrt(m.weight[0].numel())
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(gain)
    return model


def capture_tiny(name: str, folder: Path) -> list[dict[str, Any]]:
    """A tiny Spikformer, SDT or SpikeBERT (the registry's builders and capture maps)."""
    import torch

    from prosparsity.models.capture import CaptureConfig, capture_to_file
    from prosparsity.models.zoo import sdt, spikebert, spikformer
    from prosparsity.traces.schema import TraceInfo

    presets = {
        "tiny-spikformer": spikformer.SpikformerPreset(
            name, "", img_size=16, embed_dims=32, num_heads=4, depths=2
        ),
        "tiny-sdt": sdt.SDTPreset(name, "", img_size=16, embed_dims=32, num_heads=4, depths=2),
        "tiny-spikebert": spikebert.SpikeBertPreset(
            name, "", seq_len=12, dim=32, depths=2, heads=4, vocab_size=200
        ),
    }
    preset = presets[name]
    torch.manual_seed(0)
    model = lively(preset.build(time_steps=TINY_T))
    x = preset.make_input(samples=SAMPLES, time_steps=TINY_T, seed=0)
    operands, attentions = preset.capture_maps()
    axis = 0 if name == "tiny-spikebert" else 1
    cfg = CaptureConfig(
        time_steps=TINY_T, attention_operands=operands, attentions=attentions,
        input_batch_axis=axis,
    )
    out = folder / f"{name}.h5"
    capture_to_file(model, x, out, TraceInfo(model=name), cfg)
    return describe(out)


def captures(folder: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for name in CASES:
        yield name, capture_registry(name, folder)
    for name in TINY:
        yield name, capture_tiny(name, folder)


def dumps(golden: dict[str, list[dict[str, Any]]]) -> str:
    """One record per line (diffs of a regenerated golden stay readable)."""
    models = []
    for name, records in sorted(golden.items()):
        rows = ",\n".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in records)
        models.append(f"{json.dumps(name)}: [\n{rows}\n]")
    return "{\n" + ",\n".join(models) + "\n}\n"


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        golden = dict(captures(Path(tmp)))
    GOLDEN.write_text(dumps(golden))
    print(f"wrote {GOLDEN}: {len(golden)} models")


if __name__ == "__main__":
    main()
