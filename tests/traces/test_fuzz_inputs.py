"""Property fuzz of the readers of users' files through the CLI: ``.npz``
spike dumps, ``.pt`` files (dumps, inputs, checkpoints) and sweep specs, drawn by
hypothesis strategies from valid files and then bent (dtypes, values, shapes, names,
flipped bytes, unknown keys, non-finite numbers).

Every run goes through :func:`prosparsity.harness.cli.main` in a child forked from the
test process (:func:`tests.traces.fuzz_runner.run_forked`), killed after a time limit,
and must end in exit 0, or exit 2 with exactly one ``error:`` line and no traceback: a
hang, a crash (a signal), another exit status or a traceback fails the test. For dumps
there is also an oracle for silently wrong numbers: ``analyze`` of the ``.npz`` and
``analyze`` of its ``trace import`` must agree, number for number, whenever both read it
(and a dump that ``analyze`` reads may be refused by ``import`` only for a layer outside
the network, which ``analyze`` never reads).

``PROSPARSITY_FUZZ_INPUTS`` sets the number of examples per target (``make fuzz``: 400);
the suite runs a few dozen. The counts of each outcome are printed (``-s``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter

from .fuzz_runner import HANG, Outcome, run_forked

EXAMPLES = int(os.environ.get("PROSPARSITY_FUZZ_INPUTS", "0")) or None
# no shrinking: each example forks the CLI (seconds), and the failing one is printed whole
SETTINGS = dict(deadline=None, database=None, derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
TIMEOUT_S = 90.0
COUNTS: dict[str, Counter[str]] = {}


def classify(outcome: Outcome, target: str) -> str:
    """"success", "clean error", or the defect in words (recorded in :data:`COUNTS`)."""
    err = outcome.err
    if outcome.code == HANG:
        what = "hang"
    elif outcome.code < 0 or "died without a result" in err:
        what = f"crash ({outcome.code})"
    elif "Traceback" in err or "Exception ignored" in err:
        what = "traceback"
    elif outcome.code == 0:
        what = "success"
    elif outcome.code == 2:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        usage = "Invalid value for" in err or "No such option" in err or "Usage:" in err
        what = "clean error" if len(errors) == 1 or (usage and not errors) else "not one line"
    else:
        what = f"exit {outcome.code}"
    COUNTS.setdefault(target, Counter())[what] += 1
    assert what in ("success", "clean error"), (what, outcome.args, err[-2000:])
    return what


@pytest.fixture(scope="module", autouse=True)
def _report(lenet5_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Warm the process up (every forked run inherits its compiled kernels and imports),
    then print the counts of each outcome."""
    from prosparsity.harness.cli import main
    from prosparsity.harness.console import Output, set_output

    set_output(Output(io.StringIO(), io.StringIO(), width=200, color=False))
    folder = tmp_path_factory.mktemp("warm")
    try:
        for args in (["analyze", str(lenet5_npz)],
                     ["trace", "import", str(lenet5_npz), "-o", str(folder / "t.h5")],
                     ["analyze", str(folder / "t.h5")]):
            with pytest.raises(SystemExit):
                main(args)
    finally:
        set_output(None)
    # the kernel's thread pool does not survive a fork (a child would queue work on
    # threads it does not have): children start their own
    from prosparsity.analysis import _threads

    _threads._pool.cache_clear()
    yield
    for target, counts in sorted(COUNTS.items()):
        print(f"\ninput fuzz, {target}: {sum(counts.values())} runs: "
              + ", ".join(f"{n} {what}" for what, n in counts.most_common()))


# ------------------------------------------------------------------------------ .npz dumps


@pytest.fixture(scope="module")
def lenet5(lenet5_npz: Path) -> dict[str, np.ndarray]:
    with np.load(lenet5_npz) as src:
        return {k: src[k] for k in src.files}


def _network() -> frozenset[str]:
    """lenet5_mnist's simulated layers with data (conv2d_0 and fc_2 are not)."""
    from prosparsity.traces.workloads import get_workload

    return frozenset(r.name for r in get_workload("lenet5_mnist").layers
                     if r.has_data and r.in_network)


