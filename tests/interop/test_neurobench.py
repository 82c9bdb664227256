"""The harness's NeuroBench metrics inside a real NeuroBench ``Benchmark`` run: its
per-layer spike rates equal NeuroBench's own ActivationSparsityByLayer, its densities
and cycles equal the harness's analysis of the same traces, and NeuroBench's own
metrics are not disturbed by the extra capture run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

neurobench = pytest.importorskip("neurobench")

import snntorch  # noqa: E402
import torch  # noqa: E402
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.abstract.workload_metric import WorkloadMetric  # noqa: E402
from neurobench.metrics.workload import (  # noqa: E402
    ActivationSparsity,
    ActivationSparsityByLayer,
    SynapticOperations,
)
from neurobench.models import SNNTorchModel  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from prosparsity.interop.neurobench import (  # noqa: E402
    BitDensity,
    NeuronSpikeRates,
    ProductDensity,
    ProsperityCycles,
    ProsperityMetric,
)
from prosparsity.traces.reader import TraceReader  # noqa: E402
from tests.counting import analyze_samples  # noqa: E402

N, T, BATCH = 6, 5, 4


class LayerSparsity(ActivationSparsityByLayer):
    """NeuroBench 2.3.0's ActivationSparsityByLayer skips its base ``__init__``, so the
    metric manager's ``requires_hooks`` check fails on it; this only adds that call."""

    def __init__(self) -> None:
        super().__init__()
        WorkloadMetric.__init__(self, requires_hooks=True)


class Net(nn.Module):
    """A flat snntorch MLP, as NeuroBench's SNNTorchModel runs it (one step per call)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.fc1 = nn.Linear(12, 16)
        self.lif1 = snntorch.Leaky(beta=0.8, threshold=0.4, init_hidden=True)
        self.fc2 = nn.Linear(16, 10)
        self.lif2 = snntorch.Leaky(beta=0.8, threshold=0.3, init_hidden=True)
        self.fc3 = nn.Linear(10, 3)
        self.lif3 = snntorch.Leaky(beta=0.8, threshold=0.2, init_hidden=True, output=True)

    def forward(self, x: torch.Tensor):
        return self.lif3(self.fc3(self.lif2(self.fc2(self.lif1(self.fc1(x))))))


def loader() -> DataLoader:
    gen = torch.Generator().manual_seed(8)
    x = (torch.rand(N, T, 12, generator=gen) < 0.4).float()  # NeuroBench: [B, T, ...]
    return DataLoader(TensorDataset(x, torch.zeros(N, dtype=torch.long)), batch_size=BATCH)


def run(metrics: list) -> dict:
    bench = Benchmark(SNNTorchModel(Net()), loader(), [], [], [[], metrics])
    return bench.run(quiet=True)


@pytest.fixture()
def kept(tmp_path: Path):
    ProsperityMetric.trace_dir = tmp_path
    yield tmp_path
    ProsperityMetric.trace_dir = None


def test_spike_rates_equal_neurobench_layer_by_layer(kept: Path) -> None:
    ours = [ProductDensity, BitDensity, ProsperityCycles, NeuronSpikeRates]
    results = run([LayerSparsity, ActivationSparsity, SynapticOperations, *ours])
    by_layer = results["LayerSparsity"]
    rates = results["NeuronSpikeRates"]
    assert set(rates) == set(by_layer) == {"lif1", "lif2", "lif3"}
    for name, sparsity in by_layer.items():
        assert rates[name] == pytest.approx(1 - sparsity, abs=1e-12), name
        assert 0 < rates[name] < 1, f"{name}: the comparison is vacuous"
    traces = sorted(kept.glob("batch-*.h5"))
    assert len(traces) == 2  # one capture per batch, shared by the four metrics
    spikes = elements = 0
    for path in traces:
        with TraceReader(path) as r:
            assert r.info.time_steps == T and [x.name for x in r.gemm_layers] == [
                "fc1", "fc2", "fc3"]
            for rec in r.layers:
                if str(rec.kind) == "lif":
                    spikes += rec.params["spikes"]
                    elements += rec.params["elements"]
    assert results["ActivationSparsity"] == pytest.approx(1 - spikes / elements, abs=1e-12)
    # the densities and cycles are the harness's, per sample, averaged over all samples
    per = [s for p in traces for s in analyze_samples(p).samples]
    assert len(per) == N
    assert results["ProductDensity"] == pytest.approx(
        np.mean([s.product_density for s in per]), rel=1e-12)
    assert results["BitDensity"] == pytest.approx(np.mean([s.bit_density for s in per]), rel=1e-12)
    assert 0 < results["ProductDensity"] < results["BitDensity"] < 1
    assert results["ProsperityCycles"] > 0


def test_the_recorded_inputs_are_the_batch(kept: Path) -> None:
    run([ProductDensity])
    x = loader().dataset.tensors[0]
    with TraceReader(kept / "batch-00000.h5") as r:
        np.testing.assert_array_equal(r.read("fc1"), x[:BATCH].transpose(0, 1).numpy())


def test_neurobench_metrics_are_not_disturbed() -> None:
    alone = run([SynapticOperations, ActivationSparsity, LayerSparsity])
    beside = run([ProductDensity, SynapticOperations, ActivationSparsity, LayerSparsity,
                  ProsperityCycles])
    for key in ("SynapticOperations", "ActivationSparsity", "LayerSparsity"):
        assert beside[key] == alone[key], key
