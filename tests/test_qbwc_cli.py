"""``stockbridge connect qbwc`` through the real entry point: the Web Connector user, the
.qwc file (GUIDs kept per store), the password shown once, and bad input refused with
nothing saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner, Result

from stockbridge import services
from stockbridge.cli.app import build_app
from tests.conftest import Harness


@pytest.fixture
def cli(sqlite_harness: Harness) -> Callable[..., Result]:
    hub = sqlite_harness.hub
    hub.partners_override = None
    services.add_store(hub, "shop")

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(build_app(lambda: hub), list(args), input=input)

    return run


def _qwc(path: Path) -> dict[str, str]:
    root = etree.fromstring(path.read_bytes())
    return {child.tag: (child.text or "") for child in root if isinstance(child.tag, str)} | {
        "RunEveryNMinutes": root.findtext("Scheduler/RunEveryNMinutes") or ""
    }


def test_connect_writes_the_qwc_file_and_keeps_its_guids(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    path = tmp_path / "shop.qwc"
    args = ("connect", "qbwc", "--store", "shop", "--flavour", "desktop", "--every", "5")
    done = cli(*args, "--qwc-file", str(path), "--app-url", "https://hub.example/qbwc")
    assert done.exit_code == 0, done.output
    last = done.stdout.strip().splitlines()[-1]
    password = last.rsplit(" ", 1)[-1]
    assert last.startswith("Web Connector password (shown once):") and len(password) >= 16
    first = _qwc(path)
    assert first["QBType"] == "QBFS"
    assert first["AppURL"] == "https://hub.example/qbwc"
    assert first["UserName"] == "stockbridge-shop"
    assert first["RunEveryNMinutes"] == "5"
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", first["OwnerID"])
    assert re.fullmatch(r"\{[0-9A-F-]{36}\}", first["FileID"])

    again = cli(
        *args,
        "--qwc-file",
        str(path),
        "--app-url",
        "https://hub.example/qbwc",
        "--password-stdin",
        input="a password of my own\n",
    )
    assert again.exit_code == 0, again.output
    assert "a password of my own" not in again.stdout
    assert "shown once" not in again.stdout
    second = _qwc(path)
    assert (second["OwnerID"], second["FileID"]) == (first["OwnerID"], first["FileID"])

    pos = cli("connect", "qbwc", "--store", "shop", "--flavour", "pos", "--qwc-file", str(path))
    assert pos.exit_code == 0, pos.output
    assert _qwc(path)["QBType"] == "QBPOS"
    assert _qwc(path)["OwnerID"] == first["OwnerID"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--flavour", "ledger"), "flavour"),
        (("--flavour", "desktop", "--app-url", "http://hub.example/qbwc"), "https"),
        (("--flavour", "desktop", "--sku-field", "colour"), "sku field"),
        (("--flavour", "pos", "--sku-field", "full_name"), "alu, item_number, upc"),
        (("--flavour", "desktop", "--password-stdin"), "12-256"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(
    cli: Callable[..., Result], tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "x.qwc"
    done = cli(
        "connect", "qbwc", "--store", "shop", *extra, "--qwc-file", str(path), input="short\n"
    )
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert not path.exists()
    shown = cli("store", "show", "shop")
    assert "qbwc" not in shown.output
