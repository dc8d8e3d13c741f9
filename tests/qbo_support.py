"""The QuickBooks sandbox on loopback, its admin API, and hubs wired to it.

Tests drive the real connector over real HTTP. The client's own pacing is replaced by an
unlimited limiter (and the sandbox's limits are off) unless a test is about rate limits,
so tests count calls instead of waiting out windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors.qbo import KIND, QboBackOffice, make_back_office
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.connectors.ratelimit import LimiterRegistry, RateLimiter
from stockbridge.connectors.registry import ConnectorEnv, ConnectorRegistry, MemoryVault
from stockbridge.domain.model import InventorySource
from stockbridge.retry import RetryPolicy
from stockbridge.sandbox_server import ServerThread
from tests.fakes import FakeWebStore

NO_WAIT = RetryPolicy(attempts=3, base_delay=0, sleep=lambda _s: None)
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@dataclass
class Qbo:
    """A running sandbox and a client for its admin API."""

    sandbox: QboSandbox
    url: str
    admin: httpx.Client

    @property
    def realm(self) -> str:
        return self.sandbox.books.realm_id

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/v1/tokens/bearer"

    def items(self, *specs: dict[str, Any]) -> None:
        self.admin.post("/admin/items", json=list(specs)).raise_for_status()

    def change(self, sku: str, **changes: Any) -> None:
        self.admin.patch(f"/admin/items/{sku}", json=changes).raise_for_status()

    def faults(self, *plan: dict[str, Any], rate: float = 0.0) -> None:
        self.admin.post("/admin/faults", json={"plan": list(plan), "rate": rate}).raise_for_status()

    def config(self, **values: Any) -> None:
        self.admin.post("/admin/config", json=values).raise_for_status()

    def advance(self, seconds: float) -> None:
        self.admin.post("/admin/clock", json={"advance": seconds}).raise_for_status()

    def token(self, action: str = "issue") -> str:
        answer = self.admin.post(f"/admin/tokens/{action}")
        answer.raise_for_status()
        return str(answer.json().get("refresh_token", ""))

    def counters(self) -> dict[str, Any]:
        answer = self.admin.get("/admin/counters")
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    def receipts(self) -> dict[str, int]:
        return dict(self.counters()["receipts_per_doc_number"])

    def quantity(self, sku: str) -> int | None:
        for item in self.admin.get("/admin/items").json():
            if item.get("Sku") == sku:
                qty = item.get("QtyOnHand")
                return None if qty is None else int(qty)
        raise KeyError(sku)

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {"realm_id": self.realm, "api_url": self.url, "token_url": self.token_url, **extra}

    def secrets(self) -> dict[str, str]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": self.token(),
        }


@pytest.fixture(name="qbo")
def qbo_sandbox() -> Iterator[Qbo]:
    """A fresh sandbox (limits off) on 127.0.0.1; import ``qbo_sandbox`` to use ``qbo``."""
    sandbox = QboSandbox()
    sandbox.limits.enabled = False
    with ServerThread(sandbox) as server, httpx.Client(base_url=server.url) as admin:
        yield Qbo(sandbox, server.url, admin)


def unlimited(limiters: LimiterRegistry, realm: str) -> LimiterRegistry:
    """Pre-register the realm's limiters without windows (tests count, not wait)."""
    limiters.get(f"qbo:{realm}", RateLimiter)
    limiters.get(f"qbo-batch:{realm}", RateLimiter)
    return limiters


def connector(
    qbo: Qbo,
    *,
    retry: RetryPolicy = NO_WAIT,
    limiters: LimiterRegistry | None = None,
    **settings: Any,
) -> tuple[QboBackOffice, MemoryVault]:
    """A connector on a MemoryVault with a fresh grant."""
    vault = MemoryVault(qbo.secrets())
    env = ConnectorEnv(
        settings=qbo.settings(**settings),
        vault=vault,
        limiters=limiters or unlimited(LimiterRegistry(), qbo.realm),
        retry=retry,
    )
    return make_back_office(env), vault


def make_hub(
    tmp_path: Path,
    database_url: str,
    qbo: Qbo,
    web: FakeWebStore,
    registry: ConnectorRegistry | None = None,
) -> Hub:
    """A hub (fresh process, as after a restart) whose registry knows ``qbo`` and a
    ``fake-web`` kind that is ``web``."""
    registry = registry or default_registry()
    registry.register("fake-web", lambda _env: web)
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=database_url, lease_seconds=30),
        registry=registry,
        retry=NO_WAIT,
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    return hub


def connect_store(
    hub: Hub, qbo: Qbo, name: str = "shop", secrets: dict[str, str] | None = None, **settings: Any
) -> int:
    """A store with the fake web store and QuickBooks connected through ``connect``."""
    services.add_store(hub, name, inventory_source=InventorySource.BACK_OFFICE)
    store_id = services.resolve_store(hub, name)
    with hub.uow() as uow:
        uow.stores.connect(store_id, role="web", kind="fake-web", settings={}, credentials=None)
        uow.commit()
    services.connect_partner(
        hub,
        name,
        role="back_office",
        kind=KIND,
        settings=qbo.settings(**settings),
        secrets=secrets or qbo.secrets(),
    )
    return store_id


def connection_health(hub: Hub, store_id: int) -> dict[str, str | None]:
    with hub.uow() as uow:
        return {c.kind: c.health for c in uow.stores.connections(store_id)}
