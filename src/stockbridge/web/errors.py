"""The errors the API's and receivers' use cases raise; routes map them to status codes
(401, 403, 404, 422 with details, 409)."""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "Forbidden", "Invalid", "NotFound", "Unauthorized"]


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    """A store token on a route for operator tokens only (403)."""


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class Conflict(Exception):
    pass
