"""`prosparsity capture --nir`: a graph exported by snntorch's own NIR export is built,
captured, and its per-layer spike rates equal those of the original snntorch network,
counted directly in the test."""

from __future__ import annotations

import os
import signal
import time
from io import StringIO
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch
import snntorch.utils
import torch
from snntorch.export_nir import export_to_nir
from torch import nn
from typer.testing import CliRunner

from prosparsity.core.errors import HarnessError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.interop.nir import build_nir_model, nir_source
from prosparsity.models.capture import capture_model
from prosparsity.models.prepare import SetupError
from prosparsity.traces.reader import TraceReader

T, B = 6, 2


def leaky(shape: tuple[int, ...], beta: float, threshold: float) -> snntorch.Leaky:
    """snntorch 1.0's NIR export needs per-neuron tensors; NIR resets to zero."""
    return snntorch.Leaky(
        beta=torch.full(shape, beta),
        threshold=torch.full(shape, threshold),
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
    )


def snntorch_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, stride=2),
        leaky((4, 4, 4), 0.9, 0.3),
        nn.Flatten(-3, -1),
        nn.Linear(64, 10),
        leaky((10,), 0.8, 0.2),
        nn.Linear(10, 3),
    )


pytestmark = pytest.mark.filterwarnings("ignore:nirtorch.extract_nir_graph:DeprecationWarning")


@pytest.fixture()
def graph(tmp_path: Path) -> Path:
    path = tmp_path / "g.nir"
    nir.write(path, export_to_nir(snntorch_net(), torch.zeros(1, 8, 8)))  # unbatched sample
    return path


def original_rates(x: torch.Tensor) -> dict[str, float]:
    """Spike rate of each Leaky layer of the original network, one sample at a time."""
    net = snntorch_net()
    counts: dict[str, list[int]] = {}

    def hook(name: str):
        def fn(mod, args, out):
            c = counts.setdefault(name, [0, 0])
            c[0] += int(torch.count_nonzero(out))
            c[1] += out.numel()

        return fn

    for name, mod in net.named_modules():
        if isinstance(mod, snntorch.Leaky):
            mod.register_forward_hook(hook(name))
    with torch.no_grad():
        for b in range(x.shape[1]):
            snntorch.utils.reset(net)
            for t in range(x.shape[0]):
                net(x[t, b : b + 1])
    return {f"graph.{n}": s / e for n, (s, e) in counts.items()}


def test_snntorch_export_captured_through_the_cli(graph: Path, tmp_path: Path) -> None:
    x = (torch.rand(T, B, 1, 8, 8, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    torch.save(x, tmp_path / "x.pt")
    stderr = StringIO()
    set_output(Output(StringIO(), stderr, width=300, color=False))
    try:
        result = CliRunner().invoke(app, ["capture", "--nir", str(graph), "--input",
                                          str(tmp_path / "x.pt"), "-T", str(T),
                                          "-o", str(tmp_path / "t.h5")])
    finally:
        set_output(None)
    assert result.exit_code == 0, result.output
    text = stderr.getvalue()
    assert "2 neuron layers (snntorch 2)" in text and "runner loop" in text
    with TraceReader(tmp_path / "t.h5") as r:
        assert r.info.model == "g.nir" and r.info.samples == B
        assert [(rec.name, str(rec.kind)) for rec in r.layers] == [
            ("graph.0", "conv2d"), ("graph.1", "lif"), ("graph.3", "linear"),
            ("graph.4", "lif"), ("graph.5", "linear"),
        ]  # fmt: skip
        conv = r.record("graph.0")
        assert conv.params["stride"] == 2 and conv.params["in_channels"] == 1
        np.testing.assert_array_equal(r.read("graph.0"), x.numpy())
        rates = {rec.name: rec.params["spikes"] / rec.params["elements"]
                 for rec in r.layers if str(rec.kind) == "lif"}
    want = original_rates(x)
    assert rates == pytest.approx(want, abs=0)
    assert all(0 < v < 1 for v in rates.values())  # the comparison is not vacuous


def test_the_built_network_runs_the_exported_one(graph: Path) -> None:
    x = (torch.rand(T, 1, 1, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    net = snntorch_net()
    snntorch.utils.reset(net)
    with torch.no_grad():
        want = torch.stack([net(step) for step in x])
        got = build_nir_model(graph)(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_unknown_node_type_is_refused_by_name(tmp_path: Path) -> None:
    g = nir.NIRGraph.from_list(
        nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, np.float32)),
        nir.Delay(np.ones(3, np.float32)),
    )
    nir.write(tmp_path / "d.nir", g)
    with pytest.raises(SetupError, match=r"NIR graph .*d.nir: node 'delay' is a NIR Delay, which "
                                         r"the harness cannot build \(known node types: Affine, "):
        nir_source(tmp_path / "d.nir")


def test_a_leaking_lif_is_refused_naming_the_node(tmp_path: Path) -> None:
    ones = np.ones(3, np.float32)
    g = nir.NIRGraph.from_list(
        nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, np.float32)),
        nir.LIF(tau=ones * 1e-3, r=ones, v_leak=ones * 0.1, v_threshold=ones),
    )
    nir.write(tmp_path / "l.nir", g)
    torch.save(torch.zeros(T, 1, 3), tmp_path / "x.pt")
    with pytest.raises(SetupError, match=r"node 'lif' \(LIF\): v_leak must be 0"):
        capture_model(nir_source(tmp_path / "l.nir"), tmp_path / "t.h5",
                      input_path=tmp_path / "x.pt", time_steps=T)


def test_a_file_that_is_no_graph(tmp_path: Path) -> None:
    (tmp_path / "x.nir").write_text("not hdf5")
    set_output(Output(StringIO(), StringIO(), width=300, color=False))
    try:
        result = CliRunner().invoke(app, ["capture", "--nir", str(tmp_path / "x.nir"),
                                          "-o", str(tmp_path / "t.h5")])
    finally:
        set_output(None)
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception).startswith(f"--nir {tmp_path / 'x.nir'}: not a NIR graph file")


