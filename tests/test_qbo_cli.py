"""``stockbridge connect qbo`` through the real entry point, against the sandbox."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.qbo_support import CLIENT_ID, CLIENT_SECRET, Qbo, qbo_sandbox  # noqa: F401
from tests.test_cli import EXE, sb


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert sb(home, "init").returncode == 0
    assert sb(home, "store", "add", "shop").returncode == 0
    return home


def connect(
    home: Path, qbo: Qbo, *, secret: str = CLIENT_SECRET, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    return sb(
        home,
        "connect",
        "qbo",
        "--store",
        "shop",
        "--realm-id",
        qbo.realm,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        secret,
        "--refresh-token",
        token or qbo.token(),
        "--api-url",
        qbo.url,
        "--token-url",
        qbo.token_url,
    )


def connections(home: Path) -> list[dict[str, object]]:
    shown = sb(home, "store", "show", "shop", "--json")
    return list(json.loads(shown.stdout)["connections"])


def test_connect_with_a_good_grant_saves_the_connection(home: Path, qbo: Qbo) -> None:
    token = qbo.token()
    result = connect(home, qbo, token=token)

    assert result.returncode == 0, result.stderr
    assert "Sandbox Company_US_1" in result.stdout
    assert connections(home) == [
        {
            "role": "back_office",
            "kind": "qbo",
            "health": "connected",
            "last_error": None,
            "name": "",  # a supplier's name; the back office has none
            "owns": None,
            "account": qbo.realm,  # the QuickBooks company (realm id) it is connected to
        }
    ]
    for secret in (token, CLIENT_SECRET):
        assert secret not in result.stdout + result.stderr
    database = (home / "stockbridge.db").read_bytes()
    assert CLIENT_SECRET.encode() not in database  # encrypted at rest


@pytest.mark.parametrize(
    ("secret", "token", "message"),
    [
        (CLIENT_SECRET, "RT1-not-a-grant", "invalid_grant"),
        ("wrong-secret", None, "client id or secret was refused"),
    ],
)
def test_connect_with_bad_credentials_exits_1_and_saves_nothing(
    home: Path, qbo: Qbo, secret: str, token: str | None, message: str
) -> None:
    result = connect(home, qbo, secret=secret, token=token)

    assert result.returncode == 1
    assert "reconnect QuickBooks" in result.stderr and message in result.stderr
    assert connections(home) == []
    assert "wrong-secret" not in result.stderr


def test_connect_to_an_unreachable_api_is_a_clear_error(home: Path, qbo: Qbo) -> None:
    result = sb(
        home,
        "connect",
        "qbo",
        "--realm-id",
        qbo.realm,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
        "--refresh-token",
        qbo.token(),
        "--api-url",
        "http://127.0.0.1:9",
        "--token-url",
        "http://127.0.0.1:9/oauth2/v1/tokens/bearer",
    )
    assert result.returncode == 1
    assert "could not reach qbo" in result.stderr
    assert connections(home) == []


def test_the_sandbox_prints_the_address_it_listens_on(tmp_path: Path) -> None:
    """``--port 0`` (the default) picks a free port: the address printed is that port's,
    and a refresh token can be had there at once."""
    env = {**os.environ, "STOCKBRIDGE_HOME": str(tmp_path / "home")}
    process = subprocess.Popen([EXE, "sandbox", "qbo"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"API base (http://127\.0\.0\.1:(\d+));", line)
        assert found and int(found.group(2)) != 0, line
        issued = wait_for_answer(lambda: httpx.post(f"{found.group(1)}/admin/tokens/issue"))
        assert issued.status_code < 500, issued.text
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_answer(call: Callable[[], httpx.Response]) -> httpx.Response:
    """The sandbox's first answer (it starts serving just after it prints)."""
    for _attempt in range(200):
        try:
            return call()
        except httpx.ConnectError:
            time.sleep(0.05)
    raise AssertionError("the sandbox never answered")
