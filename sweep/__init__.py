"""prosparsity.sweep: design-space sweeps on Dask (``prosparsity sweep SPEC.toml``).

A sweep spec (:mod:`~prosparsity.sweep.spec`) names traces, tile sizes and accelerator
configurations; the engine (:mod:`~prosparsity.sweep.engine`) runs one counting task per
(trace, sample, tile), counting every counter its configurations need, and one pricing
task per (counting result, accelerator configuration) on a ``dask.distributed`` cluster
(or in this process), caches every result by content
(:mod:`~prosparsity.sweep.cache`), and writes long-form result tables
(:mod:`~prosparsity.sweep.results`) and a summary (:mod:`~prosparsity.sweep.summary`).
The stage functions the tasks run are in :mod:`~prosparsity.sweep.stages`.

The package sits above ``accel`` / ``analysis`` / ``traces`` and below ``harness``; it
never prints (the CLI renders its progress and summary through ``reports``).
"""
