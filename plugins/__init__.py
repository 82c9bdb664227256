"""Accelerator models shipped with the harness as plugins (``prosparsity.plugins``).

Each subpackage is written only against the public protocol of the harness
(:mod:`prosparsity.accel.registry`, :mod:`prosparsity.accel.base`,
:mod:`prosparsity.analysis.counters`, :mod:`prosparsity.analysis.stats`,
:mod:`prosparsity.core`), as a third party would write one: its sparsity paradigm as
an analysis, counters of the counter protocol, a frozen config, a pure cost model and
its registration (``MODEL``). The harness finds them through the entry points that
``pyproject.toml`` declares (``prosparsity.accelerators``, ``prosparsity.counters``),
exactly as it finds an installed third party's; no stage of the harness imports this
package (import-linter checks both directions).

* :mod:`prosparsity.plugins.phi`: Phi (Wei et al., ISCA 2025), pattern-based
  hierarchical sparsity;
* :mod:`prosparsity.plugins.bishop`: Bishop (Xu et al., ISCA 2025), token-time bundles
  on heterogeneous cores (spiking transformers only).

Neither paper released a simulator and only their abstracts could be read: both cost
models are first-order models on Prosperity's chip (:mod:`prosparsity.plugins.frame`;
docs/phi-and-bishop.md), and say so in every report ("first-order model, no reference
simulator").
"""
