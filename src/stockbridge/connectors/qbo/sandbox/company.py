"""The QuickBooks sandbox's company API (under ``/v3/company/{realm}/``): company info,
``query`` (``GET ?query=`` and ``POST`` with the statement as an ``application/text``
body, as python-quickbooks sends it), ``cdc``, creates (``salesreceipt``, ``invoice``,
``refundreceipt``, ``customer``), reads (``GET /{entity}/{id}``), voids (``POST
/{salesreceipt|invoice}?operation=void``) and ``batch``.

A create carrying ``requestid`` (at most 50 characters; 36 on ``batch``, whose ``bId``s
may then have at most 10) is answered from ``Replay`` when it was seen before. A batch
over ``max_batch`` items is refused whole (nothing booked); each item of an accepted
batch succeeds or fails on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from stockbridge.connectors.qbo.sandbox.wire import QboFault, dumps, stamp

if TYPE_CHECKING:
    from stockbridge.connectors.qbo.sandbox.app import QboSandbox

__all__ = ["CompanyApi"]

ENTITIES = {
    "salesreceipt": "SalesReceipt",
    "invoice": "Invoice",
    "refundreceipt": "RefundReceipt",
    "customer": "Customer",
}
VOIDABLE = ("SalesReceipt", "Invoice")
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
MAX_BID_WITH_REQUEST_ID = 10


class CompanyApi:
    """Route handlers over one sandbox's books."""

    def __init__(self, sandbox: QboSandbox) -> None:
        self.sandbox = sandbox
        self.books = sandbox.books

    async def company_info(self, request: Request) -> Any:
        return {
            "CompanyInfo": {"Id": "1", "CompanyName": self.books.company_name},
            "time": stamp(self.books.now()),
        }

    async def query(self, request: Request) -> Any:
        if request.method == "GET":
            return self.books.query(request.query_params.get("query", ""))
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/text":
            raise QboFault(
                "4000",
                "Error parsing query",
                detail="a POSTed query is the statement as an application/text body",
                status=415,
            )
        return self.books.query((await request.body()).decode(errors="replace"))

    async def cdc(self, request: Request) -> Any:
        params = request.query_params
        if not params.get("entities") or not params.get("changedSince"):
            raise QboFault("2020", "Required param missing", detail="entities, changedSince")
        return self.books.cdc(params["entities"], params["changedSince"])

    async def create(self, request: Request) -> Any:
        entity = ENTITIES.get(request.path_params["entity"].lower())
        if entity is None:
            raise QboFault("610", "Object Not Found", detail="unsupported entity", status=404)
        if request.query_params.get("operation") == "void":
            if entity not in VOIDABLE:
                raise QboFault("2010", "Unsupported operation", detail=f"void of {entity}")
            return await self._once(request, MAX_REQUEST_ID, lambda body: self._void(entity, body))
        return await self._once(request, MAX_REQUEST_ID, lambda body: self._book(entity, body))

    async def read(self, request: Request) -> Any:
        entity = ENTITIES.get(request.path_params["entity"].lower())
        if entity is None or entity == "Customer":
            raise QboFault("610", "Object Not Found", detail="unsupported entity", status=404)
        document = self.books.read(entity, request.path_params["id"])
        return {entity: document, "time": stamp(self.books.now())}

    def _void(self, entity: str, body: Any) -> tuple[int, Any]:
        try:
            document = self.books.void(entity, body)
        except QboFault as fault:
            return fault.status, fault.body()
        return 200, {entity: document, "time": stamp(self.books.now())}

    def _book(self, entity: str, body: Any) -> tuple[int, Any]:
        try:
            if entity == "Customer":
                name = body.get("DisplayName") if isinstance(body, dict) else None
                if not isinstance(name, str) or not name:
                    raise QboFault("2020", "Required param missing", element="DisplayName")
                document = self.books.add_customer(name, body)
            else:
                document = self.books.create(entity, body)
        except QboFault as fault:
            return fault.status, fault.body()
        return 200, {entity: document, "time": stamp(self.books.now())}

    async def batch(self, request: Request) -> Any:
        with_id = request.query_params.get("requestid") is not None
        return await self._once(
            request, MAX_BATCH_REQUEST_ID, lambda body: self._run_batch(body, with_id)
        )

    def _run_batch(self, body: Any, with_request_id: bool) -> tuple[int, Any]:
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            fault = QboFault("2020", "Required param missing", element="BatchItemRequest")
            return 400, fault.body()
        if len(items) > self.books.max_batch:
            fault = QboFault(
                "6000",
                "A business validation error has occurred while processing your request",
                detail=f"Batch size {len(items)} exceeds the maximum of {self.books.max_batch}",
                element="BatchItemRequest",
            )
            return 400, fault.body()
        self.sandbox.batch_sizes.append(len(items))
        longest = MAX_BID_WITH_REQUEST_ID if with_request_id else None
        answers = [self._batch_item(entry, longest) for entry in items]
        return 200, {"BatchItemResponse": answers, "time": stamp(self.books.now())}

    def _batch_item(self, entry: Any, longest_bid: int | None) -> dict[str, Any]:
        bid = str(entry.get("bId", "")) if isinstance(entry, dict) else ""
        kinds = ("SalesReceipt", "Invoice", "RefundReceipt")
        entity = next((e for e in kinds if e in (entry or {})), None)
        too_long = longest_bid is not None and len(bid) > longest_bid
        if not bid or too_long or entity is None or entry.get("operation") != "create":
            fault = QboFault(
                "2010",
                "Request has invalid or unsupported property",
                detail="bId (at most 10 characters with a requestid), operation create and "
                "an entity",
            )
            return {"bId": bid, **fault.body()}
        status, result = self._book(entity, entry[entity])
        if status != 200:
            return {"bId": bid, "Fault": result["Fault"]}
        return {"bId": bid, entity: result[entity]}

    async def _once(
        self, request: Request, max_id: int, apply: Callable[[Any], tuple[int, Any]]
    ) -> Response:
        """Apply a create at most once per requestid while ``Replay`` remembers it."""
        request_id = request.query_params.get("requestid")
        if request_id is not None and not 0 < len(request_id) <= max_id:
            raise QboFault(
                "2010", "Invalid requestid", detail=f"1 to {max_id} characters", element="requestid"
            )
        key = (request.url.path.rsplit("/", 1)[-1].lower(), request_id or "")
        moment = self.books.now().timestamp()
        if request_id:
            kept = self.sandbox.replay.get(key, moment)
            if kept is not None:
                self.sandbox.replays += 1
                return Response(kept[1], kept[0], media_type="application/json")
        try:
            body = json.loads(await request.body(), parse_float=Decimal)
        except ValueError:
            raise QboFault(
                "2010", "Request has invalid or unsupported property", detail="the body is not JSON"
            ) from None
        status, answer = apply(body)
        content = dumps(answer)
        if request_id:
            self.sandbox.replay.put(key, moment, status, content)
        return Response(content, status, media_type="application/json")
