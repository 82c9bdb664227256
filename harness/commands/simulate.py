"""`prosparsity simulate`: run the accelerator models on a trace or a paper workload."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from prosparsity.harness.console import get_output


class _Sparsity(StrEnum):
    product = "product"
    bit = "bit"
    dense = "dense"


def load_workload(target: str, workload: str | None = None) -> Any:
    """A :class:`~prosparsity.accel.workload.Workload` from a CLI argument.

    ``target`` is a trace file (format v1), an ``.npz`` spike dump of one of the paper's
    workloads (keyed as the authors key it; the workload is ``--workload`` or the file's
    stem), or the name of a paper workload (layer shapes only).

    Raises:
        HarnessError: nothing of that name, or an ``.npz`` without a paper workload.
    """
    from prosparsity.accel.workload import Workload
    from prosparsity.core.errors import ConfigError, TraceError
    from prosparsity.traces.workloads import WORKLOADS

    path = Path(target)
    if path.is_dir():
        raise TraceError(path, "is a directory, not a trace file")
    if path.is_file():
        if path.suffix == ".npz":
            import zipfile

            import numpy as np

            name = workload or path.stem
            if name not in WORKLOADS:
                raise TraceError(path, "an .npz dump needs --workload NAME (one of the "
                                 f"paper's workloads: {', '.join(WORKLOADS)}), or import it "
                                 "first with `prosparsity trace import`")
            if not zipfile.is_zipfile(path):  # np.load would call it "pickled data"
                raise TraceError(path, "cannot read .npz file: not a zip archive (empty, "
                                 "truncated or another format)")
            try:
                arrays = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise TraceError(path, f"not a readable .npz file ({exc})") from None
            return Workload.from_paper(name, arrays=arrays)
        return Workload.from_trace(path)
    if target in WORKLOADS:
        return Workload.from_paper(target)
    if path.suffix in (".h5", ".hdf5", ".npz") or "/" in target:
        raise TraceError(path, "file not found")
    raise ConfigError("TRACE", f"{target!r} is neither a file nor a paper workload "
                      f"(known: {', '.join(WORKLOADS)})")


def _fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(result: Any, layers: bool = False) -> list[Any]:
    """Rich renderables of a :class:`~prosparsity.accel.suite.SuiteResult`."""
    from rich.table import Table

    table = Table(title=f"simulate: {result.workload}", title_justify="left")
    table.add_column("accelerator", no_wrap=True,
                     min_width=max((len(n) for n in result.results), default=11))
    headers = ("cycles", "latency\n(ms)", "energy\n(mJ)", "DRAM\n(Mbit)", "latency ÷\nprosperity")
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    base = result.results.get("prosperity")
    for name, bd in result.results.items():
        if bd is None:
            table.add_row(name, "n/a", "n/a", "n/a", "n/a", "no figure")
            continue
        speed = "-"
        if base is not None and bd.latency_s > 0:
            speed = f"{bd.latency_s / base.latency_s:.2f}x"
        table.add_row(name, _fmt_int(bd.total_cycles), _fmt(bd.latency_s * 1e3, ".4f"),
                      _fmt(bd.energy_mj, ".4f"), _fmt(bd.dram_bits / 1e6, ".3f"), speed)
    out: list[Any] = [table]
    if layers:
        for name, bd in result.results.items():
            if bd is None or not bd.layers:
                continue
            lt = Table(title=f"{name}: per layer", title_justify="left")
            for col in ("layer", "op", "total", "compute", "mem stall", "added", "DRAM bits"):
                lt.add_column(col, justify="left" if col in ("layer", "op") else "right")
            for layer in bd.layers:
                lt.add_row(layer.name, layer.op, _fmt_int(layer.total_cycles),
                           _fmt_int(layer.compute_cycles), _fmt_int(layer.mem_stall_cycles),
                           _fmt_int(layer.network_cycles), _fmt_int(layer.dram_bits))
            out.append(lt)
    return out


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("simulate")
    def simulate(
        trace: Annotated[str, typer.Argument(
            help="Trace file, .npz dump of a paper workload, or a paper workload name "
                 "(layer shapes only).")],
        accel: Annotated[list[str] | None, typer.Option(
            "--accel", "-a", help="Accelerator (repeatable); default: all that apply.")] = None,
        tile_m: Annotated[int | None, typer.Option(
            "--tile-m", min=1, help="Prosperity tile rows.")] = None,
        tile_k: Annotated[int | None, typer.Option(
            "--tile-k", min=1, help="Prosperity tile columns.")] = None,
        issue_type: Annotated[int | None, typer.Option(
            "--issue-type", min=1, max=2, help="Prosperity issue type: 1 or 2.")] = None,
        sparsity: Annotated[_Sparsity | None, typer.Option(
            "--sparsity", help="Prosperity sparsity mode.")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload", help="Paper workload an .npz dump belongs to.")] = None,
        layers: Annotated[bool, typer.Option(
            "--layers", help="Also print per-layer tables.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Simulate accelerators (Prosperity and the baselines) on a trace."""
        from prosparsity.accel.suite import run_suite

        out = get_output()
        wl = load_workload(trace, workload)
        overrides = {"tile_m": tile_m, "tile_k": tile_k, "issue_type": issue_type,
                     "sparsity": None if sparsity is None else sparsity.value}
        result = run_suite(wl, names=accel or None, overrides=overrides)
        for name, why in result.skipped.items():
            out.info(f"skipped {name}: {why}")
        for name in result.unused_overrides:
            out.warn(f"--{name.replace('_', '-')} applies to none of the selected accelerators")
        if as_json:
            out.json(result.to_json())
        else:
            out.print(*render(result, layers))
