"""Run experiment cells on a Dask distributed cluster (the optional `distributed` extra).

`DaskExecutor(address)` connects `dask.distributed.Client(address)`; with no address it starts a
`LocalCluster` of one single-threaded worker process per CPU core. Each cell's `execute` is
submitted with `pure=False` and outcomes are yielded as cells finish, exactly like
`LocalExecutor.run`. Cells seed their own generators, so records do not depend on the executor.

Dask is imported here only, and only when an executor runs (or `require_distributed` is called):
the rest of the toolkit imports without it.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Iterator
from urllib.parse import urlsplit

from verify.executor import execute
from verify.experiments import Cell

INSTALL_HINT = 'pip install -e ".[distributed]"'
SCHEMES = ("tcp", "tls", "ws", "wss")
CONNECT_TIMEOUT_S = 5.0


def parse_address(address) -> tuple[str, str, int]:
    """(scheme, host, port) of a scheduler address "[tcp|tls|ws|wss://]host:port", else ValueError
    "--scheduler: reason, got X"."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"--scheduler: must be an address such as tcp://host:8786, got {address!r}")
    text = address if "://" in address else f"tcp://{address}"
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"--scheduler: scheme must be one of {SCHEMES}, got {address!r}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise ValueError(
            f"--scheduler: must be [scheme://]host:port with a port in 1..65535, got {address!r}"
        )
    return parts.scheme, parts.hostname, port


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """ValueError in one line unless a Dask scheduler answers at `address` within `timeout` s:
    first a TCP connection (refused, unknown host, timed out), then a Dask client handshake
    (something else listening there)."""
    _, host, port = parse_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or str(error)
        raise ValueError(
            f"--scheduler: nothing answers at {host}:{port} within {timeout:g} s ({reason}), got {address!r}"
        ) from None
    connect(require_distributed(), address, timeout).close()


def connect(distributed, address: str, timeout: float = CONNECT_TIMEOUT_S):
    """A Dask client of the scheduler at `address`; ValueError "--scheduler: ..." in one line when
    what answers there is not a Dask scheduler or does not finish the handshake within `timeout` s."""
    try:
        return distributed.Client(address, timeout=f"{timeout}s")
    except Exception as error:  # OSError, TimeoutError, or a protocol error from a non-Dask server
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"
        raise ValueError(
            f"--scheduler: no Dask scheduler answers at this address within {timeout:g} s ({reason}), "
            f"got {address!r}"
        ) from None


def require_distributed():
    """The `distributed` module, or ImportError saying which install command provides it."""
    try:
        import distributed
    except ImportError as error:
        raise ImportError(
            f"--executor dask needs the optional Dask extra ({error}); install: {INSTALL_HINT}"
        ) from error
    return distributed


def _failure(future) -> dict:
    """An outcome for a cell Dask itself could not finish (e.g. KilledWorker after its retries)."""
    if future.status == "error":
        error = future.exception()
        text = "".join(traceback.format_exception(type(error), error, future.traceback()))
    else:
        text = f"Dask task {future.key} ended with status {future.status!r}"
    return {"ok": False, "error": text, "elapsed_s": float("nan")}


class DaskExecutor:
    """Cells on the Dask cluster at `address`, or on a fresh `LocalCluster` when address is None.

    `retries` is Dask's per-task retry count for errors raised outside the cell (a cell's own
    exception is caught by `execute` and reported). A task whose worker dies is rescheduled by
    the scheduler, up to `distributed.scheduler.allowed-failures` times (default 3); past that it
    is reported as a failed cell (KilledWorker), never dropped.
    """

    def __init__(self, address: str | None = None, retries: int = 2):
        if address is not None:
            parse_address(address)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries: must be a non-negative integer, got {retries!r}")
        self.address = address
        self.retries = retries

    def _connect(self, distributed):
        """(client, cluster or None): the cluster is ours to close only when we started it."""
        if self.address is not None:
            return connect(distributed, self.address), None
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        return distributed.Client(cluster), cluster

    def run(self, cells: list[Cell], device: str) -> Iterator[tuple[Cell, dict]]:
        if not cells:
            return
        distributed = require_distributed()
        client, cluster = self._connect(distributed)
        futures = {}
        try:
            for cell in cells:
                future = client.submit(execute, cell, device, pure=False, retries=self.retries)
                futures[future] = cell
            for future in distributed.as_completed(futures):
                if future.status == "finished":
                    yield futures[future], future.result()
                else:
                    yield futures[future], _failure(future)
        finally:  # Ctrl-C or an abandoned generator: stop the rest, keep what was yielded
            client.cancel(list(futures))
            client.close()
            if cluster is not None:
                cluster.close()
