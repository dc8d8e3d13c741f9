"""The sync engine with the real QuickBooks connector against its sandbox over HTTP:
exactly-once posting across dropped connections and hub crashes, item refusals, and the
OAuth grant's life (expiry mid-run, revocation, rotation across restarts)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub, default_registry
from stockbridge.connectors.base import BackOffice
from stockbridge.connectors.qbo import KIND, make_back_office
from stockbridge.connectors.qbo.auth import LEASE_KEY
from stockbridge.connectors.registry import ConnectorEnv
from stockbridge.db.vault import DbCredentialVault
from stockbridge.domain.model import SYNC_ALL, RunStatus
from tests.fakes import FakeWebStore, HubCrash
from tests.qbo_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    Qbo,
    connect_store,
    connection_health,
    make_hub,
    qbo_sandbox,  # noqa: F401  (the qbo fixture)
)


def sync_all(hub: Hub) -> services.RunReport:
    return services.sync(hub, None, SYNC_ALL)


def web_with(*skus: str) -> FakeWebStore:
    web = FakeWebStore()
    for sku in skus:
        web.add_variant(sku, 0)
    return web


@pytest.mark.parametrize("orders", [1, 3], ids=["single", "batch"])
def test_dropped_connection_after_accept_posts_once(tmp_path: Path, qbo: Qbo, orders: int) -> None:
    qbo.items({"sku": "A", "qty": 50})
    web = web_with("A")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)
    placed = [web.place_order([("A", 1)]) for _ in range(orders)]
    qbo.faults({"path": "salesreceipt" if orders == 1 else "batch", "kind": "applied_drop"})

    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert qbo.receipts() == {o.number: 1 for o in placed}
    counters = qbo.counters()
    assert sum(counters["injected"].values()) == 1 and counters["replays"] == 1
    assert qbo.quantity("A") == 50 - orders
    assert web.quantity("A") == 50 - orders


class CrashAfterPosting:
    """The hub dies right after QuickBooks answered, before recording anything."""

    def __init__(self, inner: BackOffice) -> None:
        self.inner = inner
        self.max_orders_per_call = inner.max_orders_per_call

    def check(self) -> str:
        return self.inner.check()

    def close(self) -> None:
        self.inner.close()

    def iter_items(self, since: object) -> object:
        return self.inner.iter_items(since)  # type: ignore[arg-type]

    def post_orders(self, requests: Sequence[object]) -> Sequence[object]:
        self.inner.post_orders(requests)  # type: ignore[arg-type]
        raise HubCrash("the hub died right after QuickBooks answered")

    def find_posted(self, requests: Sequence[object]) -> Mapping[str, str]:
        return self.inner.find_posted(requests)  # type: ignore[arg-type]


@pytest.mark.parametrize("orders", [1, 3], ids=["single", "batch"])
def test_hub_crash_after_accept_then_fresh_run_posts_once(
    tmp_path: Path, database_url: str, qbo: Qbo, orders: int
) -> None:
    qbo.items({"sku": "A", "qty": 50})
    web = web_with("A")
    crashing = default_registry()
    crashing.register(KIND, lambda env: CrashAfterPosting(make_back_office(env)))  # type: ignore[arg-type,return-value]
    hub = make_hub(tmp_path, database_url, qbo, web, registry=crashing)
    connect_store(hub, qbo)
    placed = [web.place_order([("A", 2)]) for _ in range(orders)]

    first = sync_all(hub)
    assert first.status is RunStatus.FAILED and "HubCrash" in (first.error or "")
    assert qbo.receipts() == {o.number: 1 for o in placed}
    hub.engine.dispose()

    restarted = make_hub(tmp_path, database_url, qbo, web)  # a new process, same database
    second = sync_all(restarted)

    assert second.status is RunStatus.SUCCEEDED, second
    assert qbo.receipts() == {o.number: 1 for o in placed}
    assert qbo.counters()["calls"].get("query", 0) >= 1  # looked up by DocNumber
    assert web.quantity("A") == 50 - 2 * orders
    restarted.engine.dispose()


def test_unknown_sku_is_named_others_post_and_stock_stays_withheld(
    tmp_path: Path, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    web = web_with("A", "GHOST")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)
    good = web.place_order([("A", 2)])
    other = web.place_order([("A", 1)])
    bad = web.place_order([("A", 3), ("GHOST", 1)])

    report = sync_all(hub)

    assert report.status is RunStatus.PARTIAL
    errors = [e for e in report.errors if bad.number in e.key]
    assert errors and "GHOST" in errors[0].message, report.errors
    assert qbo.receipts() == {good.number: 1, other.number: 1}
    assert qbo.quantity("A") == 7
    assert web.quantity("A") == 7 - 3  # the refused order's 3 stay withheld

    qbo.items({"sku": "GHOST", "qty": 4})
    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert qbo.receipts() == {good.number: 1, other.number: 1, bad.number: 1}
    assert qbo.quantity("A") == 4 and web.quantity("A") == 4
    assert qbo.quantity("GHOST") == 3 and web.quantity("GHOST") == 3


def test_access_token_expiry_mid_sync_never_reaches_the_run(tmp_path: Path, qbo: Qbo) -> None:
    qbo.items(*({"sku": f"S{i}", "qty": 100} for i in range(5)))
    web = web_with(*(f"S{i}" for i in range(5)))
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo, batch_size=5)
    for i in range(23):
        web.place_order([(f"S{i % 5}", 1)])
    # Every access token dies just before the 3rd of 5 batches.
    qbo.faults({"path": "batch", "kind": "expire_tokens", "skip": 2})
    refreshes_before = qbo.counters()["refreshes"]

    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert not report.errors
    assert sum(qbo.receipts().values()) == 23
    assert qbo.counters()["refreshes"] == refreshes_before + 1
    assert connection_health(hub, 1)[KIND] == "connected"


def test_revoked_grant_marks_connection_needs_reconnect(tmp_path: Path, qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10})
    web = web_with("A")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    store_id = connect_store(hub, qbo)
    web.place_order([("A", 1)])
    qbo.token("revoke")  # the merchant disconnected the app
    qbo.token("expire")

    report = sync_all(hub)

    assert report.status in (RunStatus.FAILED, RunStatus.PARTIAL)
    assert "reconnect QuickBooks" in str(report.steps["orders-out"].get("message"))
    assert connection_health(hub, store_id)[KIND] == "needs_reconnect"
    assert qbo.receipts() == {}


def test_rotated_refresh_token_survives_a_restart(
    tmp_path: Path, database_url: str, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    web = web_with("A")
    hub = make_hub(tmp_path, database_url, qbo, web)
    first_grant = qbo.secrets()
    connect_store(hub, qbo, secrets=first_grant)
    # connect refreshed once: the first refresh token is spent.
    spent = httpx.post(
        qbo.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first_grant["refresh_token"]},
        auth=(first_grant["client_id"], first_grant["client_secret"]),
    )
    assert spent.status_code == 400 and spent.json() == {"error": "invalid_grant"}
    hub.engine.dispose()

    qbo.token("expire")  # an hour later, in a new process
    restarted = make_hub(tmp_path, database_url, qbo, web)
    web.place_order([("A", 1)])
    report = sync_all(restarted)

    assert report.status is RunStatus.SUCCEEDED, report
    assert sum(qbo.receipts().values()) == 1
    assert qbo.counters()["refreshes"] == 2
    restarted.engine.dispose()


def test_a_second_process_uses_the_first_ones_refresh(
    tmp_path: Path, database_url: str, qbo: Qbo
) -> None:
    """Inside the vault lock the secrets are read again: a token another process just
    refreshed is used, not refreshed a second time (that would burn the rotation)."""
    web = web_with()
    hub = make_hub(tmp_path, database_url, qbo, web)
    connect_store(hub, qbo)
    qbo.token("expire")
    refreshes = qbo.counters()["refreshes"]

    def build() -> BackOffice:
        return _db_back_office(hub)

    first, second = build(), build()  # two processes, each with its own token cache
    assert first.check() == second.check() == "Sandbox Company_US_1"
    assert qbo.counters()["refreshes"] == refreshes + 1

    qbo.token("expire")
    third, fourth = build(), build()
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda c=c: answers.append(c.check())) for c in (third, fourth)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == ["Sandbox Company_US_1"] * 2  # at once: still one refresh
    assert qbo.counters()["refreshes"] == refreshes + 2


def test_malformed_batch_answer_fails_the_step_clearly_and_nothing_doubles(
    tmp_path: Path, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    web = web_with("A")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)
    placed = [web.place_order([("A", 1)]) for _ in range(2)]
    qbo.faults({"path": "batch", "kind": "bad_json"})

    first = sync_all(hub)

    message = str(first.steps["orders-out"].get("message"))
    assert first.steps["orders-out"]["status"] == "failed"
    assert "unreadable QuickBooks answer" in message and "not JSON" in message
    second = sync_all(hub)
    assert second.status is RunStatus.SUCCEEDED, second
    assert qbo.receipts() == {o.number: 1 for o in placed}


def test_ten_percent_faults_every_order_posted_once_and_stock_converges(
    tmp_path: Path, qbo: Qbo
) -> None:
    skus = [f"S{i}" for i in range(6)]
    qbo.items(*({"sku": sku, "qty": 500} for sku in skus))
    web = web_with(*skus)
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo, batch_size=4)
    placed = [web.place_order([(skus[i % 6], 1 + i % 3)]) for i in range(40)]
    qbo.admin.post("/admin/faults", json={"plan": [], "rate": 0.1, "seed": 5})

    for _ in range(8):  # each run picks up what the last could not finish
        report = sync_all(hub)
        if report.status is RunStatus.SUCCEEDED:
            break
    qbo.faults()  # faults off: one clean run must find nothing left to do
    final = sync_all(hub)

    assert final.status is RunStatus.SUCCEEDED, final
    assert sum(qbo.counters()["injected"].values()) > 0
    assert qbo.receipts() == {o.number: 1 for o in placed}
    for sku in skus:
        assert web.quantity(sku) == qbo.quantity(sku)


class _WriteProbe(httpx.BaseTransport):
    """Real HTTP; while the token endpoint is being called, tries to take the SQLite
    write lock from another connection and records whether it could."""

    def __init__(self, database: Path) -> None:
        self.inner = httpx.HTTPTransport()
        self.database = database
        self.during_token_call: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):
            probe = sqlite3.connect(self.database, timeout=0.2, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                self.during_token_call.append("writable")
            except sqlite3.OperationalError as exc:
                self.during_token_call.append(str(exc))
            finally:
                probe.close()
        return self.inner.handle_request(request)


def _db_back_office(hub: Hub, transport: httpx.BaseTransport | None = None) -> BackOffice:
    with hub.uow() as uow:
        connection = uow.stores.connection(1, "back_office")
        assert connection is not None
        connection_id, settings = connection.id, dict(connection.settings or {})
    env = ConnectorEnv(
        settings=settings,
        vault=DbCredentialVault(hub.sessions, hub.cipher, connection_id),
        limiters=hub.limiters,
        retry=hub.retry,
        transport=transport,
    )
    return make_back_office(env)


def test_a_token_refresh_never_holds_the_database_write_lock(tmp_path: Path, qbo: Qbo) -> None:
    """The token endpoint is called outside any transaction: webhooks and runs of other
    stores keep writing while QuickBooks answers (SQLite has one writer at a time)."""
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web_with())
    connect_store(hub, qbo)
    qbo.token("expire")
    probe = _WriteProbe(tmp_path / "hub.db")

    assert _db_back_office(hub, probe).check() == "Sandbox Company_US_1"

    assert probe.during_token_call == ["writable"]
    with hub.uow() as uow:
        connection = uow.stores.connection(1, "back_office")
        assert connection is not None
        connection_id = connection.id
    saved = DbCredentialVault(hub.sessions, hub.cipher, connection_id).load()
    assert LEASE_KEY not in saved  # freed once the new token was saved


def test_a_live_refresh_lease_is_waited_for_and_a_dead_one_expires(
    tmp_path: Path, qbo: Qbo
) -> None:
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web_with())
    connect_store(hub, qbo)
    with hub.uow() as uow:
        connection = uow.stores.connection(1, "back_office")
        assert connection is not None
        vault = DbCredentialVault(hub.sessions, hub.cipher, connection.id)
    qbo.token("expire")
    fresh = httpx.post(  # what the other process below will have got
        qbo.token_url,
        data={"grant_type": "refresh_token", "refresh_token": vault.load()["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).json()
    refreshes = qbo.counters()["refreshes"]

    # Another process holds a live lease and saves its token a moment later.
    with vault.update() as secrets:
        secrets[LEASE_KEY] = f"other-process {time.time() + 60!r}"

    def other_process_finishes() -> None:
        time.sleep(0.3)
        with vault.update() as secrets:
            secrets["access_token"] = fresh["access_token"]
            secrets["access_expires_at"] = repr(time.time() + 3600)
            secrets["refresh_token"] = fresh["refresh_token"]
            del secrets[LEASE_KEY]

    finisher = threading.Thread(target=other_process_finishes)
    finisher.start()
    assert _db_back_office(hub).check() == "Sandbox Company_US_1"
    finisher.join()
    assert qbo.counters()["refreshes"] == refreshes  # it used the other process's token

    # A process died mid-call: its lease has expired and is taken over.
    qbo.token("expire")
    with vault.update() as secrets:
        secrets[LEASE_KEY] = f"dead-process {time.time() - 1!r}"
        secrets["access_expires_at"] = "0"
    assert _db_back_office(hub).check() == "Sandbox Company_US_1"
    assert qbo.counters()["refreshes"] == refreshes + 1
    assert LEASE_KEY not in vault.load()


class _LeaseThief(httpx.BaseTransport):
    """Real HTTP; while the token endpoint is called, another process takes the lease
    (as if ours had run out)."""

    def __init__(self, vault: DbCredentialVault) -> None:
        self.inner = httpx.HTTPTransport()
        self.vault = vault

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):
            with self.vault.update() as secrets:
                secrets[LEASE_KEY] = f"other-process {time.time() + 60!r}"
        return self.inner.handle_request(request)


def test_a_refresh_that_outlived_its_lease_saves_its_token_and_leaves_the_new_lease(
    tmp_path: Path, qbo: Qbo, caplog: pytest.LogCaptureFixture
) -> None:
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web_with())
    connect_store(hub, qbo)
    with hub.uow() as uow:
        connection = uow.stores.connection(1, "back_office")
        assert connection is not None
        vault = DbCredentialVault(hub.sessions, hub.cipher, connection.id)
    qbo.token("expire")
    before = vault.load()["refresh_token"]

    assert _db_back_office(hub, _LeaseThief(vault)).check() == "Sandbox Company_US_1"

    saved = vault.load()
    assert saved["refresh_token"] != before  # the rotated token was kept, not lost
    assert saved[LEASE_KEY].startswith("other-process ")  # not ours to free
    assert "outlived its lease" in caplog.text