def _crash(path: str, conn) -> None:  # noqa: ANN001 - the child's signature
    from prosparsity.core.bounded import quiet

    quiet()
    os.kill(os.getpid(), signal.SIGSEGV)


def _stall(path: str, conn) -> None:  # noqa: ANN001
    from prosparsity.core.bounded import quiet

    quiet()
    time.sleep(60)


def test_a_graph_that_crashes_or_stalls_the_reader_is_one_error(
    graph: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NIR graph is an HDF5 file, and HDF5 crashes or loops on some malformed ones: the
    first read runs in a child process, so what it does there, done for real here (a
    SIGSEGV, a sleep past the limit), ends in one error and no trace file."""
    from prosparsity.interop import nir as nir_import

    out = tmp_path / "t.h5"
    torch.save(torch.zeros(T, B, 4), tmp_path / "x.pt")
    monkeypatch.setattr(nir_import, "_READ_OK", type(nir_import._READ_OK)())
    monkeypatch.setattr(nir_import, "_read_child", _crash)
    set_output(Output(StringIO(), StringIO(), width=300, color=False))
    try:
        result = CliRunner().invoke(app, ["capture", "--nir", str(graph), "--input",
                                          str(tmp_path / "x.pt"), "-o", str(out)])
    finally:
        set_output(None)
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception) == (f"--nir {graph}: damaged or crafted file: reading it "
                                     "crashed the NIR reader process (signal 11)")
    monkeypatch.setattr(nir_import, "_read_child", _stall)
    monkeypatch.setattr(nir_import, "default_limit", lambda path: 0.5)
    start = time.monotonic()
    with pytest.raises(SetupError, match=r"not read: reading it did not finish within 0\.5 s "
                                         r"\(HDF5 loops on some malformed files\)"):
        nir_source(graph)
    assert time.monotonic() - start < 20  # killed, not waited for
    assert not out.exists() and not list(tmp_path.glob("t.h5*"))


def test_a_graph_is_read_in_a_child_once_per_unchanged_file(
    graph: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prosparsity.interop import nir as nir_import

    calls: list[str] = []
    real = nir_import.run_bounded

    def counted(target, args, limit):  # noqa: ANN001, ANN202
        calls.append(args[0])
        return real(target, args, limit)

    monkeypatch.setattr(nir_import, "_READ_OK", type(nir_import._READ_OK)())
    monkeypatch.setattr(nir_import, "run_bounded", counted)
    nir_source(graph)
    nir_source(graph)
    assert calls == [str(graph)]
    graph.write_bytes(graph.read_bytes())  # rewritten: read in a child again
    nir_source(graph)
    assert calls == [str(graph), str(graph)]
