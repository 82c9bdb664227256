"""The ``prosparsity`` command line.

One thin module per subcommand in :mod:`prosparsity.harness.commands`; each imports its
heavy dependencies (torch, h5py, numba) inside the command function, so that
``prosparsity --help`` starts instantly.
"""

from __future__ import annotations

import logging

import typer

from prosparsity.harness.commands import analyze, capture, demo, gpu, reproduce, simulate, trace

app = typer.Typer(
    name="prosparsity",
    help="Capture, analyse and simulate spiking-neural-network traces (Prosperity / ProSparsity).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (trace, analyze, simulate, gpu, capture, reproduce, demo):
    _module.register(app)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log diagnostics to stderr."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # a CPU-only torch says "Triton not available" on every custom op
        logging.getLogger("torch._library.triton").setLevel(logging.ERROR)


def main() -> None:
    """Entry point: run the app, turning user-facing errors into a message and exit 2."""
    from prosparsity.core.errors import HarnessError
    from prosparsity.harness.console import get_output

    try:
        app()
    except HarnessError as exc:
        get_output().error(str(exc))
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