NETWORK = _network()


@st.composite
def bent_dump(draw: st.DrawFn, base: dict[str, np.ndarray]) -> tuple[dict, list[tuple]]:
    """A dump's arrays (from the real LeNet-5 dump, bent 0..3 times) and byte flips."""
    arrays = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(arrays) or ["fc_0"]))
        value = arrays.get(name, np.zeros((32, 576), bool))
        if value.ndim == 0 or value.size == 0 or value.dtype == object:
            value = np.zeros((32, 576), bool)  # bend a fresh array instead
        how = draw(st.sampled_from([
            "drop", "dtype", "scale", "half", "nan", "inf", "negative", "big", "time",
            "flatten", "axis", "empty", "scalar", "rename", "extra", "object", "strings",
        ]))
        if how == "drop":
            arrays.pop(name, None)
        elif how == "dtype":
            dtype = draw(st.sampled_from(["uint8", "int8", "int64", "float16", "float32",
                                          "float64", "complex64", "bool"]))
            arrays[name] = value.astype(dtype)
        elif how == "scale":
            arrays[name] = value.astype(np.int64) * draw(st.integers(2, 300))
        elif how == "half":
            arrays[name] = value.astype(np.float32) * 0.5
        elif how in ("nan", "inf"):
            bent = value.astype(np.float64).copy()
            bent.reshape(-1)[draw(st.integers(0, bent.size - 1))] = (
                np.nan if how == "nan" else np.inf)
            arrays[name] = bent
        elif how in ("negative", "big"):
            bent = np.nan_to_num(value.astype(np.float64)).astype(np.int64)
            bent.reshape(-1)[draw(st.integers(0, bent.size - 1))] = -1 if how == "negative" \
                else 256
            arrays[name] = bent
        elif how == "time":
            arrays[name] = value[: draw(st.integers(0, max(0, value.shape[0] - 1)))]
        elif how == "flatten":
            arrays[name] = value.reshape(-1)
        elif how == "axis":
            arrays[name] = value[None]
        elif how == "empty":
            arrays[name] = np.zeros((0, *value.shape[1:]), value.dtype)
        elif how == "scalar":
            arrays[name] = np.array(True)
        elif how == "rename":
            new = draw(st.text(st.characters(codec="utf-8", exclude_characters="/\x00"),
                               min_size=1, max_size=40))
            arrays[new] = arrays.pop(name, value)
        elif how == "extra":
            shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=5)))
            arrays[draw(st.sampled_from(["extra", "conv_x", "attention_q", "conv1d_a"]))] = \
                np.ones(shape, bool)
        elif how == "object":
            arrays[name] = np.array([{"a": 1}] * 3, dtype=object)
        else:
            arrays[name] = np.array(["1", "0"])
    flips = draw(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                          max_size=draw(st.sampled_from([0, 0, 3, 12]))))
    return arrays, flips


def _write_dump(path: Path, arrays: dict, flips: list[tuple], compressed: bool) -> None:
    (np.savez_compressed if compressed else np.savez)(path, allow_pickle=True, **arrays)
    if flips:
        raw = bytearray(path.read_bytes())
        for where, value in flips:
            raw[int(where * len(raw))] = value
        path.write_bytes(bytes(raw))


def _data(outcome: Outcome) -> dict:
    return json.loads(outcome.out)["data"]


