"""``stockbridge init``: create or upgrade the hub."""

from __future__ import annotations

import typer

from stockbridge.cli.common import HubLoader, mapped_errors
from stockbridge.cli.terminal import echo

__all__ = ["register"]


def register(app: typer.Typer, hub: HubLoader) -> None:
    @app.command()
    def init() -> None:
        """Create (or upgrade) the hub database and the credentials key."""
        with mapped_errors():
            instance = hub(initialised=False)
            instance.initialise()
            echo(f"hub ready: {instance.engine.url.render_as_string(hide_password=True)}")
