"""numba, imported without scipy.

numba imports scipy when it is installed, for two checks our kernels never need: its
version (``numba/__init__.py``) and, on the first compile or cache load, whether
``scipy.linalg``'s BLAS is there for ``np.dot`` in compiled code
(``numba.np.arraymath._HAVE_BLAS``). Together that is about 0.2 s of every cold start of
``prosparsity analyze``. scipy is installed (spikingjelly and the GPU model's fit use
it), so both imports are made to fail while numba and its array-math registry load;
later imports of scipy work as usual. In this process numba then compiles no
``np.dot``/``np.linalg`` call, which no kernel of the harness makes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["numba", "trailing_zeros"]

_BLOCKED = ("scipy", "scipy.linalg", "scipy.linalg.cython_blas")


@contextmanager
def _without_scipy() -> Iterator[None]:
    blocked = [name for name in _BLOCKED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        yield
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


with _without_scipy():
    import numba
    import numba.np.arraymath  # noqa: F401  (its BLAS probe runs on import)

#: ``trailing_zeros(x)``: the index of the lowest set bit of a non-zero integer in
#: compiled code (LLVM's ``cttz``).
from numba.cpython.unsafe.numbers import trailing_zeros  # noqa: E402
