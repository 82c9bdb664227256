"""The component model's calibration: one factor and the bands its errors justify.

Fitted by :func:`prosparsity.accel.energy.calibration.calibrate` against the paper's
Figure 8 Prosperity energies (16 workloads) and checked against it by a test
(``tests/accel/test_energy_calibration.py``). After a change of the model, refit with
``python bench/energy_calibration.py`` and copy the constants it prints here
(docs/energy-and-area.md, "Calibration", shows the table of 2026-12-07).
"""

from __future__ import annotations

CALIBRATION_FACTOR = 1.3833143198896827
"""The one factor on the component model's on-chip energy (dynamic and leakage): the
geometric mean, over Figure 8's 16 workloads, of the paper's on-chip energy
(446.5 mW x latency) over the model's."""

ENERGY_ERROR_RANGE = (-0.115, 0.104)
"""Leave-one-out relative errors of the calibrated total energy against Figure 8
(lowest, highest), rounded outward: a figure ``E`` stands for ``E / 1.104 .. E / 0.885``."""

POWER_ERROR_RANGE = (-0.25, 0.283)
"""Leave-one-out relative errors of the calibrated on-chip power against the paper's
446.5 mW (lowest, highest), rounded outward: the band of every power figure."""
