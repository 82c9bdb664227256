"""Spike traces: the HDF5 trace format, its reader and writer, importers for the
paper's spike dumps and the paper's workload definitions. The analysis of traces
(spiking GEMMs, product sparsity, densities) is the stage above, :mod:`prosparsity.analysis`.

Kept import-light: nothing here imports h5py, numba or torch at package import time.
"""
