"""Matrix products that are no modules: ``@``, ``matmul``, ``mm``, ``bmm``, ``einsum``.

Spiking self-attention is usually written with functional products inside a module's
``forward`` (``a = q @ k.transpose(-2, -1)``, then ``a @ v``), which module hooks do not
see. While a capture runs, :class:`ProductMode` (a ``torch.overrides.TorchFunctionMode``)
sees every call of those functions and hands it to :class:`Products`, which reads each
product as ``A [*, M, K] @ B [*, K, N]`` (an ``einsum`` of two operands is brought to this
form by its subscripts) and attributes it to the innermost module running.

Two products in one call of one module, whose operands are spikes, are one attention
block, recorded as the attention records every stage already prices (an ``attention``
record named after the module, then its ``q``, ``k``, ``v`` operand records, each stored
``T,B,L,D`` with the heads concatenated head-major):

* ``S = Q Kᵀ`` then ``S' V`` (``S'`` any function of ``S`` of its shape: scaled,
  thresholded, soft-maxed): the paper's ``spikingbert`` attention, whose GEMMs are
  ``K`` (``L x dh`` spikes) against ``Q`` and ``Vᵀ`` (``dh x L`` spikes) against the
  scores (:mod:`prosparsity.analysis.attention`). ``K`` and ``V`` must be spikes; ``Q``
  is recorded when it is.
* ``KV = Kᵀ V`` then ``Q KV``: the paper's ``spikformer`` (linear) attention, GEMMs
  ``Kᵀ`` (``dh x L``) against ``V`` and ``Q`` (``L x dh``) against ``KV``. ``Q``, ``K``,
  ``V`` must be spikes. With ``L <= dh`` the authors' simulator swaps the roles (see
  :mod:`prosparsity.analysis.attention`); the capture warns.

Self-attention only: ``Q``, ``K``, ``V`` of one length ``L`` and head width ``dh``. A
spike operand against a tensor that does not depend on the sample (a weight, ``x @ W``)
is a ``linear`` record ``MODULE.matmul``. Any other product with a spike operand, and
every product of analog operands, is listed as skipped with its reason. A model whose
attention operands are declared (:attr:`CaptureConfig.attention_operands`, the registry's
transformers) is taken at its word: its products are not recorded again.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode

from prosparsity.models.engine.config import CaptureWarning
from prosparsity.models.engine.values import Checked, check

if TYPE_CHECKING:  # pragma: no cover
    from prosparsity.models.engine.hooks import SpikeCapture

__all__ = ["PRODUCT_FUNCTIONS", "Product", "ProductMode", "Products", "canonical"]

log = logging.getLogger(__name__)

PRODUCT_FUNCTIONS = frozenset({"matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "einsum"})
"""Names of the torch functions and tensor methods whose calls are products."""

SKIP_ANALOG_PRODUCT = "product of analog operands"
SKIP_LONE = "product of spikes that is not one of the attention forms (Q Kᵀ then ·V; Kᵀ V then Q·)"
SKIP_SHAPES = "attention operands of different lengths or head widths (not self-attention)"
SKIP_AXES = "cannot tell time and batch apart in the operand's shape"


def _einsum_form(equation: str, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor,
                                                                             torch.Tensor] | str:
    """``(A [*, M, K], B [*, K, N])`` of ``einsum(equation, a, b)``, or why not."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != 2:
        return "not a product of two operands"
    free = [c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq]
    ell = max(t.ndim - len(s.replace("...", "")) for s, t in ((terms[0], a), (terms[1], b)))
    fill = "".join(free[:ell])
    subs = []
    for s, t in zip(terms, (a, b), strict=True):
        n = t.ndim - len(s.replace("...", ""))
        subs.append(s.replace("...", fill[ell - n :]) if "..." in s else s)
    if not arrow:  # implicit output: the letters seen once, sorted
        joined = "".join(subs)
        rhs = fill + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                    and c not in fill))
    else:
        rhs = rhs.replace("...", fill)
    sa, sb = subs
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or len(sa) != a.ndim or len(
            sb) != b.ndim:
        return "einsum with repeated or missing subscripts"
    batch = [c for c in sa if c in sb and c in rhs]
    contracted = [c for c in sa if c in sb and c not in rhs]
    fa = [c for c in sa if c not in sb]
    fb = [c for c in sb if c not in sa]
    if not contracted or any(c not in rhs for c in fa + fb):
        return "einsum that is no matrix product"
    if any(a.shape[sa.index(c)] != b.shape[sb.index(c)] for c in batch):
        return "einsum with broadcast batch axes"
    pa = a.permute(*(sa.index(c) for c in batch + fa + contracted))
    pb = b.permute(*(sb.index(c) for c in batch + contracted + fb))
    lead = [a.shape[sa.index(c)] for c in batch]
    m = math.prod(a.shape[sa.index(c)] for c in fa)
    k = math.prod(a.shape[sa.index(c)] for c in contracted)
    n = math.prod(b.shape[sb.index(c)] for c in fb)
    return pa.reshape(*lead, m, k), pb.reshape(*lead, k, n)


