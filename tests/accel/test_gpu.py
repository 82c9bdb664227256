"""GPU-equivalent model: hand-computed layers, step modes, presets, the error table
against the paper's 12 measured A100 latencies, and the `gpu-error` command."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from prosparsity.accel.base import registry
from prosparsity.accel.gpu import (
    A100_SXM_40GB,
    H100_SXM,
    GPUConfig,
    GPUSpec,
    StepMode,
    a100_error_table,
    layer_work,
    simulate_gpu,
)
from prosparsity.accel.workload import Workload
from prosparsity.core.errors import ConfigError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.paper.fig8 import A100_MEASURED_LATENCY_S
from prosparsity.traces.schema import LayerRecord

FC = LayerRecord("fc", "linear", {"in_features": 512, "out_features": 256, "seq_len": 64,
                                  "time_steps": 4})
LIF = LayerRecord("lif", "lif", {"neurons": 1000, "time_steps": 4})


def _wl(*records: LayerRecord) -> Workload:
    return Workload("tiny", tuple(records), time_steps=4)


def test_linear_layer_by_hand() -> None:
    wl = _wl(FC, LIF)
    work = layer_work(wl, FC, GPUConfig(), single_step=False)
    m = 4 * 64
    assert work.flops == 2 * m * 512 * 256
    assert work.bytes == 4 * (m * 512 + 512 * 256 + m * 256)
    assert work.kernels == 2
    single = layer_work(wl, FC, GPUConfig(), single_step=True)
    assert single.kernels == 2 * 4 and single.flops == work.flops
    lif = layer_work(wl, LIF, GPUConfig(), single_step=False)
    assert lif.bytes == 16 * 1000 * 4 and lif.kernels == 1

    spec = A100_SXM_40GB
    bd = simulate_gpu(wl, GPUConfig(), "gpu-a100")
    device = max(work.flops / spec.peak_fp32_flops, work.bytes / spec.memory_bytes_per_s)
    device += lif.bytes / spec.memory_bytes_per_s
    want = spec.inference_overhead_s + 3 * spec.kernel_overhead_s + device
    assert bd.latency_s == pytest.approx(want, rel=1e-12)
    assert bd.total_cycles == pytest.approx(sum(layer.total_cycles for layer in bd.layers))


def test_step_modes() -> None:
    wl = _wl(FC, LIF)
    multi = simulate_gpu(wl, GPUConfig(step_mode=StepMode.MULTI), "g")
    single = simulate_gpu(wl, GPUConfig(step_mode=StepMode.SINGLE), "g")
    extra = 3 * 3 * A100_SXM_40GB.kernel_overhead_s  # 3 kernels, 3 more passes
    assert single.latency_s - multi.latency_s == pytest.approx(extra)
    auto = GPUConfig()
    bert = Workload.from_paper("spikingbert_sst2")
    assert simulate_gpu(bert, auto, "g").latency_s == pytest.approx(
        simulate_gpu(bert, GPUConfig(step_mode="single"), "g").latency_s)
    sdt = Workload.from_paper("sdt_cifar10")
    assert simulate_gpu(sdt, auto, "g").latency_s == pytest.approx(
        simulate_gpu(sdt, GPUConfig(step_mode="multi"), "g").latency_s)


def test_error_table_against_the_paper_measurements() -> None:
    rows = a100_error_table()
    assert [r.workload for r in rows] == list(A100_MEASURED_LATENCY_S)
    assert len(rows) == 12
    for r in rows:
        assert abs(r.error) < 0.25, (r.workload, r.error)
    assert max(abs(r.error) for r in rows) == pytest.approx(0.1971, abs=5e-4)


def test_h100_is_never_slower_than_a100() -> None:
    for name in (*A100_MEASURED_LATENCY_S, "vgg16_cifar10", "lenet5_mnist"):
        wl = Workload.from_paper(name)
        a = registry()["gpu-a100"].run(wl)
        h = registry()["gpu-h100"].run(wl)
        assert h.latency_s <= a.latency_s
        assert h.clock_hz == H100_SXM.clock_hz


def test_configs_validate() -> None:
    with pytest.raises(ConfigError, match="gpu.spec.peak_fp32_flops"):
        GPUSpec("x", 0, 1, 1, 0, 0)
    with pytest.raises(ConfigError, match="gpu.kernels_per_layer.bogus"):
        GPUConfig(kernels_per_layer={"bogus": 1})
    with pytest.raises(ValueError):
        GPUConfig(step_mode="sometimes")


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    set_output(Output(out, err, width=100, color=False))
    try:
        result = CliRunner().invoke(app, ["gpu-error", *args])
    finally:
        set_output(None)
    return result.exit_code, out.getvalue(), err.getvalue() + result.output


def test_gpu_error_command_prints_the_table() -> None:
    code, out, _ = _cli()
    assert code == 0
    for name in A100_MEASURED_LATENCY_S:
        assert name in out
    assert "│ spikformer_cifar10    │         19.00 │         15.26 │ -19.7% │" in out
    assert "max |error| 19.7%" in out
    code, out, _ = _cli("--json")
    doc = json.loads(out)
    assert len(doc["rows"]) == 12 and doc["max_abs_error"] < 0.25


def test_measure_without_cuda_reports_it_cleanly() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    out = subprocess.run(
        [sys.executable, "-m", "prosparsity.harness.cli", "gpu-error", "--measure",
         "lenet5_mnist"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 2, out.stderr
    assert "error: --measure: no CUDA GPU" in out.stderr
    assert "Traceback" not in out.stderr


def test_measure_loop_runs_on_cpu_and_matches_the_model_shapes(lenet5_npz) -> None:
    pytest.importorskip("torch")
    import numpy as np

    from prosparsity.harness.commands.gpu import _measure_table, measure_gemms

    wl = Workload.from_paper("lenet5_mnist", arrays=np.load(lenet5_npz))
    name, rows = measure_gemms(wl, None, repeats=2, warmup=1, device="cpu")
    assert name == "cpu"
    assert [(r.layer, r.m, r.k, r.n) for r in rows] == [
        ("conv2d_1", 32 * 144, 150, 16), ("fc_0", 32, 576, 120), ("fc_1", 32, 120, 84)]
    for r in rows:
        assert r.measured_s > 0
        assert r.model_device_s == pytest.approx(max(
            2 * r.m * r.k * r.n / A100_SXM_40GB.peak_fp32_flops,
            layer_work(wl, wl.layer(r.layer), GPUConfig(), False).bytes
            / A100_SXM_40GB.memory_bytes_per_s))
        assert r.model_layer_s == pytest.approx(r.model_device_s + 2 * 65e-6)
    out = io.StringIO()
    Output(out, io.StringIO(), width=120, color=False).print(_measure_table(name, rows))
    assert "conv2d_1" in out.getvalue() and "4608 x 150 x 16" in out.getvalue()
