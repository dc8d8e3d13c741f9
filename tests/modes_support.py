"""A shop for the inventory-source mode tests: a running hub (API, worker, webhook inbox),
the BigCommerce sandbox connected with webhooks through ``stockbridge connect``, and
QuickBooks' sandbox or a folder feed as the back office, all over real HTTP on loopback.

The web store has two products: ``PRE`` (a pre-order item, assigned to the hub by the
tests) at 25 and ``TEE`` at 10.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.domain.model import InventorySource
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.qbo_support import CLIENT_ID, CLIENT_SECRET, Qbo, unlimited
from tests.service_helpers import Running, start_service, wait_for

STORE = "shop"
WEB_STOCK = {"PRE": 25, "TEE": 10}


@dataclass
class Shop:
    running: Running
    bc: SandboxStore
    tmp: Path
    product_ids: dict[str, int]

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(build_app(lambda: self.running.hub), list(args))

    def ok(self, *args: str) -> Result:
        result = self.cli(*args)
        assert result.exit_code == 0, (args, result.output)
        return result

    def show(self, sku: str) -> dict[str, Any]:
        """``stockbridge product show --json``: what the hub holds for ``sku``."""
        data: dict[str, Any] = json.loads(
            self.ok("product", "show", "--store", STORE, sku, "--json").stdout
        )
        return data

    def hub_quantity(self, sku: str) -> int | None:
        for level in self.show(sku)["stock"]:
            if level["location"] == "default":
                return None if level["hub"] is None else int(level["hub"])
        return None

    def web(self) -> dict[str, int]:
        return self.bc.stock()

    def erp_sets_web(self, **quantities: int) -> None:
        """An ERP writes stock to BigCommerce through BigCommerce's own API."""
        items = [
            {"location_id": 1, "product_id": self.product_ids[sku], "quantity": quantity}
            for sku, quantity in quantities.items()
        ]
        response = httpx.put(
            f"{self.bc.server.url}/stores/{self.bc.hash}/v3/inventory/adjustments/absolute",
            json={"items": items},
            headers={"X-Auth-Token": self.bc.token},
        )
        response.raise_for_status()

    def bc_rename(self, sku: str, name: str) -> None:
        """The merchant renames a product in BigCommerce."""
        response = httpx.put(
            f"{self.bc.server.url}/stores/{self.bc.hash}/v3/catalog/products",
            json=[{"id": self.product_ids[sku], "name": name}],
            headers={"X-Auth-Token": self.bc.token},
        )
        response.raise_for_status()

    @contextmanager
    def api(self) -> Iterator[httpx.Client]:
        with self.running.client(self.running.token(STORE)) as client:
            yield client

    def quiet(self) -> None:
        """Wait until no run is queued or running (webhook-triggered work included)."""

        def idle() -> bool:
            return not any(
                not run.status.finished for run in services.run_history(self.running.hub, STORE, 5)
            )

        wait_for(idle, what="the store's runs to finish")

    def stop(self) -> None:
        self.running.server.stop()
        self.running.service.stop()


def open_shop(
    harness: Harness, bc: SandboxStore, tmp: Path, mode: InventorySource, *, webhooks: bool = True
) -> Shop:
    hub = harness.hub
    hub.partners_override = None  # the real registry and saved connections
    created = bc.seed(
        [
            {"name": sku, "sku": sku, "tracking": "product", "inventory_level": quantity}
            for sku, quantity in WEB_STOCK.items()
        ]
    )
    ids = {sku: int(c["id"]) for sku, c in zip(WEB_STOCK, created, strict=True)}
    shop = Shop(start_service(hub), bc, tmp, ids)
    shop.ok("store", "add", STORE, "--inventory-source", mode.value)
    connect = [
        "connect", "bigcommerce", "--store", STORE, "--store-hash", bc.hash,
        "--access-token", bc.token, "--api-url", bc.server.url,
    ]  # fmt: skip
    if webhooks:
        connect += ["--webhook-base-url", shop.running.server.url]
    shop.ok(*connect)
    return shop


def start_qbo(stack: ExitStack) -> Qbo:
    """QuickBooks' sandbox (limits off) on loopback, stopped when ``stack`` closes."""
    sandbox = QboSandbox()
    sandbox.limits.enabled = False
    server = stack.enter_context(ServerThread(sandbox))
    admin = stack.enter_context(httpx.Client(base_url=server.url))
    return Qbo(sandbox, server.url, admin)


def connect_qbo(shop: Shop, qbo: Qbo, **quantities: int) -> None:
    """QuickBooks as the back office, holding ``quantities``."""
    qbo.items(*({"sku": sku, "qty": qty} for sku, qty in quantities.items()))
    unlimited(shop.running.hub.limiters, qbo.realm)
    shop.ok(
        "connect", "qbo", "--store", STORE, "--realm-id", qbo.realm, "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET, "--refresh-token", qbo.token(),
        "--api-url", qbo.url, "--token-url", qbo.token_url,
    )  # fmt: skip


def connect_feed(shop: Shop, **quantities: int) -> Path:
    """A folder feed as the ERP the hub pulls (api mode); returns the folder."""
    folder = shop.tmp / "erp"
    folder.mkdir()
    write_feed(folder, "stock-1.csv", **quantities)
    shop.ok("connect", "feed", "--store", STORE, "--source", str(folder), "--settle-seconds", "0")
    return folder


def write_feed(folder: Path, name: str, **quantities: int) -> None:
    lines = ["sku,quantity", *(f"{sku},{qty}" for sku, qty in quantities.items())]
    (folder / name).write_text("\n".join(lines) + "\n")
