"""A store's alert settings (in ``stores.options``): where alerts go and when they fire.

``alert_email``, ``alert_webhook_url`` (checked against the hub's outbound policy),
``stale_after_hours`` (default 24), ``failing_item_runs`` (default 3: the same item
failing in that many runs in a row) and ``pending_order_hours`` (default 24: a web order
waiting that long to reach the back office).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.outbound import OutboundPolicy, OutboundRefused

__all__ = [
    "DEFAULT_DRIFT_THRESHOLD",
    "DEFAULT_FAILING_ITEM_RUNS",
    "DEFAULT_PENDING_ORDER_HOURS",
    "DEFAULT_STALE_AFTER_HOURS",
    "MAX_FAILING_ITEM_RUNS",
    "MAX_STALE_AFTER_HOURS",
    "AlertSettings",
    "InvalidAlertSetting",
    "alert_settings",
    "masked_url",
    "updated_options",
]

DEFAULT_STALE_AFTER_HOURS = 24
MAX_STALE_AFTER_HOURS = 24 * 90
DEFAULT_FAILING_ITEM_RUNS = 3
MAX_FAILING_ITEM_RUNS = 100
DEFAULT_PENDING_ORDER_HOURS = 24
#: Alert when a store's drift (SKUs) stays above this in ``DRIFT_CHECKS`` measurements.
DEFAULT_DRIFT_THRESHOLD = 10
MAX_DRIFT_THRESHOLD = 1_000_000
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")
_MAX_URL = 2000


class InvalidAlertSetting(ValueError):
    """An alert setting that cannot be used; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    email: str | None = None
    webhook_url: str | None = None
    stale_after_hours: int = DEFAULT_STALE_AFTER_HOURS
    #: Alert when the same item failed in this many runs in a row that covered its step.
    failing_item_runs: int = DEFAULT_FAILING_ITEM_RUNS
    #: Alert when a web order waited this long to reach the back office.
    pending_order_hours: int = DEFAULT_PENDING_ORDER_HOURS
    #: Alert when the drift stays above this many SKUs (``alert_rules.drift_stays_above``).
    drift_threshold: int = DEFAULT_DRIFT_THRESHOLD


def _int_option(options: Mapping[str, Any], key: str, default: int) -> int:
    value = options.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def alert_settings(options: Mapping[str, Any] | None) -> AlertSettings:
    """A store's alert settings from its ``options`` (defaults for anything missing)."""
    options = options or {}
    return AlertSettings(
        email=options.get("alert_email") or None,
        webhook_url=options.get("alert_webhook_url") or None,
        stale_after_hours=_int_option(options, "stale_after_hours", DEFAULT_STALE_AFTER_HOURS),
        failing_item_runs=_int_option(options, "failing_item_runs", DEFAULT_FAILING_ITEM_RUNS),
        pending_order_hours=_int_option(
            options, "pending_order_hours", DEFAULT_PENDING_ORDER_HOURS
        ),
        drift_threshold=_int_option(options, "drift_threshold", DEFAULT_DRIFT_THRESHOLD),
    )


def _check_email(address: str) -> str:
    address = address.strip()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise InvalidAlertSetting(f"{address!r} is not an email address like name@example.com")
    return address


def _check_webhook_url(url: str, outbound: OutboundPolicy) -> str:
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        parsed = None
    if (
        parsed is None
        or len(url) > _MAX_URL
        or parsed.scheme not in ("http", "https")
        or not parsed.host
        or any(c.isspace() for c in url)
    ):
        raise InvalidAlertSetting(
            "the alert webhook must be an http(s) URL such as a chat channel's incoming webhook"
        )
    try:
        outbound.check_url(url)
    except OutboundRefused as exc:
        raise InvalidAlertSetting(f"the alert webhook is refused: {exc}") from None
    return url


def updated_options(
    options: Mapping[str, Any] | None,
    *,
    email: str | None = None,
    webhook_url: str | None = None,
    stale_after_hours: int | None = None,
    failing_item_runs: int | None = None,
    pending_order_hours: int | None = None,
    outbound: OutboundPolicy | None = None,
    drift_threshold: int | None = None,
) -> dict[str, Any]:
    """A new ``options`` dict with the given alert settings (None: unchanged; "": cleared).
    Checks everything first; raises ``InvalidAlertSetting`` and changes nothing. A webhook
    URL must resolve to addresses the hub's ``outbound`` policy allows (default: the
    strict one, public addresses only); the hub checks again at every delivery."""
    result = dict(options or {})
    if email is not None:
        result["alert_email"] = _check_email(email) if email.strip() else None
    if webhook_url is not None:
        result["alert_webhook_url"] = (
            _check_webhook_url(webhook_url, outbound or OutboundPolicy()) if webhook_url else None
        )
    for key, value, low, high, unit in (
        ("stale_after_hours", stale_after_hours, 1, MAX_STALE_AFTER_HOURS, "hours"),
        ("failing_item_runs", failing_item_runs, 1, MAX_FAILING_ITEM_RUNS, "runs"),
        ("pending_order_hours", pending_order_hours, 1, MAX_STALE_AFTER_HOURS, "hours"),
        ("drift_threshold", drift_threshold, 0, MAX_DRIFT_THRESHOLD, "SKUs"),
    ):
        if value is None:
            continue
        if not low <= value <= high:
            option = "--" + key.replace("_", "-")
            raise InvalidAlertSetting(f"{option} takes {low}-{high} {unit}, not {value}")
        result[key] = value
    return result


def masked_url(url: str | None) -> str | None:
    """Scheme and host only: webhook paths often carry a secret token."""
    if not url:
        return None
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}/…"
