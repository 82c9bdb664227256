"""`prosparsity analyze`: not implemented yet (see the open issues)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""
