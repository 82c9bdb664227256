"""Interoperability with the field's exchange formats and benchmarks.

* :mod:`prosparsity.interop.nir`: build a capturable network from a NIR graph
  (``prosparsity capture --nir GRAPH.nir``).
* :mod:`prosparsity.interop.neurobench`: NeuroBench workload metrics that report the
  harness's product density and Prosperity cycles beside NeuroBench's own (optional
  extra ``prosparsity[neurobench]``).

This package sits above the stages it joins: it uses ``models`` (capture), ``analysis``
and ``accel``; nothing below imports it.
"""
