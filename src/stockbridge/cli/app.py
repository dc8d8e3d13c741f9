"""The ``stockbridge`` application: every command module's commands, and each connector's
``connect``/``sandbox`` commands as the connector registry lists them.

A connector's command module (``connectors/<kind>/cli.py``) is named by its registry line
(``registry.register(kind, factory, commands="...")``) and imported here, when the
application is built; it imports ``stockbridge.cli.common``, never this module, so
nothing imports back.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

import typer

from stockbridge.bootstrap import Hub, bootstrap, default_registry
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
from stockbridge.connectors.registry import ConnectorRegistry

__all__ = ["build_app", "main"]


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
    # Help lists commands in the order they are added, then the groups in theirs.
    init.register(app, hub)
    runs.register(app, hub)
    demo.register(app, hub)
    serve.register(app, hub)
    worker.register(app, hub)
    store.register(app, hub)
    products.register(app, hub)
    connect_app = typer.Typer(help="Connect a store to a partner.", no_args_is_help=True)
    app.add_typer(connect_app, name="connect")
    sandbox_app = typer.Typer(
        help="Run a partner's sandbox (its simulator) on loopback.", no_args_is_help=True
    )
    app.add_typer(sandbox_app, name="sandbox")
    schedule.register(app, hub)
    users.register(app, hub)
    tokens.register(app, hub)
    drift.register(app, hub)
    books.register(app, hub)

    partner = PartnerCommands(connect_app, sandbox_app, hub)
    if registry is None:
        registry = default_registry()
    for module in registry.commands.values():
        importlib.import_module(module).register(partner)
    return app


def main() -> None:
    app = build_app(bootstrap)
    sys.exit(app())
