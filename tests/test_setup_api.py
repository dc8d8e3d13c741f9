"""The API routes for what the dashboard does (stores, settings, status, connections,
schedules, tokens, users) over HTTP: store isolation on every one, operator-only routes,
revoked and expired tokens, and bad input (malformed, oversized, wrong types, unknown
names, duplicates) answered with a clear 4xx and nothing half-applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from stockbridge import accounts, services
from stockbridge.db.models import ApiToken
from stockbridge.domain.model import InventorySource
from stockbridge.services.tokens import list_tokens
from tests.conftest import Harness
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    for name in ("alpha", "beta"):
        web, bo = FakeWebStore(), FakeBackOffice()
        web.add_variant("A", 0)
        bo.set_item("A", 5)
        sqlite_harness.add_store(name, source=InventorySource.BACK_OFFICE, web=web, back_office=bo)
    r = start_service(sqlite_harness.hub)
    yield r
    r.server.stop()
    r.service.stop()


#: Every new store-scoped route: (method, path under /api/v1/stores/{store}, JSON body).
STORE_ROUTES = [
    ("GET", "/settings", None),
    ("PATCH", "/settings", {"erp_name": "Forged"}),
    ("GET", "/status", None),
    ("GET", "/connections", None),
    ("DELETE", "/connections/web", None),
    ("GET", "/schedules", None),
    ("PUT", "/schedules/all", {"daily_at": "03:00"}),
]


def test_a_store_token_gets_404_for_every_other_store_and_nothing_changes(
    running: Running,
) -> None:
    alpha = running.token("alpha")
    before = services.describe_store(running.hub, "beta")
    schedule = services.show_schedule(running.hub, "beta")
    with running.client(alpha) as api:
        for method, path, body in STORE_ROUTES:
            for store in ("beta", "nowhere"):
                answer = api.request(method, f"/api/v1/stores/{store}{path}", json=body)
                assert answer.status_code == 404, (method, path, answer.text)
                assert answer.json() == {"error": f"no store named {store!r}"}
            own = api.request(method, f"/api/v1/stores/alpha{path}", json=body)
            assert own.status_code == 200, (method, path, own.text)
    assert services.describe_store(running.hub, "beta") == before
    assert services.show_schedule(running.hub, "beta").schedules == schedule.schedules


def test_operator_routes_are_403_for_a_store_token_and_401_without_one(running: Running) -> None:
    alpha = running.token("alpha")
    calls = [
        ("POST", "/api/v1/stores", {"name": "gamma"}),
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"name": "eve", "password": "long enough", "operator": True}),
        ("PUT", "/api/v1/users/x/grants", {"operator": True}),
        ("DELETE", "/api/v1/users/x", None),
        ("POST", "/api/v1/tokens", {}),  # an operator token
    ]
    with running.client(alpha) as api, running.client() as anon:
        for method, path, body in calls:
            assert api.request(method, path, json=body).status_code == 403, path
            assert anon.request(method, path, json=body).status_code == 401, path
    assert [s.name for s in services.list_stores(running.hub)] == ["alpha", "beta"]
    assert accounts.list_users(running.hub) == []


def test_an_operator_creates_a_store_and_bad_input_saves_nothing(running: Running) -> None:
    with running.client(running.token()) as api:
        made = api.post(
            "/api/v1/stores",
            json={"name": "gamma", "timezone": "Europe/Paris", "inventory_source": "web"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["timezone"] == "Europe/Paris"
        assert made.json()["inventory_source"] == "web"
        refused = [
            ({"name": "gamma"}, 409),  # duplicate
            ({"name": "delta", "timezone": "Mars/Base"}, 422),
            ({"name": "delta", "inventory_source": "telepathy"}, 422),
            ({"name": 5}, 422),  # wrong type
            ({"name": "d" * 101}, 422),  # oversized
            ({"name": "a/b"}, 422),
            ({"name": "delta", "color": "red"}, 422),  # unknown field
            ({}, 422),
        ]
        for body, status in refused:
            answer = api.post("/api/v1/stores", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert answer.json()["error"]
        malformed = api.post(
            "/api/v1/stores", content=b'{"name": ', headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 422
        huge = api.post(
            "/api/v1/stores",
            content=b'{"name": "' + b"x" * 1_100_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413
    assert [s.name for s in services.list_stores(running.hub)] == ["alpha", "beta", "gamma"]


def test_settings_change_all_or_nothing(running: Running) -> None:
    with running.client(running.token("alpha")) as api:
        changed = api.patch(
            "/api/v1/stores/alpha/settings", json={"timezone": "Asia/Tokyo", "erp_name": "Acme"}
        )
        assert changed.status_code == 200, changed.text
        assert api.get("/api/v1/stores/alpha/settings").json()["timezone"] == "Asia/Tokyo"
        before = services.describe_store(running.hub, "alpha")
        for body in (
            {"timezone": "America/Chicago", "alert_email": "not an address"},
            {"timezone": "Nowhere/Land"},
            {"stale_after_hours": "12"},  # a string for a number
            {"stale_after_hours": 0},
            {"sync_all_button": "yes"},
            {"erp_name": "e" * 201},
        ):
            answer = api.patch("/api/v1/stores/alpha/settings", json=body)
            assert answer.status_code == 422, (body, answer.text)
        assert services.describe_store(running.hub, "alpha") == before


def test_schedules_are_read_set_and_turned_off_and_bad_ones_refused(running: Running) -> None:
    with running.client(running.token("alpha")) as api:
        shown = api.get("/api/v1/stores/alpha/schedules").json()
        assert [s["step"] for s in shown["schedules"]] == ["all"]
        made = api.put(
            "/api/v1/stores/alpha/schedules/stock",
            json={"every_minutes": 15, "business_days": True, "holidays": ["2026-12-25"]},
        )
        assert made.status_code == 200, made.text
        stock = next(s for s in made.json()["schedules"] if s["step"] == "stock")
        assert stock["every_minutes"] == 15 and stock["holidays"] == ["2026-12-25"]
        assert len(stock["next_runs"]) == 5
        off = api.put("/api/v1/stores/alpha/schedules/stock", json={"enabled": False})
        assert off.status_code == 200
        assert not next(s for s in off.json()["schedules"] if s["step"] == "stock")["enabled"]
        before = services.show_schedule(running.hub, "alpha").schedules
        for path, body in (
            ("/schedules/all", {"daily_at": "25:00"}),
            ("/schedules/all", {"every_minutes": 0}),
            ("/schedules/all", {"every_minutes": "5"}),
            ("/schedules/all", {}),  # nothing to set
            ("/schedules/all", {"daily_at": "02:00", "holidays": ["2026-02-30"]}),
            ("/schedules/never", {"daily_at": "02:00"}),
        ):
            answer = api.put(f"/api/v1/stores/alpha{path}", json=body)
            assert answer.status_code == 422, (path, body, answer.text)
        assert services.show_schedule(running.hub, "alpha").schedules == before


def test_status_shows_the_last_manual_sync(running: Running) -> None:
    with running.client(running.token("alpha")) as api:
        assert api.get("/api/v1/stores/alpha/status").json()["last_manual_sync_at"] is None
        run_id = api.post("/api/v1/stores/alpha/sync").json()["run_id"]
        finished = running.wait_run(run_id)
        status = api.get("/api/v1/stores/alpha/status").json()
        assert status["last_manual_sync_at"] == finished.finished_at.isoformat()  # type: ignore[union-attr]
        assert status["steps"]["orders-in"]["run_id"] == run_id


def test_connections_are_listed_and_disconnected_once(running: Running) -> None:
    with running.client(running.token("alpha")) as api:
        listed = api.get("/api/v1/stores/alpha/connections").json()
        assert {(c["role"], c["kind"]) for c in listed} == {
            ("web", "fake-web"),
            ("back_office", "fake-bo"),
        }
        gone = api.delete("/api/v1/stores/alpha/connections/back_office")
        assert gone.status_code == 200 and gone.json()["kind"] == "fake-bo"
        again = api.delete("/api/v1/stores/alpha/connections/back_office")
        assert again.status_code == 404
        assert "no back office connection" in again.json()["error"]
        assert api.delete("/api/v1/stores/alpha/connections/supplier").status_code == 422
        left = api.get("/api/v1/stores/alpha/connections").json()
        assert [c["role"] for c in left] == ["web"]
    beta = services.describe_store(running.hub, "beta").connections
    assert len(beta) == 2


def _expire(running: Running, token_id: int) -> None:
    with running.hub.uow() as uow:
        row = uow.session.get(ApiToken, token_id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        uow.commit()


def test_tokens_are_created_by_operators_and_a_store_token_revokes_only_itself(
    running: Running,
) -> None:
    beta = services.issue_token(running.hub, "beta", operator=False)
    sibling = services.issue_token(running.hub, "alpha", operator=False)
    with running.client(running.token()) as operator:
        made = operator.post("/api/v1/tokens", json={"store": "alpha", "expires_in_days": 30})
        assert made.status_code == 201, made.text
        new = made.json()
        assert new["token"].startswith("sbt_") and new["store"] == "alpha"
        bodies: list[dict[str, object]] = [
            {"store": "alpha", "expires_in_days": 0},
            {"store": 7},
            {"x": 1},
        ]
        for body in bodies:
            assert operator.post("/api/v1/tokens", json=body).status_code == 422, body
        assert operator.delete("/api/v1/tokens/0").status_code == 422
        assert operator.delete(f"/api/v1/tokens/{2**64}").status_code == 422
        assert operator.delete("/api/v1/tokens/999999").status_code == 404
    with running.client(new["token"]) as api:
        listed = api.get("/api/v1/tokens").json()
        assert {t["store"] for t in listed} == {"alpha"}
        assert new["token"] not in str(listed) and "token_hash" not in str(listed)
        assert new["id"] in {t["id"] for t in listed}
        # a store token mints nothing, for its store or another
        mints: list[dict[str, str]] = [{"store": "alpha"}, {"store": "beta"}, {}]
        for mint in mints:
            assert api.post("/api/v1/tokens", json=mint).status_code == 403, mint
        # another store's token, or a sibling of its own store: as if it did not exist
        assert api.delete(f"/api/v1/tokens/{beta.id}").status_code == 404
        assert api.delete(f"/api/v1/tokens/{sibling.id}").status_code == 404
        assert api.delete("/api/v1/tokens/999999").status_code == 404
    for kept in (beta, sibling):
        with running.client(kept.token) as other:
            assert other.get("/api/v1/tokens").status_code == 200

    with running.client(new["token"]) as fresh:
        assert fresh.get("/api/v1/stores/alpha/status").status_code == 200
        assert fresh.delete(f"/api/v1/tokens/{new['id']}").status_code == 204
        refused = fresh.get("/api/v1/stores/alpha/status")  # at once, the very next request
        assert refused.status_code == 401
    states = {t.id: t.state for t in list_tokens(running.hub)}
    assert states[new["id"]] == "revoked" and states[beta.id] == "live"
    assert states[sibling.id] == "live"
    assert len(list_tokens(running.hub)) == 4  # beta, sibling, the operator's, new


def test_an_expired_token_is_refused_at_once(running: Running) -> None:
    issued = services.issue_token(running.hub, "alpha", operator=False, expires_in_days=1)
    with running.client(issued.token) as api:
        assert api.get("/api/v1/tokens").status_code == 200
        _expire(running, issued.id)
        answer = api.get("/api/v1/tokens")
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert {t.id: t.state for t in list_tokens(running.hub)}[issued.id] == "expired"


def test_operators_manage_users_and_grants_and_bad_input_saves_nothing(
    running: Running,
) -> None:
    with running.client(running.token()) as api:
        made = api.post(
            "/api/v1/users", json={"name": "mia", "password": "correct horse", "stores": ["alpha"]}
        )
        assert made.status_code == 201, made.text
        assert made.json() == {"name": "mia", "operator": False, "stores": ["alpha"], "sessions": 0}
        assert "correct horse" not in made.text
        refused = [
            ({"name": "mia", "password": "correct horse", "stores": ["alpha"]}, 409),
            ({"name": "zed", "password": "short", "stores": ["alpha"]}, 422),
            ({"name": "zed", "password": "correct horse", "stores": ["nowhere"]}, 404),
            ({"name": "zed", "password": "correct horse"}, 422),  # neither stores nor operator
            ({"name": "zed", "password": "correct horse", "operator": "yes"}, 422),
            ({"name": " zed", "password": "correct horse", "operator": True}, 422),
            ({"name": "z" * 101, "password": "correct horse", "operator": True}, 422),
        ]
        for body, status in refused:
            answer = api.post("/api/v1/users", json=body)
            assert answer.status_code == status, (body, answer.text)
            assert "correct horse" not in answer.text
        granted = api.put("/api/v1/users/mia/grants", json={"stores": ["alpha", "beta"]})
        assert granted.status_code == 200 and granted.json()["stores"] == ["alpha", "beta"]
        assert api.put("/api/v1/users/mia/grants", json={"stores": ["nowhere"]}).status_code == 404
        assert api.put("/api/v1/users/mia/grants", json={}).status_code == 422
        assert api.put("/api/v1/users/nobody/grants", json={"operator": True}).status_code == 404
        assert [u["stores"] for u in api.get("/api/v1/users").json()] == [["alpha", "beta"]]
        assert api.delete("/api/v1/users/nobody").status_code == 404
        assert api.delete("/api/v1/users/mia").status_code == 204
        assert api.get("/api/v1/users").json() == []
