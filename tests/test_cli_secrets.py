"""Secrets off the command line: every secret option of the CLI also comes from standard
input (``--X-stdin``) or an environment variable; the command-line form still works but
warns on stderr. The use case each command calls is replaced by a recorder, so these
tests see exactly which secret reached it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.cli import build_app
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce import cli as bigcommerce_cli
from stockbridge.connectors.feed import cli as feed_cli
from stockbridge.connectors.qbo import cli as qbo_cli

WARNING = "on the command line is visible to other users"


@pytest.fixture(name="hub")
def cli_hub(tmp_path: Path) -> Iterator[Hub]:
    hub = bootstrap(Settings(home=tmp_path / "home"))
    hub.initialise()
    yield hub
    hub.engine.dispose()


@pytest.fixture(name="seen")
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the connect and store-settings use cases were called with."""
    calls: list[dict[str, Any]] = []

    def connect(*_args: Any, **kwargs: Any) -> str:
        calls.append(kwargs)
        return "reached"

    def update(*_args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    for module in (bigcommerce_cli, feed_cli, qbo_cli):
        monkeypatch.setattr(module, "connect_partner", connect)
    monkeypatch.setattr(
        "stockbridge.services.stores.update_store", update
    )  # the command imports it when it runs
    return calls


def run(hub: Hub, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(build_app(lambda: hub), list(args), input=stdin, env=env)


BC = ("connect", "bigcommerce", "--store", "shop", "--store-hash", "abc")
QBO = ("connect", "qbo", "--store", "shop", "--realm-id", "123", "--client-id", "app")
FEED = ("connect", "feed", "--store", "shop", "--source", "https://feed.example/stock.csv")


def test_bigcommerce_token_from_stdin_env_or_the_command_line_with_a_warning(
    hub: Hub, seen: list[dict[str, Any]]
) -> None:
    piped = run(hub, *BC, "--access-token-stdin", stdin="tok-stdin\n")
    assert piped.exit_code == 0, piped.output
    assert WARNING not in piped.stderr
    env = run(hub, *BC, env={"STOCKBRIDGE_BIGCOMMERCE_ACCESS_TOKEN": "tok-env"})
    assert env.exit_code == 0 and WARNING not in env.stderr
    argv = run(hub, *BC, "--access-token", "tok-argv")
    assert argv.exit_code == 0 and WARNING in argv.stderr
    assert "tok-argv" not in argv.stderr  # the warning never echoes the secret
    assert [c["secrets"]["access_token"] for c in seen] == ["tok-stdin", "tok-env", "tok-argv"]
    none = run(hub, *BC)
    assert none.exit_code == 2 and "--access-token-stdin" in none.stderr
    both = run(hub, *BC, "--access-token", "x", "--access-token-stdin", stdin="y\n")
    assert both.exit_code == 2 and "not both" in both.stderr
    empty = run(hub, *BC, "--access-token-stdin", stdin="")
    assert empty.exit_code == 2 and "no line" in empty.stderr
    assert len(seen) == 3  # the refusals reached nothing


def test_qbo_secrets_read_one_line_each_in_order(hub: Hub, seen: list[dict[str, Any]]) -> None:
    both = run(hub, *QBO, "--client-secret-stdin", "--refresh-token-stdin", stdin="sec\nrefresh\n")
    assert both.exit_code == 0, both.output
    env = run(
        hub,
        *QBO,
        env={"STOCKBRIDGE_QBO_CLIENT_SECRET": "sec-env", "STOCKBRIDGE_QBO_REFRESH_TOKEN": "rt"},
    )
    assert env.exit_code == 0 and WARNING not in env.stderr
    argv = run(hub, *QBO, "--client-secret", "s", "--refresh-token", "r")
    assert argv.exit_code == 0 and argv.stderr.count(WARNING) == 2
    got = [(c["secrets"]["client_secret"], c["secrets"]["refresh_token"]) for c in seen]
    assert got == [("sec", "refresh"), ("sec-env", "rt"), ("s", "r")]
    short = run(hub, *QBO, "--client-secret-stdin", "--refresh-token-stdin", stdin="only\n")
    assert short.exit_code == 2 and len(seen) == 3


def test_feed_credentials_from_stdin_env_or_the_command_line(
    hub: Hub, seen: list[dict[str, Any]]
) -> None:
    piped = run(hub, *FEED, "--token-stdin", stdin="bearer-1\n")
    assert piped.exit_code == 0, piped.output
    env = run(hub, *FEED, "--header-stdin", stdin="X-Key: k1\n")
    assert env.exit_code == 0, env.output
    pw = run(hub, *FEED, "--username", "u", env={"STOCKBRIDGE_FEED_PASSWORD": "pw-env"})
    assert pw.exit_code == 0 and WARNING not in pw.stderr
    argv = run(hub, *FEED, "--username", "u", "--password", "pw-argv")
    assert argv.exit_code == 0 and WARNING in argv.stderr
    secrets = [c["secrets"] for c in seen]
    assert secrets[0] == {"token": "bearer-1"}
    assert secrets[1] == {"header_value": "k1"}
    assert secrets[2]["password"] == "pw-env" and secrets[3]["password"] == "pw-argv"


def test_the_alert_webhook_url_from_stdin_or_the_command_line_with_a_warning(
    hub: Hub, seen: list[dict[str, Any]]
) -> None:
    url = "https://chat.example/hooks/T0/B0/secret"
    piped = run(hub, "store", "set", "shop", "--alert-webhook-stdin", stdin=url + "\n")
    assert piped.exit_code == 0, piped.output
    argv = run(hub, "store", "set", "shop", "--alert-webhook", url)
    assert argv.exit_code == 0 and WARNING in argv.stderr
    stop = run(hub, "store", "set", "shop", "--alert-webhook", "")  # "" stops: no secret
    assert stop.exit_code == 0 and WARNING not in stop.stderr
    assert [c["alert_webhook_url"] for c in seen] == [url, url, ""]


def test_the_sandboxes_take_their_secrets_from_stdin(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_kw: served.append(app))

    def serve_bound(server: Any, sockets: list[Any] | None = None) -> None:
        # the QuickBooks sandbox binds its socket first (it prints the real port)
        served.append(server.config.app)
        for bound in sockets or []:
            bound.close()

    monkeypatch.setattr("uvicorn.Server.run", serve_bound)
    from stockbridge.connectors.bigcommerce import sandbox as bc_sandbox

    made: list[Any] = []
    original = bc_sandbox.SStore

    def record(**kwargs: Any) -> Any:
        made.append(original(**kwargs))
        return made[-1]

    monkeypatch.setattr(bc_sandbox, "SStore", record)
    qbo = run(hub, "sandbox", "qbo", "--client-secret-stdin", stdin="s3cret\n")
    assert qbo.exit_code == 0, qbo.output
    assert served[-1].books.client_secret == "s3cret" and "s3cret" not in qbo.output
    bc = run(hub, "sandbox", "bigcommerce", "--access-token-stdin", stdin="t0k\n")
    assert bc.exit_code == 0, bc.output
    assert made[-1].token == "t0k"
    warned = run(hub, "sandbox", "qbo", "--client-secret", "x")
    assert warned.exit_code == 0 and WARNING in warned.stderr


def test_connect_qbo_in_the_browser_refuses_what_it_cannot_use(hub: Hub) -> None:
    browser = ("connect", "qbo", "--store", "shop", "--browser", "--no-open")
    nowhere = run(hub, *browser)
    assert nowhere.exit_code == 2 and "--base-url" in nowhere.stderr
    mixed = run(hub, *browser, "--base-url", "http://127.0.0.1:9", "--refresh-token", "x")
    assert mixed.exit_code == 2 and "drop --refresh-token" in mixed.stderr
    unknown = run(hub, *browser, "--base-url", "http://127.0.0.1:9")
    assert unknown.exit_code == 2 and "no store named 'shop'" in unknown.stderr
    bad_url = run(hub, *browser, "--base-url", "ftp://hub")
    assert bad_url.exit_code == 2
