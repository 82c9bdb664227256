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
    from rich.table import Table

    import prosparsity as ps
    from prosparsity.accel.registry import plugin_errors
    from prosparsity.harness.console import get_output
    from prosparsity.harness.envelope import document

    output = get_output()
    rows = []
    for model in ps.accelerators().values():
        rows.append({"name": model.name, "display": model.display, "kind": str(model.kind),
                     "gpu": model.gpu, "figures": list(model.figures), "package": model.package,
                     "version": model.version, "label": model.label,
                     "description": model.description})
    errors = [str(e) for e in plugin_errors()]
    if as_json:
        output.json(document("accelerators", {"accelerators": rows, "errors": errors}))
        return
    table = Table(title="accelerator models", title_justify="left")
    for column in ("name", "paper spelling", "kind", "figures", "package", "description"):
        table.add_column(column, no_wrap=column in ("name", "paper spelling"))
    for row in rows:
        package = row["package"] + (f" {row['version']}" if row["version"] else "")
        kind = row["kind"] + (", GPU" if row["gpu"] else "")
        table.add_row(row["name"], row["display"], kind, ", ".join(row["figures"]), package,
                      row["description"] + (f" ({row['label']})" if row["label"] else ""))
    output.print(table)
