"""`prosparsity reproduce`: the paper's figures from the authors' per-workload spike dumps.

Given a directory of dumps named as the authors name them (``data/<workload>.pkl``, or the
``.npz`` conversions; any subset of the paper's workloads), each dump is imported with its
workload preset, analysed, and simulated on every registered accelerator (and, for
Prosperity, at Figure 7's tile sizes). The reports of :mod:`prosparsity.reports` are
printed and written to ``--out`` (CSV, JSON, Markdown, PNG). Wherever the paper, or the
authors' simulator run on the same dump (``--official``), has a number for the same thing,
it is shown beside ours with the relative difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.core.errors import HarnessError
from prosparsity.paper.study import HEADLINE_BASELINE

if TYPE_CHECKING:
    from prosparsity.reports.compare import OfficialSimReferences

DUMP_SUFFIXES = (".pkl", ".npz")


def register(app: typer.Typer) -> None:
    """Attach ``reproduce`` to the root app."""
    app.command("reproduce")(reproduce)


def reproduce(
    data: Annotated[Path, typer.Option(
        "--data", help="Folder of the authors' per-workload spike dumps (<workload>.pkl or "
                       ".npz), or one dump file.")] = Path("data"),
    out: Annotated[str, typer.Option(
        "--out", help="Folder for the CSV, JSON, Markdown and PNG exports.")
    ] = Path("out/reproduce"),
    official: Annotated[list[Path] | None, typer.Option(
        "--official", metavar="PATH",
        help="The authors' simulator output on the same dumps (JSON in the format of "
             "reference/official-sim; a file or a folder; repeatable). <dump>.official.json "
             "beside a dump is picked up automatically.")] = None,
    sweep: Annotated[bool, typer.Option(
        "--sweep/--no-sweep", help="Simulate Prosperity at Figure 7's tile sizes.")] = True,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")
                     ] = True,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Exit with status 1 when any value differs from its reference "
                         "beyond tolerance.")] = False,
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="NAME",
        help="Accelerator that speedup and energy efficiency are normalised to (the paper's "
             "Eyeriss normalisation and the GPU are shown beside it).")
    ] = HEADLINE_BASELINE,
    synthetic: Annotated[list[str] | None, typer.Option(
        "--synthetic", metavar="WORKLOAD",
        help="A dump in --data whose spikes are synthetic, not the authors' data "
             "(repeatable): reports and the headline say so. A dump file does not record "
             "it; dumps not named are taken as the authors' real data.")] = None,
) -> None:
    """Reproduce the paper's headline, Figures 7, 8, 11 and Table 4 from spike dumps.

    Imports every authors' dump in --data (and --synthetic workloads), prices every
    accelerator, compares with --official, and writes tables and plots to --out."""
    import prosparsity as ps
    from prosparsity.harness.console import get_output
    from prosparsity.harness.study import print_and_write
    from prosparsity.studies import check_out_dir

    output = get_output()
    folder = check_out_dir(out)
    dumps = find_dumps(data)
    fake = check_synthetic(synthetic or [], dumps)
    references = load_official(official or [], dumps)
    study = ps.reproduce(dumps, references=references, tile_sweep=sweep, synthetic=fake,
                         baseline=baseline, progress=output.info)
    flagged = print_and_write(study, folder, plots=plots, output=output)
    if strict and flagged:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- inputs
def paper_workload_names() -> tuple[str, ...]:
    """The paper's workload names (the trace package's presets)."""
    from prosparsity.traces.workloads import WORKLOADS

    return tuple(WORKLOADS)


def find_dumps(data: Path) -> list[tuple[str, Path]]:
    """``(workload, path)`` of every dump under ``data`` named after a paper workload.

    A ``.pkl`` and an ``.npz`` of the same workload: the ``.pkl`` (the authors' format)
    wins. Files of other names are skipped with a warning.

    Raises:
        HarnessError: ``data`` does not exist or holds no usable dump.
    """
    from prosparsity.core.paths import input_problem
    from prosparsity.harness.console import get_output

    problem = input_problem(data, directory=True)  # a FIFO is named, never opened
    if problem == "file not found":
        raise HarnessError(f"{data}: no such file or folder (pass --data DIR with the "
                           "authors' <workload>.pkl / .npz spike dumps)")
    if problem is not None:
        raise HarnessError(f"--data {data}: {problem}")
    files = [data] if data.is_file() else sorted(
        p for p in data.iterdir() if p.suffix in DUMP_SUFFIXES and p.is_file())
    known = set(paper_workload_names())
    chosen: dict[str, Path] = {}
    for path in files:
        if path.suffix not in DUMP_SUFFIXES:
            raise HarnessError(f"{path}: not a spike dump (expected .pkl or .npz)")
        if path.stem not in known:
            get_output().warn(f"{path}: '{path.stem}' is not a paper workload; skipped "
                              "(import it with `prosparsity trace import` instead)")
            continue
        if path.stem not in chosen or path.suffix == ".pkl":
            chosen[path.stem] = path
    if not chosen:
        raise HarnessError(f"{data}: no spike dump named after a paper workload "
                           f"(e.g. lenet5_mnist.npz); known: {', '.join(sorted(known))}")
    return sorted(chosen.items())


def check_synthetic(names: Sequence[str], dumps: Sequence[tuple[str, Path]]) -> set[str]:
    """The ``--synthetic`` workloads, each one of the dumps found.

    Raises:
        HarnessError: a name that is not among the dumps.
    """
    found = {name for name, _ in dumps}
    unknown = [n for n in names if n not in found]
    if unknown:
        raise HarnessError(f"--synthetic {', '.join(unknown)}: no such dump in --data "
                           f"(found: {', '.join(sorted(found))})")
    return set(names)


def _official_files(paths: Iterable[Path], dumps: Sequence[tuple[str, Path]]) -> list[Path]:
    from prosparsity.core.paths import input_problem

    files: list[Path] = []
    for path in paths:
        problem = input_problem(path, directory=True)  # a FIFO is named, never opened
        if problem is not None:
            what = "no such file or folder" if problem == "file not found" else problem
            raise HarnessError(f"{path}: {what} (--official)")
        if path.is_dir():
            files += sorted(p for p in path.glob("*.json") if input_problem(p) is None)
        else:
            files.append(path)
    for _, dump in dumps:
        beside = dump.with_name(dump.stem + ".official.json")
        if beside.is_file() and beside not in files:
            files.append(beside)
    return files


def load_official(paths: Iterable[Path],
                  dumps: Sequence[tuple[str, Path]]) -> OfficialSimReferences:
    """The authors' simulator outputs as reference values."""
    from prosparsity.reports.compare import OfficialSimReferences

    docs = []
    for file in _official_files(paths, dumps):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise HarnessError(f"{file}: not a readable JSON document ({exc})") from None
        if not isinstance(doc, dict) or "workload" not in doc or "runs" not in doc:
            raise HarnessError(f"{file}: not an official-simulator output "
                               "(needs 'workload' and 'runs')")
        docs.append((doc, f"official-sim {file.name}"))
    return OfficialSimReferences.from_documents(docs)
