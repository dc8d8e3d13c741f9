"""Errors a connector raises, sorted once at the connector's edge.

    PartnerError                 any failure talking to a partner
    ├── TransientPartnerError    worth retrying (5xx, 429 after waiting, timeout, reset);
    │                            the outcome of a write is UNKNOWN
    ├── PartnerAuthError         credentials refused: the merchant must reconnect
    └── PartnerResponseError     the partner answered something we cannot read

Refusals of single items (an unknown SKU, a validation fault) are not exceptions: they
come back in ``BatchResult.errors`` / ``PostOutcome.error`` so one bad item never stops
the others.
"""

from __future__ import annotations

__all__ = [
    "PartnerAuthError",
    "PartnerError",
    "PartnerResponseError",
    "TransientPartnerError",
]


class PartnerError(Exception):
    """A partner call failed. ``message`` is the partner's own words where it gave any."""

    def __init__(self, message: str, *, partner: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.partner = partner
        self.code = code

    def __str__(self) -> str:
        prefix = f"{self.partner}: " if self.partner else ""
        suffix = f" (code {self.code})" if self.code else ""
        return f"{prefix}{self.message}{suffix}"


class TransientPartnerError(PartnerError):
    """Retriable. For a write, whether the partner applied it is unknown."""


class PartnerAuthError(PartnerError):
    """The partner refused our credentials; retrying will not help until reconnected."""


class PartnerResponseError(PartnerError):
    """The partner's answer was malformed (bad JSON, missing or mistyped fields)."""
