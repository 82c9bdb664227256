"""Types that no stage owns and every stage may import: the user-facing error types.

Nothing here imports numpy, h5py, numba or torch.
"""
