"""Per-sample analysis of multi-sample traces (batch 1 each): spread, pooled sums, CLI."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prosparsity.core.errors import TraceError
from prosparsity.core.measures import Spread
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.counting import analyze_samples, analyze_trace, trace_samples

from .test_density import lenet_trace  # noqa: F401  (fixture)

FC1 = LayerRecord("fc1", LayerKind.LINEAR, {"in_features": 4, "out_features": 8}, layout="T,B,L,K")
FC2 = LayerRecord("fc2", LayerKind.LINEAR, {"in_features": 3, "out_features": 8}, layout="B,T,K")


def two_sample_data() -> dict[str, np.ndarray]:
    """Sample 0 dense with repeated rows, sample 1 nearly empty (values below)."""
    fc1 = np.zeros((1, 2, 2, 4), bool)  # T, B, L, K
    fc1[0, 0] = [[1, 1, 0, 0], [1, 1, 0, 0]]  # sample 0: 4 ones, the 2nd row an exact match
    fc1[0, 1] = [[1, 0, 0, 0], [0, 0, 0, 0]]  # sample 1: 1 one, nothing to reuse
    fc2 = np.zeros((2, 2, 3), bool)  # B, T, K
    fc2[0] = [[1, 0, 1], [1, 0, 1]]  # sample 0: t1 repeats t0
    return {"fc1": fc1, "fc2": fc2}


def write(path: Path, records: list[LayerRecord], data: dict[str, np.ndarray], n: int) -> Path:
    with TraceWriter(path, TraceInfo(model="two", samples=n, batch_size=n)) as w:
        for rec in records:
            w.add_layer(rec, data[rec.name])
    return path


@pytest.fixture
def two_sample_trace(tmp_path: Path) -> Path:
    return write(tmp_path / "two.h5", [FC1, FC2], two_sample_data(), 2)


def test_hand_computed_mean_spread_and_pooled_sums(two_sample_trace: Path) -> None:
    res = analyze_samples(two_sample_trace, tile_m=256, tile_k=4)
    assert res.n_samples == 2
    s0, s1 = res.samples
    # fc1: 2 rows x 4 columns = 8 elements per sample; fc2: 2 rows x 3 columns = 6
    assert (s0.layer("fc1").counts.nnz, s0.layer("fc1").counts.residual_nnz) == (4, 2)
    assert (s1.layer("fc1").counts.nnz, s1.layer("fc1").counts.residual_nnz) == (1, 1)
    assert (s0.layer("fc2").counts.nnz, s0.layer("fc2").counts.residual_nnz) == (4, 2)
    assert (s1.layer("fc2").counts.nnz, s1.layer("fc2").counts.residual_nnz) == (0, 0)
    assert s0.layer("fc1").m == 2 and s0.layer("fc2").m == 2
    # model: sample 0 = 8/14 bit, 4/14 product; sample 1 = 1/14 bit, 1/14 product
    assert (s0.bit_density, s0.product_density) == (8 / 14, 4 / 14)
    assert (s1.bit_density, s1.product_density) == (1 / 14, 1 / 14)
    assert res.bit_density.mean == pytest.approx(9 / 28, abs=1e-15)
    assert res.bit_density.std == pytest.approx((7 / 14) / math.sqrt(2), abs=1e-15)
    assert res.product_density.mean == pytest.approx(5 / 28, abs=1e-15)
    assert res.product_density.std == pytest.approx((3 / 14) / math.sqrt(2), abs=1e-15)
    fc1 = res.layers[0]
    assert fc1.name == "fc1"
    assert fc1.bit_density.mean == pytest.approx((0.5 + 0.125) / 2, abs=1e-15)
    assert fc1.bit_density.std == pytest.approx(0.375 / math.sqrt(2), abs=1e-15)
    assert fc1.product_density.mean == pytest.approx((0.25 + 0.125) / 2, abs=1e-15)
    # pooled = the sum over samples
    assert res.pooled.counts == s0.counts + s1.counts
    assert res.pooled.layer("fc1").counts == s0.layer("fc1").counts + s1.layer("fc1").counts
    assert (res.pooled.counts.nnz, res.pooled.counts.residual_nnz) == (9, 5)
    assert res.pooled.counts.elements == 28
    assert res.pooled.bit_density == 9 / 28 and res.pooled.product_density == 5 / 28
    # batched, sample 1's row [1,0,0,0] shares a tile with sample 0's [1,1,0,0] and
    # becomes its prefix: the folded batch is not the batch-1 setting
    batched = analyze_trace(two_sample_trace, 256, 4)
    assert batched.counts.nnz == 9
    assert (
        batched.layer("fc1").counts.residual_nnz == 2 != res.pooled.layer("fc1").counts.residual_nnz
    )


def test_each_sample_equals_its_own_one_sample_trace(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    b = 3
    conv_in = rng.random((2, b, 2, 5, 5)) < 0.35  # T, B, C, H, W
    fc_in = rng.integers(0, 3, size=(b, 2, 3, 10)).astype(np.uint8)  # B, T, L, K; 0..2
    fc_in[1] = np.minimum(fc_in[1], 1)  # sample 1 is binary, the others are not
    records = [
        LayerRecord(
            "conv",
            LayerKind.CONV2D,
            {"in_channels": 2, "out_channels": 4, "kernel": 3, "padding": 1},
            layout="T,B,C,H,W",
        ),
        LayerRecord(
            "fc", LayerKind.LINEAR, {"in_features": 10, "out_features": 300}, layout="B,T,L,K"
        ),
    ]
    data = {"conv": conv_in, "fc": fc_in}
    res = analyze_samples(write(tmp_path / "all.h5", records, data, b), 8, 4)
    assert res.n_samples == b
    for i in range(b):
        one = {"conv": conv_in[:, i : i + 1], "fc": fc_in[i : i + 1]}
        alone = analyze_trace(write(tmp_path / f"s{i}.h5", records, one, 1), 8, 4)
        assert res.samples[i] == alone
    assert res.samples[1].layer("fc").binary and not res.samples[0].layer("fc").binary
    assert not res.pooled.layer("fc").binary and res.pooled.layer("fc").planes == 2
    assert res.bit_density == Spread.of([s.bit_density for s in res.samples])


def test_samples_are_counted_layer_by_layer_one_data_set_open_at_a_time(
    two_sample_trace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``count_samples`` reads every sample's first layer, then every sample's second,
    and releases each layer before the next: the reader never holds more than one
    layer's data set (and the chunks HDF5 caches for it), however many samples. The
    statistics are those of each sample counted alone."""
    from prosparsity.analysis.density import count, count_samples
    from prosparsity.analysis.network import Workload

    reads: list[tuple[str, int]] = []
    most_open = [0]
    read_range, dataset = TraceReader.read_packed_range, TraceReader._dataset

    def spy_range(self: TraceReader, name: str, axis: int, start: int, stop: int):  # noqa: ANN202
        reads.append((name, start))
        return read_range(self, name, axis, start, stop)

    def spy_dataset(self: TraceReader, name: str):  # noqa: ANN202
        found = dataset(self, name)
        most_open[0] = max(most_open[0], len(self._datasets))
        return found

    monkeypatch.setattr(TraceReader, "read_packed_range", spy_range)
    monkeypatch.setattr(TraceReader, "_dataset", spy_dataset)
    with TraceReader(two_sample_trace) as reader:
        workload = Workload.from_reader(reader)
        stats = count_samples(workload, 256, 4)
        assert reads == [("fc1", 0), ("fc1", 1), ("fc2", 0), ("fc2", 1)]
        assert most_open[0] == 1 and not reader._datasets
        alone = [count(workload.sample(b), 256, 4) for b in range(2)]
    assert stats == tuple(alone)
    assert [s.layer("fc1").counts.nnz for s in stats] == [4, 1]  # the hand counts above


