"""Spike traces: the HDF5 trace format (v1), its reader and writer, importers for the
paper's spike dumps, the paper's workload definitions, and the analysis of traces
(spiking GEMMs, product sparsity, densities) in :mod:`prosparsity.traces.analysis`.

Kept import-light: nothing here imports h5py, numba or torch at package import time.
"""