def canonical(name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> tuple[torch.Tensor,
                                                                              torch.Tensor] | str:
    """``(A [*, M, K], B [*, K, N])`` of a product call, or why it is no matrix product."""
    if name == "einsum":
        equation = args[0] if args else kwargs.get("equation")
        operands = list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], list | tuple):
            operands = list(operands[0])
        if not isinstance(equation, str) or len(operands) != 2:
            return "not a product of two operands"
        a, b = operands
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
            return "not a product of two tensors"
        return _einsum_form(equation, a, b)
    if len(args) < 2:
        other = kwargs.get("other", kwargs.get("mat2"))
        args = (*args, other)
    a, b = (args[1], args[0]) if name == "__rmatmul__" else (args[0], args[1])
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return "not a product of two tensors"
    if a.ndim < 2 or b.ndim < 2:
        return "a matrix-vector product"
    return a, b


@dataclass
class Product:
    """One product seen in a module's call: ``A @ B`` in canonical form."""

    key: str  # where its shapes are kept for the probe: "<frame>:<index>"
    name: str  # the function (matmul, bmm, einsum, ...)
    record: str  # its record name if it stays alone: "<module>.<function>[@k]", call order
    a: torch.Tensor
    b: torch.Tensor
    out_shape: tuple[int, ...]
    spikes_a: Checked | None = None
    spikes_b: Checked | None = None


@dataclass
class Frame:
    """One call of one module: its products so far."""

    label: str
    key: str
    count: int = 0
    pending: Product | None = None
    products: list[Product] = field(default_factory=list)


class ProductMode(TorchFunctionMode):
    """Hands every product call to ``seen(name, args, kwargs)`` (see the module docstring).

    Every other torch call passes through untouched (one name look-up).
    """

    def __init__(self, seen: Callable[[str, Sequence[Any], dict[str, Any]], None]) -> None:
        super().__init__()
        self._seen = seen

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if getattr(func, "__name__", "") in PRODUCT_FUNCTIONS:
            self._seen(func.__name__, args, kwargs)
        return out


