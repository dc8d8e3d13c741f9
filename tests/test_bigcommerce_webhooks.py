"""BigCommerce webhook envelopes become hub events; bad input gets a clear reason."""

from __future__ import annotations

import json

import pytest

from stockbridge.connectors.bigcommerce.webhooks import BadWebhook, parse_envelope
from stockbridge.domain.model import WebEventKind


def envelope(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "scope": "store/order/created",
        "store_id": "1001",
        "data": {"type": "order", "id": 250},
        "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d",
        "created_at": 1561479335,
        "producer": "stores/abc",
    }
    body.update(overrides)
    return json.dumps(body).encode()


def test_an_order_event() -> None:
    event = parse_envelope(envelope())
    assert event.kind is WebEventKind.ORDER and event.resource_id == "250"
    assert event.dedup_key == "dd70c0976e06b67aaf671e73f49dcb79230ebf9d"
    assert event.occurred_at.year == 2019


def test_redeliveries_share_the_dedup_key() -> None:
    assert parse_envelope(envelope()).dedup_key == parse_envelope(envelope()).dedup_key


@pytest.mark.parametrize(
    ("scope", "kind"),
    [
        ("store/product/updated", WebEventKind.PRODUCT),
        ("store/sku/inventory/updated", WebEventKind.INVENTORY),
        ("store/order/statusUpdated", WebEventKind.ORDER),
    ],
)
def test_scopes(scope: str, kind: WebEventKind) -> None:
    assert parse_envelope(envelope(scope=scope)).kind is kind


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "not JSON"),
        (b"{}", "scope"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "Input should be"),
        (envelope(scope="store/cart/created"), "not one Stockbridge subscribes to"),
        (envelope(hash=""), "hash"),
        (envelope(data={"type": "order"}), "data.id"),
        (envelope(created_at="yesterday"), "created_at"),
        (b" " * 70_000, "over the"),
        (envelope(created_at=10**20), "not a time"),
        (b"[" * 30_000, "not JSON"),
    ],
)
def test_bad_deliveries_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadWebhook, match=reason):
        parse_envelope(body)
