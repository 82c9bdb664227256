"""`prosparsity accelerators`: the accelerator models installed, and where they come from.

Built-ins first, in the paper's order, then every plugin found through the
``prosparsity.accelerators`` entry points, each with its package and version. A plugin
that could not be loaded is one warning line naming it; the others are listed.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach ``accelerators`` to the root app."""
    app.command("accelerators")(accelerators)


def accelerators(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List the accelerator models `simulate` and `sweep` can price (built-ins and plugins)."""
    import prosparsity as ps
    from prosparsity.accel.registry import plugin_errors
    from prosparsity.describe import accelerators_report
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document

    output = get_output()
    models = ps.accelerators().values()
    if as_json:
        output.json(document("accelerators", {
            "accelerators": [m.to_json() for m in models],
            "errors": [str(e) for e in plugin_errors()]}))
        return
    output.reports([accelerators_report(models)])
