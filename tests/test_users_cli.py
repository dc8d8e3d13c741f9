"""`stockbridge user add`: dashboard users from the command line, passwords hashed."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockbridge import accounts
from stockbridge.bootstrap import bootstrap
from stockbridge.cli import build_app
from stockbridge.config import Settings
from stockbridge.db.models import UserStore
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.service_helpers import wait_for

EXE = str(Path(sys.executable).with_name("stockbridge"))


def sb(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKBRIDGE_HOME": str(home)}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    result = subprocess.run(
        [EXE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_user_add_stores_only_an_argon2_hash_and_refuses_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert sb(home, "init").returncode == 0
    for store in ("north", "south", "east"):
        assert sb(home, "store", "add", store).returncode == 0
    added = sb(
        home, "user", "add", "ann", "--operator", "--password-stdin", stdin="s3cret-passw0rd\n"
    )
    assert added.returncode == 0, added.stderr
    assert "every store" in added.stdout
    assert "s3cret" not in added.stdout + added.stderr
    pw = "long-enough-pw\n"
    granted = sb(
        home, "user", "add", "bea", "--store", "north", "--store", "south", "--store", "north",
        "--password-stdin", stdin=pw,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert "sees north, south" in granted.stdout
    grants = "stores the user may see"
    for args, stdin, reason in [
        (("ann", "--operator"), "another-password\n", "already exists"),
        (("bob", "--operator"), "short\n", "8-1024 characters"),
        ((" bob", "--operator"), pw, "user names"),
        (("x" * 101, "--store", "north"), pw, "user names"),
        (("bob",), pw, grants),  # neither stores nor --operator
        (("bob", "--store", "north", "--operator"), pw, grants),  # both
        (("bob", "--store", "north", "--store", "nowhere"), pw, "no store named 'nowhere'"),
        (("bob", "--store", ""), pw, "no store named ''"),
    ]:
        refused = sb(home, "user", "add", *args, "--password-stdin", stdin=stdin)
        assert refused.returncode == 2, args
        assert reason in refused.stderr, (args, refused.stderr)
    hub = bootstrap(Settings(home=home))
    with hub.uow() as uow:
        ann = uow.users.by_name("ann")
        assert ann is not None and ann.password_hash.startswith("$argon2id$")
        assert "s3cret" not in ann.password_hash
        assert uow.users.by_name("bob") is None  # nothing half-saved, not even a grant
        assert uow.session.scalar(select(func.count()).select_from(UserStore)) == 2
    session_id, csrf = accounts.log_in(hub, "ann", "s3cret-passw0rd", "127.0.0.1")
    assert accounts.session_info(hub, session_id) == accounts.SessionInfo(
        "ann", csrf, operator=True
    )
    session_id, csrf = accounts.log_in(hub, "bea", "long-enough-pw", "127.0.0.1")
    assert accounts.session_info(hub, session_id) == accounts.SessionInfo(
        "bea", csrf, stores=frozenset({"north", "south"})
    )
    hub.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_demo_prints_a_dashboard_login_that_works(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STOCKBRIDGE_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    env["COLUMNS"] = "300"
    demo = subprocess.Popen(
        [EXE, "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert demo.stdout is not None
        login = None
        for line in demo.stdout:  # ends if the demo exits
            found = re.search(r"Dashboard: (\S+)\s+user: (\S+)\s+password: (\S+)", line)
            if found:
                login = found.groups()
                break
        assert login is not None, "the demo printed no dashboard login"
        url, user, password = login
        assert url == f"http://127.0.0.1:{port}/login"
        base = url.removesuffix("/login")
        wait_for(lambda: _answers(base), 30, "the demo's server")
        with httpx.Client(base_url=base, timeout=30) as browser:
            csrf = log_in(browser, user, password)
            assert csrf
            assert "Sync All" in browser.get("/stores/demo").text
    finally:
        demo.terminate()
        demo.wait(timeout=30)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_sessions_and_the_throttle_on_each_database(harness: Harness) -> None:
    hub = harness.hub
    accounts.add_user(hub, "ann", "s3cret-passw0rd", operator=True)
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for n in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.LoginFailed):
            accounts.log_in(hub, "ann", "wrong", "10.0.0.1", now=start + timedelta(seconds=n))
    with pytest.raises(accounts.LoginThrottled) as throttled:
        accounts.log_in(hub, "ann", "s3cret-passw0rd", "10.0.0.1", now=start + timedelta(minutes=1))
    assert 0 < throttled.value.retry_after <= 15 * 60
    later = start + timedelta(minutes=16)  # the wait is over
    session_id, csrf = accounts.log_in(hub, "ann", "s3cret-passw0rd", "10.0.0.1", now=later)
    assert accounts.session_info(hub, session_id, now=later) == accounts.SessionInfo(
        "ann", csrf, operator=True
    )
    expired = later + accounts.SESSION_LIFETIME
    assert accounts.session_info(hub, session_id, now=expired) is None
    accounts.log_out(hub, session_id)
    assert accounts.session_info(hub, session_id, now=later) is None
    assert accounts.session_info(hub, "", now=later) is None
    with pytest.raises(accounts.InvalidAccount, match="already exists"):
        accounts.add_user(hub, "ann", "another-password", operator=True)


def test_user_set_remove_and_list_change_access_at_once(harness: Harness) -> None:
    """Grants and passwords change after creation; a new password or a removal ends the
    user's sessions, so a stolen session stops working."""
    hub = harness.hub
    harness.add_store("north")
    harness.add_store("south")
    app, cli = build_app(lambda: hub), CliRunner()
    accounts.add_user(hub, "ann", "first-password", stores=["north"])
    session, _csrf = accounts.log_in(hub, "ann", "first-password", "127.0.0.1")

    def listed() -> list[dict[str, object]]:
        result = cli.invoke(app, ["user", "list", "--json"])
        assert result.exit_code == 0, result.output
        return list(json.loads(result.output))

    assert listed() == [{"name": "ann", "operator": False, "stores": ["north"], "sessions": 1}]
    moved = cli.invoke(app, ["user", "set", "ann", "--store", "south"])
    assert moved.exit_code == 0 and "sees south" in moved.output
    info = accounts.session_info(hub, session)
    assert info is not None and info.may_see("south") and not info.may_see("north")

    for args, reason in [
        (["user", "set", "bob", "--operator"], "no user named 'bob'"),
        (["user", "set", "ann"], "nothing to change"),
        (["user", "set", "ann", "--operator", "--store", "north"], "not both"),
        (["user", "set", "ann", "--store", "nowhere"], "no store named 'nowhere'"),
        (["user", "remove", "bob"], "no user named 'bob'"),
    ]:
        refused = cli.invoke(app, args)
        assert refused.exit_code == 2 and reason in refused.output, (args, refused.output)
    assert listed()[0]["stores"] == ["south"]  # nothing half-applied

    short = cli.invoke(app, ["user", "set", "ann", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and accounts.session_info(hub, session) is not None
    changed = cli.invoke(
        app, ["user", "set", "ann", "--operator", "--password-stdin"], input="second-password\n"
    )
    assert changed.exit_code == 0 and "sessions ended" in changed.output, changed.output
    assert accounts.session_info(hub, session) is None
    with pytest.raises(accounts.LoginFailed):
        accounts.log_in(hub, "ann", "first-password", "10.0.0.1")
    again, _ = accounts.log_in(hub, "ann", "second-password", "10.0.0.2")
    assert listed() == [{"name": "ann", "operator": True, "stores": [], "sessions": 1}]

    removed = cli.invoke(app, ["user", "remove", "ann"])
    assert removed.exit_code == 0 and listed() == []
    assert accounts.session_info(hub, again) is None
