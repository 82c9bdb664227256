"""NIR import: build a capturable network from a Neuromorphic Intermediate Representation graph.

NIR (``nir``) is the exchange format of snntorch, norse, sinabs, lava-dl, rockpool and
others. :func:`nir_source` reads a graph file and returns a
:class:`~prosparsity.models.prepare.NetworkSource` that ``prosparsity capture --nir``
builds: every node becomes one torch module through :data:`NODE_MAP` (one mapping per
node type, see the table below), ``nirtorch`` wires them into a graph module that runs
one time step per call, and :class:`NIRNetwork` loops it over T (the capture's ``loop``
runner). A node type outside :data:`NODE_MAP` is refused by name before anything is
built.

Neurons become snntorch neurons (so the capture's snntorch adapter records them), with
per-neuron parameters. A continuous-time neuron ``tau dv/dt = (v_leak - v) + r I`` is
discretised by forward Euler at ``dt`` (default 1e-4 s, the convention snntorch's
exporter and importer use): ``v <- (1 - dt/tau) v + (r dt/tau) I``, so ``beta = 1 - dt/tau``
and, since the input scale ``r dt/tau`` only rescales the membrane, the threshold becomes
``v_threshold / (r dt/tau)``.

Reset. NIR's neurons reset to ``v_reset`` when they spike (``v > v_threshold``); the
harness builds ``v_reset = 0`` (a neuron that resets elsewhere is refused by name), in the
same step (:data:`Reset.ZERO`, the default). NIR has no way to say that a neuron
*subtracts* its threshold instead, which is snntorch's default (``Leaky``'s
``reset_mechanism="subtract"``) and which snntorch's ``export_to_nir`` writes as
``v_reset = 0``: a graph cannot tell the two apart, and their spike rates differ.
:data:`Reset.SUBTRACT` builds snntorch's default instead (the threshold subtracted at the
step after a spike, ``reset_delay=True``). Which was used is recorded in the trace
(``TraceInfo.extra["nir_reset"]``), and a capture that did not choose is warned.

=========== ==============================================================
NIR node    torch module
=========== ==============================================================
Input       ``nn.Identity``
Output      ``nn.Identity``
Affine      ``nn.Linear`` (weight, bias)
Linear      ``nn.Linear`` without bias
Conv1d      ``nn.Conv1d``
Conv2d      ``nn.Conv2d``
Flatten     ``nn.Flatten`` (NIR's unbatched dims shifted past the batch axis)
AvgPool2d   ``nn.AvgPool2d``
SumPool2d   ``nn.AvgPool2d(divisor_override=1)``
Scale       :class:`Scale`
Threshold   :class:`Heaviside` (a spike encoder: no neuron layer, no LIF cost)
IF          ``snntorch.Leaky(beta=1, threshold=v_threshold / r)``
LIF         ``snntorch.Leaky(beta=1 - dt/tau, threshold=v_threshold tau / (r dt))``
CubaLIF     ``snntorch.Synaptic`` (``alpha = 1 - dt/tau_syn``, ``beta = 1 - dt/tau_mem``)
LI          :class:`LeakyIntegrator` (a non-spiking read-out)
I           :class:`LeakyIntegrator` with ``beta = 1``
=========== ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from prosparsity.core.bounded import (
    ChildCrashed,
    ChildTimedOut,
    default_limit,
    quiet,
    run_bounded,
)
from prosparsity.core.paths import FileMemo, input_problem, looks_like
from prosparsity.models.engine import Layout
from prosparsity.models.prepare import NetworkSource, SetupError, esc
from prosparsity.models.registry import Runner

__all__ = [
    "DEFAULT_DT_S",
    "NODE_MAP",
    "Heaviside",
    "ImportOptions",
    "LeakyIntegrator",
    "NIRNetwork",
    "Reset",
    "Scale",
    "build_nir_model",
    "nir_source",
]

DEFAULT_DT_S = 1e-4
"""Time step of the Euler discretisation of NIR's continuous neurons [s]."""


