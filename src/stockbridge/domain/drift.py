"""Drift: where the web store's stock is not what the hub means it to be.

For each stock row the hub holds, against the web's figure read just now:

- ``web-differs``: the web shows something other than what it should (``target_quantity``:
  the back office less what web orders withhold, or the hub's own quantity for an assigned
  product); ``last_sent`` says what the hub last sent (the web moved away from it, or the
  hub has not pushed a change yet);
- ``hub-only``: the hub would push stock for a SKU the web store does not have;
- ``web-only``: the web sells a SKU the back office does not know (nothing to push), or
  one the hub holds nothing for at all.

Where the web store owns a SKU's stock (``ownership.hub_pushes``) there is no drift to
report: the web is right by definition. Repair pushes the ``web-differs`` rows' targets.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockbridge.domain.inventory import StockRow, target_quantity
from stockbridge.domain.ownership import hub_pushes

__all__ = ["DRIFT_KINDS", "HUB_ONLY", "WEB_DIFFERS", "WEB_ONLY", "DriftEntry", "classify"]

WEB_DIFFERS = "web-differs"
HUB_ONLY = "hub-only"
WEB_ONLY = "web-only"
DRIFT_KINDS = (WEB_DIFFERS, HUB_ONLY, WEB_ONLY)


@dataclass(frozen=True, slots=True)
class DriftEntry:
    """One drifted (SKU, location): the web's figure now, what the hub last sent, what
    the web should show (None: the hub has no figure to push), and the kind of drift."""

    sku: str
    location: str
    kind: str
    web: int | None
    last_sent: int | None
    should: int | None
    stock_id: int | None = None
    partner_ref: str | None = None


def classify(row: StockRow, withheld: int, *, on_web: bool, web: int | None) -> DriftEntry | None:
    """The drift of one hub stock row, given whether the web store has its variant
    (``on_web``) and the web's stock of it (``web``; None: not tracked). ``withheld``:
    what web orders withhold from the SKU (applied at the default location only)."""
    should = target_quantity(row, withheld)
    if not on_web:
        if should is None:
            return None
        return DriftEntry(
            row.sku, row.location, HUB_ONLY, None, row.last_sent, should, row.stock_id
        )
    if web is None:
        return None  # the web store does not track this variant's stock
    if should is None:
        pushes = hub_pushes(row.source, row.hub_managed)
        if pushes and not row.hub_managed and row.back_office_qty is None:
            return DriftEntry(
                row.sku, row.location, WEB_ONLY, web, row.last_sent, None, row.stock_id
            )
        return None
    if web != should:
        return DriftEntry(
            row.sku,
            row.location,
            WEB_DIFFERS,
            web,
            row.last_sent,
            should,
            row.stock_id,
            row.partner_ref,
        )
    return None
