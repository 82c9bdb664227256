"""Counting in a forked child after the parent has counted: the kernel's thread pool does
not survive ``fork`` (its threads are the parent's), so the child must start its own
instead of waiting for ever on threads that do not exist (``multiprocessing`` forks by
default on Linux)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import prosparsity as ps
from prosparsity.analysis import _threads
from prosparsity.traces.synth import SynthSpec, write_synthetic

LIMIT_S = 60


def _child(path: str, queue: multiprocessing.Queue) -> None:
    queue.put(ps.count(path, batched=True).stats.product_density)


@pytest.mark.skipif(_threads._cores() < 2, reason="one core: the kernel runs without a pool")
def test_a_forked_child_counts_after_its_parent(tmp_path: Path) -> None:
    path = tmp_path / "lenet5.h5"
    write_synthetic(SynthSpec(workload="lenet5_mnist", bit_density=0.25, seed=3), path)
    parent = ps.count(path, batched=True).stats.product_density  # the pool now runs
    assert _threads._pool.cache_info().currsize == 1  # the operand was large enough
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(str(path), queue))
    child.start()
    child.join(LIMIT_S)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail(f"the forked child did not finish counting within {LIMIT_S} s")
    assert child.exitcode == 0
    assert queue.get(timeout=5) == parent
