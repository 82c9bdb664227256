"""Phi and Bishop beside Prosperity on the reference traces (docs/phi-and-bishop.md).

1. **Cycles.** Total cycles of Prosperity (paper design), Prosperity's bit-sparsity
   ablation (the frame the plugins price in), PTB, MINT, Phi and Bishop (first-order
   models, default configs, found through their entry points; Bishop on the
   transformers only) on the LeNet-5 trace and the four synthetic transformer traces,
   through ``prosparsity.simulate``, and each one's ratio to Prosperity.
2. **Densities.** Bit, product, pattern, correction and bundle density of the weight
   GEMMs of each trace (pass-weighted, spec §4), and the stratifier's dense share:
   ``prosparsity.count`` with the counters ``phi_counts`` and ``bishop_bundles`` (what
   ``prosparsity analyze --counter`` shows).
3. **Sensitivity.** Phi's cycles against ``k``, the segment width and where the
   pattern-weight products live; Bishop's against the bundle size and the threshold
   (LeNet-5 and Spikformer).
4. **Held-out calibration** (``--held-out TRACE``, a trace of several samples, e.g.
   ``prosparsity capture digits-cnn -o digits-cnn.h5 --samples 8``): ``simulate`` with
   Phi's patterns chosen on the calibration samples and priced on the others (its
   default on such a trace), against patterns chosen on each priced sample itself
   (``calibration_samples=()``), over the same priced samples.
5. **Time.** Counting each trace without and with the counters the plugins' default
   configs add (Phi's histogram, Bishop's bundles), and ``simulate`` with every
   registered model (the default, plugins included) against the built-ins only, best
   of ``--repeats`` (timings under load are noisy: the load average is printed).

Usage: ``python bench/bench_plugins.py [--repeats N] [--quick] [--held-out TRACE ...]``
(``--quick``: LeNet-5 and Spikformer only). Reference data is read from ``../shared/reference``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import prosparsity as ps
from prosparsity.accel.registry import registry
from prosparsity.analysis.density import count
from prosparsity.analysis.network import Workload
from prosparsity.engine import count_for
from prosparsity.plugins import bishop, phi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import best_of, load_average, require_reference  # noqa: E402

SYNTHETIC = ("spikformer_cifar10", "sdt_cifar10", "spikebert_sst2", "spikingbert_sst2")
COMPARED = ("prosperity", "ptb", "mint", "phi", "bishop")


def workload(name: str) -> Workload:
    ref = require_reference()
    path = ref / ("traces" if name == "lenet5_mnist" else "synthetic") / f"{name}.npz"
    return Workload.from_paper(name, arrays=np.load(path))


def cycles(wl: Workload) -> None:
    sim = ps.simulate(wl, COMPARED)
    bit = ps.simulate(wl, ["prosperity"], overrides={"sparsity": "bit"})["prosperity"]
    base = sim["prosperity"].total_cycles
    rows = [(r.model.display, r.total_cycles) for r in sim.accelerators.values()
            if r is not None]
    rows.insert(1, ("Prosperity:bit", bit.total_cycles))
    print(f"\n{wl.name}: total cycles (ratio to Prosperity)")
    for label, total in rows:
        print(f"  {label:15s} {total:>14,.0f}  {total / base:6.2f}x")
    for name, why in sim.skipped.items():
        print(f"  skipped {name}: {why}")
    counted = ps.count(wl, counters=["phi_counts", "bishop_bundles"])
    d = {n: counted.counter_density(n).mean for n in counted.density_names}
    print(f"  densities: bit {counted.bit_density.mean:.4f}, product "
          f"{counted.product_density.mean:.4f}, pattern {d['pattern_density']:.4f}, "
          f"correction {d['correction_density']:.4f} (Phi "
          f"{d['pattern_density'] + d['correction_density']:.4f}), bundle "
          f"{d['bundle_density']:.4f}, dense share {d['dense_share']:.3f}")


def sensitivity(wl: Workload) -> None:
    pros = registry()["prosperity"]
    base_stats = count_for(wl, [pros.needs()])[0]
    base = pros.simulate(base_stats, pros.default_config()).total_cycles
    print(f"\n{wl.name}: Phi ratio to Prosperity (pattern + correction density)")
    for width in (8, 16):
        for k in (4, 16, 64, 256):
            for dram in (True, False):
                cfg = phi.PhiConfig(k=k, width=width, pwp_in_dram=dram)
                stats = count_for(wl, [phi.needs(cfg)])[0]
                d, _ = phi.densities(stats, cfg)
                print(f"  width {width:2d} k {k:3d} PWP {'DRAM' if dram else 'chip'}: "
                      f"{phi.simulate(stats, cfg).total_cycles / base:6.2f}x  "
                      f"({d.pattern_density:.4f} + {d.correction_density:.4f})")
    print(f"\n{wl.name}: Bishop ratio to Prosperity (bundle density, dense share)")
    for tokens, steps in ((1, 1), (2, 2), (4, 4), (8, 4)):
        for threshold in (0.25, 0.5, 1.0):
            cfg = bishop.BishopConfig(bundle_tokens=tokens, bundle_steps=steps,
                                      threshold=threshold)
            stats = count_for(wl, [bishop.needs(cfg)])[0]
            d, _ = bishop.densities(stats, cfg)
            print(f"  bundle {tokens}x{steps}x16 threshold {threshold:4.2f}: "
                  f"{bishop.simulate(stats, cfg).total_cycles / base:6.2f}x  "
                  f"({d.bundle_density:.4f}, {d.dense_share:.3f})")


def held_out(path: Path) -> None:
    with ps.open(path) as trace:
        n = trace.workload.samples()
        print(f"\n{path.name}: {n} samples; Phi (k=16, width 16) priced on the samples "
              "not used to calibrate")
        for calib in ((0,), tuple(range(n // 2))):
            held = ps.simulate(trace, ["prosperity", "phi"],
                               overrides={"calibration_samples": calib})
            own = ps.simulate(trace, ["prosperity", "phi"],
                              overrides={"calibration_samples": ()})
            rest = held["phi"].ids
            for label, sim in (("held-out", held), ("self", own)):
                phi_runs = dict(zip(sim["phi"].ids, sim["phi"].runs, strict=True))
                pros_runs = dict(zip(sim["prosperity"].ids, sim["prosperity"].runs,
                                     strict=True))
                work = sum(phi_runs[b].extra["pattern_density"]
                           + phi_runs[b].extra["correction_density"] for b in rest)
                ratio = sum(phi_runs[b].total_cycles / pros_runs[b].total_cycles
                            for b in rest)
                print(f"  calibration {calib!s:14s} {label:8s}: pattern + correction "
                      f"density {work / len(rest):.4f}, Phi / Prosperity "
                      f"{ratio / len(rest):.2f}x (mean of {len(rest)} samples)")


def timing(wl: Workload, repeats: int) -> None:
    counters = (phi.PhiConfig().counter, bishop.BishopConfig().counter)
    count(wl, 256, 16, counters)  # warm up (numba, caches)
    alone = best_of(lambda: count(wl, 256, 16), repeats)
    both = best_of(lambda: count(wl, 256, 16, counters), repeats)
    builtins = [n for n, m in registry().items() if not m.plugin]
    every = best_of(lambda: ps.simulate(wl), repeats)
    host = best_of(lambda: ps.simulate(wl, builtins), repeats)
    print(f"  {wl.name:20s} count {alone * 1e3:8.1f} ms, with Phi's and Bishop's counters "
          f"{both * 1e3:8.1f} ms; simulate built-ins {host * 1e3:8.1f} ms, every "
          f"registered model {every * 1e3:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--held-out", type=Path, action="append", default=[])
    args = parser.parse_args()
    names = ["lenet5_mnist", "spikformer_cifar10"] + ([] if args.quick else list(SYNTHETIC[1:]))
    print(f"load average before: {load_average():.2f}")
    loaded = {name: workload(name) for name in names}
    for wl in loaded.values():
        cycles(wl)
    for name in ("lenet5_mnist", "spikformer_cifar10"):
        sensitivity(loaded[name])
    for path in args.held_out:
        held_out(path)
    print("\ntime, best of", args.repeats)
    for wl in loaded.values():
        timing(wl, args.repeats)
    print(f"load average after: {load_average():.2f}")


if __name__ == "__main__":
    main()
