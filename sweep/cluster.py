"""Where a sweep's tasks run: a Dask client on a scheduler, or on a new local cluster.

:func:`scheduler_address` checks a ``--scheduler`` address before anything connects:
``tcp://HOST:PORT`` (or another transport Dask has: ``tls``, ``ws``, ``wss``, ``ucx``,
``inproc``), or ``HOST:PORT`` for TCP; an ``http://`` address (the dashboard's, a common
mix-up) or text that is no address at all is one clear error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prosparsity.core.errors import ConfigError
from prosparsity.core.resources import usable_cores

__all__ = ["dashboard_link_of", "default_workers", "open_client", "scheduler_address"]

_WEB = ("http", "https")


def scheduler_address(address: str) -> str:
    """``address`` checked as a Dask scheduler address (nothing connects).

    Raises:
        ConfigError: empty, a web address, an unknown transport, no port or a port outside
            1..65535, white space inside.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    text = address.strip()
    example = "give the scheduler's address, tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
    if not text or any(c.isspace() for c in text):
        raise ConfigError("--scheduler", f"{address!r} is not an address; {example}")
    scheme = text.split("://", 1)[0].lower() if "://" in text else "tcp"
    if scheme in _WEB:
        raise ConfigError("--scheduler", f"{address!r} is a web address (the dashboard's, "
                          f"not the scheduler's); {example}")
    if scheme not in backends:
        raise ConfigError("--scheduler", f"{address!r}: unknown transport '{scheme}' (Dask "
                          f"has {', '.join(sorted(backends))}); {example}")
    if scheme == "inproc":
        return text
    try:
        _, location = parse_address(text)
        _, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise ConfigError("--scheduler", f"{address!r} is not an address ({exc}); "
                          f"{example}") from None
    if not 1 <= int(port) <= 65535:
        raise ConfigError("--scheduler", f"{address!r}: port {port} is outside 1..65535")
    return text


def default_workers() -> int:
    """Worker processes of the default local cluster: one per usable core."""
    return usable_cores()


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                dashboard: bool = True) -> Iterator[Any]:
    """A ``distributed.Client``: on ``scheduler``, else on a new ``LocalCluster``.

    Args:
        scheduler: address of a running scheduler (``tcp://HOST:PORT``).
        workers: worker processes of the local cluster (default: one per core).
        dashboard: serve the local cluster's dashboard on port 8787 (a free port when
            8787 is taken); without it the scheduler's HTTP server takes a free port.

    Raises:
        ConfigError: the scheduler cannot be reached, or fewer than one worker.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError("--scheduler", f"cannot connect to {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ConfigError("--workers", f"a local cluster needs >= 1 worker, got {n}")
    # The scheduler serves HTTP even without a dashboard; off, it takes a free port (so
    # parallel sweeps and tests never collide on 8787) and is not announced.
    kw: dict[str, Any] = {"dashboard_address": ":8787" if dashboard else "127.0.0.1:0"}
    # The counting kernel splits large operands over one thread per core; with several
    # workers on this machine each takes its share of the cores instead of all of them.
    kernel_threads = max(1, default_workers() // n)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           host="127.0.0.1", env={"NUMBA_NUM_THREADS": str(kernel_threads)},
                           **kw)
    with cluster, Client(cluster) as client:
        yield client


def dashboard_link_of(client: Any) -> str | None:
    """The dashboard address of a client's scheduler (``None``: it serves none)."""
    try:
        return client.dashboard_link if client.scheduler_info().get("services", {}).get(
            "dashboard") else None
    except (AttributeError, KeyError, OSError):
        return None
