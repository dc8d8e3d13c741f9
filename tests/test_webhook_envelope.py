"""A BigCommerce envelope's time and scope as the hub keeps them (survivors of the
mutation tool on connectors/bigcommerce/webhooks.py, issue 26)."""

from __future__ import annotations

from datetime import UTC, datetime

from stockbridge.connectors.bigcommerce.webhooks import parse_envelope
from tests.test_bigcommerce_webhooks import envelope


def test_the_event_time_is_utc_whatever_the_machines_zone() -> None:
    """Rule: newest-wins compares partner times; ``created_at`` (Unix seconds) is read
    as an aware UTC time, never as the machine's local time."""
    event = parse_envelope(envelope(created_at=1561479335))
    assert event.occurred_at == datetime(2019, 6, 25, 16, 15, 35, tzinfo=UTC)
    assert event.occurred_at.utcoffset() is not None


def test_the_event_keeps_its_scope() -> None:
    event = parse_envelope(envelope(scope="store/sku/inventory/updated"))
    assert event.scope == "store/sku/inventory/updated"
