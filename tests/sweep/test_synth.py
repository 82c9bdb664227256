"""Synthetic traces: the Bernoulli-with-repeats generator, the trace it writes, the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from prosparsity.core.errors import ConfigError
from prosparsity.paper.fig11 import FIG11_BIT_DENSITY
from prosparsity.traces.importer import expected_dump_shape
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.synth import (
    SYNTHETIC_DATASET,
    SynthSpec,
    is_synthetic,
    synthetic_records,
    synthetic_spikes,
    write_synthetic,
)
from prosparsity.traces.workloads import get_workload
from tests.counting import analyze_samples, analyze_trace
from tests.sweep.conftest import run_main


def _sigma(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(("p", "r"), [(0.25, 0.7), (0.05, 0.0), (0.5, 0.9)])
def test_density_and_repeat_share(p: float, r: float) -> None:
    x = synthetic_spikes((8, 200, 100), p, np.random.default_rng(0), r)
    n = x.size
    assert x.dtype == np.bool_ and x.shape == (8, 200, 100)
    assert abs(x.mean() - p) < 5 * _sigma(p, n)
    # consecutive bits are equal when both kept the base bit (r^2), else they are two
    # independent Bernoulli(p) bits: P(equal) = r^2 + (1 - r^2)(1 - 2p(1-p))
    same = (x[1:] == x[:-1]).mean()
    expect = 1 - 2 * p * (1 - p) * (1 - r * r)
    assert abs(same - expect) < 5 * _sigma(expect, x[1:].size)


def test_extremes() -> None:
    rng = np.random.default_rng(3)
    x = synthetic_spikes((5, 64), 0.3, rng, repeat_fraction=1.0)
    assert (x == x[0]).all() and 0 < x[0].sum() < 64
    assert not synthetic_spikes((4, 64), 0.0, rng).any()
    assert synthetic_spikes((4, 64), 1.0, rng).all()


def test_records_follow_the_workload_and_the_dump_layouts() -> None:
    for name in ("lenet5_mnist", "spikformer_cifar10"):
        recs = synthetic_records(name)
        wl = get_workload(name)
        assert [r.name for r in recs if r.kind != "attention_operand"] == [
            r.name for r in wl.layers]
        for rec in recs:
            if rec.has_data:
                assert (rec.shape, rec.layout) == expected_dump_shape(rec)
        attention = [r for r in recs if r.kind == "attention_operand"]
        blocks = sum(1 for r in wl.layers if r.kind == "attention")
        assert len(attention) == 3 * blocks and (blocks > 0) == (name != "lenet5_mnist")
    multi = synthetic_records("lenet5_mnist", samples=3)
    fc = next(r for r in multi if r.name == "fc_0")
    assert fc.shape == (32, 3, 576) and fc.layout == "T,B,K" and fc.params["batch"] == 3


def test_trace_is_marked_and_deterministic(tmp_path: Path) -> None:
    spec = SynthSpec("lenet5_mnist", 0.25, samples=1, seed=7)
    a = write_synthetic(spec, tmp_path / "a.h5")
    b = write_synthetic(spec, tmp_path / "b.h5")
    c = write_synthetic(SynthSpec("lenet5_mnist", 0.25, seed=8), tmp_path / "c.h5")
    two = write_synthetic(SynthSpec("lenet5_mnist", 0.25, samples=2, seed=7),
                          tmp_path / "two.h5")
    with TraceReader(a) as ra, TraceReader(b) as rb, TraceReader(c) as rc, \
            TraceReader(two) as r2:
        info = ra.info
        assert is_synthetic(info) and info.dataset == SYNTHETIC_DATASET
        assert info.workload == "lenet5_mnist" and info.time_steps == 32
        assert info.extra["synthetic_bit_density"] == "0.25"
        assert info.extra["synthetic_repeat_fraction"] == "0.7"
        assert info.extra["synthetic_seed"] == "7"
        for rec in ra.gemm_layers:
            x = ra.read(rec.name)
            assert np.array_equal(x, rb.read(rec.name))
            assert not np.array_equal(x, rc.read(rec.name))
            # sample 0 of a two-sample trace is the one-sample trace of the same seed
            assert np.array_equal(x, r2.read_range(rec.name, 1, 0, 1)[:, 0])
    stats = analyze_trace(a)
    assert abs(stats.bit_density - 0.25) < 0.01
    assert stats.product_density < stats.bit_density
    per_sample = analyze_samples(two)
    assert per_sample.n_samples == 2
    assert per_sample.samples[0].counts == stats.counts


def test_bad_spec_values() -> None:
    with pytest.raises(ConfigError, match="bit_density"):
        SynthSpec("lenet5_mnist", 1.5)
    with pytest.raises(ConfigError, match="samples"):
        SynthSpec("lenet5_mnist", 0.1, samples=0)
    with pytest.raises(ConfigError, match="unknown workload"):
        SynthSpec("lenet7", 0.1)


def test_cli_uses_the_papers_density(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "t.h5"
    code, _, err = run_main(monkeypatch, "trace", "synth", "--workload", "vgg9_cifar10",
                            "-o", str(out), "--seed", "3")
    assert code == 0, err
    with TraceReader(out) as reader:
        assert float(reader.info.extra["synthetic_bit_density"]) == FIG11_BIT_DENSITY[
            "vgg9_cifar10"]
        assert reader.info.extra["synthetic_seed"] == "3"
    code, _, err = run_main(monkeypatch, "trace", "synth", "--workload", "lenet7", "-o",
                            str(tmp_path / "x.h5"))
    assert code == 2 and "unknown workload 'lenet7'" in err
    assert not (tmp_path / "x.h5").exists()
