"""The command line's numeric option types: finite numbers within stated limits.

Every numeric option of the CLI is declared with :func:`int_in` or :func:`float_in`: the
value is checked where it is parsed (a bad one is click's one usage line, exit 2, before
any work), ``inf``, ``-inf`` and ``nan`` are refused for floats (``float('inf')`` parses,
and used to reach a ``time.sleep`` or a ``math.ceil`` as a traceback), and the help shows
the limits as the type (``<1..4096>``), which typer's range labels (``[x>=1]``) state
only in part and at the cost of width.

The limits themselves live with what they limit (tile sizes in
:mod:`prosparsity.analysis.grid`, time limits in :mod:`prosparsity.traces.probe`); the
constants below are the CLI's own bounds where no stage has one.
"""

from __future__ import annotations

import math

import typer

__all__ = [
    "COUNT",
    "MAX_COUNT",
    "MAX_SEED",
    "MAX_WORKERS",
    "SEED",
    "TILE_K",
    "TILE_M",
    "TIME_STEPS",
    "Bounded",
    "bounded",
    "float_in",
    "int_in",
]

#: the largest sample, batch or repeat count an option takes (a size check refuses
#: earlier what does not fit the machine)
MAX_COUNT = 10**9
#: the largest seed (NumPy's and torch's seeds are unsigned 64-bit at most)
MAX_SEED = (1 << 32) - 1
#: the most worker processes ``sweep --workers`` starts
MAX_WORKERS = 1024


def _fmt(value: float) -> str:
    """A limit as ``--help`` shows it: ``4096``, ``0.1``, ``10^9``, ``2^32-1``."""
    if isinstance(value, int) and value >= 1_000_000:
        for base in (10, 2):
            k = round(math.log(value + 1, base))
            if base**k == value:
                return f"{base}^{k}"
            if base**k - 1 == value:
                return f"{base}^{k}-1"
        return f"{value:_}"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


class Bounded:
    """An integer or a finite float in ``[low, high]`` (``low_open``: ``(low, high]``): the
    ``parser`` of a ``typer.Option``; :attr:`metavar` (the range) is its ``metavar``.
    """

    def __init__(self, kind: type[int] | type[float], low: float, high: float, *,
                 low_open: bool = False) -> None:
        self.kind = kind
        self.low, self.high, self.low_open = low, high, low_open
        self.metavar = f"{'(' if low_open else ''}{_fmt(low)}..{_fmt(high)}"
        self.__name__ = self.metavar  # typer names a parser's type after it

    def __call__(self, value: object) -> int | float:
        if isinstance(value, self.kind) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text, 10) if self.kind is int else float(text)
            except ValueError:
                kind = "a whole number" if self.kind is int else "a number"
                raise typer.BadParameter(
                    f"{text!r} is not {kind} (expected {self.describe()})") from None
        if self.kind is float and not math.isfinite(number):
            raise typer.BadParameter(
                f"{value!s} is not a finite number (expected {self.describe()})")
        low_bad = number <= self.low if self.low_open else number < self.low
        if low_bad or number > self.high:
            raise typer.BadParameter(f"{value!s} is outside {self.describe()}")
        return number

    def describe(self) -> str:
        """The range in words ("1..4096", "more than 0 and at most 86400")."""
        if self.low_open:
            return f"more than {_fmt(self.low)} and at most {_fmt(self.high)}"
        return f"{_fmt(self.low)}..{_fmt(self.high)}"

    def __repr__(self) -> str:
        return f"Bounded({self.kind.__name__}, {self.metavar})"


def int_in(low: int, high: int) -> Bounded:
    """An integer option within ``low..high``: ``typer.Option(parser=p, metavar=p.metavar)``
    with ``p = int_in(1, 4096)``."""
    return Bounded(int, low, high)


def float_in(low: float, high: float, *, low_open: bool = False) -> Bounded:
    """A finite float option within ``low..high`` (``low_open``: above ``low``)."""
    return Bounded(float, low, high, low_open=low_open)


def bounded(spec: Bounded, *param_decls: str, help: str, **kwargs: object) -> object:
    """``typer.Option(*param_decls, ...)`` parsed by ``spec``, its range as the type."""
    return typer.Option(*param_decls, parser=spec, metavar=spec.metavar, help=help, **kwargs)


#: a tile's rows and columns (the limits of :func:`prosparsity.analysis.grid.
#: check_tile_sizes`, which ``tests/harness/test_options.py`` compares with these)
TILE_M = int_in(1, 4096)
TILE_K = int_in(1, 128)
#: a count of samples, batches or repeats
COUNT = int_in(1, MAX_COUNT)
#: a random seed
SEED = int_in(0, MAX_SEED)
#: time steps of a capture
TIME_STEPS = int_in(1, 10**6)
