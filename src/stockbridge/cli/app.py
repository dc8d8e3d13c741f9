"""The ``stockbridge`` application: every command module's commands, and each connector's
``connect``/``sandbox`` commands as the connector registry lists them.

A connector's command module (``connectors/<kind>/cli.py``) is named by its registry line
(``registry.register(kind, factory, commands="...")``) and imported here, when the
``connect`` or ``sandbox`` group is first asked for its commands (so the registry and the
partners load for those commands only); it imports ``stockbridge.cli.common``, never this
module, so nothing imports back.

Start-up: this module and the command modules import only typer, rich and the domain's
values; the hub (SQLAlchemy, the partners, the web app, asyncssh) is imported by the
commands that run on it, so ``stockbridge --help`` answers at once.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from stockbridge.cli import (
    books,
    demo,
    drift,
    init,
    products,
    runs,
    schedule,
    serve,
    store,
    tokens,
    users,
    worker,
)
from stockbridge.cli.common import HubLoader, PartnerCommands

if TYPE_CHECKING:
    from stockbridge.bootstrap import Hub
    from stockbridge.connectors.registry import ConnectorRegistry

__all__ = ["build_app", "main"]


class _LazyGroup(TyperGroup):
    """A group whose commands are added when it is first asked for them (``load``)."""

    load: Callable[[], TyperGroup]
    _loaded = False

    def _load_once(self) -> None:
        if not self._loaded:
            self._loaded = True
            for name, command in self.load().commands.items():
                self.commands.setdefault(name, command)

    def list_commands(self, ctx: Any) -> list[str]:
        self._load_once()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._load_once()
        return super().get_command(ctx, cmd_name)


def _lazy(load: Callable[[], TyperGroup]) -> type[TyperGroup]:
    return type("PartnerGroup", (_LazyGroup,), {"load": staticmethod(load)})


def build_app(
    make_hub: Callable[[], Hub], registry: ConnectorRegistry | None = None
) -> typer.Typer:
    """The command line over the hub ``make_hub`` builds when a command runs, with the
    commands of the connectors in ``registry`` (default: every connector installed)."""
    app = typer.Typer(
        name="stockbridge",
        help="Keep an online store and its back office in step.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    hub = HubLoader(make_hub)

    @cache
    def partner_groups() -> tuple[TyperGroup, TyperGroup]:
        """Every connector's ``connect`` and ``sandbox`` commands, as click groups."""
        connect = typer.Typer()
        sandbox = typer.Typer()
        partner = PartnerCommands(connect, sandbox, hub)
        chosen = registry
        if chosen is None:
            from stockbridge.bootstrap import default_registry

            chosen = default_registry()
        for module in chosen.commands.values():
            importlib.import_module(module).register(partner)
        return typer.main.get_group(connect), typer.main.get_group(sandbox)

    # Help lists commands in the order they are added, then the groups in theirs.
    init.register(app, hub)
    runs.register(app, hub)
    demo.register(app, hub)
    serve.register(app, hub)
    worker.register(app, hub)
    store.register(app, hub)
    products.register(app, hub)
    connect_app = typer.Typer(
        help="Connect a store to a partner.",
        no_args_is_help=True,
        cls=_lazy(lambda: partner_groups()[0]),
    )
    app.add_typer(connect_app, name="connect")
    sandbox_app = typer.Typer(
        help="Run a partner's sandbox (its simulator) on loopback.",
        no_args_is_help=True,
        cls=_lazy(lambda: partner_groups()[1]),
    )
    app.add_typer(sandbox_app, name="sandbox")
    schedule.register(app, hub)
    users.register(app, hub)
    tokens.register(app, hub)
    drift.register(app, hub)
    books.register(app, hub)
    return app


def _bootstrap() -> Hub:
    from stockbridge.bootstrap import bootstrap

    return bootstrap()


def main() -> None:
    app = build_app(_bootstrap)
    sys.exit(app())
