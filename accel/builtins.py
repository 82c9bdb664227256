"""The built-in accelerator models, imported (so registered) in the paper's order.

Each module registers its models with :func:`prosparsity.accel.registry.register`, the
same protocol a third-party plugin uses; the order here is the order ``prosparsity
accelerators``, ``simulate`` and the reports list them in.
"""

from __future__ import annotations

import importlib

#: Modules of :mod:`prosparsity.accel` that register models, in the paper's order.
MODULES: tuple[str, ...] = (
    "prosperity",  # prosperity
    "ptb",  # ptb
    "eyeriss",  # eyeriss, eyeriss-linear
    "sato",  # sato
    "mint",  # mint
    "loas",  # loas
    "reported",  # stellar, a100
    "gpu",  # gpu-a100, gpu-h100
)

for _name in MODULES:
    importlib.import_module(f"{__package__}.{_name}")
