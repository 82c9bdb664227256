"""The rooms of the capture engine on hand-made cases: layout observation, the spike
check and bit packing, the store (memory, spill, a record that turns multi-level), and
functional products (einsum forms, a weight product, lone and analog products)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spikingjelly.activation_based import layer, neuron
from torch import nn

from prosparsity.models.capture import CaptureConfig, capture_to_file
from prosparsity.models.engine import Layout
from prosparsity.models.engine.layout import Reading, observe
from prosparsity.models.engine.products import canonical
from prosparsity.models.engine.values import (
    check,
    count_nonzero,
    pack_bits,
    present_levels,
    to_host,
)
from prosparsity.traces.io import TraceReader
from prosparsity.traces.schema import TraceInfo

T = 4


def spikes(*shape: int, p: float = 0.4, seed: int = 0) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p).float()


# -- layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "real", "b", "per_step", "want"),
    [
        ((1, 2, 7), (5, 5, 7), 5, False, Reading(1, 0)),  # [T, B, F] at B == T
        ((2, 1, 7), (5, 5, 7), 5, False, Reading(0, 1)),  # [B, T, F] at B == T
        ((1, 2, 5), (5, 3, 5), 3, False, Reading(1, 0)),  # a feature of size T is no time
        ((2, 7), (15, 7), 3, False, Reading(0, fold=Layout.TB)),  # [T*B, F]
        ((2, 7), (3, 7), 3, False, Reading(0)),  # one step [B, F] in a multi-step model
        ((7, 2, 1, 9), (7, 3, 5, 9), 3, False, Reading(1, 2)),  # [L, B, T, F]
        ((2, 7), (3, 7), 3, True, Reading(0)),  # loop runner: per step
        ((7, 2), (7, 3), 3, True, Reading(1)),  # per step, batch second ([L, B, F])
        ((1, 2, 7), (5, 3, 8), 3, False, None),  # a feature changed: no reading
        ((1, 2, 7), (5, 3), 3, False, None),  # ranks differ
        ((1, 7), (5, 7), 3, False, None),  # no batch axis (time only)
    ],
)
def test_observe(probe, real, b, per_step, want) -> None:
    got = observe(probe, real, t=5, b=b, tp=1, bp=2, per_step=per_step, fold=Layout.TB)
    assert got == want


def test_readings_bring_time_and_batch_to_the_front() -> None:
    x = torch.arange(5 * 3 * 2).reshape(3, 5, 2)  # [B, T, F]
    tf = Reading(0, 1).time_first(x, 5, 3, "l")
    assert tf.shape == (5, 3, 2) and torch.equal(tf[4, 2], x[2, 4])
    folded = torch.arange(15 * 2).reshape(15, 2)  # [B*T, F]
    tf = Reading(0, fold=Layout.BT).time_first(folded, 5, 3, "l")
    assert torch.equal(tf[4, 2], folded[2 * 5 + 4])
    assert Reading(0, 1).describe((3, 5, 2)) == "B,T,2"
    assert Reading(0, fold=Layout.TB).describe((15, 2)) == "T*B,2"
    assert Reading(0).describe((3, 2)) == "B,2 per step"


def test_when_b_equals_t_the_probe_decides(tmp_path: Path) -> None:
    """A multi-step model that transposes ``[B, T, F]`` inside: at B = T = 4 every layer
    is read time-first because the probe saw it so, whatever the input's layout."""

    class Transposing(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.fc = layer.Linear(6, 6, step_mode="m")
            self.lif = neuron.IFNode(v_threshold=0.3, step_mode="m")
            self.out = layer.Linear(6, 2, step_mode="m")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.lif(self.fc(x.transpose(0, 1))))

    x = spikes(T, T, 6)  # [B, T, F], B == T
    cfg = CaptureConfig(T, layout=Layout.BT, input_batch_axis=0)
    summary = capture_to_file(Transposing(), x, tmp_path / "t.h5", TraceInfo(model="m"), cfg)
    assert summary.layouts == {"fc": "T,B,6", "out": "T,B,6"}
    with TraceReader(tmp_path / "t.h5") as r:
        np.testing.assert_array_equal(r.read("fc"), x.transpose(0, 1).numpy())


# -- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 7, 8, 13, 64])
def test_pack_bits_is_numpys(width: int) -> None:
    b = spikes(3, 5, width, p=0.5).bool()
    np.testing.assert_array_equal(pack_bits(b).numpy(), np.packbits(b.numpy(), axis=-1))
    strided = spikes(width, 6, p=0.5).bool().t()  # not contiguous
    np.testing.assert_array_equal(pack_bits(strided).numpy(),
                                  np.packbits(strided.numpy(), axis=-1))


