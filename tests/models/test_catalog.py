"""The model catalog (what ``prosparsity models`` lists without importing any family)
is exactly what the family modules register, each name by the module the catalog
names (checked in a fresh interpreter, where no family is imported yet)."""

from __future__ import annotations

import json
import subprocess
import sys

from prosparsity.models import registry
from prosparsity.models.catalog import CATALOG, ModelInfo

_REGISTERED = """
import importlib, json
from prosparsity.models import registry as R
rows = []
for module in R._family_modules():
    before = set(R._REGISTRY)
    importlib.import_module(module)
    for name in sorted(set(R._REGISTRY) - before):
        e = R._REGISTRY[name]
        rows.append([e.name, e.family, module.rsplit(".", 1)[1], e.time_steps,
                     e.checkpoint is not None, e.description,
                     [r.name for r in e.releases if not r.refusal]])
print(json.dumps(rows))
"""


def test_catalog_is_what_the_families_register() -> None:
    done = subprocess.run([sys.executable, "-c", _REGISTERED], capture_output=True, text=True,
                          timeout=300, check=True)
    rows = [ModelInfo(*row[:-1], releases=tuple(row[-1]))
            for row in json.loads(done.stdout.strip().splitlines()[-1])]
    want = sorted(rows, key=lambda r: (registry.FAMILIES.index(r.family), r.name))
    lines = "\n".join(f"    {r!r}," for r in want)
    assert list(CATALOG) == want, f"update models/catalog.py's CATALOG to:\n{lines}"
    assert registry.catalog() == CATALOG
