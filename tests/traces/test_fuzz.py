"""Byte-flip fuzz of the trace reader through the CLI entry point.

Two v2 traces (binary layers; a multi-level layer and a chunked one) are each mutated
300 times (1 to 20 random bytes replaced, seeded), and every mutant goes through
``prosparsity trace info`` or ``trace verify`` in a forked worker with a kill timeout.
Every run must end with exit 0 and exactly the original's output, or exit 2 and one
``error:`` line naming the file: no traceback, no crash, no hang, no silently different
numbers. ``tests/traces/fuzz_corpus.json`` keeps every mutant that ever failed.

``make fuzz`` runs the same check far longer (``PROSPARSITY_FUZZ_RUNS``) and also on
mutants re-sealed with a valid digest (``PROSPARSITY_FUZZ_RESEAL=1``), which is what a
hostile writer can make: such a file reaches HDF5's own parsing, and HDF5 stalls or
crashes on some. Those runs are held to what the format promises there: ``trace
verify`` (a child process with a time limit) must still end in one clean error, while a
stall or crash of the in-process ``trace info`` is counted and reported as the known
limit (docs/bad-input.md), not as a failure. Every run's category is printed.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

from .fuzz_runner import HANG, Outcome, mutate, run_all
from .legacy import reseal, write_v1

RUNS_PER_TRACE = int(os.environ.get("PROSPARSITY_FUZZ_RUNS", "300"))
RESEAL = os.environ.get("PROSPARSITY_FUZZ_RESEAL", "") == "1"
CORPUS = Path(__file__).with_name("fuzz_corpus.json")
#: trace verify's own limit in these runs (the runner kills a run after 20 s)
VERIFY_TIMEOUT_S = "4"
#: categories of runs that are no defect
FINE = ("clean error", "same output", "re-sealed: valid, different",
        "re-sealed: info stalled in HDF5 (known limit)",
        "re-sealed: info crashed in HDF5 (known limit)")


def build(kind: str, path: Path) -> Path:
    """The fuzzed traces: "binary" and "multilevel" (v2), and "v1" (the layers of
    "binary" in schema v1, no digest: for corpus cases only)."""
    rng = np.random.default_rng(7)
    info = TraceInfo(model=f"fuzz-{kind}", time_steps=4, weights="random")
    if kind == "v1":
        conv = {"in_channels": 2, "out_channels": 4, "kernel": 3, "stride": 1,
                "padding": 1, "input_hw": 6}
        fc = {"in_features": 13, "out_features": 5}
        return write_v1(path, info, [
            (LayerRecord("conv", LayerKind.CONV2D, conv, layout="T,C,H,W"),
             rng.random((4, 2, 6, 6)) < 0.3),
            (LayerRecord("lif", LayerKind.LIF, {"neurons": 144}), None),
            (LayerRecord("fc", LayerKind.LINEAR, fc, layout="T,K"), rng.random((4, 13)) < 0.5),
        ])
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


def _kind_index(path: str) -> tuple[str, int]:
    """A mutant ``DIR/mNNNNN/KIND.h5``: which trace, which mutant."""
    p = Path(path)
    return p.stem, int(p.parent.name[1:])


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def classify(outcome: Outcome, baseline: dict[str, str], original: dict[str, Path],
             resealed: bool) -> str:
    """What a run did: one of :data:`FINE`, or the defect in words."""
    command, path = outcome.args[1], outcome.args[-1]
    crashed = outcome.code == HANG or outcome.code < 0 or "died without a result" in outcome.err
    if crashed and resealed and command == "info":
        what = "stalled" if outcome.code == HANG else "crashed"
        return f"re-sealed: info {what} in HDF5 (known limit)"
    if outcome.code == HANG:
        return "hang"
    if "Traceback" in outcome.err or outcome.code not in (0, 2):
        return f"exit {outcome.code}: {outcome.err[-800:]}"
    if outcome.code == 2:
        lines = outcome.err.splitlines()
        if len(lines) != 1 or not lines[0].startswith(f"error: {path}"):
            return f"not one error line naming the file: {outcome.err!r}"
        return "clean error"
    if resealed:
        return "re-sealed: valid, different"  # a valid file, whose numbers may differ
    # A mutant's path has the length of its original's, so the layout is the same; but
    # rich folds the title "trace PATH" where the table's width says, so the two folders'
    # names are compared with all white space removed.
    kind, _ = _kind_index(path)
    got = _squash(outcome.out).replace(Path(path).parent.name, original[kind].parent.name)
    if got == _squash(baseline[f"{command}:{kind}"]):
        return "same output"
    return "success with different output"


def _build_all(folder: Path, kinds: tuple[str, ...]) -> dict[str, Path]:
    folder = folder / "o00000"  # as long as a mutant's folder
    folder.mkdir()
    return {k: build(k, folder / f"{k}.h5") for k in kinds}


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[str, Path]:
    return _build_all(tmp_path_factory.mktemp("fuzz"), ("binary", "multilevel"))


@pytest.fixture(scope="module")
def corpus_traces(tmp_path_factory) -> dict[str, Path]:
    return _build_all(tmp_path_factory.mktemp("corpus"), ("binary", "multilevel", "v1"))


def _command(i: int, path: Path) -> list[str]:
    if i % 2 == 0:
        return ["trace", "info", str(path)]
    return ["trace", "verify", "--timeout", VERIFY_TIMEOUT_S, str(path)]


def _baseline(traces: dict[str, Path]) -> dict[str, str]:
    base = {}
    for outcome in run_all([_command(i, p) for p in traces.values() for i in (0, 1)]):
        assert outcome.code == 0, outcome.err
        base[f"{outcome.args[1]}:{Path(outcome.args[-1]).stem}"] = outcome.out
    return base


def _run(traces: dict[str, Path], patch_sets: dict[str, list],
         resealed: dict[str, list[bool]], command=_command) -> list[tuple[str, int, str]]:
    """Run every mutant (``DIR/mNNNNN/KIND.h5``); (trace, index, category) of each."""
    jobs = []
    for kind, path in traces.items():
        raw = path.read_bytes()
        for i, patches in enumerate(patch_sets[kind]):
            mutant = path.parent.parent / f"m{i:05d}" / path.name
            mutant.parent.mkdir(exist_ok=True)
            mutant.write_bytes(mutate(raw, patches))
            if resealed[kind][i]:
                reseal(mutant)
            jobs.append(command(i, mutant))
    base = _baseline(traces)
    found = []
    for outcome in run_all(jobs):
        kind, i = _kind_index(outcome.args[-1])
        found.append((kind, i, classify(outcome, base, traces, resealed[kind][i])))
    return found


def _report(found: list[tuple[str, int, str]], patch_sets: dict[str, list]) -> list[dict]:
    """Print the count of each category; the defects, as corpus entries."""
    counts = Counter(c if c in FINE else "DEFECT: " + c.split(":")[0] for _, _, c in found)
    print(f"\nreader fuzz: {len(found)} runs")
    for category, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {category}")
    limits = [{"trace": k, "patches": patch_sets[k][i], "why": c}
              for k, i, c in found if "known limit" in c]
    if limits:
        print("  known-limit cases (candidates for the corpus' 'resealed' list):")
        for case in limits[:5]:
            print("   ", json.dumps(case))
    return [{"trace": k, "patches": patch_sets[k][i], "why": c}
            for k, i, c in found if c not in FINE]


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
    # with PROSPARSITY_FUZZ_RESEAL, every second info and every second verify run
    resealed = {k: [RESEAL and i % 4 >= 2 for i in range(len(v))] for k, v in patch_sets.items()}
    found = _run(traces, patch_sets, resealed)
    assert len(found) >= 600
    defects = _report(found, patch_sets)
    assert not defects, "add these to fuzz_corpus.json:\n" + json.dumps(defects[:5])


def _corpus(key: str, traces: dict[str, Path]) -> dict[str, list]:
    patch_sets: dict[str, list] = {k: [] for k in traces}
    for case in json.loads(CORPUS.read_text())[key]:
        patch_sets[case["trace"]].append([tuple(p) for p in case["patches"]])
    return patch_sets


def test_fuzz_corpus_regressions(corpus_traces: dict[str, Path]) -> None:
    patch_sets = _corpus("cases", corpus_traces)
    resealed = {k: [False] * len(v) for k, v in patch_sets.items()}
    found = _run(corpus_traces, patch_sets, resealed)
    assert not [c for _, _, c in found if c not in FINE], found


def test_stalls_and_crashes_are_bounded_by_verify(corpus_traces: dict[str, Path]) -> None:
    """Files on which HDF5 itself stalls or crashes in-process (damaged v1 files, which
    have no digest; crafted v2 files with a valid one): ``trace verify`` ends each with
    one clean error, within its time limit."""
    cases = json.loads(CORPUS.read_text())["stalls"]
    patch_sets: dict[str, list] = {k: [] for k in corpus_traces}
    resealed: dict[str, list[bool]] = {k: [] for k in corpus_traces}
    for case in cases:
        patch_sets[case["trace"]].append([tuple(p) for p in case["patches"]])
        resealed[case["trace"]].append(bool(case.get("resealed", False)))
    found = _run(corpus_traces, patch_sets, resealed, command=lambda i, p: _command(1, p))
    assert len(found) == len(cases) and all(c == "clean error" for _, _, c in found), found
