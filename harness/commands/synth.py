"""`prosparsity trace synth --workload NAME -o t.h5`: a synthetic trace at official shapes.

Adds ``synth`` to the ``trace`` sub-app (registered by ``harness/commands/trace.py``),
found by name on the root app, so this module and ``trace`` do not import each other.
The generator is :mod:`prosparsity.traces.synth`; this command only looks up the paper's
bit density of the workload (Figure 11) when ``--bit-density`` is not given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prosparsity.harness.options import COUNT, SEED, bounded, float_in


def register(app: typer.Typer) -> None:
    """Attach ``synth`` to the ``trace`` group of the root app (registered before)."""
    for group in app.registered_groups:
        if group.name == "trace" and group.typer_instance is not None:
            group.typer_instance.command("synth")(synth)
            return
    raise RuntimeError("register the `trace` command group before `trace synth`")


def synth(
    workload: Annotated[str, typer.Option(
        "--workload", help="Paper workload (see `prosparsity trace workloads`).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Trace file to write.")],
    bit_density: Annotated[float | None, bounded(
        float_in(0.0, 1.0), "--bit-density",
        help="Spike probability (default: the paper's Figure 11 value for the workload).")
    ] = None,
    samples: Annotated[int, bounded(COUNT, "--samples", help="Samples to draw.")] = 1,
    seed: Annotated[int, bounded(SEED, "--seed", help="Random seed.")] = 0,
    repeat: Annotated[float | None, bounded(
        float_in(0.0, 1.0), "--repeat",
        help="Share of bits repeated across time steps (default 0.7).")] = None,
    no_size_check: Annotated[bool, typer.Option(
        "--no-size-check", help="Write even when the estimated size exceeds the free disk "
        "or its peak the available memory.")] = False,
) -> None:
    """Write a synthetic trace: Bernoulli spikes at a paper workload's official shapes."""
    from prosparsity.core.errors import ConfigError
    from prosparsity.harness.console import get_output
    from prosparsity.paper.fig11 import FIG11_BIT_DENSITY, FIG11_SOURCE
    from prosparsity.traces.synth import DEFAULT_REPEAT_FRACTION, SynthSpec, write_synthetic
    from prosparsity.traces.workloads import WORKLOADS

    if workload not in WORKLOADS:
        raise ConfigError("--workload", f"unknown workload '{workload}' "
                          f"(known: {', '.join(WORKLOADS)})")
    output = get_output()
    density = bit_density
    if density is None:
        if workload not in FIG11_BIT_DENSITY:  # pragma: no cover - every workload has one
            raise ConfigError("--bit-density", f"the paper gives no bit density for {workload}")
        density = FIG11_BIT_DENSITY[workload]
    spec = SynthSpec(workload=workload, bit_density=density, samples=samples, seed=seed,
                     repeat_fraction=DEFAULT_REPEAT_FRACTION if repeat is None else repeat)
    path = write_synthetic(spec, out, check_size=not no_size_check)
    if bit_density is None:
        output.info(f"bit density {density:.6g} ({FIG11_SOURCE})")
    output.info(f"wrote {path}: synthetic {workload}, {samples} sample(s), bit density "
                f"{density:.6g}, {spec.repeat_fraction:.0%} of bits repeated across time "
                f"steps, seed {seed}")
