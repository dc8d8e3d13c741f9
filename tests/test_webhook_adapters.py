"""The webhook plug-in point: a connector kind registers its adapter and its partner's
deliveries arrive at /webhooks/{kind}/{store}, verified and parsed by the adapter. The
second kind here signs like Shopify: base64 HMAC-SHA256 of the raw body in
X-Shopify-Hmac-Sha256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from stockbridge import services
from stockbridge.connectors.base import BadWebhook, Delivery
from stockbridge.connectors.registry import ConnectorRegistry
from stockbridge.db.models import InboxEvent
from stockbridge.domain.model import WebEvent, WebEventKind
from tests.conftest import Harness
from tests.fakes import FakeWebStore
from tests.service_helpers import Running, start_service

SIGNATURE = "X-Shopify-Hmac-Sha256"
SECRET = "shpss_test_secret"


class HmacSigned:
    """A Shopify-style adapter: verifies the body's HMAC, reads topic and id headers."""

    kind = "hmac-shop"
    secret_key = "webhook_secret"
    headers = frozenset({SIGNATURE.lower(), "x-shopify-topic", "x-shopify-webhook-id"})

    def verify(self, delivery: Delivery, secret: str) -> bool:
        if not secret:
            return False
        digest = hmac.new(secret.encode(), delivery.body, hashlib.sha256).digest()
        presented = delivery.headers.get(SIGNATURE.lower(), "").encode()
        return hmac.compare_digest(presented, base64.b64encode(digest))

    def parse(self, delivery: Delivery) -> WebEvent:
        topic = delivery.headers.get("x-shopify-topic", "")
        if topic not in ("orders/create", "orders/updated"):
            raise BadWebhook(f"topic {topic!r} is not one Stockbridge subscribes to")
        try:
            body = json.loads(delivery.body)
            ident = str(body["id"])
        except (ValueError, KeyError, TypeError):
            raise BadWebhook("body is not an order") from None
        return WebEvent(
            kind=WebEventKind.ORDER,
            resource_id=ident,
            dedup_key=delivery.headers.get("x-shopify-webhook-id", ""),
            occurred_at=datetime.now(UTC),
            scope=topic,
        )


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    hub = sqlite_harness.hub
    hub.partners_override = None  # the registry and saved connections
    web = FakeWebStore()
    hub.registry.register(HmacSigned.kind, lambda _env: web, webhooks=HmacSigned())
    live = start_service(hub)
    services.add_store(hub, "shop")
    services.add_store(hub, "other")
    with hub.uow() as uow:
        for name, kind in (("shop", HmacSigned.kind), ("other", "fake-web")):
            store = uow.stores.by_name(name)
            assert store is not None
            uow.stores.connect(
                store.id,
                role="web",
                kind=kind,
                settings={},
                credentials=hub.cipher.encrypt({"webhook_secret": SECRET}),
            )
        uow.commit()
    yield live
    live.server.stop()
    live.service.stop()


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post(
    running: Running, store: str, body: bytes, signature: str | None, hook_id: str
) -> httpx.Response:
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": hook_id}
    if signature is not None:
        headers[SIGNATURE] = signature
    return httpx.post(
        f"{running.server.url}/webhooks/hmac-shop/{store}", content=body, headers=headers
    )


def stored(running: Running) -> list[tuple[str, str, str]]:
    with running.hub.uow() as uow:
        rows = uow.session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
        return [(r.source, r.dedup_key, str(r.payload["resource_id"])) for r in rows]


def test_a_signed_delivery_is_verified_and_stored(running: Running) -> None:
    body = json.dumps({"id": 4501, "total_price": "12.00"}).encode()

    answer = post(running, "shop", body, signed(body), "wh-1")

    assert answer.status_code == 200 and answer.text == "accepted"
    assert stored(running) == [("hmac-shop", "wh-1", "4501")]
    again = post(running, "shop", body, signed(body), "wh-1")
    assert again.status_code == 200 and again.text == "duplicate delivery ignored"
    with running.client() as anon:
        metrics = anon.get("/metrics").text
    assert 'stockbridge_webhooks_received_total{outcome="stored",source="hmac-shop"} 1.0' in (
        metrics
    )


def test_a_wrong_signature_is_401_and_nothing_is_stored(running: Running) -> None:
    body = json.dumps({"id": 4502}).encode()
    tampered = json.dumps({"id": 9999}).encode()

    for store, content, signature in (
        ("shop", body, signed(body, "someone else's secret")),
        ("shop", tampered, signed(body)),  # a valid signature of another body
        ("shop", body, None),
        ("shop", body, signed(body).lower()),
        ("other", body, signed(body)),  # that store has no connection of this kind
        ("nostore", body, signed(body)),
    ):
        answer = post(running, store, content, signature, "wh-2")
        assert answer.status_code == 401, (store, signature)
        assert "secret" in answer.json()["error"]

    assert stored(running) == []


def test_a_verified_delivery_the_adapter_cannot_parse_is_refused_and_kept(
    running: Running,
) -> None:
    body = b'{"not": "an order"}'
    answer = post(running, "shop", body, signed(body), "wh-3")
    assert answer.status_code == 422 and "not an order" in answer.json()["error"]
    assert stored(running) == []
    rejected = services.rejected_inputs(running.hub, 1)
    assert rejected[0].source == "webhook:hmac-shop"


def test_an_adapter_is_registered_under_its_own_kind() -> None:
    registry = ConnectorRegistry()
    with pytest.raises(ValueError, match="says it is 'hmac-shop'"):
        registry.register("shopify", lambda _env: FakeWebStore(), webhooks=HmacSigned())
    registry.register("hmac-shop", lambda _env: FakeWebStore(), webhooks=HmacSigned())
    assert set(registry.webhooks) == {"hmac-shop"}
