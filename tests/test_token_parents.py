"""Issue 27, row 4: a token minted through the API never outlives the token that minted
it (its expiry is capped at the parent's, and it is revoked with it), and only operators
(and the dashboard) mint tokens. Over real HTTP against a running hub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from stockbridge import services
from stockbridge.domain.model import InventorySource
from stockbridge.services.tokens import list_tokens, revoke_token
from tests.conftest import Harness
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    sqlite_harness.add_store(
        "alpha",
        source=InventorySource.BACK_OFFICE,
        web=FakeWebStore(),
        back_office=FakeBackOffice(),
    )
    r = start_service(sqlite_harness.hub)
    yield r
    r.server.stop()
    r.service.stop()


def _expiry(running: Running, token_id: int) -> datetime | None:
    return {t.id: t.expires_at for t in list_tokens(running.hub)}[token_id]


def test_a_child_token_expires_no_later_than_its_parent(running: Running) -> None:
    parent = services.issue_token(running.hub, None, operator=True, expires_in_days=1)
    assert parent.expires_at is not None
    with running.client(parent.token) as api:
        long = api.post("/api/v1/tokens", json={"store": "alpha", "expires_in_days": 3650})
        forever = api.post("/api/v1/tokens", json={"store": "alpha"})
        operator = api.post("/api/v1/tokens", json={})
        short = api.post("/api/v1/tokens", json={"store": "alpha", "expires_in_days": 1})
    for answer in (long, forever, operator, short):
        assert answer.status_code == 201, answer.text
        assert _expiry(running, answer.json()["id"]) is not None
    for capped in (long, forever, operator):
        assert _expiry(running, capped.json()["id"]) == parent.expires_at
    assert _expiry(running, short.json()["id"]) <= parent.expires_at  # type: ignore[operator]


def test_revoking_a_parent_revokes_its_children_and_theirs(running: Running) -> None:
    parent = services.issue_token(running.hub, None, operator=True)
    other = services.issue_token(running.hub, None, operator=True)
    with running.client(parent.token) as api:
        child = api.post("/api/v1/tokens", json={}).json()
    with running.client(child["token"]) as api:
        grandchild = api.post("/api/v1/tokens", json={"store": "alpha"}).json()
    with running.client(other.token) as api:
        unrelated = api.post("/api/v1/tokens", json={"store": "alpha"}).json()
    with running.client(grandchild["token"]) as api:
        assert api.get("/api/v1/stores/alpha/status").status_code == 200

    revoke_token(running.hub, parent.id)  # the operator, on the command line

    for token in (child["token"], grandchild["token"]):
        with running.client(token) as api:
            assert api.get("/api/v1/stores/alpha/status").status_code == 401
    with running.client(unrelated["token"]) as api:
        assert api.get("/api/v1/stores/alpha/status").status_code == 200
    states = {t.id: t.state for t in list_tokens(running.hub)}
    assert states[child["id"]] == states[grandchild["id"]] == "revoked"
    assert states[unrelated["id"]] == states[other.id] == "live"


def test_a_store_token_mints_no_token_and_revokes_no_other(running: Running) -> None:
    store_token = services.issue_token(running.hub, "alpha", operator=False, expires_in_days=1)
    sibling = services.issue_token(running.hub, "alpha", operator=False)
    with running.client(store_token.token) as api:
        minted = api.post("/api/v1/tokens", json={"store": "alpha", "expires_in_days": 3650})
        assert minted.status_code == 403
        assert "operator" in minted.json()["error"]
        assert api.delete(f"/api/v1/tokens/{sibling.id}").status_code == 404
    assert len(list_tokens(running.hub)) == 2
    with running.client(sibling.token) as api:
        assert api.get("/api/v1/stores/alpha/status").status_code == 200