@settings(max_examples=EXAMPLES or 20, **SETTINGS)
@given(data=st.data(), compressed=st.booleans(), by_name=st.booleans())
def test_npz_dumps(data: st.DataObject, compressed: bool, by_name: bool,
                   lenet5: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory
                   ) -> None:
    arrays, flips = data.draw(bent_dump(lenet5))
    folder = tmp_path_factory.mktemp("npz")
    dump = folder / ("lenet5_mnist.npz" if by_name else "dump.npz")
    _write_dump(dump, arrays, flips, compressed)
    workload = [] if by_name else ["--workload", "lenet5_mnist"]
    direct = run_forked(["analyze", str(dump), "--json", *workload], TIMEOUT_S)
    direct_kind = classify(direct, "npz: analyze")
    trace = folder / "t.h5"
    imported = run_forked(["trace", "import", str(dump), "-o", str(trace), *workload],
                          TIMEOUT_S)
    import_kind = classify(imported, "npz: trace import")
    assert import_kind == "success" or not trace.exists()  # no half-written output
    if import_kind == "success":
        again = run_forked(["analyze", str(trace), "--json"], TIMEOUT_S)
        assert classify(again, "npz: analyze of the import") == "success", again.err
        assert direct_kind == "success", ("import read what analyze refused", direct.err)
        a, b = _data(direct), _data(again)
        assert (a["bit_density"], a["product_density"]) == \
            (b["bit_density"], b["product_density"])
    elif direct_kind == "success":
        # analyze reads only the network's layers: import may refuse another one
        m = re.search(r", layer '([^']*)'", imported.err)
        assert m is not None and m.group(1) not in NETWORK, imported.err


# ------------------------------------------------------------------------------ .pt files


def _tensors() -> st.SearchStrategy:
    import torch

    dtypes = [torch.bool, torch.uint8, torch.int64, torch.float32, torch.float64,
              torch.float16, torch.complex64]

    @st.composite
    def tensor(draw: st.DrawFn) -> torch.Tensor:
        shape = tuple(draw(st.lists(st.integers(0, 8), max_size=5)))
        value = torch.zeros(shape, dtype=torch.float64)
        if value.numel():
            value.view(-1)[0] = draw(st.sampled_from([1.0, 0.5, -1.0, 2.0, float("nan"),
                                                      float("inf")]))
        return value.to(draw(st.sampled_from(dtypes)))

    return tensor()


def _objects() -> st.SearchStrategy:
    leaves = st.one_of(_tensors(), st.integers(), st.text(max_size=5), st.none(),
                       st.floats(allow_nan=True))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4)),
        max_leaves=8)


def _dump_dicts() -> st.SearchStrategy:
    """Dumps that should import: linear layers' spikes, (T, K) bool tensors."""
    import torch

    return st.dictionaries(
        st.sampled_from(["fc_0", "fc_1", "fc_2"]),
        st.tuples(st.integers(1, 4), st.integers(1, 40)).map(
            lambda tk: torch.rand(tk, generator=torch.Generator().manual_seed(sum(tk))) < 0.3),
        min_size=1, max_size=3)


@settings(max_examples=EXAMPLES or 15, **SETTINGS)
@given(data=st.data(), how=st.sampled_from(["torch.save", "pickle", "flipped"]),
       target=st.sampled_from(["import", "checkpoint", "input"]))
def test_pt_files(data: st.DataObject, how: str, target: str,
                  tmp_path_factory: pytest.TempPathFactory) -> None:
    import torch

    obj = data.draw(st.one_of(_dump_dicts(), _objects()))
    folder = tmp_path_factory.mktemp("pt")
    path = folder / "f.pt"
    if how == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=data.draw(st.integers(2, 5))))
    else:
        buf = io.BytesIO()
        torch.save(obj, buf)
        raw = bytearray(buf.getvalue())
        if how == "flipped":
            for _ in range(data.draw(st.integers(1, 8))):
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        path.write_bytes(bytes(raw))
    out = folder / "t.h5"
    args = {"import": ["trace", "import", str(path), "-o", str(out)],
            "checkpoint": ["capture", "digits-cnn", "--checkpoint", str(path), "-o", str(out)],
            "input": ["capture", "digits-cnn", "--input", str(path), "-o", str(out),
                      "--samples", "1"]}[target]
    kind = classify(run_forked(args, TIMEOUT_S), f".pt: {target}")
    assert kind == "success" or not out.exists()


