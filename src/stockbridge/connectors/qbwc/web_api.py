"""QuickBooks Desktop / Point of Sale from the dashboard and the API: connect the store's
back office through the Web Connector (the Web Connector user, a password shown once, the
.qwc file) and read the Web Connector's status (last call, its outcome, orders waiting).

- ``POST /stores/{store}/setup/qbwc``: the setup page's form (session and CSRF token); the
  answer is a page with the password, shown once, and the .qwc file's link.
- ``PUT /api/v1/stores/{store}/connections/qbwc``: the same for an API token; the password
  (generated unless given) is in this answer only.
- ``GET /api/v1/stores/{store}/qbwc``: the status (404 when not connected this way).

Bad input is 422 (a form page with the reason) and nothing is saved; another store is 404."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from stockbridge.bootstrap import Hub
from stockbridge.jsonable import json_object
from stockbridge.services import qbwc as service
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.web import service as api
from stockbridge.web.dashboard.guard import Refused, Viewer, check_csrf, read_form, viewer
from stockbridge.web.errors import Invalid, NotFound

__all__ = ["qbwc_routes"]

StoreName = Annotated[str, Path(min_length=1, max_length=100)]


class QbwcIn(BaseModel):
    """``app_url``: this service's /qbwc address as the shop PC reaches it (https, or
    http on localhost); ``password``: the Web Connector user's (generated when absent)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    flavour: Literal["desktop", "pos"] = "desktop"
    app_url: str = Field(min_length=1, max_length=2000)
    every_minutes: int = Field(default=15, ge=1, le=1440)
    password: str | None = Field(default=None, max_length=256)


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> api.Caller:
    return api.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[api.Caller, Depends(_caller)]


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from None
    except InvalidSetting as exc:
        raise Invalid(str(exc)) from None


def qbwc_routes(hub: Hub) -> APIRouter:
    router = APIRouter()

    def visible(who: api.Caller, store: str) -> str:
        with hub.uow() as uow:
            return api.store_for(uow, who, store).name

    @router.get("/api/v1/stores/{store}/qbwc")
    def status(store: StoreName, who: CallerDep) -> dict[str, Any]:
        """The Web Connector's last call, its outcome and the orders waiting for it."""
        name = visible(who, store)
        with _mapped():
            return json_object(service.qbwc_status(hub, name))

    @router.put("/api/v1/stores/{store}/connections/qbwc")
    async def connect(store: StoreName, who: CallerDep, body: QbwcIn) -> dict[str, Any]:
        """Connect QuickBooks Desktop or Point of Sale through the Web Connector; answers
        the user, the password (generated: this answer only) and the .qwc file."""
        name = await run_in_threadpool(visible, who, store)
        with _mapped():
            done = await run_in_threadpool(
                lambda: service.connect_qbwc(
                    hub,
                    name,
                    flavour=body.flavour,
                    every_minutes=body.every_minutes,
                    app_url=body.app_url,
                    password=body.password,
                )
            )
        return json_object(done)

    @router.post("/stores/{store}/setup/qbwc", include_in_schema=False)
    async def connect_form(
        request: Request, store: str, who: Annotated[Viewer, Depends(viewer)]
    ) -> HTMLResponse:
        form = await read_form(request)
        check_csrf(request, form, who.csrf_token)
        if not who.may_see(store):
            raise Refused(404, f"no store named {store!r}")
        every = form.get("every_minutes", "").strip() or "15"
        app_url = form.get("app_url", "").strip() or f"{request.base_url}qbwc"
        try:
            if not (every.isascii() and every.isdigit() and len(every) <= 4):
                raise InvalidSetting("every … minutes: a whole number, 1 to 1440")
            done = await run_in_threadpool(
                lambda: service.connect_qbwc(
                    hub,
                    store,
                    flavour=form.get("flavour", ""),
                    every_minutes=int(every),
                    app_url=app_url[:2000],
                )
            )
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        except InvalidSetting as exc:
            raise Refused(422, f"{exc} — nothing was saved") from None
        link = html.escape(f"/stores/{store}/qbwc.qwc")
        return HTMLResponse(
            "<!doctype html><title>QuickBooks Web Connector connected</title>"
            f"<h1>Web Connector connected: {html.escape(done.store)}</h1>"
            f'<p role="status">Back office connected through the Web Connector '
            f"({html.escape(form.get('flavour', ''))}).</p>"
            f"<p>Web Connector user: <strong>{html.escape(done.user_name)}</strong></p>"
            f'<p>Password (shown once, type it in the Web Connector): <code id="qbwc-password">'
            f"{html.escape(done.password or '')}</code></p>"
            f'<p><a href="{link}" download>Download the .qwc file</a> and open it on the '
            f'shop PC. <a href="/stores/{html.escape(store)}/setup">Back to setup</a></p>',
            headers={"Cache-Control": "no-store"},
        )

    return router
