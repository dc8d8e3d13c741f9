"""``/qbwc``: the SOAP service the QuickBooks Web Connector calls (its WSDL at
``/qbwc?wsdl``), and the .qwc file for the dashboard (``/stores/{store}/qbwc.qwc``).

Each session: ``authenticate`` signs the store's Web Connector user in and opens a
session in the durable mailbox (``services/qbwc_mailbox.py``); ``sendRequestXML`` hands
out the next request prepared from the hub's tables and ``receiveResponseXML`` applies
QuickBooks' answer, each in one transaction of whichever process takes the call; when
the items are read through, a run of the store pushes its stock to the web. Errors are
answered the way the Web Connector expects: a wrong user or password gets "nvu"; an
unknown or expired ticket gets an empty request, -1 and an explanation from
``getLastError``; a body that is no call of this service gets a SOAP
Client fault (HTTP 500), and so does one over the documented 32 MB (read as a stream,
nothing of it applied).
"""

from __future__ import annotations

import html
import os
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from stockbridge.bootstrap import Hub
from stockbridge.connectors.qbwc import soap
from stockbridge.connectors.qbwc.web_api import qbwc_routes
from stockbridge.jobs.queue import JobQueue
from stockbridge.services import qbwc as service
from stockbridge.services import qbwc_mailbox as mailbox
from stockbridge.services.errors import StoreNotFound
from stockbridge.web.dashboard.guard import Refused, Viewer, viewer

__all__ = ["MAX_BODY", "routes"]

#: The largest call accepted: a page of 1,000 items answered by QuickBooks fits well.
MAX_BODY = 32 * 1024 * 1024
SERVER_VERSION = "Stockbridge 0.1"
XML = "text/xml; charset=utf-8"


def routes(hub: Hub, queue: JobQueue) -> APIRouter:
    router = APIRouter()
    router.include_router(qbwc_routes(hub))  # connect from the dashboard or API; status
    expiry = timedelta(
        seconds=float(
            os.environ.get(
                "STOCKBRIDGE_QBWC_SESSION_SECONDS", str(mailbox.SESSION_EXPIRY.total_seconds())
            )
        )
    )

    @router.get("/qbwc", include_in_schema=False)
    def describe(request: Request) -> Response:
        if "wsdl" in {key.lower() for key in request.query_params}:
            # The address from the configuration, never from the Host header.
            location = hub.settings.qbwc_url or service.DEFAULT_APP_URL
            return Response(soap.wsdl(location), media_type=XML)
        return PlainTextResponse("Stockbridge's QuickBooks Web Connector service (SOAP).")

    @router.get("/qbwc/support", include_in_schema=False)
    def support() -> PlainTextResponse:
        return PlainTextResponse(
            "Stockbridge syncs this QuickBooks company with the web store. Add it to the "
            "Web Connector with the .qwc file from `stockbridge connect qbwc` or the "
            "dashboard; the password is the one that command printed."
        )

    def _status(store: str, who: Viewer) -> service.QbwcStatus:
        if not who.may_see(store):
            raise Refused(404, f"no store named {store!r}")
        try:
            return service.qbwc_status(hub, store)
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None

    @router.get("/stores/{store}/qbwc", include_in_schema=False)
    def panel(store: str, who: Annotated[Viewer, Depends(viewer)]) -> HTMLResponse:
        """When the Web Connector last called, what came of it, what waits for it."""
        status = _status(store, who)
        called = (
            status.last_call_at.isoformat(timespec="seconds") if status.last_call_at else "never"
        )
        rows = [
            ("Web Connector user", status.user_name),
            ("Last called", called),
            ("Last outcome", status.last_outcome or "-"),
            ("Orders waiting to post", str(status.orders_waiting)),
        ]
        body = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        link = html.escape(f"/stores/{store}/qbwc.qwc")
        return HTMLResponse(
            f"<!doctype html><title>QuickBooks Web Connector</title>"
            f"<h1>QuickBooks Web Connector: {html.escape(store)}</h1><table>{body}</table>"
            f'<p><a href="{link}" download>Download the .qwc file</a></p>',
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/stores/{store}/qbwc.qwc", include_in_schema=False)
    def qwc_file(store: str, who: Annotated[Viewer, Depends(viewer)]) -> Response:
        status = _status(store, who)
        document = service.qwc_for(hub, status.store_id)
        if document is None:
            raise Refused(404, f"store {store!r} is not connected through the Web Connector")
        return Response(
            document,
            media_type="application/xml",
            headers={
                "Content-Disposition": f'attachment; filename="{store}.qwc"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/qbwc", include_in_schema=False)
    async def call(request: Request) -> Response:
        too_large = Response(
            soap.fault(f"the request is larger than {MAX_BODY} bytes; nothing was applied"),
            500,
            media_type=XML,
        )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return too_large
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY:
                return too_large
        try:
            parsed = soap.parse_call(bytes(body))
        except soap.SoapError as exc:
            return Response(soap.fault(str(exc)), 500, media_type=XML)
        client = request.client.host if request.client else "unknown"
        result = await run_in_threadpool(dispatch, parsed, client)
        return Response(soap.answer(parsed.operation, result), media_type=XML)

    def dispatch(call: soap.SoapCall, client: str) -> str | int | list[str]:
        p = call.params
        match call.operation:
            case "serverVersion":
                return SERVER_VERSION
            case "clientVersion":
                return ""  # every Web Connector version we know of speaks this protocol
            case "authenticate":
                return _authenticate(p["strUserName"], p["strPassword"], client)
            case "sendRequestXML":
                return mailbox.send_request(hub, p["ticket"], expiry=expiry)
            case "receiveResponseXML":
                answered = mailbox.receive_response(
                    hub, p["ticket"], p["response"], p["hresult"], p["message"], expiry=expiry
                )
                if answered.read_through and answered.store_id is not None:
                    # The items are in: the store's stock goes out (an ordinary run).
                    service.start_session(hub, queue, answered.store_id)
                return answered.percent
            case "connectionError":
                mailbox.connection_error(hub, p["ticket"], p["hresult"], p["message"])
                return "done"
            case "getLastError":
                return mailbox.last_error(hub, p["ticket"])
            case _:  # closeConnection
                return mailbox.close_session(hub, p["ticket"])

    def _authenticate(user_name: str, password: str, client: str) -> list[str]:
        # Under the dashboard's login throttle and password-check slots: "nvu" at once
        # when throttled or busy (services.qbwc.authenticate).
        sign_in = service.authenticate(hub, user_name, password, client)
        if sign_in is None:
            return [secrets.token_urlsafe(24), "nvu"]
        ticket = mailbox.open_session(hub, sign_in.store_id, sign_in.connection_id)
        service.start_session(hub, queue, sign_in.store_id)  # web orders in, meanwhile
        return [ticket, ""]

    return router
