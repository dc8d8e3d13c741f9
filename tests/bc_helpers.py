"""Helpers for tests that drive the BigCommerce connector against its sandbox."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.bigcommerce.client import BigCommerceStore
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.retry import RetryPolicy
from stockbridge.sandbox_server import ServerThread

NO_WAIT = RetryPolicy(attempts=4, base_delay=0, sleep=lambda _s: None)
_hashes = itertools.count(1)


@dataclass
class SandboxStore:
    """One store in a running sandbox, with its admin API."""

    sandbox: BigCommerceSandbox
    server: ServerThread
    hash: str
    token: str

    @property
    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.server.url}/admin/stores/{self.hash}", timeout=10)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.admin as client:
            response = client.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json()

    def seed(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        created: list[dict[str, Any]] = []
        for start in range(0, len(products), 500):
            created += self.call(
                "POST", "/products", json={"products": products[start : start + 500]}
            )["created"]
        return created

    def order(self, lines: list[tuple[str, int]], status_id: int = 11) -> dict[str, Any]:
        body = {"status_id": status_id, "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        return dict(self.call("POST", "/orders", json=body))

    def stock(self, settle: bool = True) -> dict[str, int]:
        return dict(self.call("GET", "/stock", params={"settle": "1" if settle else "0"}))

    def counters(self) -> dict[str, Any]:
        return dict(self.call("GET", "/counters"))

    def faults(self, **body: Any) -> None:
        self.call("POST", "/faults", json=body)

    def connector(
        self,
        *,
        limiters: LimiterRegistry | None = None,
        transport: httpx.BaseTransport | None = None,
        **settings: Any,
    ) -> BigCommerceStore:
        env = ConnectorEnv(
            settings={"store_hash": self.hash, "api_url": self.server.url, **settings},
            vault=MemoryVault({"access_token": self.token}),
            limiters=limiters or LimiterRegistry(),
            retry=NO_WAIT,
            transport=transport,
        )
        return BigCommerceStore(env)


def new_store(
    sandbox: BigCommerceSandbox,
    server: ServerThread,
    *,
    quota: int = 10_000,
    window_ms: int = 30_000,
    async_delay_ms: int = 0,
) -> SandboxStore:
    store_hash = f"s{next(_hashes)}"
    token = f"token-{store_hash}"
    response = httpx.post(
        f"{server.url}/admin/stores",
        json={
            "store_hash": store_hash,
            "access_token": token,
            "quota": quota,
            "window_ms": window_ms,
            "async_delay_ms": async_delay_ms,
            "allow_insecure_webhooks": True,
        },
    )
    response.raise_for_status()
    return SandboxStore(sandbox, server, store_hash, token)
