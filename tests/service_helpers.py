"""A running Stockbridge service (API, worker, inbox) on loopback, for end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.runtime import Service
from stockbridge.sandbox_server import ServerThread


@dataclass
class Running:
    hub: Hub
    service: Service
    server: ServerThread
    resources: ExitStack = field(default_factory=ExitStack)

    def stop(self) -> None:
        self.server.stop()
        self.service.stop()
        self.resources.close()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)

    def token(self, store: str | None = None) -> str:
        return services.create_token(self.hub, store, operator=store is None)

    def wait_run(self, run_id: int, timeout: float = 20) -> services.RunDetail:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail = services.run_detail(self.hub, run_id)
            if detail and detail.status.finished:
                return detail
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish")


def wait_for(
    condition: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def start_service(hub: Hub, backend: str = "embedded") -> Running:
    """The service on ``hub``: ``embedded`` (in-process worker threads) or ``scaled``
    (a web node deferring to procrastinate, a procrastinate worker running the jobs;
    PostgreSQL only)."""
    resources = ExitStack()
    if backend == "scaled":
        from tests.scaled_support import scaled_worker

        runtime = resources.enter_context(scaled_worker(hub))
        service = Service(hub, queue=runtime.queue).start()
    else:
        service = Service(hub, tick_seconds=0.5).start()
    server = ServerThread(service.app).start()
    return Running(hub, service, server, resources)
