"""Bring-your-own-model capture: the runner from the framework, the input
layout, neurons no adapter knows, spike rates per neuron layer, and the summary that
says what a trace leaves out. Spike rates are checked against counts taken directly
from the neurons' outputs in the test."""

from __future__ import annotations

import json
from collections import defaultdict
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import snntorch
import torch
from typer.testing import CliRunner

from prosparsity.core.errors import HarnessError
from prosparsity.harness.cli import app
from prosparsity.harness.console import Output, set_output
from prosparsity.models.adapters import adapters, resolve_neurons
from prosparsity.models.capture import capture_model
from prosparsity.models.prepare import SetupError, read_layout
from prosparsity.models.registry import Runner
from prosparsity.traces.reader import TraceReader
from tests.models import user_models

T, B = 5, 3
MLP = "tests.models.user_models:make_leaky_mlp"


def spikes(*shape: int, p: float = 0.5, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < p).float()


def direct_rates(net: torch.nn.Module, x: torch.Tensor, neuron: type) -> dict[str, float]:
    """Spike rate of every ``neuron`` layer, counted from its outputs (test side)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def hook(name: str):
        def fn(mod, args, out):
            s = out[0] if isinstance(out, tuple) else out
            counts[name][0] += int(torch.count_nonzero(s))
            counts[name][1] += s.numel()

        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_modules()
               if isinstance(m, neuron)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return {n: s / e for n, (s, e) in counts.items()}


def trace_rates(path: Path) -> dict[str, float]:
    with TraceReader(path) as r:
        return {rec.name: rec.params["spikes"] / rec.params["elements"]
                for rec in r.layers if str(rec.kind) == "lif"}


def test_every_framework_has_one_registered_adapter() -> None:
    assert [a.name for a in adapters()] == ["spikingjelly", "snntorch", "torch"]


@pytest.mark.parametrize(
    "cls",
    ["Leaky", "Synaptic", "Alpha", "Lapicque", "RLeaky", "RSynaptic", "SLSTM", "SConv2dLSTM",
     "StateLeaky", "LinearLeaky", "AssociativeLeaky", "LeakyParallel"],
)
def test_every_snntorch_spiking_neuron_is_recognised(cls: str) -> None:
    from tests.models.snntorch_neurons import build

    module = build(cls)
    found = resolve_neurons(torch.nn.Sequential(module))
    assert dict(found.frameworks) == {"snntorch": 1}
    sequence = cls in ("StateLeaky", "LinearLeaky", "AssociativeLeaky", "LeakyParallel")
    assert found.runner is (Runner.MULTI if sequence else Runner.LOOP)


def test_snntorch_leaky_mlp_without_runner(tmp_path: Path) -> None:
    x = spikes(T, B, 6)
    torch.save(x, tmp_path / "x.pt")
    result = capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T)
    assert result.summary.runner is Runner.LOOP
    assert dict(result.summary.frameworks) == {"snntorch": 2}
    assert result.summary.no_neuron == () and result.summary.skipped == ()
    want = direct_rates(user_models.make_leaky_mlp(), x, snntorch.Leaky)
    got = trace_rates(tmp_path / "t.h5")
    assert got == pytest.approx(want, abs=0) and set(got) == {"lif1", "lif2"}
    assert 0 < got["lif1"] < 1 and 0 < got["lif2"] < 1  # not vacuous
    with TraceReader(tmp_path / "t.h5") as r:
        lif1 = r.record("lif1")
        assert lif1.params["elements"] == T * B * lif1.params["neurons"] == T * B * 10
        np.testing.assert_array_equal(r.read("fc1"), x.numpy())
        assert [rec.name for rec in r.layers] == ["fc1", "lif1", "fc2", "lif2", "fc3"]


def test_snntorch_leaky_conv_net_without_runner(tmp_path: Path) -> None:
    x = spikes(T, B, 1, 8, 8, p=0.4, seed=1)
    torch.save(x, tmp_path / "x.pt")
    spec = "tests.models.user_models:make_leaky_conv"
    result = capture_model(spec, tmp_path / "t.h5", input_path=tmp_path / "x.pt", samples=2,
                           layout="TB")
    assert result.summary.runner is Runner.LOOP and result.summary.no_neuron == ()
    want = direct_rates(user_models.make_leaky_conv(), x[:, :2], snntorch.Leaky)
    got = trace_rates(tmp_path / "t.h5")
    assert got == pytest.approx(want, abs=0) and set(got) == {"lif1", "lif2"}
    assert all(0 < v < 1 for v in got.values())
    with TraceReader(tmp_path / "t.h5") as r:
        assert r.record("conv2").shape == (T, 2, 4, 4, 4)
        assert r.record("lif1").params["neurons"] == 4 * 8 * 8


@pytest.mark.parametrize(
    ("tb", "bt"),
    [
        ("tests.models.user_models:make_leaky_mlp", "tests.models.user_models:make_leaky_mlp_bt"),
        ("tests.models.user_models:make_fire_mlp", "tests.models.user_models:make_fire_mlp_bt"),
    ],
    ids=["snntorch-loop", "torch-multistep"],
)
def test_batch_first_input_gives_the_same_trace(tb: str, bt: str, tmp_path: Path) -> None:
    x = spikes(T, B, 6, seed=2)
    torch.save(x, tmp_path / "tb.pt")
    torch.save(x.transpose(0, 1).contiguous(), tmp_path / "bt.pt")  # [B, T, ...]
    neuron = ("--neuron", "tests.models.user_models:Fire") if "fire" in tb else ()
    classes = neuron[1:]
    capture_model(tb, tmp_path / "tb.h5", input_path=tmp_path / "tb.pt", layout="TB",
                  neurons=classes)
    capture_model(bt, tmp_path / "bt.h5", input_path=tmp_path / "bt.pt", layout="BT",
                  neurons=classes)
    with TraceReader(tmp_path / "tb.h5") as a, TraceReader(tmp_path / "bt.h5") as b:
        assert a.info.samples == b.info.samples == B and a.info.time_steps == T
        assert [(r.name, r.shape, dict(r.params)) for r in a.layers] == [
            (r.name, r.shape, dict(r.params)) for r in b.layers
        ]
        for rec in a.gemm_layers:
            np.testing.assert_array_equal(a.read(rec.name), b.read(rec.name))
        assert [str(r.kind) for r in a.layers].count("lif") == 2


def test_registry_model_takes_a_batch_first_file(tmp_path: Path) -> None:
    from prosparsity.models.registry import get_model

    x = get_model("digits-cnn").make_input(samples=2, time_steps=8, seed=0)  # [T, B, ...]
    torch.save(x, tmp_path / "tb.pt")
    torch.save(x.transpose(0, 1).contiguous(), tmp_path / "bt.pt")
    capture_model("digits-cnn", tmp_path / "tb.h5", input_path=tmp_path / "tb.pt")
    capture_model("digits-cnn", tmp_path / "bt.h5", input_path=tmp_path / "bt.pt", layout="BT")
    with TraceReader(tmp_path / "tb.h5") as a, TraceReader(tmp_path / "bt.h5") as b:
        for rec in a.gemm_layers:
            np.testing.assert_array_equal(a.read(rec.name), b.read(rec.name))


def test_layout_readings() -> None:
    assert read_layout((4, 2, 6), None, 4) == ("TB", 4)
    assert read_layout((2, 4, 6), "BT", None) == ("BT", 4)
    assert read_layout((2, 4, 6), "BT", 4) == ("BT", 4)
    with pytest.raises(SetupError) as err:  # batch-first data, default layout: contradiction
        read_layout((2, 4, 6), None, 4, framework="snntorch")
    assert str(err.value) == (
        "layout: the input of shape (2, 4, 6) does not fit T=4 as TB (the default for snntorch "
        "models): as TB: T=2, B=4; as BT: T=4, B=2; if it is batch-first, state layout BT"
    )
    with pytest.raises(SetupError, match=r"read as BT has T=2, but the model runs at T=4 "
                                          r"\(time steps\) \(as TB: T=4, B=2; as BT: T=2, B=4\); "
                                          r"it is TB \(layout TB\)"):
        read_layout((4, 2, 6), "BT", 4)
    with pytest.raises(SetupError, match=r"is ambiguous: T=4 fits both readings"):
        read_layout((4, 4, 6), None, 4)
    with pytest.raises(SetupError, match=r"can be read two ways .* T is not known"):
        read_layout((4, 2, 6), None, None)
    with pytest.raises(SetupError, match=r"time steps 3: .* has no axis of T=3"):
        read_layout((4, 2, 6), None, 3)


def test_contradicting_layout_is_a_cli_error_naming_both_readings(tmp_path: Path) -> None:
    torch.save(spikes(T, B, 6), tmp_path / "x.pt")  # [T=5, B=3] but told BT with T=5
    set_output(Output(StringIO(), StringIO(), width=200, color=False))
    try:
        result = CliRunner().invoke(app, ["capture", "--model", MLP, "--input",
                                          str(tmp_path / "x.pt"), "--layout", "BT", "-T", "5",
                                          "-o", str(tmp_path / "t.h5")])
    finally:
        set_output(None)
    assert isinstance(result.exception, HarnessError)
    assert str(result.exception) == (
        "--layout BT: the input of shape (5, 3, 6) read as BT has T=3, but the model runs at "
        "T=5 (-T) (as TB: T=5, B=3; as BT: T=3, B=5); it is TB (--layout TB)"
    )
    assert not (tmp_path / "t.h5").exists()


def test_user_model_without_t_or_layout_is_refused(tmp_path: Path) -> None:
    torch.save(spikes(T, B, 6), tmp_path / "x.pt")
    with pytest.raises(SetupError, match=r"can be read two ways \(as TB: T=5, B=3; as BT: T=3, "
                                         r"B=5\) and T is not known: state layout or time steps"):
        capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt")


def test_factory_time_steps_default_is_checked(tmp_path: Path) -> None:
    """make_mlp(time_steps=4): its default T decides the reading of the input."""
    torch.save(spikes(3, 4, 6), tmp_path / "bt.pt")  # [B=3, T=4, ...]
    with pytest.raises(SetupError, match=r"does not fit T=4 as TB.*state layout BT"):
        capture_model("tests.models.user_models:make_mlp", tmp_path / "t.h5",
                      input_path=tmp_path / "bt.pt")


def test_neuron_without_marker_is_warned_about_and_named_with_neuron(tmp_path: Path) -> None:
    x = spikes(T, B, 6, seed=3)
    torch.save(x, tmp_path / "x.pt")
    spec = "tests.models.user_models:make_fire_mlp"
    stderr = StringIO()
    set_output(Output(StringIO(), stderr, width=400, color=False))
    try:
        result = CliRunner().invoke(app, ["capture", "--model", spec, "--input",
                                          str(tmp_path / "x.pt"), "-T", "5",
                                          "-o", str(tmp_path / "bare.h5")])
        assert result.exit_code == 0, result.output
        warning = stderr.getvalue()
        assert ("warning: no recognised neuron produces the spike input of fc2, fc3: the LIF "
                "cost of these layers is MISSING") in warning
        assert "0 neuron layers" in warning
        with TraceReader(tmp_path / "bare.h5") as r:
            assert json.loads(r.info.extra["gemms_without_neuron"]) == ["fc2", "fc3"]
            assert not [rec for rec in r.layers if str(rec.kind) == "lif"]
        stderr.truncate(0)
        result = CliRunner().invoke(app, ["capture", "--model", spec, "--input",
                                          str(tmp_path / "x.pt"), "-T", "5",
                                          "--neuron", "tests.models.user_models:Fire",
                                          "-o", str(tmp_path / "named.h5")])
        assert result.exit_code == 0, result.output
        text = stderr.getvalue()
        assert "MISSING" not in text and "2 neuron layers (user 2)" in text
    finally:
        set_output(None)
    want = direct_rates(user_models.make_fire_mlp(), x, user_models.Fire)
    got = trace_rates(tmp_path / "named.h5")
    assert got == pytest.approx(want, abs=0) and set(got) == {"act1", "act2"}
    assert all(0 < v < 1 for v in got.values())
    with TraceReader(tmp_path / "named.h5") as r:
        assert [rec.name for rec in r.layers] == ["fc1", "act1", "fc2", "act2", "fc3"]
        assert r.record("act1").params["neuron"] == "Fire"
        assert json.loads(r.info.extra["gemms_without_neuron"]) == []


def test_bad_neuron_spec_names_the_option(tmp_path: Path) -> None:
    torch.save(spikes(T, B, 6), tmp_path / "x.pt")
    with pytest.raises(SetupError, match=r"neuron class 'tests.models.user_models:make_mlp': "
                                         r"'make_mlp' is not a torch.nn.Module class"):
        capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T,
                      neurons=["tests.models.user_models:make_mlp"])
    # a spec with ": " in it, and an import error whose text has braces: one clean line
    # each (the message used to be cut at the first ": ", and braces broke its rendering)
    with pytest.raises(SetupError, match=r"neuron class 'a: b': expected package.module:Class$"):
        capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T,
                      neurons=["a: b"])
    (tmp_path / "braces_mod.py").write_text('raise ImportError("needs {lib} >= 2")\n')
    import sys
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(SetupError, match=r"cannot import 'braces_mod': needs \{lib\} >= 2"):
            capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T,
                          neurons=["braces_mod:Fire"])
    finally:
        sys.path.remove(str(tmp_path))


def test_skipped_layers_are_recorded_in_the_trace(tmp_path: Path) -> None:
    result = capture_model("digits-cnn", tmp_path / "t.h5", samples=1)
    with TraceReader(tmp_path / "t.h5") as r:
        skipped = json.loads(r.info.extra["skipped_gemms"])
    assert skipped == [{"layer": "conv1", "reason": "analog input, declared by the model"}]
    assert result.summary.skipped == ("conv1",)


def test_nan_in_the_input_is_refused_before_any_forward(tmp_path: Path) -> None:
    x = spikes(T, B, 6)
    x[2, 1, 4] = float("nan")
    torch.save(x, tmp_path / "x.pt")
    with pytest.raises(SetupError, match=r"input file .*x.pt: holds 1 NaN or infinite value\(s\) "
                                         r"\(first at index \(2, 1, 4\)\)"):
        capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T)


def test_nan_in_a_checkpoint_is_refused(tmp_path: Path) -> None:
    from prosparsity.models.checkpoint import CHECKPOINT_DIR, CheckpointError, read_state_dict

    state = read_state_dict(CHECKPOINT_DIR / "digits-cnn.safetensors")
    state["fc1.weight"][0, 0] = float("inf")
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match=r"holds NaN or infinite values in 1 tensor\(s\): "
                                              r"fc1.weight"):
        capture_model("digits-cnn", tmp_path / "t.h5", checkpoint=tmp_path / "w.pt")
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize("out", [".", "", "sub/"])
def test_output_path_is_blamed_before_the_model_is_built(
    out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    built = []
    monkeypatch.setattr("prosparsity.models.prepare.prepare_capture",
                        lambda *a, **k: built.append(1))
    with pytest.raises(SetupError, match=r"^output .*: (empty trace path|is a directory)"):
        capture_model("digits-cnn", out)
    assert built == [] and sorted(p.name for p in tmp_path.iterdir()) == ["sub"]


def test_step_count_error_suggests_the_loop_runner(tmp_path: Path) -> None:
    torch.save(spikes(T, B, 6), tmp_path / "x.pt")
    with pytest.raises(HarnessError, match=r"called 1 times with one time step each, not a "
                                           r"multiple of T=5; the model calls this layer once per "
                                           r"time step: capture it with the 'loop' runner "
                                           r"\(--runner loop\)"):
        capture_model(MLP, tmp_path / "t.h5", input_path=tmp_path / "x.pt", time_steps=T,
                      runner="multi")


def test_single_step_spikingjelly_model_is_driven_step_by_step(tmp_path: Path) -> None:
    """step_mode 's': the forward takes one step; the capture calls it T times itself."""
    x = spikes(T, B, 1, 6, 6, p=0.4, seed=4)
    torch.save(x, tmp_path / "x.pt")
    one = capture_model("tests.models.user_models:make_sj_net", tmp_path / "s.h5",
                        input_path=tmp_path / "x.pt", time_steps=T)
    many = capture_model("tests.models.user_models:make_sj_net_multi", tmp_path / "m.h5",
                         input_path=tmp_path / "x.pt", time_steps=T)
    assert (one.summary.runner, many.summary.runner) == (Runner.STEP, Runner.MULTI)
    assert one.summary.no_neuron == () and one.info.extra["runner"] == "step"
    with TraceReader(tmp_path / "s.h5") as s, TraceReader(tmp_path / "m.h5") as m:
        assert [(r.name, dict(r.params)) for r in s.layers] == [
            (r.name, dict(r.params)) for r in m.layers
        ]
        for rec in m.gemm_layers:
            np.testing.assert_array_equal(s.read(rec.name), m.read(rec.name))
        assert s.read("3").any()
    from spikingjelly.activation_based import neuron

    net = user_models.make_sj_net_multi()
    assert trace_rates(tmp_path / "s.h5") == pytest.approx(
        direct_rates(net, x, neuron.BaseNode), abs=0)


def test_a_classifier_on_time_aggregated_counts_is_skipped_with_its_reason(
    tmp_path: Path,
) -> None:
    x = spikes(T, B, 6, seed=5)
    torch.save(x, tmp_path / "x.pt")
    result = capture_model("tests.models.user_models:make_count_head", tmp_path / "t.h5",
                           input_path=tmp_path / "x.pt", time_steps=T)
    assert result.summary.skipped == ("head",) and result.summary.no_neuron == ()
    assert "time-aggregated" in result.summary.skip_reasons["head"]
    with TraceReader(tmp_path / "t.h5") as r:
        assert [rec.name for rec in r.layers] == ["fc", "lif"]
        assert json.loads(r.info.extra["skipped_gemms"])[0]["layer"] == "head"
