"""Issue 19's user models, captured through the CLI, against an independent reference:
plain-PyTorch forward hooks on the same model and input, and the spec's densities counted
by a residual count written in the test (tests/models/reference_models.py), not by the
harness's code.

* spiking self-attention written with ``@`` (and with ``einsum``): the attention GEMMs
  are captured (``Q Kᵀ`` then ``·V``, the paper's spikingbert form), so the densities
  equal the reference's with them; and the linear form ``Kᵀ V`` then ``Q·``;
* a batch-first model that transposes inside, at B = T and at B != T;
* an snntorch network with the default subtract reset, exported to NIR;
* a model in which no GEMM is captured.
"""

from __future__ import annotations

import warnings
from io import StringIO
from pathlib import Path

import nir
import numpy as np
import pytest
import snntorch
import snntorch.utils
import torch
from typer.testing import CliRunner

from prosparsity.analysis.density import count_samples
from prosparsity.analysis.network import Workload
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.models.capture import EmptyCapture, capture_model
from prosparsity.models.engine import CaptureWarning
from prosparsity.traces.io import TraceReader
from tests.models import reference_models as rm

pytestmark = pytest.mark.filterwarnings(
    "ignore:nirtorch.extract_nir_graph:DeprecationWarning"
)


def cli(args: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    set_output(Output(out, err, width=250, color=False))
    try:
        result = CliRunner().invoke(app, args)
    finally:
        set_output(None)
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        err.write(f"error: {result.exception}\n")
        code = 2
    return code, out.getvalue(), err.getvalue()


def harness_densities(path: Path) -> list[float]:
    """Per-sample bit and product density as the harness analyses the trace, flat:
    ``[bit_0, product_0, bit_1, ...]``."""
    with TraceReader(path) as reader:
        samples = count_samples(Workload.from_reader(reader), 256, 16)
    return [float(v) for s in samples for v in (s.bit_density, s.product_density)]


def flat(pairs: list[tuple[float, float]]) -> list[float]:
    return [float(v) for pair in pairs for v in pair]


def spikes(*shape: int, p: float, seed: int) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p).float()


def reference_run(model: torch.nn.Module, x: torch.Tensor) -> rm.Hooks:
    hooks = rm.Hooks(model)
    try:
        with torch.no_grad():
            from spikingjelly.activation_based import functional

            functional.reset_net(model)
            model(x)
    finally:
        hooks.remove()
    return hooks


def head_blocks(out: torch.Tensor, b: int, t: int) -> list[np.ndarray]:
    """The per-head ``L x dh`` blocks of a neuron output ``[T, B, L, D]``."""
    block = out[t, b].numpy().astype(np.uint8)  # [L, D]
    dh = block.shape[1] // rm.HEADS
    return [block[:, h * dh:(h + 1) * dh] for h in range(rm.HEADS)]


