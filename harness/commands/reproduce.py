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
import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from prosparsity.core.errors import HarnessError
from prosparsity.harness.commands._report_rows import (
    Collected,
    accel_row,
    density_row,
    layer_densities,
    layer_rows,
    simulate_all,
)
from prosparsity.paper.fig7 import SWEEP_TILE_K, SWEEP_TILE_M
from prosparsity.paper.tiles import DEFAULT_TILE

log = logging.getLogger(__name__)

DUMP_SUFFIXES = (".pkl", ".npz")
#: Accelerators whose per-layer breakdown is shown (the authors publish these two).
LAYER_ACCELERATORS = ("Prosperity", "PTB")
#: Prosperity ablations of the paper (Fig. 9) and the config changes that select them.
ABLATIONS: dict[str, dict[str, Any]] = {
    "Prosperity:bit": {"sparsity": "bit"},
    "Prosperity:dense": {"sparsity": "dense"},
    "Prosperity:issue1": {"issue_type": 1},
}


def register(app: typer.Typer) -> None:
    """Attach ``reproduce`` to the root app."""
    app.command("reproduce")(reproduce)


def reproduce(
    data: Annotated[Path, typer.Option(
        "--data", help="Folder of the authors' per-workload spike dumps (<workload>.pkl or "
                       ".npz), or one dump file.")] = Path("data"),
    out: Annotated[Path, typer.Option(
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
) -> None:
    """Reproduce the paper's Figures 7, 8 and 11 from the authors' spike dumps."""
    from prosparsity.harness.console import get_output

    output = get_output()
    check_out_dir(out)
    dumps = find_dumps(data)
    docs = load_official(official or [], dumps)
    collected = Collected()
    with tempfile.TemporaryDirectory(prefix="prosparsity-reproduce-") as tmp:
        for name, path in dumps:
            output.info(f"{name}: importing {path}")
            try:
                process_dump(name, path, Path(tmp), collected, sweep=sweep, output=output)
            except HarnessError as exc:  # one bad dump spoils no other
                collected.skip(f"{name}: {exc}")
    if not (collected.density or collected.accelerators):
        raise HarnessError("nothing reproduced: " + "; ".join(collected.skipped))
    flagged = write_and_print(collected, docs, out, plots=plots, output=output,
                              title="prosparsity reproduce")
    if strict and flagged:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- inputs
def check_out_dir(out: Path) -> None:
    """Fail before any work when ``--out`` cannot become a folder of exports.

    Raises:
        HarnessError: ``out`` or one of its parents exists and is not a folder.
    """
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                what = "" if path == out else f" ({path} is not a folder)"
                raise HarnessError(f"--out {out}: not a folder{what}")
            return


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
    from prosparsity.harness.console import get_output

    if not data.exists():
        raise HarnessError(f"{data}: no such file or folder (pass --data DIR with the "
                           "authors' <workload>.pkl / .npz spike dumps)")
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


def _official_files(paths: Iterable[Path], dumps: Sequence[tuple[str, Path]]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise HarnessError(f"{path}: no such file or folder (--official)")
    for _, dump in dumps:
        beside = dump.with_name(dump.stem + ".official.json")
        if beside.is_file() and beside not in files:
            files.append(beside)
    return files


def load_official(paths: Iterable[Path], dumps: Sequence[tuple[str, Path]]) -> Any:
    """The authors' simulator outputs as reference values (``OfficialSimReferences``)."""
    from prosparsity.reports.compare import OfficialSimReferences

    docs = []
    for file in _official_files(paths, dumps):
        try:
            doc = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HarnessError(f"{file}: not a readable JSON document ({exc})") from None
        if not isinstance(doc, dict) or "workload" not in doc or "runs" not in doc:
            raise HarnessError(f"{file}: not an official-simulator output "
                               "(needs 'workload' and 'runs')")
        docs.append((doc, f"official-sim {file.name}"))
    return OfficialSimReferences.from_documents(docs)


def load_workload(name: str, path: Path, tmp: Path) -> tuple[Any, Path]:
    """Import one dump with its workload preset: ``(accel Workload, trace path)``."""
    from prosparsity.accel.workload import Workload
    from prosparsity.traces.importer import import_dump

    trace = Path(import_dump(path, name, tmp / f"{name}.h5"))
    return Workload.from_trace(trace), trace


# ----------------------------------------------------------------------------- pipeline
def analyse(trace: Path | None) -> Any | None:
    """The analysis statistics (``ModelStats``) of a trace at the default tile."""
    if trace is None:
        return None
    from prosparsity.analysis.density import analyze_trace

    return analyze_trace(trace, tile_m=DEFAULT_TILE.tile_m, tile_k=DEFAULT_TILE.tile_k)


def process_dump(name: str, path: Path, tmp: Path, collected: Collected, *, sweep: bool,
                 output: Any) -> None:
    """Import, analyse and simulate one dump; append its rows to ``collected``."""
    workload, trace = load_workload(name, path, tmp)
    output.info(f"{name}: simulating every registered accelerator")
    results = simulate_all(workload)
    for acc, (_, breakdown) in results.items():
        collected.accelerators.append(accel_row(name, acc, breakdown))

    output.info(f"{name}: analysing")
    stats = analyse(trace)
    prosperity = results.get("Prosperity")
    density = density_row(name, stats) if stats is not None else None
    if density is None and prosperity is not None and "bit_density" in prosperity[1].extra:
        density = density_row(name, prosperity[1])
    if density is not None:
        collected.density.append(density)
    elif prosperity is None:
        collected.skip(f"{name}: no Prosperity model registered: no density")

    for acc in LAYER_ACCELERATORS:
        if acc in results:
            collected.layers.setdefault(name, []).extend(
                layer_rows(name, acc, results[acc][1], layer_densities(stats)))

    if prosperity is None:
        return
    for label, changes in ABLATIONS.items():
        output.info(f"{name}: simulating {label}")
        ablation = simulate_all(workload, ["prosperity"], changes).get("Prosperity")
        if ablation is not None:
            collected.accelerators.append(accel_row(name, label, ablation[1]))
    if sweep:
        run_sweep(name, workload, prosperity[1], collected, output)


def run_sweep(name: str, workload: Any, default: Any, collected: Collected,
              output: Any) -> None:
    """Prosperity at Figure 7's tile sizes, normalised to its bit-sparsity latency."""
    from prosparsity.reports.rows import SweepRow

    bit = simulate_all(workload, ["prosperity"], ABLATIONS["Prosperity:bit"])["Prosperity"][1]
    configs = [(m, DEFAULT_TILE.tile_k) for m in SWEEP_TILE_M]
    configs += [(DEFAULT_TILE.tile_m, k) for k in SWEEP_TILE_K if k != DEFAULT_TILE.tile_k]
    for tile_m, tile_k in configs:
        if (tile_m, tile_k) == DEFAULT_TILE:
            breakdown = default
        else:
            output.info(f"{name}: Prosperity at tile {tile_m}x{tile_k}")
            breakdown = simulate_all(workload, ["prosperity"],
                                     {"tile_m": tile_m, "tile_k": tile_k})["Prosperity"][1]
        collected.sweep.append(SweepRow(
            workload=name, tile_m=tile_m, tile_k=tile_k, latency_s=breakdown.latency_s,
            bit_sparsity_latency_s=bit.latency_s,
            product_density=float(breakdown.extra["product_density"]),
            bit_density=float(breakdown.extra["bit_density"]),
            total_cycles=float(breakdown.total_cycles)))


# ----------------------------------------------------------------------------- output
def gpu_baseline(rows: Sequence[Any]) -> str:
    """The GPU to show speedups over: the paper's measured A100 where any workload has it,
    else the first GPU-equivalent model (``gpu-a100``)."""
    names = list(dict.fromkeys(r.accelerator for r in rows))
    if "A100" in names:
        return "A100"
    return next((n for n in names if n.lower().startswith("gpu-")), "A100")


def build_reports(collected: Collected, official: Any,
                  gpu: str | None = None) -> list[tuple[str, Any]]:
    """``(file stem, Report)`` for every report the collected rows allow.

    The density report is Figure 11: its reference is the paper first. The other reports
    prefer the authors' simulator run on the very same trace (``official``) and fall back
    to the paper, so a trace that is not the paper's data (a synthetic one) is still
    checked number for number against the simulator.
    """
    from prosparsity.reports.build import (
        accelerator_report,
        density_report,
        layer_report,
        sweep_report,
    )
    from prosparsity.reports.paper import paper_reference

    paper_first: Sequence[Any] = (paper_reference, official)
    references: Sequence[Any] = (official, paper_reference)
    reports: list[tuple[str, Any]] = []
    if collected.density:
        reports.append(("density", density_report(collected.density, paper_first)))
    if collected.accelerators:
        reports.append(("accelerators", accelerator_report(
            collected.accelerators, baseline="Eyeriss",
            also=("PTB", gpu or gpu_baseline(collected.accelerators)),
            references=references)))
    if collected.sweep:
        reports.append(("sweep", sweep_report(collected.sweep, references)))
    for workload, rows in collected.layers.items():
        reports.append((f"layers_{workload}", layer_report(rows, references)))
    return reports


def write_and_print(collected: Collected, official: Any, out: Path, *, plots: bool,
                    output: Any, title: str, gpu: str | None = None) -> int:
    """Print every report and the summary; write the exports. Returns the flag count."""
    from rich.rule import Rule

    from prosparsity.reports.export import atomic_write, export_report, to_markdown
    from prosparsity.reports.render import render_report, render_summary

    reports = build_reports(collected, official, gpu=gpu)
    written: list[Path] = []
    try:
        for stem, report in reports:
            output.print(render_report(report))
            output.print("")
            written += export_report(report, out, stem=stem, plot=plots)
        sections = [to_markdown(report) for _, report in reports]
        if collected.skipped:
            sections.append(
                "Skipped:\n\n" + "\n".join(f"- {s}" for s in collected.skipped) + "\n")
        written.append(
            atomic_write(out / "summary.md", f"# {title}\n\n" + "\n".join(sections)))
    except OSError as exc:  # permission denied, disk full, ... (each file is atomic)
        raise HarnessError(f"--out {out}: cannot write the exports: "
                           f"{exc.strerror or exc}") from None
    output.print(Rule("summary"))
    output.print(render_summary([r for _, r in reports]))
    for message in collected.skipped:
        output.warn(f"skipped: {message}")
    output.info(f"wrote {len(written)} files to {out}")
    return sum(len(r.flagged()) for _, r in reports)
