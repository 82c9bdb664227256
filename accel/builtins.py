"""Imports every module of :mod:`prosparsity.accel`, so that each model registers itself.

Adding an accelerator is one new module in ``accel/`` whose ``simulate`` function is
decorated with :func:`prosparsity.accel.base.register`; nothing else is edited. Modules
that hold no model (``base``, ``workload``, ``energy``, helpers) are imported too, which
is harmless: registration happens only through the decorator. Modules whose name starts
with an underscore are skipped.
"""

from __future__ import annotations

import importlib
import pkgutil

import prosparsity.accel as _package

_SKIP = frozenset({"builtins"})

MODULES: tuple[str, ...] = tuple(
    sorted(
        info.name
        for info in pkgutil.iter_modules(_package.__path__)
        if info.name not in _SKIP and not info.name.startswith("_")
    )
)

for _name in MODULES:
    importlib.import_module(f"{_package.__name__}.{_name}")
