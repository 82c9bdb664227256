"""Accelerator models shipped with the harness as plugins (``prosparsity.plugins``).

Each subpackage is written only against the public protocol of the harness
(:mod:`prosparsity.accel.base`, :mod:`prosparsity.analysis.counters`,
:mod:`prosparsity.analysis.stats`, :mod:`prosparsity.analysis.grid`,
:mod:`prosparsity.core`), as a third party would write one: its sparsity paradigm as
an analysis, a counter of the counter protocol, a frozen config and a pure cost model.
No stage of the harness imports this package (import-linter checks both directions).

* :mod:`prosparsity.plugins.phi`: Phi (Wei et al., ISCA 2025), pattern-based
  hierarchical sparsity;
* :mod:`prosparsity.plugins.bishop`: Bishop (Xu et al., ISCA 2025), token-time bundles
  on heterogeneous cores.

Neither paper released a simulator and only their abstracts could be read: both cost
models are first-order models on Prosperity's chip (docs/phi-and-bishop.md).
"""