def test_check_levels_and_host_bytes() -> None:
    x = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 5.0]])
    c = check(x)
    assert c is not None and c.levels == frozenset({0, 1, 2, 5}) and c.data.dtype == torch.uint8
    v = to_host(c.data, c.levels)
    assert not v.packed and v.data.tolist() == [[0, 1, 2], [0, 0, 5]]
    c = check(torch.tensor([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0]]))
    assert c is not None and c.binary
    v = to_host(c.data, c.levels)
    assert v.packed and v.data.tolist() == [[0b01101001, 0b10000000]] and v.width == 9
    for analog in ([0.5], [-1.0], [256.0], [float("nan")], [float("inf")], [1.0 + 2**-23]):
        assert check(torch.tensor(analog)) is None, analog
    assert check(torch.tensor([-0.0, 1.0])).binary  # a negative zero is a zero
    assert int(count_nonzero(torch.tensor([0.0, 3.0, -1.0, 0.0]))) == 2


#: float32 values next to the edges of check's bit-pattern ranges
BELOW_ONE = float(np.uint32(0x3F7FFFFF).view(np.float32))  # 1 - 2**-24
DENORMAL = float(np.uint32(1).view(np.float32))  # 1e-45, the smallest
NEG_NAN = float(np.uint32(0xFFC00000).view(np.float32))  # a NaN with the sign bit
EDGES = (BELOW_ONE, DENORMAL, -DENORMAL, -0.0, 1.0 + 2**-23, 0.5, 254.5, 255.0 - 2**-16,
         255.0 + 2**-15, 256.0, 1e30, float("nan"), NEG_NAN, float("inf"), float("-inf"),
         -1.0, -2.0, -255.0)


def check_reference(x: np.ndarray) -> tuple[np.ndarray, frozenset[int] | None] | None:
    """What :func:`check` must say, from numpy: ``None`` (analog), else the values as uint8
    and the levels (``None`` when binary). -0.0 is a zero."""
    a = x.astype(np.float64)  # exact for every float32, float16 and integer value here
    if a.size and not (np.isfinite(a).all() and (a >= 0).all() and (a <= 255).all()
                       and (a == np.floor(a)).all()):
        return None
    u = a.astype(np.uint8)
    levels = frozenset(int(v) for v in np.unique(u))
    return u, (None if levels <= {0, 1} else levels)


def assert_checks_like_reference(x: torch.Tensor, multilevel: bool = False) -> None:
    want = check_reference(x.numpy() if x.dtype != torch.bfloat16 else x.float().numpy())
    got = check(x, multilevel=multilevel)
    if want is None:
        assert got is None
        return
    values, levels = want
    assert got is not None and got.levels == levels
    assert got.data.dtype == (torch.bool if levels is None else torch.uint8)
    assert got.data.shape == x.shape and got.data.device == x.device
    np.testing.assert_array_equal(got.data.numpy().astype(np.uint8), values)


@pytest.mark.parametrize(
    ("values", "levels"),
    [
        ([0.0, 0.0, 0.0], None),  # all zero: binary
        ([1.0, 1.0], None),  # all one
        ([-0.0, 1.0, 0.0], None),
        ([-0.0, -0.0], None),
        ([0.0, 3.0, 7.0, 3.0, 0.0], {0, 3, 7}),  # gaps between levels
        ([3.0, 7.0, 4.0], {3, 4, 7}),  # no zero
        ([2.0, 2.0], {2}),
        ([255.0, 0.0, 1.0], {0, 1, 255}),
        ([-0.0, 2.0, 1.0], {0, 1, 2}),  # -0.0 with levels
        ([float(v) for v in range(0, 256, 3)], set(range(0, 256, 3))),  # a histogram
        ([0.0, 1.0, 9.0, 5.0], {0, 1, 5, 9}),  # eight values between 1 and 9 looked for
        ([0.0, 10.0, 5.0], {0, 5, 10}),  # nine: a histogram
    ],
)
def test_check_spike_values(values: list[float], levels: set[int] | None) -> None:
    for multilevel in (False, True):
        c = check(torch.tensor(values), multilevel=multilevel)
        assert c is not None and c.levels == (None if levels is None else frozenset(levels))
        assert c.data.tolist() == [int(v) for v in values]
        assert_checks_like_reference(torch.tensor(values), multilevel)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("among", [[], [0.0, 1.0], [0.0, 1.0, 0.0, 2.0], [0.0, 3.0, 7.0],
                                   [-0.0, 1.0], [255.0, 254.0]])
