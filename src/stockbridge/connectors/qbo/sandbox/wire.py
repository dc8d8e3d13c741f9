"""How the QuickBooks sandbox answers: faults, JSON and times in Intuit's documented
shapes, written here independently of the client's own encoding.

* a fault is ``{"Fault": {"Error": [{"Message", "Detail", "code", "element"}],
  "type": "ValidationFault" | ...}, "time": ...}`` with an HTTP status;
* money goes out as JSON numbers (``"UnitPrice": 9.99``), quantities as integers;
* times carry the company's UTC offset (``2024-05-01T09:30:00-08:00``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from starlette.responses import Response

__all__ = ["PACIFIC", "QboFault", "dumps", "fault_response", "json_response", "stamp"]

PACIFIC = timezone(timedelta(hours=-8))  # QuickBooks writes times with the company's offset


class QboFault(Exception):
    """Answered as ``{"Fault": {"Error": [...], "type": ...}}`` with ``status``."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        detail: str = "",
        element: str = "",
        type: str = "ValidationFault",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail
        self.element, self.type, self.status = element, type, status

    def body(self) -> dict[str, Any]:
        error = {"Message": self.message, "Detail": self.detail or self.message, "code": self.code}
        if self.element:
            error["element"] = self.element
        return {"Fault": {"Error": [error], "type": self.type}}


def stamp(moment: datetime) -> str:
    return moment.astimezone(PACIFIC).isoformat(timespec="seconds")


def _json_number(value: object) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    """JSON as QuickBooks writes it: numbers for money (a Decimal written with no
    fraction stays an integer), UTF-8, no spaces."""
    return json.dumps(body, default=_json_number, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=headers, media_type="application/json")


def fault_response(fault: QboFault) -> Response:
    return json_response(fault.body(), fault.status)
