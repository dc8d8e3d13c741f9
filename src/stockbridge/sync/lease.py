"""A store's lease as a run holds it: who holds it, renewing it while the run lives, and
telling a holder on this machine that died (its lease can be freed at once)."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from stockbridge.ports import UnitOfWork

__all__ = [
    "Heartbeat",
    "LeaseLost",
    "RunLease",
    "is_dead_local_process",
    "new_holder",
    "pid_namespace",
]


class LeaseLost(RuntimeError):
    """Another worker took the store's lease: this run stops so two never interleave."""


@dataclass(frozen=True)
class RunLease:
    """The lease of ``store_id`` as run ``run_id`` holds it (``seconds`` long each time)."""

    uow: Callable[[], UnitOfWork]
    store_id: int
    run_id: int
    holder: str
    seconds: int

    def renew(self, uow: UnitOfWork) -> bool:
        """Extend the lease inside ``uow`` (the caller commits); False if it was lost."""
        return uow.runs.renew_lease(self.store_id, self.run_id, self.holder, self.seconds)


def new_holder() -> str:
    """This process's holder name: ``host:pid:pid-namespace:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{pid_namespace()}:{uuid.uuid4().hex[:8]}"


def pid_namespace() -> str:
    """Which PID namespace this process lives in (containers on one host share a host
    name, not PIDs)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "?"


def is_dead_local_process(holder: str) -> bool:
    """``holder`` is ``host:pid:pid-namespace:nonce``; True only when it is this host and
    PID namespace and no such pid runs."""
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[2] != pid_namespace():
        return False
    pid_text = parts[1]
    if not pid_text.isdigit() or parts[2] == "?":
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Heartbeat:
    """Renews a run's lease every third of its length while the run is in a long partner
    call (a throttled batch may wait minutes), so the lease never lapses under a live run.
    """

    def __init__(self, lease: RunLease) -> None:
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{lease.run_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        lease = self.lease
        interval = max(1.0, lease.seconds / 3)
        while not self._stop.wait(interval):
            with lease.uow() as uow:
                renewed = lease.renew(uow)
                uow.commit()
            if not renewed:
                return