def test_check_edges_spoil_spikes(edge: float, among: list[float]) -> None:
    """One value next to a range's edge among spikes: analog, except -0.0 (a zero)."""
    x = torch.tensor([*among, edge, *among], dtype=torch.float32)
    assert (check(x) is None) == (edge != 0.0)  # -0.0 == 0.0
    for multilevel in (False, True):
        assert_checks_like_reference(x, multilevel)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16, torch.uint8,
                                   torch.int8, torch.int32, torch.int64])
def test_check_other_dtypes(dtype: torch.dtype) -> None:
    cases = [[0, 1, 1, 0], [0, 0], [1], [0, 3, 7], [0, 2, 1], [0, 127, 2], [0, 255, 2],
             [0, 1, -1], [0, 256, 1]]
    if dtype.is_floating_point:
        cases += [[0.0, 0.5], [-0.0, 1.0], [-0.0, 2.0], [float("nan"), 1.0], [float("inf")]]
    else:
        info = torch.iinfo(dtype)
        cases = [c for c in cases if info.min <= min(c) and max(c) <= info.max]
        cases += [[-1], [0, 1, -2, 2], [info.min, 0]]  # an int8 -1 would wrap to 255
    for values in cases:
        for multilevel in (False, True):
            assert_checks_like_reference(torch.tensor(values, dtype=dtype), multilevel)
    assert check(torch.tensor([1 + 1j, 0j])) is None
    empty = check(torch.zeros(0, 3))
    assert empty is not None and empty.binary and empty.data.shape == (0, 3)
    for values in cases:  # 0-d tensors
        for value in values:
            assert_checks_like_reference(torch.tensor(value, dtype=dtype))
            assert_checks_like_reference(torch.tensor(value, dtype=torch.float32))