def test_one_sample_trace_is_analyze_trace(lenet_trace: Path) -> None:  # noqa: F811
    res = analyze_samples(lenet_trace)
    whole = analyze_trace(lenet_trace)
    assert res.samples == (whole,)
    assert res.pooled.counts == whole.counts
    assert res.bit_density == Spread(whole.bit_density, 0.0)


def test_samples_that_cannot_be_separated(tmp_path: Path) -> None:
    no_b = LayerRecord("fc3", LayerKind.LINEAR, {"in_features": 4, "out_features": 8}, layout="T,K")
    data = two_sample_data() | {"fc3": np.ones((2, 4), bool)}
    path = write(tmp_path / "mixed.h5", [FC1, FC2, no_b], data, 2)
    with pytest.raises(TraceError, match="fc3.*no B axis"):
        analyze_samples(path)
    odd = LayerRecord("fc3", LayerKind.LINEAR, {"in_features": 4, "out_features": 8}, layout="B,K")
    data["fc3"] = np.ones((3, 4), bool)
    path = write(tmp_path / "odd.h5", [FC1, odd], data, 2)
    with TraceReader(path) as reader, pytest.raises(TraceError, match="disagree"):
        trace_samples(reader)


def test_spread_of_one_and_of_none() -> None:
    assert Spread.of([0.25]) == Spread(0.25, 0.0)
    assert Spread.of([1.0, 3.0]) == Spread(2.0, math.sqrt(2.0))
    with pytest.raises(Exception, match="no samples"):
        Spread.of([])


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


@pytest.fixture
def output() -> io.StringIO:
    stdout, stderr = io.StringIO(), io.StringIO()
    set_output(Output(stdout, stderr, width=200, color=False))
    yield stdout
    set_output(None)


