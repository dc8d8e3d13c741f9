"""The CLI through its real entry point (a subprocess) and, for runs against in-memory
partners, through the same Typer app wired to a test hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.cli.run_lines import local_time
from stockbridge.domain.model import SYNC_ALL, Trigger
from tests.conftest import Harness
from tests.fakes import FakeBackOffice, FakeWebStore

EXE = str(Path(sys.executable).with_name("stockbridge"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="module")
def ready_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised hub with one store, shared by tests that change nothing."""
    home = tmp_path_factory.mktemp("cli") / "home"
    assert sb(home, "init").returncode == 0
    assert sb(home, "store", "add", "shop").returncode == 0
    return home


def sb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKBRIDGE_HOME": str(home), "COLUMNS": "200"}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    result = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_commands_before_init_say_so(home: Path) -> None:
    result = sb(home, "status")
    assert result.returncode == 2
    assert "stockbridge init" in result.stderr


def test_store_lifecycle(home: Path) -> None:
    assert sb(home, "init").returncode == 0
    assert sb(home, "init").returncode == 0  # idempotent
    added = sb(
        home, "store", "add", "shop", "--timezone", "America/Chicago", "--erp-name", "Acme ERP"
    )
    assert added.returncode == 0, added.stderr
    shown = sb(home, "store", "show", "shop", "--json")
    data = json.loads(shown.stdout)
    assert data["timezone"] == "America/Chicago"
    assert data["erp_name"] == "Acme ERP"
    assert data["inventory_source"] == "back_office"
    assert data["sync_all_button"] is False  # a new store: hidden until turned on
    text = sb(home, "store", "show", "shop").stdout
    assert "Acme ERP (for reference; does not change how data syncs)" in text

    changed = sb(
        home, "store", "set", "shop", "--sync-all-button", "on", "--inventory-source", "api"
    )
    assert changed.returncode == 0, changed.stderr
    data = json.loads(sb(home, "store", "show", "shop", "--json").stdout)
    assert data["sync_all_button"] is True and data["inventory_source"] == "api"
    assert (data["catalog_create_new"], data["catalog_inactive"]) == (True, "zero")
    assert data["catalog_price_source"] == "web"  # api mode: never the ERP's (not vice versa)
    changed = sb(
        home, "store", "set", "shop", "--create-new", "off", "--inactive", "hide",
        "--price-source", "web", "--new-visible", "on", "--push-names", "on",
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    data = json.loads(sb(home, "store", "show", "shop", "--json").stdout)
    assert (data["catalog_create_new"], data["catalog_new_visible"]) == (False, True)
    assert (data["catalog_price_source"], data["catalog_inactive"]) == ("web", "hide")
    assert data["catalog_push_names"] is True
    assert [s["name"] for s in json.loads(sb(home, "store", "list", "--json").stdout)] == ["shop"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("store", "add", "shop"), "exists already"),
        (("store", "add", "x", "--timezone", "Mars/Olympus"), "unknown time zone"),
        (("store", "add", "a/b"), "without slashes"),
        (("store", "add", "y", "--inventory-source", "magic"), "magic"),
        (("store", "show", "nope"), "no store named 'nope'"),
        (("store", "set", "nope", "--erp-name", "x"), "no store named 'nope'"),
        (("store", "set", "shop", "--sync-all-button", "maybe"), "maybe"),
        (("store", "set", "shop", "--inactive", "delete"), "delete"),
        (("store", "set", "shop", "--price-source", "erp"), "erp"),
        (("store", "set", "shop", "--create-new", "yes"), "yes"),
        (("sync", "everything"), "everything"),
        (("sync", "all", "--store", "nope"), "no store named 'nope'"),
        (("runs", "--store", "nope"), "no store named 'nope'"),
        (("status", "--store", "nope"), "no store named 'nope'"),
        (("runs", "--limit", "0"), "limit"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    ready_home: Path, args: tuple[str, ...], message: str
) -> None:
    result = sb(ready_home, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr


def test_store_is_required_when_several_exist(home: Path) -> None:
    sb(home, "init")
    assert "no store yet" in sb(home, "sync", "all").stderr
    sb(home, "store", "add", "one")
    sb(home, "store", "add", "two")
    result = sb(home, "sync", "all")
    assert result.returncode == 2
    assert "several stores exist (one, two)" in result.stderr


def test_sync_without_partners_runs_and_is_recorded(home: Path) -> None:
    sb(home, "init")
    sb(home, "store", "add", "shop")
    result = sb(home, "sync", "all", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    assert report["steps"]["orders-in"]["message"] == "no web store connected"
    one = sb(home, "sync", "inventory-out")
    assert one.returncode == 0 and "Sync data to the web" in one.stdout  # the seed's words
    history = json.loads(sb(home, "runs", "--json").stdout)
    assert [r["steps"] for r in history] == [["inventory-out"], [s.value for s in SYNC_ALL]]
    status = json.loads(sb(home, "status", "--json").stdout)[0]
    assert status["last_manual_sync_at"] == history[0]["finished_at"]
    assert status["last_automatic_sync_at"] is None


# --- runs against in-memory partners, through the Typer app ----------------------------


def test_sync_exit_codes_and_item_errors(sqlite_harness: Harness) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("A", 0)
    web.add_variant("GHOST", 0)
    bo.set_item("A", 5)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    app = build_app(lambda: sqlite_harness.hub)
    cli = CliRunner()

    clean = cli.invoke(app, ["sync", "all", "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.output)["status"] == "succeeded"

    web.place_order([("GHOST", 1)])
    failing = cli.invoke(app, ["sync", "all"])
    assert failing.exit_code == 1
    assert "no item with SKU GHOST" in failing.output

    runs = json.loads(cli.invoke(app, ["runs", "--json"]).output)
    errors = runs[0]["item_errors"]
    assert errors and errors[0]["step"] == "orders-out" and "GHOST" in errors[0]["message"]
    assert errors[0]["code"] == "2500"


def test_status_keeps_manual_apart_from_automatic(sqlite_harness: Harness) -> None:
    store_id = sqlite_harness.add_store("shop", web=FakeWebStore(), back_office=FakeBackOffice())
    app = build_app(lambda: sqlite_harness.hub)
    cli = CliRunner()
    assert cli.invoke(app, ["sync", "all"]).exit_code == 0
    manual_at = json.loads(cli.invoke(app, ["status", "--json"]).output)[0]["last_manual_sync_at"]
    runner = sqlite_harness.hub.runner()
    run_id, _ = runner.request(store_id, SYNC_ALL, Trigger.SCHEDULE)
    runner.execute(run_id)
    status = json.loads(cli.invoke(app, ["status", "--json"]).output)[0]
    assert status["last_manual_sync_at"] == manual_at
    assert status["last_automatic_sync_at"] > manual_at
    assert status["steps"]["orders-in"]["trigger"] == "schedule"
    text = cli.invoke(app, ["status"]).output
    shown = local_time(datetime.fromisoformat(manual_at), "UTC")  # the store's zone: UTC
    assert f"last manual sync:    {shown}" in text and manual_at not in text


def test_runs_read_at_80_columns_in_the_store_time_zone(sqlite_harness: Harness) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.place_order([("GHOST-" + "X" * 60, 1)])  # a long item error must wrap, too
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    hub = sqlite_harness.hub
    services.update_store(hub, "shop", timezone="America/Chicago")
    app = build_app(lambda: hub)
    cli = CliRunner()
    assert cli.invoke(app, ["sync", "all"]).exit_code == 1
    run = services.run_history(hub, "shop", 1)[0]
    assert run.finished_at is not None
    text = cli.invoke(app, ["runs"], env={"COLUMNS": "80"}).output
    lines = text.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, text
    local = run.finished_at.astimezone(ZoneInfo("America/Chicago"))
    assert f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}" in text  # no microseconds, no UTC
    assert f"run {run.id} · shop · Sync All · manual · partial" in text
    assert "Sync data from the back office: " in text and "GHOST-XXXX" in text, text


def test_demo_once_runs_a_whole_cycle_against_both_sandboxes(home: Path) -> None:
    result = sb(home, "demo", "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Run 1: partial" in result.stdout  # the deliberate SKU missing in QuickBooks
    assert "no item in QuickBooks with SKU GIFTWRAP-DELUXE" in result.stdout
    for step in (
        "Orders in",
        "Orders out",
        "Sync data from the back office",
        "Sync data to the web",
    ):
        assert step in result.stdout  # the steps in the seed's words
