"""The dashboard's help pages: "Syncing procedures" (the four steps and their order, how
often to sync and what decides it, automatic schedules and monitoring) with each mode's
data directions, in our own words. Linked from the back-office bar, the Options and the
schedule and alert settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from stockbridge.domain.model import InventorySource
from stockbridge.domain.wording import DIRECTION_ROWS, MODE_TITLES, directions
from stockbridge.web.dashboard.inventory import PageTools, ViewerDep

__all__ = ["add_help_routes"]


def add_help_routes(router: APIRouter, tools: PageTools) -> None:
    @router.get("/stores/{store}/help/syncing")
    async def syncing(request: Request, store: str, who: ViewerDep) -> Response:
        page = await tools.store_page(who, store)
        return tools.render(
            request,
            "help_syncing.html",
            page="help",
            rows=DIRECTION_ROWS,
            modes=[(mode, MODE_TITLES[mode], directions(mode)) for mode in InventorySource],
            **page,
        )
