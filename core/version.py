"""The tool's name and installed version, as every output that records provenance
states them (the ``--json`` envelope, the HTML report, the sweep's result tables)."""

from __future__ import annotations

from functools import cache

__all__ = ["TOOL", "tool_version"]

#: The distribution's name.
TOOL = "prosparsity-harness"


@cache
def tool_version() -> str:
    """The installed version of prosparsity-harness (``0+unknown`` in a bare checkout);
    looked up once per process (an ``importlib.metadata`` scan costs about a millisecond)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(TOOL)
    except PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0+unknown"
