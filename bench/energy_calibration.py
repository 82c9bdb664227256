"""Refit the component energy model's calibration and print the constants.

Runs :func:`prosparsity.accel.energy.calibration.calibrate` (the model against the
paper's Figure 8 Prosperity energies, from the paper's statistics) and prints, per
workload, the model's energy, the paper's, the error and the leave-one-out error, then
the three constants of ``accel/energy/fitted.py`` as they should read. After a change of
the component model, copy them there (``tests/accel/test_energy_calibration.py`` fails
until they match) and update docs/energy-and-area.md's table.

Usage: ``python bench/energy_calibration.py``.
"""

from __future__ import annotations

from prosparsity.accel.energy.calibration import calibrate


def main() -> None:
    fit = calibrate()
    print(f"{'workload':24s} {'model mJ':>10s} {'paper mJ':>10s} {'error':>8s} {'LOO':>8s}")
    for r in fit.rows:
        print(f"{r.workload:24s} {r.model_energy_mj:10.4g} {r.paper_energy_mj:10.4g} "
              f"{r.error:+8.1%} {r.loo_error:+8.1%}")
    energy, power = fit.band_constants()
    print(f"\nCALIBRATION_FACTOR = {fit.factor!r}")
    print(f"ENERGY_ERROR_RANGE = {energy!r}")
    print(f"POWER_ERROR_RANGE = {power!r}")


if __name__ == "__main__":
    main()
