"""A Stockbridge service on loopback with a store on the BigCommerce sandbox and its back
office behind the simulated Web Connector and QuickBooks Desktop company."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from stockbridge import services
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany, WebConnector
from stockbridge.domain.model import SYNC_ALL, RunStatus
from stockbridge.services import qbwc as qbwc_service
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.service_helpers import Running, start_service

SKUS = ("A", "B", "C")


@dataclass
class Shop:
    running: Running
    web: SandboxStore
    company: DesktopCompany | PosCompany
    user_name: str
    password: str
    #: SKU -> the item's name in QuickBooks (differs when items map by part number)
    names: dict[str, str]

    def qb_quantity(self, sku: str) -> int:
        return self.company.quantity(self.names[sku])

    @property
    def url(self) -> str:
        return f"{self.running.server.url}/qbwc"

    def connector(self, password: str | None = None) -> WebConnector:
        return WebConnector(self.url, self.user_name, password or self.password, self.company)

    def settle(self, timeout: float = 30) -> None:
        """Wait until the store has no run queued or running (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = services.run_history(self.running.hub, "shop", limit=20)
            if all(r.status.finished for r in runs):
                return
            time.sleep(0.05)
        raise AssertionError("runs did not finish")

    def sync(self) -> services.RunReport:
        return services.sync(self.running.hub, "shop", SYNC_ALL)

    def web_stock(self) -> dict[str, int]:
        stock = self.web.stock()
        return {sku: stock[sku] for sku in SKUS}


@pytest.fixture(name="shop")
def shop_fixture(
    request: pytest.FixtureRequest, sqlite_harness: Harness, bc_store: SandboxStore
) -> Iterator[Shop]:
    """Desktop unless the test names the flavour (``indirect`` parametrisation)."""
    variant = str(getattr(request, "param", "desktop"))
    flavour, by_part = variant.removesuffix("-mpn"), variant.endswith("-mpn")
    hub = sqlite_harness.hub
    hub.partners_override = None  # the real registry and saved connections
    running = start_service(hub)
    hub.settings.qbwc_url = f"{running.server.url}/qbwc"  # the WSDL's soap:address
    services.add_store(hub, "shop")
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 5} for s in SKUS]
    )
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    connected = qbwc_service.connect_qbwc(
        hub,
        "shop",
        flavour=flavour,
        app_url=f"{running.server.url}/qbwc",
        sku_field="manufacturer_part_number" if by_part else None,
    )
    assert connected.password is not None
    company: DesktopCompany | PosCompany = (
        DesktopCompany() if flavour == "desktop" else PosCompany()
    )
    for n, sku in enumerate(SKUS):
        if isinstance(company, DesktopCompany) and by_part:  # named otherwise in QuickBooks
            company.add_item(f"Widget {sku}", 20 + n, part_number=sku)
        else:
            company.add_item(sku, 20 + n)
    names = {sku: f"Widget {sku}" if by_part else sku for sku in SKUS}
    yield Shop(running, bc_store, company, connected.user_name, connected.password, names)
    running.server.stop()
    running.service.stop()


def finished_ok(status: RunStatus) -> bool:
    return status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
