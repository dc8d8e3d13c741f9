"""``stockbridge connect feed --supplier``, ``store show`` and ``store disconnect
--supplier``: suppliers beside the back office from the command line, and bad input
refused with exit 2 and nothing saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.cli import build_app
from tests.feed_support import make_hub


def cli(hub: Hub, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(lambda: hub), list(args))
    return result.exit_code, result.output


def folder(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.mkdir()
    return str(path)


def connections(hub: Hub) -> list[tuple[str, str, str | None]]:
    with hub.uow() as uow:
        return [
            (c.role, c.name, c.owns)
            for c in uow.stores.connections(services.resolve_store(hub, "shop"))
        ]


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    hub = make_hub(tmp_path)
    services.add_store(hub, "shop")
    return hub


def test_a_supplier_is_connected_shown_and_disconnected(hub: Hub, tmp_path: Path) -> None:
    code, out = cli(hub, "connect", "feed", "--store", "shop", "--source", folder(tmp_path, "pos"))
    assert code == 0, out
    acme = folder(tmp_path, "acme")
    args = ("connect", "feed", "--store", "shop", "--source", acme, "--supplier", "acme")
    code, out = cli(hub, *args, "--owns", "ACME-*")
    assert code == 0, out
    code, out = cli(hub, *args[:-1], "bolt", "--source", folder(tmp_path, "bolt"))
    assert code == 0, out

    code, out = cli(hub, "store", "show", "shop")
    assert "back_office=feed (connected)" in out
    assert "supplier:acme=feed (connected, owns ACME-*)" in out
    assert "supplier:bolt=feed (connected)" in out
    shown = json.loads(cli(hub, "store", "show", "shop", "--json")[1])
    assert {"role": "supplier", "name": "acme", "owns": "ACME-*"}.items() <= next(
        c for c in shown["connections"] if c["name"] == "acme"
    ).items()

    code, out = cli(hub, "store", "disconnect", "--store", "shop", "--supplier", "bolt")
    assert code == 0 and "supplier 'bolt' disconnected" in out, out
    assert connections(hub) == [("back_office", "", None), ("supplier", "acme", "ACME-*")]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (("--supplier", "bolt", "--owns", "ACME-1*"), "overlaps supplier 'acme'"),
        (("--supplier", "bolt", "--owns", "**"), "matches every SKU"),
        (("--supplier", "no/slash"), "supplier name"),
        (("--owns", "B-*"), "give --supplier NAME"),
        (("--supplier", "bolt", "--orders-to", "/tmp"), "never to a supplier"),
    ],
)
def test_bad_supplier_input_exits_2_and_saves_nothing(
    hub: Hub, tmp_path: Path, extra: tuple[str, ...], reason: str
) -> None:
    cli(hub, "connect", "feed", "--store", "shop", "--source", folder(tmp_path, "pos"))
    acme = folder(tmp_path, "acme")
    cli(hub, "connect", "feed", "--store", "shop", "--source", acme, "--supplier", "acme",
        "--owns", "ACME-*")  # fmt: skip
    before = connections(hub)

    code, out = cli(
        hub, "connect", "feed", "--store", "shop", "--source", folder(tmp_path, "b"), *extra
    )

    assert code == 2 and reason in out.replace("\n", " "), out
    assert connections(hub) == before


def test_disconnecting_an_unknown_supplier_exits_2(hub: Hub, tmp_path: Path) -> None:
    code, out = cli(hub, "store", "disconnect", "--store", "shop", "--supplier", "ghost")
    assert code == 2 and "no supplier 'ghost' (its suppliers: none)" in out, out


def test_a_supplier_before_the_back_office_exits_2(hub: Hub, tmp_path: Path) -> None:
    acme = folder(tmp_path, "acme")
    code, out = cli(
        hub, "connect", "feed", "--store", "shop", "--source", acme, "--supplier", "acme"
    )
    assert code == 2 and "connect the store's back office first" in out, out
    assert connections(hub) == []
