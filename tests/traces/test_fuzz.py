"""Byte-flip fuzz of the trace reader through the CLI entry point (issue 10).

Two v2 traces (binary layers; a multi-level layer and a chunked one) are each mutated
300 times (1 to 20 random bytes replaced, seeded), and every mutant goes through
``prosparsity trace info`` or ``trace verify`` in a forked worker with a kill timeout.
Every run must end with exit 0 and exactly the original's output, or exit 2 and one
``error:`` line naming the file: no traceback, no crash, no hang, no silently different
numbers. ``tests/traces/fuzz_corpus.json`` keeps every mutant that ever failed.
``make fuzz`` runs the same check far longer (``PROSPARSITY_FUZZ_RUNS``) and also on
mutants re-sealed with a valid digest, which reach HDF5's own parsing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from prosparsity.traces.io import TraceWriter
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo

from .fuzz_runner import HANG, Outcome, mutate, run_all
from .legacy import reseal

RUNS_PER_TRACE = int(os.environ.get("PROSPARSITY_FUZZ_RUNS", "300"))
RESEAL = os.environ.get("PROSPARSITY_FUZZ_RESEAL", "") == "1"
CORPUS = Path(__file__).with_name("fuzz_corpus.json")


def build(kind: str, path: Path) -> Path:
    rng = np.random.default_rng(7)
    info = TraceInfo(model=f"fuzz-{kind}", time_steps=4, weights="random")
    with TraceWriter(path, info) as w:
        if kind == "binary":
            conv = {"in_channels": 2, "out_channels": 4, "kernel": 3, "stride": 1,
                    "padding": 1, "input_hw": 6}
            w.add_layer(LayerRecord("conv", LayerKind.CONV2D, conv, layout="T,C,H,W"),
                        rng.random((4, 2, 6, 6)) < 0.3)
            w.add_layer(LayerRecord("lif", LayerKind.LIF, {"neurons": 144}))
            w.add_layer(LayerRecord("fc", LayerKind.LINEAR,
                                    {"in_features": 13, "out_features": 5}, layout="T,K"),
                        rng.random((4, 13)) < 0.5)
        else:
            w.add_layer(LayerRecord("attn", LayerKind.ATTENTION_OPERAND, layout="T,L,D"),
                        rng.integers(0, 4, (4, 5, 7)).astype(np.uint8))
            w.add_layer(LayerRecord("big", LayerKind.LINEAR,
                                    {"in_features": 4000, "out_features": 8}, layout="T,K"),
                        rng.random((64, 4000)) < 0.2)  # > COMPACT_BYTES: chunked, LZF
    return path


def check(outcome: Outcome, baseline: dict[str, str], original: dict[str, Path]) -> str | None:
    """Why an outcome is wrong, or None."""
    command, path = outcome.args[1], outcome.args[-1]
    if outcome.code == HANG:
        return "hang"
    if "Traceback" in outcome.err or outcome.code not in (0, 2):
        return f"exit {outcome.code}: {outcome.err[-800:]}"
    if outcome.code == 2:
        lines = outcome.err.splitlines()
        if len(lines) != 1 or not lines[0].startswith(f"error: {path}"):
            return f"not one error line naming the file: {outcome.err!r}"
        return None
    if RESEAL and int(path.removesuffix(".h5").split("-m")[1]) % 2:
        return None  # re-sealed: a different but valid file, whose numbers may differ
    want = baseline[command + ":" + path.split("-m")[0]]
    got = outcome.out.replace(path, str(original[path.split("-m")[0]]))
    return None if got == want else "success with different output"


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    return {k: build(k, folder / f"{k}.h5") for k in ("binary", "multilevel")}


def _jobs(traces: dict[str, Path], patch_sets: dict[str, list]) -> tuple[list, dict, dict]:
    """Mutant files and their CLI argument lists; baseline outputs of the originals."""
    jobs, original = [], {}
    for kind, path in traces.items():
        raw = path.read_bytes()
        for i, patches in enumerate(patch_sets[kind]):
            mutant = path.with_name(f"{path.stem}-m{i:05d}.h5")
            mutant.write_bytes(mutate(raw, patches))
            if RESEAL and i % 2:
                reseal(mutant)
            command = "info" if i % 2 == 0 else "verify"
            jobs.append(["trace", command, str(mutant)])
            original[str(path.with_name(path.stem))] = path
    return jobs, original


def _baseline(traces: dict[str, Path]) -> dict[str, str]:
    base = {}
    for outcome in run_all([["trace", c, str(p)] for p in traces.values()
                            for c in ("info", "verify")]):
        assert outcome.code == 0, outcome.err
        key = outcome.args[1] + ":" + outcome.args[-1].removesuffix(".h5")
        base[key] = outcome.out
    return base


def _run(traces: dict[str, Path], patch_sets: dict[str, list]) -> list[tuple[Outcome, str]]:
    jobs, _ = _jobs(traces, patch_sets)
    base = _baseline(traces)
    original = {str(p.with_name(p.stem)): p for p in traces.values()}
    bad = []
    for outcome in run_all(jobs):
        why = check(outcome, base, original)
        if why:
            bad.append((outcome, why))
    return bad


def test_fuzz_reader_through_the_cli(traces: dict[str, Path]) -> None:
    rng = np.random.default_rng(2026)
    patch_sets = {}
    for kind, path in traces.items():
        size = path.stat().st_size
        sets = []
        for _ in range(RUNS_PER_TRACE):
            n = int(rng.integers(1, 21))
            offsets = rng.integers(0, size, n)
            sets.append([(int(o), int(rng.integers(0, 256))) for o in offsets])
        patch_sets[kind] = sets
    bad = _run(traces, patch_sets)
    assert len(patch_sets["binary"]) + len(patch_sets["multilevel"]) >= 600
    details = [
        {"trace": Path(o.args[-1]).stem.split("-m")[0],
         "patches": patch_sets[Path(o.args[-1]).stem.split("-m")[0]][
             int(Path(o.args[-1]).stem.split("-m")[1])], "why": why}
        for o, why in bad
    ]
    assert not details, "add these to fuzz_corpus.json:\n" + json.dumps(details[:5])


def test_fuzz_corpus_regressions(traces: dict[str, Path]) -> None:
    cases = json.loads(CORPUS.read_text())["cases"]
    patch_sets: dict[str, list] = {k: [] for k in traces}
    for case in cases:
        patch_sets[case["trace"]].append([tuple(p) for p in case["patches"]])
    assert not _run(traces, patch_sets)
