"""``stockbridge connect feed``: options, bad input refused with nothing saved, and a pull
every minute run by the service's scheduler with no manual trigger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.cli import build_app
from stockbridge.db.models import Schedule, SyncRun
from stockbridge.runtime import Service
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    FeedServer,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
    seed_web,
)
from tests.service_helpers import wait_for


def cli(hub: Hub, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(lambda: hub), list(args))
    return result.exit_code, result.output


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path)
    services.add_store(hub, "shop")
    return hub


@dataclass(frozen=True)
class Saved:
    kind: str
    settings: dict[str, Any]
    credentials: bytes | None


def back_office(hub: Hub) -> Saved | None:
    with hub.uow() as uow:
        row = uow.stores.connection(services.resolve_store(hub, "shop"), "back_office")
        return None if row is None else Saved(row.kind, dict(row.settings), row.credentials)


def test_connect_a_folder_feed_with_its_options(hub: Hub, tmp_path: Path) -> None:
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir()
    outbox.mkdir()

    code, output = cli(
        hub,
        "connect",
        "feed",
        "--store",
        "shop",
        "--source",
        str(inbox),
        "--format",
        "json",
        "--sku-field",
        "code",
        "--quantity-field",
        "qty",
        "--missing",
        "zero",
        "--orders-to",
        str(outbox),
        "--json-path",
        "items",
    )

    assert code == 0, output
    assert str(inbox) in output and str(outbox) in output
    connection = back_office(hub)
    assert connection is not None and connection.kind == "feed"
    settings = connection.settings
    assert (settings["format"], settings["sku_field"], settings["quantity_field"]) == (
        "json",
        "code",
        "qty",
    )
    assert (settings["missing"], settings["orders_to"], settings["json_path"]) == (
        "zero",
        str(outbox),
        "items",
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "xml"], 2, "format must be csv or json"),
        (["--missing", "drop"], 2, "missing must be keep or zero"),
        (["--delimiter", ";;"], 2, "delimiter must be one character"),
        (["--encoding", "utf-16"], 2, "encoding must be one of"),
        (["--files", "oldest"], 2, "files must be newest or all"),
        (["--orders-format", "xml"], 2, "orders_format must be json or csv"),
        (["--every", "0"], 2, "--every"),
        (["--every", "1441"], 2, "--every"),
        (["--every", "soon"], 2, "--every"),
        (["--max-bad-share", "1.5"], 2, "--max-bad-share"),
        (["--header", "no colon here"], 2, "'Name: value'"),
        (["--no-header"], 2, "columns are positions"),
        (["--sftp-key", "/nonexistent/key"], 2, "cannot read it"),
        (["--store", "nope"], 2, "nope"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_saved(
    hub: Hub, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    base = ["connect", "feed", "--source", str(inbox)]
    if "--store" not in args:
        base += ["--store", "shop"]

    exit_code, output = cli(hub, *base, *args)

    assert exit_code == code, output
    assert message in " ".join(output.split()), output
    assert back_office(hub) is None
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("source", "code", "message"),
    [
        ("ftp://host/stock.csv", 2, "unsupported source"),
        ("sftp://host/stock.csv", 2, "needs a user"),
        ("sftp://me@host:99999/x", 2, "bad port"),
        ("sftp://me:pw@host/x", 2, "--password"),
        ("{missing}", 1, "is not a folder"),
        ("http://127.0.0.1:9/stock.csv", 1, "could not reach feed"),
        ("", 2, "needs its source"),
    ],
)
def test_bad_sources_are_refused_and_nothing_is_saved(
    hub: Hub, tmp_path: Path, source: str, code: int, message: str
) -> None:
    source = source.replace("{missing}", str(tmp_path / "missing"))

    exit_code, output = cli(hub, "connect", "feed", "--store", "shop", "--source", source)

    assert exit_code == code, output
    assert message in " ".join(output.split()), output
    assert back_office(hub) is None


def test_a_url_that_answers_404_is_refused(hub: Hub, feed_server: FeedServer) -> None:
    code, output = cli(
        hub,
        "connect",
        "feed",
        "--store",
        "shop",
        "--source",
        feed_server.url("none.csv") + "?key=SECRET",
    )

    assert code == 1 and "404" in output
    assert "SECRET" not in output  # a key in the query string never reaches a message
    assert back_office(hub) is None


def test_secrets_are_stored_encrypted_not_in_settings(hub: Hub, feed_server: FeedServer) -> None:
    feed_server.bearer = "tok-123"
    feed_server.files["stock.csv"] = b"sku,quantity\nA,1\n"

    code, output = cli(
        hub,
        "connect",
        "feed",
        "--store",
        "shop",
        "--source",
        feed_server.url("stock.csv"),
        "--token",
        "tok-123",
    )

    assert code == 0, output
    connection = back_office(hub)
    assert connection is not None and connection.credentials is not None
    assert b"tok-123" not in connection.credentials
    assert "tok-123" not in json.dumps(connection.settings)
    assert hub.cipher.decrypt(connection.credentials)["token"] == "tok-123"


def test_every_minute_the_service_pulls_the_feed_with_no_manual_trigger(
    hub: Hub, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 0, "B": 0})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,4\nB,6\n"
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    code, output = cli(
        hub,
        "connect",
        "feed",
        "--store",
        "shop",
        "--source",
        feed_server.url("stock.csv"),
        "--every",
        "1",
    )
    assert code == 0, output
    assert "every 1 minute" in output
    shown = services.show_schedule(hub, "shop")
    stock = [s for s in shown.schedules if s.step == "stock"]
    assert stock and stock[0].every_minutes == 1 and stock[0].enabled
    # A minute goes by: the schedule's last slot moves back instead of the test waiting.
    with hub.uow() as uow:
        uow.session.execute(
            update(Schedule)
            .where(Schedule.step == "stock")
            .values(last_slot_at=datetime.now(UTC) - timedelta(minutes=2))
        )
        uow.commit()

    service = Service(hub, tick_seconds=0.2).start()
    try:
        wait_for(lambda: bc_store.stock() == {"A": 4, "B": 6}, what="stock on the web")
    finally:
        service.stop()  # lets the run in progress record its end

    with hub.uow() as uow:
        runs = uow.session.execute(select(SyncRun.trigger, SyncRun.steps, SyncRun.status)).all()
    assert ("schedule", "inventory-in,inventory-out", "succeeded") in [tuple(r) for r in runs]
    assert all(trigger == "schedule" for trigger, _steps, _status in runs)
    assert feed_server.downloads == 2  # the check at connect, then the scheduled pull


def test_schedule_set_accepts_the_stock_step(hub: Hub) -> None:
    code, output = cli(hub, "schedule", "set", "shop", "--every", "15", "--step", "stock")

    assert code == 0, output
    shown = services.show_schedule(hub, "shop")
    assert any(s.step == "stock" and s.every_minutes == 15 for s in shown.schedules)
