"""Train an embedded model on the packaged digits data and write its checkpoint.

Usage::

    python -m prosparsity.models.train digits-cnn [--seed 0] [--epochs N] [--out-dir DIR]

Trains the registry entry with the given name (it must provide a ``trainer``), then
writes ``DIR/NAME.safetensors`` (the state dict, read without unpickling) and
``DIR/NAME.json`` (test accuracy, seed, the command, versions, time). ``DIR`` defaults
to the package's ``models/checkpoints/``, i.e. the files ``prosparsity capture NAME``
uses.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "train"]

log = logging.getLogger(__name__)


def train(
    name: str,
    out_dir: str | Path | None = None,
    seed: int = 0,
    *,
    command: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train registry entry ``name``; write ``NAME.safetensors`` and ``NAME.json`` into
    ``out_dir``.

    Args:
        name: a registry entry with a ``trainer``.
        out_dir: destination (default: the package's checkpoint folder).
        seed: random seed (torch, data order).
        command: the command line to record (default: the equivalent CLI call).
        options: passed to the trainer (e.g. ``epochs``) when it accepts them.

    Returns:
        The metadata written to ``NAME.json``.
    """
    import torch

    from prosparsity.core.errors import HarnessError
    from prosparsity.models.checkpoint import CHECKPOINT_DIR
    from prosparsity.models.registry import get_model

    entry = get_model(name)
    if entry.trainer is None:
        raise HarnessError(f"model '{name}' has no trainer (only the embedded digits models do)")
    out = Path(out_dir) if out_dir is not None else CHECKPOINT_DIR
    out.mkdir(parents=True, exist_ok=True)
    accepted = inspect.signature(entry.trainer).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise HarnessError(f"trainer of '{name}' does not take option(s) {', '.join(unknown)}")
    metrics = entry.trainer(out, seed, **options)
    ckpt = out / f"{name}.safetensors"
    if not ckpt.is_file():
        raise HarnessError(f"trainer of '{name}' did not write {ckpt}")
    meta = {
        "model": name,
        **metrics,
        "seed": seed,
        "command": command or f"python -m prosparsity.models.train {name} --seed {seed}",
        "checkpoint_bytes": ckpt.stat().st_size,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }
    tmp = out / f"{name}.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / f"{name}.json")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m prosparsity.models.train``)."""
    from prosparsity.core.errors import HarnessError

    parser = argparse.ArgumentParser(prog="python -m prosparsity.models.train", description=__doc__)
    parser.add_argument("name", help="registry entry with a trainer, e.g. digits-cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="trainer default if omitted")
    parser.add_argument("--out-dir", default=None, help="default: the package's checkpoints/")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = {} if args.epochs is None else {"epochs": args.epochs}
    try:
        command = "python -m prosparsity.models.train " + shlex.join(
            sys.argv[1:] if argv is None else argv
        )
        meta = train(args.name, args.out_dir, args.seed, command=command, **options)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
