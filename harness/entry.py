"""The ``prosparsity`` console script: Ctrl-C is handled from the first instruction.

The command modules import rich, typer and the stages; a Ctrl-C during those imports
(before :func:`prosparsity.harness.cli.main` installs its handler) must end the command
like one at any later moment: one line, exit 130. This module imports nothing heavy.
"""

from __future__ import annotations

import sys

#: exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


def interrupted() -> int:
    """One line on stderr; a second Ctrl-C while printing changes nothing. Returns the
    exit status."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass
    return EXIT_INTERRUPTED


def main() -> None:
    """Import the CLI and run it; a Ctrl-C outside its own handling exits 130 too."""
    try:
        from prosparsity.harness.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        raise SystemExit(interrupted()) from None


if __name__ == "__main__":
    main()