# ------------------------------------------------------------------------------ sweep specs


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    assert isinstance(value, list)
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def toml_text(doc: dict) -> str:
    """A spec document (scalars, lists, one level of tables and sub-tables) as TOML."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc.items()
             if not isinstance(v, dict)]
    for key, table in doc.items():
        if not isinstance(table, dict):
            continue
        flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
        lines.append(f"[{_toml_key(key)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in flat.items()]
        for sub, inner in table.items():
            if isinstance(inner, dict):
                lines.append(f"[{_toml_key(key)}.{_toml_key(sub)}]")
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in inner.items()
                          if not isinstance(v, dict)]
    return "\n".join(lines) + "\n"


SCALARS = st.one_of(
    st.integers(-3, 5000), st.sampled_from([0, -1, 2**31, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=8),
    st.sampled_from(["product", "bit", "dense", "ptb", "prosperity", "*.h5", "t.h5"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
FIELDS = {
    "prosperity": ["adders", "issue_type", "clock_hz", "sparsity", "tile_m", "bogus"],
    "ptb": ["stsap", "clock_hz", "bogus"],
    "loas": ["clock_hz", "bogus"],
    "nosuch": ["x"],
}


@st.composite
def spec_doc(draw: st.DrawFn) -> dict:
    doc: dict = {}
    if draw(st.booleans()):
        doc["traces"] = draw(st.one_of(st.just(["t.h5"]), st.lists(SCALARS, max_size=2)))
    else:
        doc["traces"] = ["t.h5"]
    for key in draw(st.lists(st.sampled_from(["name", "baseline", "samples", "colour"]),
                             max_size=2, unique=True)):
        doc[key] = draw(VALUES)
    if draw(st.booleans()):
        tiles = {}
        for key in draw(st.lists(st.sampled_from(["tile_m", "tile_k", "points", "size"]),
                                 max_size=3, unique=True)):
            tiles[key] = draw(st.one_of(VALUES, st.lists(st.lists(SCALARS, max_size=3),
                                                         max_size=2)))
        doc["tiles"] = tiles
    accelerators: dict = {}
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        table = {}
        for field in draw(st.lists(st.sampled_from(FIELDS[name]), max_size=3, unique=True)):
            table[field] = draw(VALUES)
        accelerators[name] = table
    if accelerators or draw(st.booleans()):
        doc["accelerators"] = accelerators
    return doc


@st.composite
def valid_spec_doc(draw: st.DrawFn) -> dict:
    """A spec that should run, with at most one field bent."""
    doc: dict = {"traces": ["t.h5"],
                 "tiles": {"tile_m": draw(st.lists(st.sampled_from([16, 64, 256]), min_size=1,
                                                   max_size=2, unique=True)),
                           "tile_k": draw(st.sampled_from([[16], [8, 16]]))},
                 "accelerators": {"prosperity": {"sparsity": draw(st.sampled_from(
                     ["product", ["product", "bit"]]))}, "ptb": {}}}
    if draw(st.booleans()):
        table = draw(st.sampled_from(["prosperity", "ptb"]))
        field = draw(st.sampled_from(FIELDS[table]))
        doc["accelerators"][table][field] = draw(VALUES)
    return doc


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec-trace") / "t.h5"
    rng = np.random.default_rng(3)
    with TraceWriter(path, TraceInfo(model="m", time_steps=4)) as w:
        w.add_layer(LayerRecord("fc", LayerKind.LINEAR, {"in_features": 24, "out_features": 5},
                                layout="T,K"), rng.random((4, 24)) < 0.3)
    return path


@settings(max_examples=EXAMPLES or 25, **SETTINGS)
@given(doc=st.one_of(spec_doc(), valid_spec_doc()),
       text_flip=st.sampled_from([False, False, False, True]))
def test_sweep_specs(doc: dict, text_flip: bool, small_trace: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("spec")
    (folder / "t.h5").symlink_to(small_trace)
    text = toml_text(doc)
    if text_flip:
        text = text.replace("=", "", 1)  # invalid TOML
    spec = folder / "s.toml"
    spec.write_text(text)
    out = folder / "out"
    outcome = run_forked(["sweep", str(spec), "--out", str(out), "--workers", "0",
                          "--no-plots", "--no-dashboard"], TIMEOUT_S)
    if classify(outcome, "sweep specs") == "success":
        assert (out / "results.parquet").is_file()
