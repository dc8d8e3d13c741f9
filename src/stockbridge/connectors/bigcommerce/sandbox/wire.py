"""How the BigCommerce sandbox answers: error bodies (``status``, ``title``, ``type`` and
for 422 ``errors`` keyed by field), v3 list envelopes with ``meta.pagination``, query
parameters checked the way the partner checks them (422 naming the parameter)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["Unprocessable", "body_of", "error", "guarded", "int_list", "int_param", "paged"]

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
Handler = Callable[[Request], Awaitable[Response]]


class Unprocessable(Exception):
    """A query parameter BigCommerce would refuse with 422."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def error(status: int, title: str, errors: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "title": title, "type": ERROR_TYPE}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def body_of(request: Request) -> Any:
    """The JSON body, or None when it is not JSON."""
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError:
        return None


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise Unprocessable(name, "must be a whole number") from None
    if number < 1 or (maximum is not None and number > maximum):
        raise Unprocessable(name, f"must be between 1 and {maximum}")
    return number


def int_list(request: Request, name: str) -> set[int] | None:
    """``id:in=1,2,3`` as a set, None when absent; 422 for a non-number."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return {int(part) for part in value.split(",") if part.strip()}
    except ValueError:
        raise Unprocessable(name, "must be comma-separated whole numbers") from None


def paged(
    items: list[Any], page: int, limit: int, render: Callable[[Any], dict[str, Any]]
) -> JSONResponse:
    total = len(items)
    pages = max(1, -(-total // limit))
    window = items[(page - 1) * limit : page * limit]
    return JSONResponse(
        {
            "data": [render(item) for item in window],
            "meta": {
                "pagination": {
                    "total": total,
                    "count": len(window),
                    "per_page": limit,
                    "current_page": page,
                    "total_pages": pages,
                    "links": {"current": f"?page={page}&limit={limit}"},
                }
            },
        }
    )


def guarded(handler: Handler) -> Handler:
    """422 for a refused query parameter, 400 for a body of the wrong shape."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Unprocessable as exc:
            return error(422, "Invalid query parameter", {exc.field: exc.message})
        except (ValueError, KeyError, TypeError) as exc:
            return error(400, f"Bad request: {exc}")

    return run
