"""The ``prosparsity`` console script: Ctrl-C is handled from the first instruction.

The command modules import rich, typer and the stages; a Ctrl-C during those imports
(before :func:`prosparsity.harness.cli.main` installs its handler) must end the command
like one at any later moment: one line, exit 130. This module imports nothing heavy.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> None:
    """Import the CLI and run it; a Ctrl-C outside its own handling exits 130 too."""
    try:
        from prosparsity.harness.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stderr.write("interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None


if __name__ == "__main__":
    main()