def run_json(args: list[str], output: io.StringIO) -> dict:
    result = CliRunner().invoke(app, ["analyze", *args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(output.getvalue())["data"]  # the statistics, under the envelope
    doc.pop("neuron_layers")  # the lif records' spike rates (none here)
    return doc


def test_cli_json_per_sample(two_sample_trace: Path, output: io.StringIO) -> None:
    doc = run_json([str(two_sample_trace), "--tile-k", "4"], output)
    res = analyze_samples(two_sample_trace, 256, 4)
    legacy = res.pooled.to_json()
    # every old key, pooled over samples
    assert {k: doc[k] for k in legacy if k != "layers"} == {
        k: v for k, v in legacy.items() if k != "layers"
    }
    pairs = zip(doc["layers"], legacy["layers"], strict=True)
    assert [{k: d[k] for k in old} for d, old in pairs] == legacy["layers"]
    assert doc["bit_density"] == 9 / 28 and doc["product_density"] == 5 / 28
    assert doc["samples"] == 2
    assert doc["bit_density_mean"] == pytest.approx(9 / 28, abs=1e-15)
    assert doc["bit_density_std"] == pytest.approx(0.5 / math.sqrt(2), abs=1e-15)
    assert doc["product_density_mean"] == pytest.approx(5 / 28, abs=1e-15)
    assert doc["product_density_std"] == pytest.approx((3 / 14) / math.sqrt(2), abs=1e-15)
    fc1 = doc["layers"][0]
    assert fc1["name"] == "fc1" and fc1["samples"] == 2 and fc1["m"] == 2
    assert (fc1["nnz"], fc1["residual_nnz"], fc1["em_rows"]) == (5, 3, 1)
    assert fc1["bit_density_mean"] == pytest.approx(0.3125, abs=1e-15)
    assert fc1["bit_density_std"] == pytest.approx(0.375 / math.sqrt(2), abs=1e-15)
    assert {"product_density_mean", "product_density_std"} <= fc1.keys()


def test_cli_batched_keeps_the_folded_document(two_sample_trace: Path, output: io.StringIO) -> None:
    doc = run_json([str(two_sample_trace), "--tile-k", "4", "--batched"], output)
    assert doc == json.loads(json.dumps(analyze_trace(two_sample_trace, 256, 4).to_json()))
    assert "samples" not in doc and doc["layers"][0]["m"] == 4


def test_cli_one_sample_has_no_new_keys(tmp_path: Path, output: io.StringIO) -> None:
    one = {k: v[:, :1] if k == "fc1" else v[:1] for k, v in two_sample_data().items()}
    path = write(tmp_path / "one.h5", [FC1, FC2], one, 1)
    doc = run_json([str(path), "--tile-k", "4"], output)
    assert doc == json.loads(json.dumps(analyze_trace(path, 256, 4).to_json()))
    assert "samples" not in doc


def test_cli_table_shows_mean_and_spread(two_sample_trace: Path, output: io.StringIO) -> None:
    result = CliRunner().invoke(app, ["analyze", str(two_sample_trace), "--tile-k", "4"])
    assert result.exit_code == 0, result.output
    text = output.getvalue()
    assert "2 samples, batch 1 each" in text
    assert "0.3125 ± 0.2652" in text  # fc1 bit density: (0.5, 0.125)
    assert "0.3214 ± 0.3536" in text  # model bit density: (8/14, 1/14)


def test_read_range_reads_one_sample(two_sample_trace: Path) -> None:
    data = two_sample_data()
    with TraceReader(two_sample_trace) as reader:
        got = reader.read_range("fc1", 1, 1, 2)
        assert got.shape == (1, 1, 2, 4) and np.array_equal(got, data["fc1"][:, 1:2])
        assert np.array_equal(reader.read_range("fc2", 2, 1, 3), data["fc2"][:, :, 1:3])
        with pytest.raises(TraceError, match="outside shape"):
            reader.read_range("fc2", 0, 1, 3)


def test_captured_spikformer_samples_equal_their_own_traces(tmp_path: Path) -> None:
    """A real multi-sample capture (conv1d, linear, attention operands, multi-level inputs):
    each sample equals the trace holding only that sample, sliced here with numpy."""
    pytest.importorskip("torch")
    from dataclasses import replace

    from prosparsity.models.capture import capture_model

    path = capture_model("digits-spikformer", tmp_path / "s.h5", samples=2).path
    res = analyze_samples(path, 64, 16)
    assert res.n_samples == 2
    assert any(layer.kind == "attention" for layer in res.pooled.layers)
    with TraceReader(path) as reader:
        info, records = reader.info, reader.layers
        for i in range(2):
            with TraceWriter(tmp_path / f"s{i}.h5", replace(info, samples=1, batch_size=1)) as w:
                for rec in records:
                    if not rec.has_data:
                        w.add_layer(rec)
                        continue
                    axis = rec.axes.index("B")
                    one = np.take(reader.read(rec.name), [i], axis=axis)
                    w.add_layer(replace(rec, shape=one.shape, levels=()), one)
            assert res.samples[i] == analyze_trace(tmp_path / f"s{i}.h5", 64, 16)
