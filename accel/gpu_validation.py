"""The GPU-equivalent model (:mod:`prosparsity.accel.gpu`) fitted and validated against
measured latencies.

The model is linear in its host constants (a time per kernel launch for each
implementation family, or one per launch and one per inference for all), so
:func:`fit_host` fits them to measured end-to-end latencies by non-negative least
squares on relative errors. :func:`validate_gpu_model` reports the in-sample error (fitted
to every point) beside the leave-one-out error (refitted without the point, then
predicted): the band every prediction carries comes from the latter
(:data:`prosparsity.accel.gpu.LOO_ERROR_RANGE`). It also names the measured points that
no model of this kind explains (:attr:`GPUValidation.unexplained`) and those it cannot
tell apart (:attr:`GPUValidation.indistinguishable`). ``prosparsity gpu-error`` prints
all of it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from prosparsity.accel.gpu import GPUConfig, GPUFamily, HostOverheads, layer_time, works_of
from prosparsity.analysis.network import Workload
from prosparsity.core.errors import ConfigError

__all__ = ["UNEXPLAINED_SPREAD", "GPUValidation", "HostFit", "MeasuredPoint", "ValidationRow",
           "fit_host", "measured_points", "validate_gpu_model"]


class HostFit(StrEnum):
    """Which host constants :func:`fit_host` fits."""

    PER_FAMILY = "per-family"  # t_kernel per family, no t_inference (this model)
    GLOBAL = "global"  # one t_kernel and one t_inference for all (the earlier model)


@dataclass(frozen=True)
class MeasuredPoint:
    """A measured latency and what the model knows of that workload.

    Attributes:
        workload: paper workload name.
        family: its implementation family.
        measured_s: measured end-to-end latency, s.
        device_s: the model's device time (roofline) on the config's GPU, s.
        launches: the model's kernel launches.
    """

    workload: str
    family: GPUFamily
    measured_s: float
    device_s: float
    launches: int

    def predict_s(self, host: HostOverheads) -> float:
        """``t_inference + launches * t_kernel(family) + device_s``."""
        return host.inference_s + self.launches * host.kernel_s_of(self.family) + self.device_s

    def needed_kernel_s(self, inference_s: float = 0.0) -> float:
        """The host time per launch that would reproduce this measurement exactly."""
        return (self.measured_s - inference_s - self.device_s) / max(1, self.launches)


def measured_points(measured_s: Mapping[str, float] | None = None,
                    config: GPUConfig | None = None) -> tuple[MeasuredPoint, ...]:
    """Device time and launches of each measured paper workload under ``config``.

    Args:
        measured_s: paper workload -> measured latency, s (default: the paper's 12 A100
            latencies).
        config: the GPU model (default: the A100 preset).
    """
    from prosparsity.paper.fig8 import A100_MEASURED_LATENCY_S

    config = config or GPUConfig()
    points = []
    for name, value in (A100_MEASURED_LATENCY_S if measured_s is None else measured_s).items():
        if not value > 0:
            raise ConfigError(f"gpu.measured_s.{name}", f"must be > 0 s, got {value}")
        family, _, works = works_of(Workload.from_paper(name), config)
        device = sum(layer_time(w, config.spec, 0.0).device_s for _, w in works)
        points.append(MeasuredPoint(name, family, float(value), device,
                                    sum(w.kernels for _, w in works)))
    return tuple(points)


def fit_host(points: Sequence[MeasuredPoint],
             structure: HostFit = HostFit.PER_FAMILY) -> HostOverheads:
    """Host constants that minimise ``Σ (model / measured - 1)²`` (non-negative).

    ``PER_FAMILY``: one time per kernel launch for each family present in ``points``;
    ``GLOBAL``: one time per launch and one per inference, shared by every family. The
    model is linear in the constants, so this is a non-negative least-squares problem
    (``scipy.optimize.nnls``) on the rows ``x_i / y_i`` against ``1 - device_i / y_i``.

    Raises:
        ConfigError: no points.
    """
    import numpy as np
    from scipy.optimize import nnls

    if not points:
        raise ConfigError("gpu.fit", "no measured points to fit")
    structure = HostFit(structure)
    y = np.array([p.measured_s for p in points])
    rhs = 1.0 - np.array([p.device_s for p in points]) / y
    if structure is HostFit.PER_FAMILY:
        families = sorted({p.family for p in points}, key=list(GPUFamily).index)
        x = np.array([[p.launches if p.family is f else 0.0 for f in families] for p in points])
        coef, _ = nnls(x / y[:, None], rhs)
        return HostOverheads({f: float(c) for f, c in zip(families, coef, strict=True)})
    x = np.array([[p.launches, 1.0] for p in points])
    coef, _ = nnls(x / y[:, None], rhs)
    return HostOverheads(dict.fromkeys(GPUFamily, float(coef[0])), inference_s=float(coef[1]))


@dataclass(frozen=True)
class ValidationRow:
    """One measured point: the in-sample and the leave-one-out prediction.

    Attributes:
        point: the measurement and the model's view of its workload.
        model_s: prediction with the constants fitted to every point, s.
        loo_s: prediction with the constants fitted to every other point, s.
    """

    point: MeasuredPoint
    model_s: float
    loo_s: float

    @property
    def workload(self) -> str:
        return self.point.workload

    @property
    def measured_s(self) -> float:
        return self.point.measured_s

    @property
    def error(self) -> float:
        """In-sample relative error ``model / measured - 1``."""
        return self.model_s / self.point.measured_s - 1.0

    @property
    def loo_error(self) -> float:
        """Leave-one-out relative error ``loo / measured - 1``."""
        return self.loo_s / self.point.measured_s - 1.0


#: A measured point is not explained by a model of this kind when the host time per
#: launch it needs is further than this from the median of its family's points.
UNEXPLAINED_SPREAD = 0.25


@dataclass(frozen=True)
class GPUValidation:
    """The GPU model against measured latencies: fit and leave-one-out prediction.

    Attributes:
        structure: which host constants were fitted.
        host: the constants fitted to every point.
        rows: one row per measured point, in the order given.
    """

    structure: HostFit
    host: HostOverheads
    rows: tuple[ValidationRow, ...]

    @property
    def in_sample_max(self) -> float:
        """Largest in-sample ``|model / measured - 1|``."""
        return max(abs(r.error) for r in self.rows)

    @property
    def in_sample_mean(self) -> float:
        """Mean in-sample ``|model / measured - 1|``."""
        return statistics.fmean(abs(r.error) for r in self.rows)

    @property
    def loo_max(self) -> float:
        """Largest leave-one-out ``|model / measured - 1|``."""
        return max(abs(r.loo_error) for r in self.rows)

    @property
    def loo_mean(self) -> float:
        """Mean leave-one-out ``|model / measured - 1|``."""
        return statistics.fmean(abs(r.loo_error) for r in self.rows)

    @property
    def loo_range(self) -> tuple[float, float]:
        """Smallest and largest signed leave-one-out error (the prediction band)."""
        errors = [r.loo_error for r in self.rows]
        return min(min(errors), 0.0), max(max(errors), 0.0)

    @property
    def unexplained(self) -> tuple[ValidationRow, ...]:
        """Points that need a host time per launch more than :data:`UNEXPLAINED_SPREAD`
        away from the median of their family: host time proportional to kernel launches,
        one constant per family, cannot reproduce them together with their family."""
        out = []
        for row in self.rows:
            family = [r.point.needed_kernel_s(self.host.inference_s) for r in self.rows
                      if r.point.family is row.point.family]
            median = statistics.median(family)
            needed = row.point.needed_kernel_s(self.host.inference_s)
            if len(family) > 1 and abs(needed / median - 1.0) > UNEXPLAINED_SPREAD:
                out.append(row)
        return tuple(out)

    def family_median_kernel_s(self, family: GPUFamily) -> float:
        """Median host time per launch the points of ``family`` need."""
        return statistics.median(r.point.needed_kernel_s(self.host.inference_s)
                                 for r in self.rows if r.point.family is family)

    @property
    def indistinguishable(self) -> tuple[tuple[ValidationRow, ...], ...]:
        """Groups of points whose workloads look the same to the model (same family,
        device time and launches) but were measured differently: no model of layer
        shapes separates them."""
        groups: dict[tuple[GPUFamily, float, int], list[ValidationRow]] = {}
        for row in self.rows:
            p = row.point
            groups.setdefault((p.family, round(p.device_s, 12), p.launches), []).append(row)
        return tuple(tuple(g) for g in groups.values()
                     if len(g) > 1 and len({r.measured_s for r in g}) > 1)


def validate_gpu_model(measured_s: Mapping[str, float] | None = None,
                       config: GPUConfig | None = None,
                       structure: HostFit = HostFit.PER_FAMILY) -> GPUValidation:
    """In-sample and leave-one-out error of the GPU model on measured latencies.

    The host constants (``structure``) are fitted to all points for the in-sample
    prediction, and to all points but one for that point's leave-one-out prediction; the
    device side (data sheet, ``config``) is never fitted. A point whose family has no
    other point is predicted with the fallback family's constant.

    Args:
        measured_s: paper workload -> measured latency (default: the paper's 12 A100
            latencies).
        config: the GPU model whose device side is used (default: the A100 preset).
        structure: which host constants are fitted.

    Raises:
        ConfigError: fewer than two points, or a bad latency.
    """
    points = measured_points(measured_s, config)
    if len(points) < 2:
        raise ConfigError("gpu.measured_s", "leave-one-out needs at least two points")
    host = fit_host(points, structure)
    rows = []
    for i, point in enumerate(points):
        others = fit_host(points[:i] + points[i + 1:], structure)
        rows.append(ValidationRow(point, point.predict_s(host), point.predict_s(others)))
    return GPUValidation(HostFit(structure), host, tuple(rows))
