"""The counting stage: spiking GEMM rows, the ProSparsity kernel, attention operands,
bit versus product density. Pure functions of traces and configs: no printing, no
global state; nothing here imports torch, rich or typer."""