@pytest.mark.parametrize("factory", ["make_functional_attention", "make_einsum_attention"])
def test_functional_attention_is_captured_with_its_products(tmp_path: Path,
                                                            factory: str) -> None:
    b_total = 3
    x = spikes(rm.T, b_total, rm.L, rm.D, p=0.5, seed=1)
    torch.save(x, tmp_path / "x.pt")
    code, out, err = cli(["capture", "--model", f"tests.models.reference_models:{factory}",
                          "--input", str(tmp_path / "x.pt"), "-o", str(tmp_path / "t.h5")])
    assert code == 0, err
    assert "(attention blocks: 1)" in err and "0 skipped" in err
    with TraceReader(tmp_path / "t.h5") as r:
        att = r.record("functionalattention")
        assert dict(att.params) == {"dim": rm.D, "seq_len": rm.L, "heads": rm.HEADS,
                                    "variant": "spikingbert", "time_steps": rm.T,
                                    "batch": b_total}
        assert [x.name for x in r.layers if x.name.startswith("functionalattention.")] == [
            "functionalattention.q", "functionalattention.k", "functionalattention.v"]
    got = harness_densities(tmp_path / "t.h5")
    # the reference: the same model, plain hooks, the spec's GEMMs counted in the test
    ref = reference_run(getattr(rm, factory)(), x)
    want = []
    attention_macs = total_macs = 0
    for b in range(b_total):
        gemms = [(rm.linear_operand(ref.inputs[n], b), rm.D) for n in ("q", "k", "v", "proj")]
        gemms.append((rm.linear_operand(ref.inputs["head"], b), 3))
        for t in range(rm.T):
            for k_h, v_h in zip(head_blocks(ref.outputs["k_lif"], b, t),
                                head_blocks(ref.outputs["v_lif"], b, t), strict=True):
                gemms.append((k_h, rm.L))  # K (L x dh) against Q: N = L
                gemms.append((v_h.T, rm.L))  # Vᵀ (dh x L) against the scores: N = L
                attention_macs += 2 * rm.L * rm.L * (rm.D // rm.HEADS)
        total_macs += sum(s.shape[0] * s.shape[1] * n for s, n in gemms)
        want.append(rm.densities(gemms))
    assert got == pytest.approx(flat(want), abs=1e-12)
    assert 0.1 < attention_macs / total_macs < 0.5  # the products are a real share
    assert all(0 < p < b < 1 for b, p in want)  # not vacuous


def test_linear_attention_form(tmp_path: Path) -> None:
    """``Kᵀ V`` then ``Q (Kᵀ V)``: the paper's Spikformer form, GEMMs ``Kᵀ`` (dh x L)
    against V and Q (L x dh) against KV (L = 12 > dh = 8: no role swap)."""
    x = spikes(rm.T, 2, rm.L, rm.D, p=0.5, seed=2)
    torch.save(x, tmp_path / "x.pt")
    code, out, err = cli(["capture", "--model", "tests.models.reference_models:"
                          "make_linear_attention", "--input", str(tmp_path / "x.pt"),
                          "-o", str(tmp_path / "t.h5")])
    assert code == 0, err
    with TraceReader(tmp_path / "t.h5") as r:
        assert r.record("linearattention").params["variant"] == "spikformer"
    ref = reference_run(rm.make_linear_attention(), x)
    dh = rm.D // rm.HEADS
    want = []
    for b in range(2):
        gemms = [(rm.linear_operand(ref.inputs[n], b), rm.D) for n in ("q", "k", "v", "proj")]
        for t in range(rm.T):
            for q_h, k_h in zip(head_blocks(ref.outputs["q_lif"], b, t),
                                head_blocks(ref.outputs["k_lif"], b, t), strict=True):
                gemms.append((k_h.T, dh))  # Kᵀ (dh x L) against V: N = dh
                gemms.append((q_h, dh))  # Q (L x dh) against KV: N = dh
        want.append(rm.densities(gemms))
    assert harness_densities(tmp_path / "t.h5") == pytest.approx(flat(want), abs=1e-12)


@pytest.mark.parametrize("batch", [5, 3])  # B == T == 5, then B != T
def test_batch_first_model_transposing_inside(tmp_path: Path, batch: int) -> None:
    t = 5
    x = spikes(batch, t, 10, p=0.4, seed=3)  # [B, T, F], as the model takes it
    torch.save(x, tmp_path / "x.pt")
    code, out, err = cli(["capture", "--model", "tests.models.reference_models:make_batch_first",
                          "--input", str(tmp_path / "x.pt"), "--layout", "BT", "-T", str(t),
                          "-o", str(tmp_path / "t.h5")])
    assert code == 0, err
    assert "T,B,10" in out  # fc1 seen time-first, though the input file is batch-first
    ref = reference_run(rm.make_batch_first(), x)
    want = []
    for b in range(batch):
        gemms = [(rm.linear_operand(ref.inputs[n], b), o)
                 for n, o in (("fc1", 20), ("fc2", 20), ("fc3", 4))]
        want.append(rm.densities(gemms))
    got = harness_densities(tmp_path / "t.h5")
    assert got == pytest.approx(flat(want), abs=1e-12)
    with TraceReader(tmp_path / "t.h5") as r:  # the stored input is the model's view of x
        np.testing.assert_array_equal(r.read("fc1"), x.transpose(0, 1).numpy())


def _leaky(shape: tuple[int, ...], beta: float, threshold: float) -> snntorch.Leaky:
    """snntorch's default reset (subtract, one step late); per-neuron tensors for the
    NIR export."""
    return snntorch.Leaky(beta=torch.full(shape, beta), threshold=torch.full(shape, threshold),
                          init_hidden=True)


def _snn() -> torch.nn.Sequential:
    torch.manual_seed(4)
    return torch.nn.Sequential(
        torch.nn.Linear(12, 24), _leaky((24,), 0.9, 0.5),
        torch.nn.Linear(24, 24), _leaky((24,), 0.9, 0.5),
        torch.nn.Linear(24, 4), _leaky((4,), 0.9, 0.5),
    )  # fmt: skip


def _snn_layer_inputs(x: torch.Tensor) -> dict[str, np.ndarray]:
    """Each Linear's input over the T steps, ``[T, B, K]``, from plain hooks."""
    net = _snn()
    seen: dict[str, list[torch.Tensor]] = {}
    handles = [m.register_forward_pre_hook(
        lambda mod, a, n=name: seen.setdefault(n, []).append(a[0].detach().clone()))
        for name, m in net.named_modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        snntorch.utils.reset(net)
        for step in x:
            net(step)
    for h in handles:
        h.remove()
    return {n: torch.stack(v).numpy() for n, v in seen.items()}


def test_snntorch_subtract_reset_through_nir(tmp_path: Path) -> None:
    from snntorch.export_nir import export_to_nir

    graph = tmp_path / "g.nir"
    nir.write(graph, export_to_nir(_snn(), torch.zeros(12)))
    x = spikes(6, 3, 12, p=0.5, seed=5)  # [T, B, F]
    torch.save(x, tmp_path / "x.pt")
    ref = _snn_layer_inputs(x)

    def bit_densities(path: Path) -> dict[str, float]:
        with TraceReader(path) as r:
            return {g.name: float(r.read(g.name).mean()) for g in r.gemm_layers}

    want = {f"graph.{n}": float(v.astype(np.float64).mean()) for n, v in ref.items()}
    # without a choice: NIR's reset (to zero), and a warning that says so
    code, _, err = cli(["capture", "--nir", str(graph), "--input", str(tmp_path / "x.pt"),
                        "-T", "6", "-o", str(tmp_path / "zero.h5")])
    assert code == 0, err
    assert "warning: NIR graph g.nir: its LIF neurons reset to v_reset = 0" in err
    assert "--nir-reset subtract" in err
    zero = bit_densities(tmp_path / "zero.h5")
    assert zero["graph.0"] == want["graph.0"]  # the input, before any reset
    assert zero["graph.2"] != pytest.approx(want["graph.2"], abs=1e-3)  # the issue's -12 %
    # with the source's reset: the source network's densities, exactly
    code, _, err = cli(["capture", "--nir", str(graph), "--nir-reset", "subtract", "--input",
                        str(tmp_path / "x.pt"), "-T", "6", "-o", str(tmp_path / "sub.h5")])
    assert code == 0, err
    assert "warning" not in err
    assert bit_densities(tmp_path / "sub.h5") == pytest.approx(want, abs=0)
    with TraceReader(tmp_path / "sub.h5") as r:
        assert r.info.extra["nir_reset"] == "subtract"
        for name, data in ref.items():
            np.testing.assert_array_equal(r.read(f"graph.{name}"), data)
    assert 0 < want["graph.2"] < 1 and 0 < want["graph.4"] < 1


def test_model_without_any_gemm(tmp_path: Path) -> None:
    torch.save(spikes(rm.T, 2, 6, p=0.4, seed=6), tmp_path / "x.pt")
    args = ["capture", "--model", "tests.models.reference_models:make_no_gemm",
            "--input", str(tmp_path / "x.pt"), "-o", str(tmp_path / "t.h5")]
    code, _, err = cli(args)
    assert code == 2
    assert "no spiking GEMM was captured (not spikes: readout (analog input))" in err
    assert "--allow-empty" in err and not (tmp_path / "t.h5").exists()
    with pytest.raises(EmptyCapture):
        capture_model("tests.models.reference_models:make_no_gemm", tmp_path / "t.h5",
                      input_path=tmp_path / "x.pt")
    code, _, err = cli([*args, "--allow-empty"])
    assert code == 0 and "warning: " in err and "every report shows —" in err
    code, out, _ = cli(["analyze", str(tmp_path / "t.h5")])
    assert code == 0
    total = next(line for line in out.splitlines() if line.startswith("│ total"))
    assert total.count("—") == 2 and "0.0000" not in total
    code, out, err = cli(["simulate", str(tmp_path / "t.h5")])
    assert code == 0
    assert "skipped prosperity: no spiking GEMM in this trace, nothing to price" in err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        capture_model("tests.models.reference_models:make_no_gemm", tmp_path / "u.h5",
                      input_path=tmp_path / "x.pt", allow_empty=True)
    assert any(issubclass(w.category, CaptureWarning) for w in caught)