class Products:
    """The products of one capture: module frames, pairing into attention blocks.

    Args:
        capture: the capture whose records the products become.
    """

    def __init__(self, capture: SpikeCapture) -> None:
        self.cap = capture
        self.frames: list[Frame] = []
        self.warned: set[str] = set()
        self.probed = 0  # product calls the probe pass met

    # -- module frames (forward pre-hook / hook of every module) ----------------------

    def enter(self, label: str, key: str) -> None:
        self.frames.append(Frame(label, key))

    def leave(self) -> None:
        if not self.frames:
            return
        frame = self.frames.pop()
        if frame.pending is not None:
            self._lone(frame, frame.pending)

    def reset(self) -> None:
        self.frames.clear()

    # -- one product call ----------------------------------------------------------------

    def seen(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> None:
        cap = self.cap
        if not self.frames or not cap.in_forward:
            return
        frame = self.frames[-1]
        if cap.probing:
            self.probed += 1
        form = canonical(name, args, kwargs)
        index = frame.count
        frame.count += 1
        if isinstance(form, str):
            log.debug("%s: %s %s is not recorded", frame.label, name, form)
            return
        a, b = (t.detach() for t in form)
        key = f"{frame.key}:{index}"
        if cap.probing:
            cap.note_shape(f"{key}:a", a.shape)
            cap.note_shape(f"{key}:b", b.shape)
            return
        function = "matmul" if name in ("__matmul__", "__rmatmul__") else name
        record = cap.occurrence(f"{frame.label}.{function}")
        product = Product(key, function, record, a, b, (*a.shape[:-1], int(b.shape[-1])))
        product.spikes_a, product.spikes_b = check(a), check(b)
        if product.spikes_a is None and product.spikes_b is None:
            cap.skip_product(record, SKIP_ANALOG_PRODUCT)
            return
        weight = self._weight_side(product)
        if weight is not None:
            self._linear(frame, product, weight)
            return
        if frame.pending is None:
            frame.pending = product
            return
        first, frame.pending = frame.pending, None
        if not self._attention(frame, first, product):
            self._lone(frame, first)
            frame.pending = product

    # -- readings of the two kinds ---------------------------------------------------------

    def _weight_side(self, p: Product) -> str | None:
        """``"a"`` or ``"b"`` when that operand does not depend on the sample (a weight)
        and the other is spikes; else ``None``."""
        for side, other in (("a", p.spikes_b), ("b", p.spikes_a)):
            if other is not None and self.cap.batch_free(f"{p.key}:{side}",
                                                         getattr(p, side).shape):
                return side
        return None

    def _linear(self, frame: Frame, p: Product, weight: str) -> None:
        """A spike operand against a weight: one ``linear`` record ``MODULE.matmul``."""
        if weight == "b":  # x [*, M, K] @ W [K, N]: rows of x against W
            spikes, key, k, n = p.spikes_a, f"{p.key}:a", p.a.shape[-1], p.b.shape[-1]
        else:  # W [M, K] @ x [*, K, N] = (xᵀ Wᵀ)ᵀ: rows of xᵀ against Wᵀ
            spikes, key, k, n = p.spikes_b, f"{p.key}:b", p.b.shape[-2], p.a.shape[-2]
            assert spikes is not None
            spikes = Checked(spikes.data.transpose(-2, -1), spikes.levels)
        assert spikes is not None
        self.cap.record_product_linear(p.record, key, spikes, int(k), int(n))

    def _attention(self, frame: Frame, first: Product, second: Product) -> bool:
        """Record ``first`` and ``second`` as one attention block if they are one."""
        if second.a.shape == first.out_shape and second.spikes_b is not None:
            # S = Q Kᵀ, then S' V
            if first.spikes_b is None:
                return False
            q, k, v = first.a, first.b.transpose(-2, -1), second.b
            sq = first.spikes_a
            sk = Checked(first.spikes_b.data.transpose(-2, -1), first.spikes_b.levels)
            operands = {"q": (q, sq, f"{first.key}:a", False), "k": (k, sk, f"{first.key}:b", True),
                        "v": (v, second.spikes_b, f"{second.key}:b", False)}
            variant = "spikingbert"
        elif second.b.shape == first.out_shape and second.spikes_a is not None:
            # KV = Kᵀ V, then Q KV
            if first.spikes_a is None or first.spikes_b is None:
                return False
            q, k, v = second.a, first.a.transpose(-2, -1), first.b
            sk = Checked(first.spikes_a.data.transpose(-2, -1), first.spikes_a.levels)
            operands = {"q": (q, second.spikes_a, f"{second.key}:a", False),
                        "k": (k, sk, f"{first.key}:a", True),
                        "v": (v, first.spikes_b, f"{first.key}:b", False)}
            variant = "spikformer"
        else:
            return False
        length, width = int(k.shape[-2]), int(k.shape[-1])
        if any((int(t.shape[-2]), int(t.shape[-1])) != (length, width) for t in (q, v)):
            self.cap.skip_product(first.record, SKIP_SHAPES)
            self.cap.skip_product(second.record, SKIP_SHAPES)
            return True
        name = self.cap.occurrence(frame.label)
        try:
            self.cap.record_attention(name, variant, operands)
        except _Unreadable:
            self.cap.skip_product(name, SKIP_AXES)
            return True
        if variant == "spikformer" and length <= width and name not in self.warned:
            self.warned.add(name)
            warnings.warn(
                f"attention {name}: L={length} <= dh={width}: priced as the paper's "
                "simulator prices linear attention, which then swaps the roles of the "
                "operands (docs/capture-transformers.md)",
                CaptureWarning,
                stacklevel=2,
            )
        return True

    def _lone(self, frame: Frame, p: Product) -> None:
        self.cap.skip_product(p.record, SKIP_LONE)


class _Unreadable(Exception):
    """An operand whose time and batch axes cannot be told apart."""


Unreadable = _Unreadable
