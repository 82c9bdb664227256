"""The ``prosparsity`` command line.

One thin module per subcommand in :mod:`prosparsity.harness.commands`; each imports its
heavy dependencies (torch, h5py, numba) inside the command function, so that
``prosparsity --help`` starts instantly.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable

import click
import typer

from prosparsity.harness.commands import (
    accelerators,
    analyze,
    capture,
    demo,
    energy,
    gpu,
    reproduce,
    simulate,
    sweep,
    synth,
    trace,
)
from prosparsity.harness.entry import interrupted

app = typer.Typer(
    name="prosparsity",
    help="Capture, analyse and simulate spiking-neural-network traces (Prosperity / ProSparsity).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (trace, synth, analyze, simulate, accelerators, gpu, energy, capture, reproduce,
                demo, sweep):
    _module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from prosparsity.core.version import TOOL, tool_version
        from prosparsity.harness.console import get_output

        get_output().line(f"{TOOL} {tool_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log diagnostics to stderr."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    import warnings

    from prosparsity.core.errors import HarnessWarning

    # the library's warnings, each as one line, for this command only
    caught = warnings.catch_warnings()
    caught.__enter__()
    warnings.simplefilter("always", HarnessWarning)
    warnings.showwarning = functools.partial(_show_warning, warnings.showwarning)
    ctx.call_on_close(lambda: caught.__exit__(None, None, None))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # notices about the install, not the run (core.logs)
        from prosparsity.core.logs import QUIET_LOGGERS

        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)


@functools.cache
def _command() -> click.Command:
    """The click command typer builds from :data:`app` (built once per process), with
    plain help: see :func:`tidy_help`."""
    return tidy_help(typer.main.get_command(app))


def tidy_help(command: click.Command) -> click.Command:
    """Help text without typer's type labels where they say nothing: a plain flag
    (``--json``, ``--help``) shows no ``<bool>``, and an argument is named in capitals
    (``TRACE``, not ``{trace}``) in the usage line and its panel. Walks every
    subcommand; returns ``command`` (changed in place; typer has no setting for this)."""
    # typer vendors its own click (typer._click): duck-typed, not isinstance
    ctx = typer.Context(command)  # type: ignore[arg-type]
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        kind = getattr(param, "param_type_name", "")
        if kind == "option" and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif kind == "argument" and param.metavar is None:
            param.metavar = (param.name or "arg").upper()
            if param.required and hasattr(param, "_usage_display_name"):
                # typer writes a required argument as {TRACE}; the usage line says TRACE
                shown = param.metavar + ("..." if param.nargs != 1 else "")
                param._usage_display_name = functools.partial(str, shown)
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
    return command


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; user-facing errors print one line and exit 2, Ctrl-C
    prints one line and exits 130.

    Ctrl-C raises :class:`prosparsity.core.signals.Interrupted` (see there why not
    KeyboardInterrupt); every writer removes its temporary file when an exception passes
    through it, and checks the Ctrl-C flag before its final rename, so an interrupted
    command leaves no partial or new output file.
    """
    from prosparsity.core import signals
    from prosparsity.core.errors import HarnessError

    previous = signals.install()
    try:
        try:
            code = _command().main(args=argv, prog_name="prosparsity", standalone_mode=False)
            signals.check()  # a Ctrl-C whose exception a library swallowed
        except (click.ClickException, typer.TyperException) as exc:
            # typer >= 0.25 raises the usage errors of its vendored click (typer._click),
            # whose base is typer.TyperException, not click.ClickException
            show = getattr(exc, "show", None)
            if show is not None:
                show()
            else:  # pragma: no cover - a TyperException without a usage text
                sys.stderr.write(f"error: {exc.format_message()}\n")
            code = exc.exit_code
        except (click.exceptions.Abort, typer.Abort):  # Ctrl-C at a prompt
            code = interrupted()
        except HarnessError as exc:
            from prosparsity.harness.console import get_output

            get_output().error(str(exc))
            code = 2
        except (signals.Interrupted, KeyboardInterrupt):
            code = interrupted()
    finally:
        signals.restore(previous)
    raise SystemExit(code if isinstance(code, int) else 0)


def _show_warning(python: Callable[..., None], message: Warning | str,
                  category: type[Warning], filename: str, lineno: int, file: object = None,
                  line: str | None = None) -> None:
    """The library's warnings (:class:`~prosparsity.core.errors.HarnessWarning`) as one
    ``warning:`` line; others as Python prints them (``python``)."""
    from prosparsity.core.errors import HarnessWarning

    if issubclass(category, HarnessWarning):
        from prosparsity.harness.console import get_output

        get_output().warn(str(message))
        return
    python(message, category, filename, lineno, file, line)


if __name__ == "__main__":
    main()
