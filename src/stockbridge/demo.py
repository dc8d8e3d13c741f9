"""``stockbridge demo``: both partner sandboxes on loopback, seeded like a real shop, a
demo store connected to them, and either one headless Sync All (``--once``) or the full
service with webhooks on.

The demo keeps its own hub under ``$STOCKBRIDGE_HOME/demo`` and starts it afresh each
time (the sandboxes start empty too), so it never touches a merchant's real hub.

Seeded: ~3,300 variants (variant- and product-tracked), a few hundred web orders (with
abandoned checkouts and cancellations among them), items out of stock, a pre-order item
whose quantity the hub manages, and one SKU QuickBooks does not have, so the run shows
how an item error looks.
"""

from __future__ import annotations

import random
import secrets
import shutil
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from stockbridge import accounts
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.sandbox_server import ServerThread
from stockbridge.services.connections import connect_partner
from stockbridge.services.stores import add_store, resolve_store, update_store

__all__ = ["DEMO_STORE", "DEMO_USER", "GHOST_SKU", "PREORDER_SKU", "Demo", "start_demo"]

DEMO_STORE = "demo"
DEMO_USER = "demo"  # the dashboard login the demo prints
GHOST_SKU = "GIFTWRAP-DELUXE"  # sold on the web, missing in QuickBooks
PREORDER_SKU = "PREORDER-LANTERN"  # a backorder item: the hub manages its quantity


@dataclass
class Demo:
    hub: Hub
    bigcommerce: ServerThread
    qbo: ServerThread
    orders: int
    variants: int
    user: str = "demo"
    password: str = ""

    def stop(self) -> None:
        self.bigcommerce.stop()
        self.qbo.stop()


def _mug_price(sku: str) -> str:
    """QuickBooks' price of a mug: the web's, but two repriced in the back office."""
    return "15.50" if sku in ("MUG-000", "MUG-001") else "14.50"


def _catalog(rng: random.Random) -> tuple[list[dict[str, Any]], list[str]]:
    products: list[dict[str, Any]] = []
    skus: list[str] = []
    for p in range(400):
        variants = [
            {"sku": f"TEE-{p:03d}-{size}", "inventory_level": 0}
            for size in ("XS", "S", "M", "L", "XL", "2XL", "3XL", "4XL")
        ]
        products.append(
            {
                "name": f"Organic tee #{p}",
                "sku": f"TEE-{p:03d}",
                "tracking": "variant",
                "variants": variants,
                "price": "24.00",
            }
        )
        skus += [str(v["sku"]) for v in variants]
    for p in range(100):
        sku = f"MUG-{p:03d}"
        products.append(
            {
                "name": f"Stoneware mug #{p}",
                "sku": sku,
                "tracking": "product",
                "inventory_level": 0,
                "price": "14.50",
            }
        )
        skus.append(sku)
    products.append(
        {
            "name": "Deluxe gift wrap",
            "sku": GHOST_SKU,
            "tracking": "product",
            "inventory_level": 50,
            "price": "4.00",
        }
    )
    products.append(
        {
            "name": "Lantern (pre-order)",
            "sku": PREORDER_SKU,
            "tracking": "product",
            "inventory_level": 0,
            "price": "89.00",
        }
    )
    products.append(
        {"name": "E-gift card", "sku": "GIFTCARD", "tracking": "none", "price": "25.00"}
    )
    return products, skus


def connect_sandboxes(
    hub: Hub,
    store: str,
    *,
    bigcommerce_url: str,
    store_hash: str,
    access_token: str,
    qbo: QboSandbox,
    qbo_url: str,
    refresh_token: str,
    webhook_url: str | None = None,
    qbo_settings: dict[str, Any] | None = None,
) -> None:
    """Connect ``store`` to a BigCommerce sandbox store and a QuickBooks sandbox company
    through the same ``connect`` use case a merchant's command runs."""
    bc_settings: dict[str, Any] = {"store_hash": store_hash, "api_url": bigcommerce_url}
    if webhook_url:
        bc_settings["webhook_url"] = webhook_url
    connect_partner(
        hub,
        store,
        role="web",
        kind="bigcommerce",
        settings=bc_settings,
        secrets={"access_token": access_token},
    )
    connect_partner(
        hub,
        store,
        role="back_office",
        kind="qbo",
        settings={
            "realm_id": qbo.books.realm_id,
            "api_url": qbo_url,
            "token_url": f"{qbo_url}/oauth2/v1/tokens/bearer",
            **(qbo_settings or {}),
        },
        secrets={
            "client_id": qbo.books.client_id,
            "client_secret": qbo.books.client_secret,
            "refresh_token": refresh_token,
        },
    )


