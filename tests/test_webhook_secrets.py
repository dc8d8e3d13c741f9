"""The webhook secret cache: wrong secrets and unknown stores cost no database read once
cached, and look alike; a rotation made elsewhere is seen within a bounded time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from stockbridge.connectors.base import Delivery
from stockbridge.connectors.bigcommerce.webhooks import ADAPTER, SECRET_HEADER
from stockbridge.db.vault import DbCredentialVault
from stockbridge.domain.model import InventorySource
from stockbridge.web.errors import Unauthorized
from stockbridge.web.webhook_secrets import WebhookSecrets
from tests.conftest import Harness

SECRET = "right-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shop(sqlite_harness: Harness) -> int:
    """A store whose BigCommerce connection holds ``SECRET``; returns the connection id."""
    hub = sqlite_harness.hub
    with hub.uow() as uow:
        store = uow.stores.add(
            "shop", timezone="UTC", inventory_source=InventorySource.BACK_OFFICE, erp_name=None
        )
        connection = uow.stores.connect(
            store.id,
            role="web",
            kind="bigcommerce",
            settings={"store_hash": "x"},
            credentials=hub.cipher.encrypt({"access_token": "t", "webhook_secret": SECRET}),
        )
        uow.commit()
        return connection.id


@pytest.fixture
def selects(sqlite_harness: Harness) -> Iterator[list[str]]:
    """Every SELECT the hub's engine runs from now on."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(sqlite_harness.hub.engine, "before_cursor_execute", count)
    yield seen
    event.remove(sqlite_harness.hub.engine, "before_cursor_execute", count)


def deliver(secrets: WebhookSecrets, store: str, secret: str | None) -> int | str:
    """What the receiver does: the cached check first, the reading one on a miss.
    Returns the store id, or the refusal's message."""
    delivery = Delivery(b"{}", {SECRET_HEADER.lower(): secret} if secret is not None else {})
    try:
        found = secrets.check_cached(ADAPTER, store, delivery)
        return found if found is not None else secrets.check(ADAPTER, store, delivery)
    except Unauthorized as exc:
        return f"401 {exc}"


def test_wrong_secrets_for_a_known_store_cost_one_read(
    sqlite_harness: Harness, shop: int, selects: list[str]
) -> None:
    secrets = WebhookSecrets(sqlite_harness.hub, monotonic=Clock())
    answers = {deliver(secrets, "shop", f"guess-{n}") for n in range(50)}
    assert answers == {"401 missing or wrong webhook secret"}
    assert len(selects) == 1
    assert isinstance(deliver(secrets, "shop", SECRET), int)  # the right one, still cached
    assert len(selects) == 1


def test_unknown_stores_are_cached_briefly_and_bounded(
    sqlite_harness: Harness, shop: int, selects: list[str]
) -> None:
    clock = Clock()
    secrets = WebhookSecrets(sqlite_harness.hub, monotonic=clock, max_unknown=3)
    for _ in range(20):
        deliver(secrets, "nostore", SECRET)
    assert len(selects) == 1
    clock.now += secrets.negative_ttl + 1  # expired: read again, once
    for _ in range(20):
        deliver(secrets, "nostore", SECRET)
    assert len(selects) == 2
    for n in range(10):  # made-up names fill the negative map, never past its bound
        deliver(secrets, f"made-up-{n}", SECRET)
    assert len(secrets._unknown) == 3
    assert isinstance(deliver(secrets, "shop", SECRET), int)


def test_unknown_store_and_wrong_secret_answer_alike(sqlite_harness: Harness, shop: int) -> None:
    secrets = WebhookSecrets(sqlite_harness.hub, monotonic=Clock())
    for _ in range(2):  # first from the database, then from the cache
        wrong = deliver(secrets, "shop", "guess")
        unknown = deliver(secrets, "nostore", "guess")
        missing = deliver(secrets, "nostore", None)
        assert wrong == unknown == missing == "401 missing or wrong webhook secret"


def test_a_secret_rotated_by_another_process_is_seen_within_refresh_after(
    sqlite_harness: Harness, shop: int, selects: list[str]
) -> None:
    clock = Clock()
    secrets = WebhookSecrets(sqlite_harness.hub, monotonic=clock)
    assert isinstance(deliver(secrets, "shop", SECRET), int)
    hub = sqlite_harness.hub
    # Another process rotates: the vault changes, this process hears nothing.
    with DbCredentialVault(hub.sessions, hub.cipher, shop).update() as vault:
        vault["webhook_secret"] = "brand-new"
    assert deliver(secrets, "shop", "brand-new") == "401 missing or wrong webhook secret"
    reads = len(selects)
    clock.now += secrets.refresh_after  # a miss may now read again, once
    assert isinstance(deliver(secrets, "shop", "brand-new"), int)
    assert deliver(secrets, "shop", "guess") == "401 missing or wrong webhook secret"
    assert len(selects) == reads + 1