class Reset(StrEnum):
    """How an imported neuron resets after a spike (see the module docstring).

    ``ZERO``: to ``v_reset = 0`` in the same step, as NIR specifies.
    ``SUBTRACT``: the threshold subtracted at the next step (snntorch's default, which
    NIR cannot express).
    """

    ZERO = "zero"
    SUBTRACT = "subtract"


@dataclass(frozen=True)
class ImportOptions:
    """How NIR nodes become torch modules.

    Attributes:
        dt: time step of the Euler discretisation [s].
        reset: the neurons' reset.
    """

    dt: float = DEFAULT_DT_S
    reset: Reset = Reset.ZERO


def _t(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value, dtype=np.float32))


def _scalar_or_tensor(value: Any) -> Any:
    """A float when every element is equal (snntorch then keeps a scalar), else a tensor."""
    arr = np.asarray(value, dtype=np.float32)
    return float(arr.reshape(-1)[0]) if arr.size and np.all(arr == arr.reshape(-1)[0]) else _t(arr)


class Scale(nn.Module):
    """Elementwise ``x * scale`` (NIR ``Scale``)."""

    def __init__(self, scale: Any) -> None:
        super().__init__()
        self.register_buffer("scale", _t(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Heaviside(nn.Module):
    """``1`` where ``x > threshold`` (NIR ``Threshold``): a stateless spike encoder."""

    prosparsity_encoder = True

    def __init__(self, threshold: Any) -> None:
        super().__init__()
        self.register_buffer("threshold", _t(threshold))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)


class LeakyIntegrator(nn.Module):
    """``v <- beta v + scale I``, output ``v`` (NIR ``LI`` and ``I``: no spikes)."""

    def __init__(self, beta: Any, scale: Any) -> None:
        super().__init__()
        self.register_buffer("beta", _t(beta))
        self.register_buffer("gain", _t(scale))
        self.v: torch.Tensor | None = None

    def reset(self) -> None:
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        drive = self.gain * x
        self.v = drive if self.v is None else self.beta * self.v + drive
        return self.v


def _no_leak(node: Any, name: str) -> None:
    if not np.allclose(np.asarray(node.v_leak, dtype=np.float64), 0.0):
        raise ValueError("v_leak must be 0 (a leak towards another potential is not supported)")
    reset = getattr(node, "v_reset", None)
    if reset is not None and not np.allclose(np.asarray(reset, dtype=np.float64), 0.0):
        raise ValueError("v_reset must be 0 (neurons are reset to zero)")


def _reset_kwargs(opts: ImportOptions) -> dict[str, Any]:
    if opts.reset is Reset.SUBTRACT:
        return {"reset_mechanism": "subtract", "reset_delay": True}
    return {"reset_mechanism": "zero", "reset_delay": False}


def _leaky(beta: Any, threshold: Any, opts: ImportOptions) -> nn.Module:
    import snntorch

    return snntorch.Leaky(
        beta=_scalar_or_tensor(beta),
        threshold=_scalar_or_tensor(threshold),
        init_hidden=True,
        **_reset_kwargs(opts),
    )


def _map_lif(node: Any, opts: ImportOptions) -> nn.Module:
    _no_leak(node, "LIF")
    dt = opts.dt
    tau = np.asarray(node.tau, dtype=np.float64)
    gain = np.asarray(node.r, dtype=np.float64) * dt / tau
    return _leaky(1.0 - dt / tau, np.asarray(node.v_threshold, dtype=np.float64) / gain, opts)


def _map_if(node: Any, opts: ImportOptions) -> nn.Module:
    reset = getattr(node, "v_reset", None)
    if reset is not None and not np.allclose(np.asarray(reset, dtype=np.float64), 0.0):
        raise ValueError("v_reset must be 0 (neurons are reset to zero)")
    r = np.asarray(node.r, dtype=np.float64)
    return _leaky(np.ones_like(r), np.asarray(node.v_threshold, dtype=np.float64) / r, opts)


def _map_cuba_lif(node: Any, opts: ImportOptions) -> nn.Module:
    import snntorch

    _no_leak(node, "CubaLIF")
    dt = opts.dt
    tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
    tau_mem = np.asarray(node.tau_mem, dtype=np.float64)
    gain = (np.asarray(node.w_in, dtype=np.float64) * dt / tau_syn) * (
        np.asarray(node.r, dtype=np.float64) * dt / tau_mem
    )
    return snntorch.Synaptic(
        alpha=_scalar_or_tensor(1.0 - dt / tau_syn),
        beta=_scalar_or_tensor(1.0 - dt / tau_mem),
        threshold=_scalar_or_tensor(np.asarray(node.v_threshold, dtype=np.float64) / gain),
        init_hidden=True,
        **_reset_kwargs(opts),
    )


def _map_li(node: Any, opts: ImportOptions) -> nn.Module:
    if not np.allclose(np.asarray(node.v_leak, dtype=np.float64), 0.0):
        raise ValueError("v_leak must be 0")
    dt = opts.dt
    tau = np.asarray(node.tau, dtype=np.float64)
    return LeakyIntegrator(1.0 - dt / tau, np.asarray(node.r, dtype=np.float64) * dt / tau)


def _map_i(node: Any, opts: ImportOptions) -> nn.Module:
    r = np.asarray(node.r, dtype=np.float64)
    return LeakyIntegrator(np.ones_like(r), r)


def _map_affine(node: Any, opts: ImportOptions) -> nn.Module:
    weight = _t(node.weight)
    module = nn.Linear(weight.shape[-1], weight.shape[-2], bias=True)
    with torch.no_grad():
        module.weight.copy_(weight)
        module.bias.copy_(_t(node.bias))
    return module


def _map_linear(node: Any, opts: ImportOptions) -> nn.Module:
    weight = _t(node.weight)
    module = nn.Linear(weight.shape[-1], weight.shape[-2], bias=False)
    with torch.no_grad():
        module.weight.copy_(weight)
    return module


def _ints(value: Any) -> Any:
    if isinstance(value, str):
        return value
    arr = np.asarray(value).reshape(-1)
    return int(arr[0]) if arr.size == 1 else tuple(int(v) for v in arr)


def _map_conv(node: Any, opts: ImportOptions, cls: type[nn.Conv1d] | type[nn.Conv2d]) -> nn.Module:
    weight = _t(node.weight)
    module = cls(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=_ints(node.stride),
        padding=_ints(node.padding),
        dilation=_ints(node.dilation),
        groups=int(node.groups),
        bias=node.bias is not None,
    )
    with torch.no_grad():
        module.weight.copy_(weight)
        if node.bias is not None:
            module.bias.copy_(_t(node.bias).reshape(-1))
    return module


def _map_flatten(node: Any, opts: ImportOptions) -> nn.Module:
    """NIR's dims count from the unbatched input; make them negative (batch-proof)."""
    rank = len(np.asarray(next(iter(node.input_type.values()))).reshape(-1))
    start, end = int(node.start_dim), int(node.end_dim)
    if start >= 0:
        start -= rank
    if end >= 0:
        end -= rank
    want = next(iter(getattr(node, "output_type", {}).values()), None)
    if want is not None and start != -rank and len(np.asarray(want).reshape(-1)) == 1:
        start, end = -rank, -1  # a batched start_dim=1 exported as is: flatten the sample
    return nn.Flatten(start, end)


def _map_pool(node: Any, opts: ImportOptions, *, sum_: bool) -> nn.Module:
    return nn.AvgPool2d(
        kernel_size=_ints(node.kernel_size),
        stride=_ints(node.stride),
        padding=_ints(node.padding),
        divisor_override=1 if sum_ else None,
    )


def _identity(node: Any, opts: ImportOptions) -> nn.Module:
    return nn.Identity()


def _node_map() -> dict[type, Callable[[Any, ImportOptions], nn.Module]]:
    import nir

    return {
        nir.Input: _identity,
        nir.Output: _identity,
        nir.Affine: _map_affine,
        nir.Linear: _map_linear,
        nir.Conv1d: lambda n, o: _map_conv(n, o, nn.Conv1d),
        nir.Conv2d: lambda n, o: _map_conv(n, o, nn.Conv2d),
        nir.Flatten: _map_flatten,
        nir.AvgPool2d: lambda n, o: _map_pool(n, o, sum_=False),
        nir.SumPool2d: lambda n, o: _map_pool(n, o, sum_=True),
        nir.Scale: lambda n, o: Scale(n.scale),
        nir.Threshold: lambda n, o: Heaviside(n.threshold),
        nir.IF: _map_if,
        nir.LIF: _map_lif,
        nir.CubaLIF: _map_cuba_lif,
        nir.LI: _map_li,
        nir.I: _map_i,
    }


NODE_MAP = _node_map
"""``NODE_MAP()``: NIR node type -> ``build(node, options) -> nn.Module`` (one per type)."""

_SPIKING = ("IF", "LIF", "CubaLIF")


def _leaves(graph: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    import nir

    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            yield from _leaves(node, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", node


class NIRNetwork(nn.Module):
    """A NIR graph run over T: one call of the one-step graph module per time step.

    Args:
        graph: the ``nirtorch`` graph module (``graph(x, state) -> (y, state)``).
        layout: the input's order of T and B.
    """

    def __init__(self, graph: nn.Module, layout: Layout = Layout.TB) -> None:
        super().__init__()
        self.graph = graph
        self.layout = Layout(layout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = 0 if self.layout is Layout.TB else 1
        state = None
        outs = []
        for step in x.unbind(axis):
            out, state = self.graph(step, state)
            outs.append(out)
        return torch.stack(outs, axis)


_READ_OK = FileMemo(256)  # unchanged files read by a child in this process


def _read_child(path: str, conn: Any) -> None:  # pragma: no cover - runs in the child
    quiet()
    try:
        import nir

        nir.read(path)
        conn.send("read")
    except Exception:  # noqa: BLE001 - the parent reads the file again and says why
        conn.send("failed")
    finally:
        conn.close()


def _read_bounded(path: Path) -> None:
    """``nir.read`` of ``path`` first in a child process with a time limit
    (:func:`~prosparsity.core.bounded.run_bounded`), once per unchanged file in this
    process: a NIR graph is an HDF5 file, and HDF5 loops or crashes on some malformed
    ones, which would take the caller's process with it.

    Raises:
        SetupError: the child crashed or did not finish in time.
    """
    try:
        key = FileMemo.key(path)
    except OSError:
        return  # the in-process read names the problem
    if key in _READ_OK:
        return
    limit = default_limit(path)
    try:
        run_bounded(_read_child, (str(path),), limit)
    except ChildCrashed as exc:
        raise SetupError("nir", str(path), f"damaged or crafted file: reading it crashed the "
                         f"NIR reader process ({exc.how})") from None
    except ChildTimedOut:
        raise SetupError("nir", str(path), f"not read: reading it did not finish within "
                         f"{limit:g} s (HDF5 loops on some malformed files)") from None
    _READ_OK.remember(key)


def read_graph(path: str | Path) -> Any:
    """Read a NIR graph file; refuse node types the harness cannot build, by name. The
    file is read first in a child process (:func:`_read_bounded`), so a file on which
    HDF5 crashes or stalls is one error.

    Raises:
        SetupError: unreadable file, a file that crashed or stalled the reader, or an
            unknown node type (named, with the known ones).
    """
    import nir

    path = Path(path)
    problem = input_problem(path, what="NIR graph file")  # a FIFO is named, never opened
    if problem is not None:
        raise SetupError("nir", str(path), esc(problem))
    _read_bounded(path)
    try:
        graph = nir.read(path)
    except Exception as exc:  # h5py's OSError, KeyError of a file that is no NIR graph
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        seen = looks_like(path)
        if seen is not None and "HDF5" not in seen:
            text = f"it is {seen}"
        raise SetupError("nir", str(path), f"not a NIR graph file ({esc(text)})") from None
    known = NODE_MAP()
    for name, node in _leaves(graph):
        if type(node) not in known:
            names = ", ".join(sorted(t.__name__ for t in known))
            raise SetupError(
                "nir",
                str(path),
                f"node '{esc(name)}' is a NIR {type(node).__name__}, which the harness cannot "
                f"build (known node types: {names})",
            )
    return graph


def build_nir_model(
    path: str | Path,
    layout: Layout = Layout.TB,
    dt: float = DEFAULT_DT_S,
    reset: Reset | str = Reset.ZERO,
) -> NIRNetwork:
    """The network of a NIR graph file, looped over T (see :class:`NIRNetwork`).

    Raises:
        SetupError: see :func:`read_graph`; a node whose parameters cannot be mapped
            (named, with the reason).
    """
    return _build(read_graph(path), path, layout, ImportOptions(dt, Reset(reset)))


def _build(graph: Any, path: str | Path, layout: Layout, opts: ImportOptions) -> NIRNetwork:
    """:func:`build_nir_model` of a graph already read and checked (:func:`read_graph`)."""
    import nirtorch

    known = NODE_MAP()

    def wrap(kind: type) -> Callable[[Any], nn.Module]:
        def build(node: Any) -> nn.Module:
            try:
                return known[kind](node, opts)
            except (ValueError, TypeError) as exc:
                name = next((n for n, v in _leaves(graph) if v is node), "?")
                raise SetupError(
                    "nir", str(path), f"node '{esc(name)}' ({kind.__name__}): {esc(exc)}"
                ) from None

        return build

    node_map = {kind: wrap(kind) for kind in known}
    try:
        module = nirtorch.nir_to_torch(graph, node_map, default_map={})
    except SetupError:
        raise
    except (ValueError, NotImplementedError, RuntimeError) as exc:
        raise SetupError("nir", str(path), f"cannot wire the graph: {esc(exc)}") from None
    return NIRNetwork(module, layout).eval()


def nir_source(
    path: str | Path, dt: float = DEFAULT_DT_S, reset: Reset | str | None = None
) -> NetworkSource:
    """What ``prosparsity capture --nir PATH`` builds (the graph is read and checked here,
    once).

    Args:
        path: the graph file.
        dt: time step of the Euler discretisation [s].
        reset: the neurons' reset (see the module docstring); ``None``: NIR's, and a
            warning at capture that a subtractive reset cannot be told from it.

    Raises:
        SetupError: see :func:`read_graph`; an unknown reset.
    """
    if reset is not None and reset not in tuple(Reset):
        raise SetupError("nir_reset", repr(reset), "is not one of zero, subtract")
    graph = read_graph(path)
    path = Path(path)
    opts = ImportOptions(dt, Reset(reset) if reset is not None else Reset.ZERO)
    spiking = sorted({type(n).__name__ for _, n in _leaves(graph)} & set(_SPIKING))
    notes: tuple[str, ...] = ()
    if spiking and reset is None:
        notes = (
            f"NIR graph {path.name}: its {', '.join(spiking)} neurons reset to v_reset = 0 "
            "in the step they spike, as NIR specifies; NIR cannot express a subtractive "
            "reset (snntorch's default, which export_to_nir writes as v_reset = 0), whose "
            "spike rates differ. If the source network subtracted its threshold, capture "
            "with --nir-reset subtract",
        )

    def build(time_steps: int, layout: Layout) -> nn.Module:
        return _build(graph, path, layout, opts)

    return NetworkSource(
        name=path.name,
        family="nir",
        build=build,
        param="nir",
        label=str(path),
        runner=Runner.LOOP,
        framework="NIR",
        notes=notes,
        extra={"nir_reset": str(opts.reset)} if spiking else {},
    )
