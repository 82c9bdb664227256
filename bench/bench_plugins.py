"""Phi and Bishop beside Prosperity on the reference traces (docs/phi-and-bishop.md).

1. **Cycles.** Total cycles of Prosperity (paper design), Prosperity's bit-sparsity
   ablation (the frame the plugins price in), PTB, MINT, Phi and Bishop (first-order
   models, default configs) on the LeNet-5 trace and the four synthetic transformer
   traces, and each one's ratio to Prosperity.
2. **Densities.** Bit, product, pattern, correction and bundle density of the weight
   GEMMs of each trace (pass-weighted, spec §4), and the stratifier's dense share.
3. **Sensitivity.** Phi's cycles against ``k``, the segment width and where the
   pattern-weight products live; Bishop's against the bundle size and the threshold
   (LeNet-5 and Spikformer).
4. **Held-out calibration** (``--held-out TRACE``, a trace of several samples, e.g.
   ``prosparsity capture digits-cnn -o digits-cnn.h5 --samples 8``): Phi's patterns
   chosen on the first samples price the others, against patterns chosen on each priced
   sample itself (the default when a trace holds one sample).
5. **Counting time.** Counting each trace without and with the plugins' counters, best
   of ``--repeats`` (timings under load are noisy: the load average is printed).

Usage: ``python bench/bench_plugins.py [--repeats N] [--quick] [--held-out TRACE ...]``
(``--quick``: LeNet-5 and Spikformer only). Reference data is read from ``../shared/reference``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from prosparsity.accel.base import count_for, registry
from prosparsity.analysis.density import count
from prosparsity.analysis.network import Workload
from prosparsity.plugins import bishop, phi
from prosparsity.plugins.paradigms import needs as paradigm_needs
from prosparsity.plugins.paradigms import paradigm_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import best_of, load_average, require_reference  # noqa: E402

SYNTHETIC = ("spikformer_cifar10", "sdt_cifar10", "spikebert_sst2", "spikingbert_sst2")


def workload(name: str) -> Workload:
    ref = require_reference()
    path = ref / ("traces" if name == "lenet5_mnist" else "synthetic") / f"{name}.npz"
    return Workload.from_paper(name, arrays=np.load(path))


def cycles(wl: Workload) -> None:
    reg = registry()
    pros = reg["prosperity"]  # type: ignore[index]
    bit = dataclasses.replace(pros.default_config(), sparsity="bit")
    models = [("Prosperity", pros, pros.default_config()), ("Prosperity:bit", pros, bit),
              ("PTB", reg["ptb"], None), ("MINT", reg["mint"], None)]  # type: ignore[index]
    stats = count_for(wl, [pros.needs(), reg["ptb"].needs(),  # type: ignore[index]
                           phi.needs(phi.PhiConfig()), bishop.needs(bishop.BishopConfig())])[0]
    base = pros.simulate(stats, pros.default_config()).total_cycles
    rows = [(label, m.simulate(stats, c or m.default_config()).total_cycles)
            for label, m, c in models]
    rows += [("Phi", phi.simulate(stats).total_cycles),
             ("Bishop", bishop.simulate(stats).total_cycles)]
    print(f"\n{wl.name}: total cycles (ratio to Prosperity)")
    for label, total in rows:
        print(f"  {label:15s} {total:>14,.0f}  {total / base:6.2f}x")
    model, _ = paradigm_rows(stats)
    print(f"  densities: bit {model.bit_density:.4f}, product {model.product_density:.4f}, "
          f"pattern {model.pattern_density:.4f}, correction {model.correction_density:.4f} "
          f"(Phi {model.phi_density:.4f}), bundle {model.bundle_density:.4f}, "
          f"dense share {model.dense_share:.3f}")


def sensitivity(wl: Workload) -> None:
    pros = registry()["prosperity"]  # type: ignore[index]
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
    from prosparsity.traces.io import TraceReader

    pros = registry()["prosperity"]  # type: ignore[index]
    with TraceReader(path) as reader:
        wl = Workload.from_reader(reader)
        n = wl.samples()
        print(f"\n{path.name}: {n} samples; Phi (k=16, width 16) priced on the samples "
              "not used to calibrate")
        for calib in ((0,), tuple(range(n // 2))):
            cfg = phi.calibrate_workload(wl, phi.PhiConfig(calibration_samples=calib))
            rest = phi.evaluated_samples(n, calib)
            for label, config in (("held-out", cfg), ("self", phi.PhiConfig())):
                work = ratio = 0.0
                for b in rest:
                    stats = count_for(wl.sample(b), [pros.needs(), phi.needs(config)])[0]
                    d, _ = phi.densities(stats, config)
                    work += d.work_density
                    ratio += (phi.simulate(stats, config).total_cycles
                              / pros.simulate(stats, pros.default_config()).total_cycles)
                print(f"  calibration {calib!s:14s} {label:8s}: pattern + correction "
                      f"density {work / len(rest):.4f}, Phi / Prosperity "
                      f"{ratio / len(rest):.2f}x (mean of {len(rest)} samples)")


def counting_time(wl: Workload, repeats: int) -> None:
    counters = tuple(paradigm_needs().counters)
    count(wl, 256, 16, counters)  # warm up (numba, caches)
    alone = best_of(lambda: count(wl, 256, 16), repeats)
    both = best_of(lambda: count(wl, 256, 16, counters), repeats)
    print(f"  {wl.name:20s} count {alone * 1e3:8.1f} ms, with Phi's and Bishop's counters "
          f"{both * 1e3:8.1f} ms")


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
    print("\ncounting time, best of", args.repeats)
    for wl in loaded.values():
        counting_time(wl, args.repeats)
    print(f"load average after: {load_average():.2f}")


if __name__ == "__main__":
    main()
