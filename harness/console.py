"""The one wrapper around rich's Console through which all terminal output goes.

Data (tables, JSON) goes to stdout, diagnostics (progress, warnings, errors) to stderr.
When stdout is not a terminal rich writes plain text without colour codes. Tests build
an :class:`Output` over ``io.StringIO`` with a fixed width and no colour.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import Progress

    from prosparsity.reports.model import Report

#: Width of stdout tables when stdout is a file or a pipe (and COLUMNS is not set).
PIPED_WIDTH = 200


class Output:
    """Terminal output of one CLI invocation.

    Args:
        stdout: stream for data (default ``sys.stdout``).
        stderr: stream for diagnostics (default ``sys.stderr``).
        width: fixed width (tests); ``None`` lets rich detect it.
        color: ``False`` forces colourless output.
    """

    def __init__(
        self,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        width: int | None = None,
        color: bool = True,
    ) -> None:
        def console(file: IO[str], stderr: bool) -> Console:
            if color:
                return Console(file=file, stderr=stderr, width=width, soft_wrap=False)
            return Console(file=file, stderr=stderr, width=width, soft_wrap=False,
                           color_system=None, force_terminal=False, no_color=True)

        self.out = console(stdout or sys.stdout, False)
        self.err = console(stderr or sys.stderr, True)
        if width is None and not self.out.is_terminal and "COLUMNS" not in os.environ:
            # Into a file or a pipe there is no terminal to fit: print full-width tables
            # rather than rich's 80-column default, which would fold every wide table.
            self.out.width = PIPED_WIDTH

    def print(self, *renderables: RenderableType) -> None:
        """Print data (tables, text) on stdout."""
        self.out.print(*renderables)

    def reports(self, reports: Sequence[Report]) -> None:
        """Print reports on stdout with the one renderer of the reports, a blank line
        after each; a report of more than :data:`~prosparsity.reports.render.RICH_ROWS`
        rows as its aligned plain text, in one write (a 10,000-layer trace in
        milliseconds)."""
        from prosparsity.reports.render import RICH_ROWS, plain_report, render_report

        for report in reports:
            if report.n_rows > RICH_ROWS:
                self.text(plain_report(report) + "\n")
                continue
            self.out.print(render_report(report))
            self.out.print("")

    def line(self, text: str) -> None:
        """One line of plain data on stdout, never wrapped (e.g. a per-file result)."""
        self.out.print(text, highlight=False, markup=False, soft_wrap=True)

    def text(self, block: str) -> None:
        """Plain text on stdout as it is, in one write (no markup, no layout: fast)."""
        self.out.file.write(block)
        self.out.file.flush()

    def json(self, obj: object) -> None:
        """Print one JSON document (plain dicts, lists, numbers, strings) on stdout,
        unstyled."""
        self.out.file.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")
        self.out.file.flush()

    def info(self, message: str) -> None:
        """A diagnostic line on stderr (text, never markup)."""
        self.err.print(message, highlight=False, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        """One ``warning:`` line on stderr (the message is text, never markup)."""
        self.err.print(Text.assemble(("warning:", "yellow"), " ", message), highlight=False,
                       soft_wrap=True)

    def error(self, message: str) -> None:
        """One ``error:`` line on stderr (the message is text, never markup)."""
        # soft_wrap: one line whatever the width, so that a message stays one line in a pipe
        self.err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False,
                       soft_wrap=True)

    def progress(self) -> Progress:
        """A rich progress bar on stderr (transient, disabled when not a terminal)."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        return Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            disable=not self.err.is_terminal,
        )


_default: Output | None = None


def get_output() -> Output:
    """The process-wide Output used by CLI commands (tests may replace it)."""
    global _default
    if _default is None:
        _default = Output()
    return _default


def set_output(output: Output | None) -> None:
    """Replace the Output used by CLI commands (tests); ``None`` restores the default."""
    global _default
    _default = output
