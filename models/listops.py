"""ListOps: a text classification task generated offline, for the trained spiking text
model of the zoo (``listops-spikebert``).

ListOps (Nangia & Bowman, 2018; the Long Range Arena's text task of Tay et al., 2021) is a
language of nested list operations on the digits 0-9, each example one prefix expression
whose value (0..9) is its class::

    [MAX 4 [MIN 7 2 ] 9 [SM 5 8 ] ]     -> 9

Operators, as the Long Range Arena's generator defines them: ``[MAX`` and ``[MIN`` (the
largest / smallest argument), ``[MED`` (the median of the arguments, truncated to an
integer: ``int(median)``; the mean of the two middle values when their number is even),
``[SM`` (the sum modulo 10); ``]`` closes an operator.

The generator here is written for this package from that description. A tree is drawn
top-down: the root is an operator; every argument of an operator at depth ``d`` (the root
at depth 1) is an operator with probability ``branch_p`` while ``d < max_depth``, else a
digit; an operator takes 2..``max_args`` arguments (uniform). Expressions longer than
``max_tokens`` tokens are drawn again. Everything comes from one ``random.Random(seed)``,
so a split is a pure function of its parameters: nothing is downloaded or stored.

:func:`listops_split` is the packaged split (:data:`SPLIT`): 6,000 training and 1,000
test expressions of at most 3 operator levels, up to 4 arguments each, at most
:data:`MAX_TOKENS` tokens; :func:`encode` turns expressions into token ids with a
``tokenizers`` word-level tokenizer over :data:`VOCAB` (padded with ``[PAD]`` = 0).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from prosparsity.core.errors import HarnessError

__all__ = [
    "LISTOPS_DATASET",
    "MAX_TOKENS",
    "OPERATORS",
    "SPLIT",
    "VOCAB",
    "ListOpsSplit",
    "ListOpsSpec",
    "encode",
    "evaluate_expression",
    "generate",
    "listops_split",
    "tokenizer",
]

OPERATORS: tuple[str, ...] = ("[MAX", "[MIN", "[MED", "[SM")
"""The operator tokens (each opens a list closed by ``]``)."""
CLOSE = "]"
DIGITS: tuple[str, ...] = tuple(str(v) for v in range(10))
PAD = "[PAD]"
UNK = "[UNK]"
VOCAB: tuple[str, ...] = (PAD, UNK, *OPERATORS, CLOSE, *DIGITS)
"""The token vocabulary, in id order (``[PAD]`` = 0)."""
MAX_TOKENS = 24
"""Tokens per example of the packaged split (padding to this length)."""
LISTOPS_DATASET = "ListOps, generated (test split)"


@dataclass(frozen=True)
class ListOpsSpec:
    """The parameters of a generated set of expressions.

    Attributes:
        count: expressions.
        seed: seed of the ``random.Random`` everything is drawn from.
        max_depth: operator levels at most (the root is level 1).
        max_args: arguments per operator at most (at least 2).
        branch_p: probability that an argument above ``max_depth`` is an operator.
        max_tokens: longest expression in tokens (longer draws are drawn again).
    """

    count: int
    seed: int
    max_depth: int = 3
    max_args: int = 4
    branch_p: float = 0.25
    max_tokens: int = MAX_TOKENS

    def __post_init__(self) -> None:
        if self.count < 1 or self.max_depth < 1 or self.max_args < 2:
            raise ValueError(f"ListOpsSpec: count, max_depth >= 1 and max_args >= 2: {self}")
        if not 0.0 <= self.branch_p <= 1.0:
            raise ValueError(f"ListOpsSpec.branch_p: must be in [0, 1], got {self.branch_p}")
        if self.max_tokens < 2 * self.max_args + 2:
            raise ValueError(f"ListOpsSpec.max_tokens: too small for one operator: {self}")


def _tree(rng: random.Random, depth: int, spec: ListOpsSpec) -> list[str]:
    """The tokens of one operator node at ``depth`` and its arguments."""
    tokens = [rng.choice(OPERATORS)]
    for _ in range(rng.randint(2, spec.max_args)):
        if depth < spec.max_depth and rng.random() < spec.branch_p:
            tokens += _tree(rng, depth + 1, spec)
        else:
            tokens.append(rng.choice(DIGITS))
    tokens.append(CLOSE)
    return tokens


def evaluate_expression(tokens: Sequence[str]) -> int:
    """The value (0..9) of a ListOps expression given as tokens.

    Raises:
        ValueError: not a well-formed expression.
    """
    stack: list[list[Any]] = []
    result: int | None = None
    for tok in tokens:
        if tok in OPERATORS:
            stack.append([tok])
        elif tok == CLOSE:
            if not stack or len(stack[-1]) < 2:
                raise ValueError(f"unbalanced or empty list in {' '.join(tokens)!r}")
            op, *args = stack.pop()
            value = _apply(op, args)
            if stack:
                stack[-1].append(value)
            else:
                result = value
        elif tok in DIGITS and stack:
            stack[-1].append(int(tok))
        else:
            raise ValueError(f"unexpected token {tok!r} in {' '.join(tokens)!r}")
    if stack or result is None:
        raise ValueError(f"unbalanced expression {' '.join(tokens)!r}")
    return result


def _apply(op: str, args: list[int]) -> int:
    if op == "[MAX":
        return max(args)
    if op == "[MIN":
        return min(args)
    if op == "[MED":
        return int(statistics.median(args))
    return sum(args) % 10


def generate(spec: ListOpsSpec) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``spec.count`` expressions (space-separated tokens) and their values."""
    rng = random.Random(spec.seed)
    texts: list[str] = []
    labels: list[int] = []
    while len(texts) < spec.count:
        tokens = _tree(rng, 1, spec)
        if len(tokens) > spec.max_tokens:
            continue
        texts.append(" ".join(tokens))
        labels.append(evaluate_expression(tokens))
    return tuple(texts), tuple(labels)


