"""Issue 27's smaller rows: terminal escapes from partner data never reach the operator's
terminal through the CLI (row 7); store names refuse control characters; the Web
Connector's page and .qwc file are not cached (``no-store``); the WSDL's soap:address
comes from the configuration, never from the Host header (row 9)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.cli import build_app
from stockbridge.domain.model import SYNC_ALL
from stockbridge.services.errors import InvalidSetting
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)

TITLE = "\x1b]0;owned\x07"  # OSC: sets the terminal's title (or, with 52, its clipboard)
UP = "\x1b[1A\x1b[2K"  # CSI: up one line, erase it
BELL = "\x07\x9b"  # BEL and the C1 CSI


def test_partner_text_with_escape_sequences_reaches_the_cli_as_inert_text(
    sqlite_harness: Harness,
) -> None:
    web, bo = FakeWebStore(), FakeBackOffice()
    sku = f"TEE{TITLE}-1{UP}"
    web.add_variant(sku, 0, name=f"Shirt{BELL}{UP}")
    bo.set_item(sku, 5)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    hub = sqlite_harness.hub
    services.sync(hub, "shop", SYNC_ALL)
    app = build_app(lambda: hub)
    runner = CliRunner()
    outputs = []
    commands = (
        ["product", "list"],
        ["product", "show", sku],
        ["drift", "--store", "shop"],
        ["runs", "--store", "shop"],
    )
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1), (args, result.output)
        outputs.append(result.output)
    listed = outputs[0]
    assert "TEE]0;owned-1[1A[2K" in listed  # the text is there, inert
    for output in outputs:
        assert not any(c in output for c in "\x1b\x07\x9b"), repr(output)
    # JSON keeps the exact SKU (escaped by JSON itself)
    as_json = runner.invoke(app, ["product", "list", "--json"]).output
    assert "\\u001b]0;owned" in as_json and "\x1b" not in as_json


def test_every_cli_module_prints_through_the_terminal_filter() -> None:
    """typer.echo, print and Rich's own Console/Table print partner text as given: every
    command module (and every connector's) prints through ``cli/terminal.py`` instead."""
    root = Path(__file__).resolve().parent.parent / "src" / "stockbridge"
    modules = [*(root / "cli").glob("*.py"), *(root / "connectors").glob("*/cli.py")]
    raw = re.compile(r"typer\.echo\(|^\s*print\(|^from rich\.(console|table) import", re.M)
    offenders = [
        f"{path.relative_to(root)}: {match.group(0).strip()}"
        for path in modules
        if path.name != "terminal.py"
        for match in raw.finditer(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("name", ["shop\x1b[2J", "shop\x07", "a\x00b", "x\x9by", "tab\there"])
def test_store_names_refuse_control_characters(sqlite_harness: Harness, name: str) -> None:
    with pytest.raises(InvalidSetting, match="control characters"):
        services.add_store(sqlite_harness.hub, name)
    assert services.list_stores(sqlite_harness.hub) == []


def test_the_wsdl_address_is_configured_not_taken_from_the_host_header(shop: Shop) -> None:
    with httpx.Client(timeout=30) as client:
        answer = client.get(f"{shop.url}?wsdl", headers={"Host": "evil.example"})
    assert answer.status_code == 200
    assert f'location="{shop.url}"' in answer.text
    assert "evil.example" not in answer.text


def test_the_web_connector_page_and_qwc_file_are_not_cached(shop: Shop) -> None:
    hub = shop.running.hub
    accounts.add_user(hub, "ann", "a long passphrase", stores=["shop"])
    with httpx.Client(base_url=shop.running.server.url, timeout=30) as browser:
        log_in(browser, "ann", "a long passphrase")
        for path in ("/stores/shop/qbwc", "/stores/shop/qbwc.qwc"):
            answer = browser.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["cache-control"] == "no-store", path
