"""Webhook secret rotation and stale deliveries, end to end: the BigCommerce sandbox holds
the hooks, a running hub receives over HTTP, and time moves through the hub's webhook
clock (``services.webhooks.events(hub).clock``), never by sleeping."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli.app import build_app
from stockbridge.connectors.bigcommerce.webhooks import SECRET_HEADER
from stockbridge.services.webhooks import events, rotate_webhook_secret
from tests.bc_helpers import SandboxStore
from tests.fakes import FakeBackOffice
from tests.service_helpers import Running
from tests.test_webhooks_e2e import inbox_depth, live  # noqa: F401  (the fixture)

Live = tuple[Running, SandboxStore, FakeBackOffice]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def hook_secrets(bc: SandboxStore) -> set[str]:
    return {str(h["headers"][SECRET_HEADER]) for h in bc.counters()["hooks"]}


def body(hash_: str, created_at: float) -> bytes:
    return json.dumps(
        {
            "scope": "store/order/created",
            "store_id": "1",
            "data": {"type": "order", "id": 1},
            "hash": hash_,
            "created_at": int(created_at),
            "producer": "stores/x",
        }
    ).encode()


def post(running: Running, secret: str, hash_: str, created_at: float) -> httpx.Response:
    return httpx.post(
        f"{running.server.url}/webhooks/bigcommerce/shop",
        content=body(hash_, created_at),
        headers={SECRET_HEADER: secret},
    )


def test_rotation_re_registers_hooks_and_keeps_the_old_secret_for_the_grace_period(
    live: Live,  # noqa: F811
) -> None:
    running, bc, _bo = live
    clock = Clock()
    events(running.hub).clock = clock
    (old,) = hook_secrets(bc)
    assert post(running, old, "before", clock.now).status_code == 200  # cached in the receiver

    rotation = rotate_webhook_secret(running.hub, "shop", grace=timedelta(minutes=60))

    (new,) = hook_secrets(bc)  # every hook at the partner now sends the new value
    assert new != old
    assert len(bc.counters()["hooks"]) == len(rotation.notes) == 8
    assert rotation.previous_until == clock.now + 3600
    assert post(running, new, "new-1", clock.now).status_code == 200  # seen at once
    assert post(running, old, "old-1", clock.now).status_code == 200  # grace
    clock.now += 59 * 60
    assert post(running, old, "old-2", clock.now).status_code == 200
    clock.now += 2 * 60  # past the grace period
    refused = post(running, old, "old-3", clock.now)
    assert refused.status_code == 401
    assert refused.json() == {"error": "missing or wrong webhook secret"}
    assert post(running, new, "new-2", clock.now).status_code == 200


def test_the_cli_rotates_and_says_until_when_the_old_secret_works(live: Live) -> None:  # noqa: F811
    running, bc, _bo = live
    (old,) = hook_secrets(bc)
    result = CliRunner().invoke(
        build_app(lambda: running.hub),
        ["store", "rotate-webhook-secret", "shop", "--grace-minutes", "5"],
    )
    assert result.exit_code == 0, result.output
    assert "the old secret is accepted until" in result.output
    assert "updated the secret of webhook store/order/created" in result.output
    (new,) = hook_secrets(bc)
    assert new != old and old not in result.output and new not in result.output


def test_stale_or_future_deliveries_are_refused_and_kept(live: Live) -> None:  # noqa: F811
    running, bc, _bo = live
    clock = Clock()
    events(running.hub).clock = clock
    (secret,) = hook_secrets(bc)
    before = inbox_depth(running)
    old = post(running, secret, "replayed", clock.now - 3601)
    assert old.status_code == 422 and "stale delivery" in old.json()["error"]
    ahead = post(running, secret, "ahead", clock.now + 301)
    assert ahead.status_code == 422 and "in the future" in ahead.json()["error"]
    assert inbox_depth(running) == before
    assert post(running, secret, "late-but-fine", clock.now - 3500).status_code == 200
    assert post(running, secret, "skewed-but-fine", clock.now + 250).status_code == 200
    with running.client(running.token()) as api:
        rejected = api.get("/api/v1/stores/shop/rejected").json()
    reasons = [r["reason"] for r in rejected if r["source"] == "webhook:bigcommerce"]
    assert len(reasons) == 2 and all(r.startswith("stale delivery:") for r in reasons)
    clock.now += 3601  # the same delivery, retried an hour later, is stale too
    assert post(running, secret, "late-but-fine-2", clock.now - 3500).status_code == 200
    assert post(running, secret, "replayed", clock.now - 7202).status_code == 422


def test_reconnecting_during_the_grace_period_keeps_the_old_secret(live: Live) -> None:  # noqa: F811
    running, bc, _bo = live
    (old,) = hook_secrets(bc)
    rotate_webhook_secret(running.hub, "shop", grace=timedelta(minutes=60))
    (new,) = hook_secrets(bc)
    services.connect_partner(
        running.hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={
            "store_hash": bc.hash,
            "api_url": bc.server.url,
            "webhook_url": f"{running.server.url}/webhooks/bigcommerce/shop",
        },
        secrets={"access_token": bc.token},
    )
    assert hook_secrets(bc) == {new}
    assert post(running, old, "old-after-reconnect", time.time()).status_code == 200
    assert post(running, new, "new-after-reconnect", time.time()).status_code == 200


def test_a_store_connected_after_a_refused_delivery_is_served_at_once(live: Live) -> None:  # noqa: F811
    running, bc, _bo = live
    services.add_store(running.hub, "second")
    url = f"{running.server.url}/webhooks/bigcommerce/second"
    assert httpx.post(url, content=body("early", time.time())).status_code == 401  # cached
    services.connect_partner(
        running.hub,
        "second",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc.hash, "api_url": bc.server.url, "webhook_url": url},
        secrets={"access_token": bc.token},
    )
    (secret,) = {
        str(h["headers"][SECRET_HEADER]) for h in bc.counters()["hooks"] if h["destination"] == url
    }
    answer = httpx.post(url, content=body("first", time.time()), headers={SECRET_HEADER: secret})
    assert answer.status_code == 200
