"""Analysis of traces (the *counting* stage): spiking GEMM rows, the ProSparsity kernel,
bit versus product density. Pure functions of traces and configs: no printing, no
global state."""