LEVEL_SETS = ([0, 1], [0], [1], [0, 2], [0, 1, 2], [0, 3, 7], [3, 4, 9], [0, 9], [1, 10],
              [0, 1, 255], list(range(256)), [5])


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    levels=st.sampled_from(LEVEL_SETS),
    spoilers=st.lists(st.sampled_from(EDGES), max_size=3),
    multilevel=st.booleans(),
    view=st.sampled_from(["contiguous", "transposed", "sliced", "permuted", "expanded"]),
)
def test_check_is_the_reference(seed: int, levels: list[int], spoilers: list[float],
                                multilevel: bool, view: str) -> None:
    """A large random tensor of some levels, perhaps spoilt at random places, seen
    through a view (check reads some in memory order)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.array(levels, np.float32), size=(96, 1061))
    for v in spoilers:
        a[rng.integers(0, a.shape[0]), rng.integers(0, a.shape[1])] = v
    x = torch.from_numpy(a)
    x = {"contiguous": x, "transposed": x.t(), "sliced": x[1:-1, 3:].t(),
         "permuted": x[:, :1056].reshape(96, 33, 32).permute(2, 0, 1),
         "expanded": x[:1, :].expand(3, -1)}[view]
    assert_checks_like_reference(x, multilevel)


def test_present_levels_is_numpys() -> None:
    assert present_levels(torch.zeros(0, dtype=torch.uint8)) == frozenset()
    rng = np.random.default_rng(3)
    for levels in LEVEL_SETS:
        u = rng.choice(np.array(levels, np.uint8), size=(300, 7))
        assert present_levels(torch.from_numpy(u)) == frozenset(np.unique(u).tolist())
        assert present_levels(torch.from_numpy(u).t()) == frozenset(np.unique(u).tolist())


# -- the store ------------------------------------------------------------------------------


def mlp() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(layer.Linear(5, 8, step_mode="m"),
                         neuron.IFNode(v_threshold=0.4, step_mode="m"),
                         layer.Linear(8, 3, step_mode="m"))


@pytest.mark.parametrize("memory_bytes", [0, 64])  # spill at once, spill mid-way
def test_spilled_and_kept_captures_are_the_same(tmp_path: Path, memory_bytes: int) -> None:
    x = spikes(T, 9, 5, seed=2)
    info = TraceInfo(model="m")
    capture_to_file(mlp(), x, tmp_path / "mem.h5", info, CaptureConfig(T), batch_size=2)
    capture_to_file(mlp(), x, tmp_path / "spill.h5", info,
                    CaptureConfig(T, memory_bytes=memory_bytes), batch_size=2)
    with TraceReader(tmp_path / "mem.h5") as a, TraceReader(tmp_path / "spill.h5") as b:
        assert a.layers == b.layers
        for rec in a.gemm_layers:
            np.testing.assert_array_equal(a.read(rec.name), b.read(rec.name))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mem.h5", "spill.h5"]


@pytest.mark.parametrize("memory_bytes", [0, 1 << 20])
def test_a_record_that_turns_multi_level_keeps_exact_levels(tmp_path: Path,
                                                            memory_bytes: int) -> None:
    """Batch 1 binary, batch 2 with a 3: the packed pieces are unpacked, and the levels
    are those present ({0, 1, 3}), not assumed."""
    net = nn.Sequential(layer.Linear(4, 2, step_mode="m"))
    x = spikes(T, 4, 4, seed=3)
    x[:, 3, 0] = 3.0  # only in the second forward pass (batch 2 = samples 2, 3)
    capture_to_file(net, x, tmp_path / "t.h5", TraceInfo(model="m"),
                    CaptureConfig(T, memory_bytes=memory_bytes), batch_size=2)
    with TraceReader(tmp_path / "t.h5") as r:
        rec = r.record("0")
        assert rec.levels == (0, 1, 3)
        np.testing.assert_array_equal(r.read("0"), x.numpy())


# -- products -------------------------------------------------------------------------------


def test_einsum_forms_are_read_as_matrix_products() -> None:
    q, k = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 6, 4)
    a, b = canonical("einsum", ("bhld,bhmd->bhlm", q, k), {})
    torch.testing.assert_close(a @ b, torch.einsum("bhld,bhmd->bhlm", q, k))
    a, b = canonical("einsum", ("...ld,...md->...lm", q, k), {})
    assert a.shape == (2, 3, 5, 4) and b.shape == (2, 3, 4, 6)
    assert canonical("einsum", ("ij,ij->ij", q[0, 0], q[0, 0]), {}) == (
        "einsum that is no matrix product")
    assert canonical("matmul", (torch.rand(3), torch.rand(3, 2)), {}) == "a matrix-vector product"
    a, b = canonical("__rmatmul__", (k, q), {})  # q @ k, called as k.__rmatmul__(q)
    assert a is q and b is k


class Products(nn.Module):
    """A spike-by-weight product, a lone product of spikes, an analog product."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.w = nn.Parameter(torch.randn(6, 3))
        self.lif = neuron.IFNode(v_threshold=0.2, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, L, 6] spikes
        s = self.lif(x)
        y = s @ self.w  # spikes against a weight: a linear record
        z = s @ s.transpose(-2, -1)  # two spike operands, no second product
        return y.sum() + z.sum() + (y @ y.transpose(-2, -1)).sum()  # the last: analog


def test_weight_lone_and_analog_products(tmp_path: Path) -> None:
    x = spikes(T, 3, 5, 6, p=0.6, seed=5)
    summary = capture_to_file(Products(), x, tmp_path / "t.h5", TraceInfo(model="p"),
                              CaptureConfig(T))
    assert summary.skip_reasons == {
        "products.matmul@2": "product of spikes that is not one of the attention forms "
                             "(Q Kᵀ then ·V; Kᵀ V then Q·)",
        "products.matmul@3": "product of analog operands",
    }
    with TraceReader(tmp_path / "t.h5") as r:
        rec = r.record("products.matmul")
        assert str(rec.kind) == "linear" and rec.shape == (T, 3, 5, 6)
        assert dict(rec.params) == {"in_features": 6, "out_features": 3, "seq_len": 5,
                                    "time_steps": T, "batch": 3}
        lif = neuron.IFNode(v_threshold=0.2, step_mode="m")
        with torch.no_grad():
            np.testing.assert_array_equal(r.read("products.matmul"), lif(x).numpy())


def test_declared_attention_turns_products_off(tmp_path: Path) -> None:
    """A model that declares its attention operands (the registry's transformers) is
    taken at its word: the products inside are not recorded a second time."""
    x = spikes(T, 2, 5, 6, p=0.6, seed=6)
    cfg = CaptureConfig(T, attention_operands={"lif": ("a", "q")},
                        attentions={"a": {"dim": 6, "heads": 1, "variant": "spikformer"}})
    summary = capture_to_file(Products(), x, tmp_path / "t.h5", TraceInfo(model="p"), cfg)
    assert summary.skipped == ()
    assert [r.name for r in summary.records] == ["lif", "a", "a.q"]
