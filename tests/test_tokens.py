"""API tokens can be listed, revoked and given an expiry: a revoked or expired token gets
401 from its very next request (nothing caches tokens), on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.db.models import ApiToken
from tests.conftest import Harness
from tests.service_helpers import Running, start_service


@pytest.fixture
def running(harness: Harness) -> Iterator[Running]:
    services.add_store(harness.hub, "shop")
    running = start_service(harness.hub)
    yield running
    running.server.stop()
    running.service.stop()


def status(running: Running, token: str) -> int:
    with running.client(token) as api:
        return api.get("/api/v1/stores/shop/runs").status_code


def cli(running: Running, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(lambda: running.hub), list(args))
    return result.exit_code, result.output


def test_a_revoked_token_is_refused_at_once(running: Running) -> None:
    code, output = cli(running, "token", "create", "--store", "shop")
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    other = running.token()  # an operator token, left alone
    assert status(running, token) == 200  # used once: also warms any cache there might be
    listed = json.loads(cli(running, "token", "list", "--json")[1])
    mine = next(t for t in listed if t["store"] == "shop")
    assert mine["state"] == "live" and mine["last_used_at"] is not None
    assert token not in json.dumps(listed)

    code, output = cli(running, "token", "revoke", str(mine["id"]))

    assert code == 0 and f"API token {mine['id']} revoked" in output
    assert status(running, token) == 401
    assert status(running, other) == 200
    states = {t["id"]: t["state"] for t in json.loads(cli(running, "token", "list", "--json")[1])}
    assert states[mine["id"]] == "revoked" and list(states.values()).count("live") == 1
    assert cli(running, "token", "revoke", "999999")[0] == 2  # unknown id: usage error


def test_a_token_stops_working_when_it_expires(running: Running) -> None:
    code, output = cli(running, "token", "create", "--store", "shop", "--expires-in", "30")
    assert code == 0 and "for 30 days" in output
    token = output.strip().splitlines()[-1]
    assert status(running, token) == 200
    (listed,) = json.loads(cli(running, "token", "list", "--json")[1])
    expires = datetime.fromisoformat(listed["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    with running.hub.uow() as uow:  # thirty days later
        uow.session.execute(
            update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        uow.commit()
    assert status(running, token) == 401
    assert json.loads(cli(running, "token", "list", "--json")[1])[0]["state"] == "expired"
    for days in ("0", "3651"):
        code, output = cli(running, "token", "create", "--operator", "--expires-in", days)
        assert code == 2 and "1-3650 days" in output


def test_token_list_shows_one_store_with_store_and_refuses_an_unknown_one(
    running: Running,
) -> None:
    services.add_store(running.hub, "annex")
    mine = services.issue_token(running.hub, "shop", operator=False)
    services.issue_token(running.hub, "annex", operator=False)
    services.issue_token(running.hub, None, operator=True)
    code, out = cli(running, "token", "list", "--store", "shop", "--json")
    assert code == 0, out
    assert [(t["id"], t["store"]) for t in json.loads(out)] == [(mine.id, "shop")]
    assert mine.token not in out
    code, out = cli(running, "token", "list", "--store", "nowhere")
    assert code == 2 and "no store named 'nowhere'" in out
