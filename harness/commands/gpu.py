"""`prosparsity gpu-error`: the GPU-equivalent model against measured GPU latencies.

Without options it validates the model against the 12 A100 latencies the Prosperity
authors measured (:func:`prosparsity.describe.gpu_check`): the in-sample error
(host constants fitted to all 12) beside the leave-one-out error (fitted to 11, the 12th
predicted), largest and mean of each, the band every prediction carries, and the measured
points no model of this kind explains. ``--structure global`` validates the earlier
structure (one launch cost and one per-inference cost for every family) the same way.
With ``--measure TRACE`` it runs the trace's GEMMs (dense FP32, ``torch.matmul`` on
CUDA) and prints the measured time of each beside the model's; without a CUDA GPU it
says so and exits 2.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from prosparsity.harness.console import get_output
from prosparsity.harness.options import bounded, int_in


class _GPU(StrEnum):
    a100 = "a100"
    h100 = "h100"


class _Structure(StrEnum):
    per_family = "per-family"
    global_ = "global"


def register(app: typer.Typer) -> None:
    """Attach this module's command(s) to the root app."""

    @app.command("gpu-error")
    def gpu_error(
        measure: Annotated[str | None, typer.Option(
            "--measure", metavar="TRACE",
            help="Time this trace's GEMMs on the local CUDA GPU beside the model.")] = None,
        workload: Annotated[str | None, typer.Option(
            "--workload", help="Paper workload an .npz dump given to --measure belongs to.")
        ] = None,
        gpu: Annotated[_GPU | None, typer.Option(
            "--gpu", help="GPU preset of the model for --measure (default: from the device).")
        ] = None,
        repeats: Annotated[int, bounded(int_in(1, 100_000), "--repeats",
                                        help="Timed runs per GEMM (--measure).")] = 20,
        structure: Annotated[_Structure, typer.Option(
            "--structure", help="Host constants to validate: per-family (the model) or "
                                "global (one launch and one inference cost for all).")
        ] = _Structure.per_family,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")
                           ] = False,
    ) -> None:
        """The GPU model against the 12 measured A100 latencies (or --measure a GPU).

        Prints the in-sample and leave-one-out errors (largest and mean) and the
        prediction band they justify."""
        from prosparsity.describe import gemm_timing_report, gpu_check
        from prosparsity.harness.envelope import document

        out = get_output()
        if measure is not None:
            import prosparsity as ps
            from prosparsity.interop.gpu_timing import measure_gemms

            with ps.open(measure, workload) as opened:
                name, rows = measure_gemms(opened.workload, None if gpu is None else gpu.value,
                                           repeats)
            if as_json:
                out.json(document("gpu-error", {"device": name,
                                                "gemms": [r.__dict__ for r in rows]},
                                  source=opened.source))
            else:
                out.reports([gemm_timing_report(name, rows)])
            return
        check = gpu_check(structure.value)
        if as_json:
            out.json(document("gpu-error", check.to_json()))
            return
        out.reports([check.report()])
