"""`prosparsity gpu-error`: the GPU-equivalent model against measured GPU latencies.

Without options it validates the model against the 12 A100 latencies the Prosperity
authors measured (:func:`prosparsity.accel.gpu.validate_gpu_model`): the in-sample error
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
from typing import TYPE_CHECKING, Annotated

import typer

from prosparsity.core.jsonvalue import JSON
from prosparsity.harness.console import get_output

if TYPE_CHECKING:
    from rich.table import Table

    from prosparsity.accel.gpu import GPUConfig, GPUValidation, MeasuredPoint
    from prosparsity.interop.gpu_timing import MeasuredGemm


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
        repeats: Annotated[int, typer.Option("--repeats", min=1,
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
                out.print(_measure_table(name, rows))
            return
        from prosparsity.accel.gpu import (
            H100_SXM,
            GPUConfig,
            HostFit,
            band_s,
            validate_gpu_model,
        )

        validation = validate_gpu_model(structure=HostFit(structure.value))
        # the H100 prediction with the host constants fitted to the 12 A100 points
        h100_config = GPUConfig(spec=H100_SXM, host=validation.host,
                                error_range=validation.loo_range)
        h100 = {p.workload: p.predict_s(validation.host)
                for p in _points(validation, h100_config)}
        bands = {w: band_s(s, validation.loo_range) for w, s in h100.items()}
        if as_json:
            out.json(document("gpu-error", _validation_json(validation, h100, bands)))
            return
        out.print(_validation_table(validation, h100, bands))


def _points(validation: GPUValidation, config: GPUConfig) -> tuple[MeasuredPoint, ...]:
    from prosparsity.accel.gpu import measured_points

    return measured_points({r.workload: r.measured_s for r in validation.rows}, config)


def _validation_json(v: GPUValidation, h100: dict[str, float],
                     bands: dict[str, tuple[float, float]]) -> dict[str, JSON]:
    return {
        "structure": str(v.structure),
        "host_s_per_kernel": dict(v.host.kernel_s),
        "inference_s": v.host.inference_s,
        "rows": [{"workload": r.workload, "family": str(r.point.family),
                  "kernel_launches": r.point.launches, "device_s": r.point.device_s,
                  "measured_s": r.measured_s, "model_s": r.model_s, "error": r.error,
                  "loo_model_s": r.loo_s, "loo_error": r.loo_error,
                  "h100_model_s": h100[r.workload], "h100_low_s": bands[r.workload][0],
                  "h100_high_s": bands[r.workload][1]} for r in v.rows],
        "in_sample": {"max_abs_error": v.in_sample_max, "mean_abs_error": v.in_sample_mean},
        "leave_one_out": {"max_abs_error": v.loo_max, "mean_abs_error": v.loo_mean,
                          "error_range": list(v.loo_range)},
        "max_abs_error": v.in_sample_max,
        "unexplained": [r.workload for r in v.unexplained],
        "indistinguishable": [[r.workload for r in g] for g in v.indistinguishable],
    }


def _validation_lines(v: GPUValidation) -> list[str]:
    """The caption: errors, the band, and what the model cannot explain, in words."""
    low, high = v.loo_range
    lines = [
        f"in-sample (host constants fitted to all {len(v.rows)}): max |error| "
        f"{v.in_sample_max * 100:.1f}%, mean |error| {v.in_sample_mean * 100:.1f}%",
        f"leave-one-out (fitted to the other {len(v.rows) - 1}, this one predicted): "
        f"max |error| {v.loo_max * 100:.1f}%, mean |error| {v.loo_mean * 100:.1f}%",
        f"band of every prediction p: measured between p/{1 + high:.3f} and "
        f"p/{1 + low:.3f} (leave-one-out errors {low * 100:+.1f}% .. {high * 100:+.1f}%)",
    ]
    for r in v.unexplained:
        need = r.point.needed_kernel_s(v.host.inference_s)
        median = v.family_median_kernel_s(r.point.family)
        lines.append(
            f"not explained by a model of this kind: {r.workload} ({r.measured_s * 1e3:.2f} ms "
            f"measured, {r.point.launches} kernel launches) needs {need * 1e6:.0f} us per "
            f"launch where its family ({r.point.family}) needs {median * 1e6:.0f} us")
    for group in v.indistinguishable:
        measured = [r.measured_s for r in group]
        spread = (max(measured) - min(measured)) / (max(measured) + min(measured))
        names = ", ".join(f"{r.workload} {r.measured_s * 1e3:.2f} ms" for r in group)
        lines.append(f"same layer shapes, measured differently ({names}): no shape-based "
                     f"model separates them (floor +-{spread * 100:.1f}%)")
    return lines


def _validation_table(v: GPUValidation, h100: dict[str, float],
                      bands: dict[str, tuple[float, float]]) -> Table:
    from rich.table import Table

    table = Table(title="GPU-equivalent model vs the A100 latencies measured by the "
                  f"Prosperity authors ({v.structure} host constants)",
                  title_justify="left", min_width=78)
    for col in ("workload", "family", "launches", "meas. ms", "model ms", "error",
                "LOO ms", "LOO error", "H100 ms (band)"):
        table.add_column(col, justify="left" if col in ("workload", "family") else "right")
    for r in v.rows:
        low, high = bands[r.workload]
        table.add_row(r.workload, str(r.point.family), str(r.point.launches),
                      f"{r.measured_s * 1e3:.2f}", f"{r.model_s * 1e3:.2f}",
                      f"{r.error * 100:+.1f}%", f"{r.loo_s * 1e3:.2f}",
                      f"{r.loo_error * 100:+.1f}%",
                      f"{h100[r.workload] * 1e3:.2f} ({low * 1e3:.1f}-{high * 1e3:.1f})")
    table.caption = "\n".join(_validation_lines(v))
    table.caption_justify = "left"
    return table


def _measure_table(device: str, rows: list[MeasuredGemm]) -> Table:
    from rich.table import Table

    table = Table(title=f"GEMMs measured on {device} (dense FP32 torch.matmul)",
                  title_justify="left")
    for col in ("layer", "M x K x N", "measured (us)", "model device (us)", "ratio",
                "model incl. launch (us)"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in rows:
        ratio = r.model_device_s / r.measured_s if r.measured_s > 0 else float("nan")
        table.add_row(r.layer, f"{r.m} x {r.k} x {r.n}", f"{r.measured_s * 1e6:.1f}",
                      f"{r.model_device_s * 1e6:.1f}", f"{ratio:.2f}",
                      f"{r.model_layer_s * 1e6:.1f}")
    return table