@dataclass(frozen=True)
class ListOpsSplit:
    """A generated train/test split (expressions and their values)."""

    train_texts: tuple[str, ...]
    train_labels: tuple[int, ...]
    test_texts: tuple[str, ...]
    test_labels: tuple[int, ...]


SPLIT = (ListOpsSpec(6000, seed=1), ListOpsSpec(1400, seed=2))
"""The packaged split: (train, test) parameters, different seeds."""
TEST_SIZE = 1000


@lru_cache(maxsize=1)
def listops_split() -> ListOpsSplit:
    """The packaged split (:data:`SPLIT`), generated once per process: the training
    expressions, and the first :data:`TEST_SIZE` test draws that are not among them (short
    expressions such as ``[MAX 0 6 ]`` are drawn by both seeds)."""
    train_spec, test_spec = SPLIT
    train = generate(train_spec)
    seen = set(train[0])
    test = [(t, y) for t, y in zip(*generate(test_spec), strict=True) if t not in seen]
    if len(test) < TEST_SIZE:  # pragma: no cover - the fixed parameters give 1,152
        raise HarnessError(f"ListOps: only {len(test)} unseen test expressions")
    texts, labels = zip(*test[:TEST_SIZE], strict=True)
    return ListOpsSplit(*train, tuple(texts), tuple(labels))


@lru_cache(maxsize=1)
def tokenizer() -> Any:
    """A ``tokenizers`` word-level tokenizer over :data:`VOCAB`: whitespace-separated
    tokens, unknown ones to ``[UNK]``, padding with ``[PAD]`` (id 0)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    tok = Tokenizer(WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token=UNK))
    tok.pre_tokenizer = WhitespaceSplit()
    return tok


def encode(texts: Sequence[str], length: int = MAX_TOKENS) -> Any:
    """Token ids ``[len(texts), length]`` (int64 torch tensor), padded with ``[PAD]`` = 0.

    Raises:
        HarnessError: an expression longer than ``length`` tokens.
    """
    import torch

    encodings = tokenizer().encode_batch(list(texts))
    longest = max((len(e.ids) for e in encodings), default=0)
    if longest > length:
        raise HarnessError(f"a ListOps expression of {longest} tokens exceeds {length}")
    return torch.tensor([e.ids + [0] * (length - len(e.ids)) for e in encodings],
                        dtype=torch.long)