def start_demo(settings: Settings, *, webhook_base_url: str | None = None, seed: int = 7) -> Demo:
    """Start and seed both sandboxes, create a fresh demo hub, connect the demo store."""
    rng = random.Random(seed)
    home = settings.home_dir / "demo"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)

    bc_sandbox = BigCommerceSandbox(time_scale=0.01)
    store_hash, bc_token = "demodemo", secrets.token_urlsafe(16)
    # An Enterprise-sized quota keeps the demo brisk; the limiter honours whatever it is.
    bc_sandbox.stores[store_hash] = SStore(
        hash=store_hash,
        token=bc_token,
        quota=3000,
        async_delay_ms=100,
        allow_insecure_webhooks=True,
    )
    bc = ServerThread(bc_sandbox.app).start()
    qbo_sandbox = QboSandbox()
    client_id, client_secret = "demo-app", secrets.token_urlsafe(16)
    qbo_sandbox.books.client_id, qbo_sandbox.books.client_secret = client_id, client_secret
    qbo = ServerThread(qbo_sandbox).start()

    products, skus = _catalog(rng)
    with httpx.Client(base_url=f"{bc.url}/admin/stores/{store_hash}", timeout=60) as admin:
        for start in range(0, len(products), 100):
            admin.post(
                "/products", json={"products": products[start : start + 100]}
            ).raise_for_status()
        orders = 0
        for n in range(300):
            lines = [
                {"sku": rng.choice(skus), "quantity": rng.randint(1, 3)}
                for _ in range(rng.randint(1, 3))
            ]
            status = 0 if n % 50 == 7 else 5 if n % 40 == 3 else 11
            if n in (17, 171):
                lines.append({"sku": GHOST_SKU, "quantity": 1})
            admin.post("/orders", json={"status_id": status, "lines": lines}).raise_for_status()
            orders += status != 0
    with httpx.Client(base_url=qbo.url, timeout=60) as admin:
        items = [
            {
                "sku": sku,
                "name": sku,
                "qty": 0 if i % 17 == 0 else rng.randint(3, 60),
                # The web's prices, but for two mugs QuickBooks has repriced: the first
                # Sync All sends just those two (the back office is the price master).
                "price": "24.00" if sku.startswith("TEE") else _mug_price(sku),
            }
            for i, sku in enumerate(skus)
        ]
        items.append(
            {"sku": PREORDER_SKU, "name": "Lantern (pre-order)", "qty": 0, "price": "89.00"}
        )
        items.append(
            {"sku": "GIFTCARD", "name": "E-gift card", "type": "Service", "price": "25.00"}
        )
        admin.post("/admin/items", json=items).raise_for_status()
        refresh_token = admin.post("/admin/tokens/issue").json()["refresh_token"]

    # The demo's partners (and any alert receiver tried with it) run on 127.0.0.1: the
    # demo hub allows loopback explicitly, on top of what the operator allows.
    allow = ",".join(filter(None, (settings.outbound_allow, "loopback")))
    # "Connect to QuickBooks" on the demo's dashboard goes to the sandbox's consent page.
    consent = {
        "qbo_client_id": client_id,
        "qbo_client_secret": SecretStr(client_secret),
        "qbo_redirect_url": None,  # the callback as the browser reaches the demo
        "qbo_authorize_url": f"{qbo.url}/connect/oauth2",
        "qbo_token_url": f"{qbo.url}/oauth2/v1/tokens/bearer",
        "qbo_revoke_url": f"{qbo.url}/v2/oauth2/tokens/revoke",
        "qbo_api_url": qbo.url,
    }
    hub = bootstrap(
        settings.model_copy(
            update={"home": home, "database_url": None, "outbound_allow": allow, **consent}
        )
    )
    hub.initialise()
    add_store(hub, DEMO_STORE, timezone="America/Chicago")
    # The demo turns Sync All on explicitly, through the Options (General) a merchant uses.
    update_store(hub, DEMO_STORE, sync_all_button=True)
    connect_sandboxes(
        hub,
        DEMO_STORE,
        bigcommerce_url=bc.url,
        store_hash=store_hash,
        access_token=bc_token,
        qbo=qbo_sandbox,
        qbo_url=qbo.url,
        refresh_token=refresh_token,
        webhook_url=(
            f"{webhook_base_url.rstrip('/')}/webhooks/bigcommerce/{DEMO_STORE}"
            if webhook_base_url
            else None
        ),
    )
    store_id = resolve_store(hub, DEMO_STORE)
    with hub.uow() as uow:
        uow.catalog.set_hub_managed(store_id, PREORDER_SKU, 25)
        uow.commit()
    password = secrets.token_urlsafe(12)  # a fresh demo hub each time, so a fresh password
    # The merchant's view: the demo user sees the demo store only (operators' whole-hub
    # view is what the printed operator API token is for).
    accounts.add_user(hub, DEMO_USER, password, stores=[DEMO_STORE])
    return Demo(
        hub=hub,
        bigcommerce=bc,
        qbo=qbo,
        orders=orders,
        variants=len(skus) + 3,
        user=DEMO_USER,
        password=password,
    )
