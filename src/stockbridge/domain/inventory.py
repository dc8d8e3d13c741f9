"""Inventory arithmetic: what the web store should show, and what must move to get there.

available to web = source quantity - quantity withheld for web orders the back office has
not accounted for yet (never below zero). Hub-managed (backorder) items show the hub's own
quantity. Who owns a row's stock (and so whether the hub pushes it at all) is
``domain/ownership.py``'s rule: where the web store owns it the hub pushes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from stockbridge.domain.model import DEFAULT_LOCATION, InventorySource, StockUpdate
from stockbridge.domain.ownership import hub_pushes
from stockbridge.domain.web_catalog import ABSENT_REF

__all__ = [
    "PUSH_REASONS",
    "PlannedPush",
    "StockChunk",
    "StockRow",
    "available_to_web",
    "plan_push",
    "plan_push_rows",
    "push_reason",
    "target_quantity",
]


class StockRow(NamedTuple):
    """One variant's stock at one location as the hub holds it.

    ``last_sent`` is what the web store last received from the hub (None: never sent).
    A named tuple rather than a frozen dataclass: a million of these are made per full
    catalog pass, and tuples are built several times faster.
    """

    stock_id: int
    sku: str
    location: str
    source: InventorySource
    hub_managed: bool
    back_office_qty: int | None
    hub_qty: int | None
    last_sent: int | None = None
    partner_ref: str | None = None
    #: What the web store showed when the hub last read it (None: never read, untracked).
    web_qty: int | None = None
    #: The back office's active flag: an inactive item shows 0 when the store says so.
    active: bool = True


@dataclass(frozen=True, slots=True)
class StockChunk:
    """One keyset page of a store's stock rows. ``resume_after`` is where the next page
    starts (pass it back as ``after``); an empty ``rows`` means the stream has ended.
    """

    rows: list[StockRow]
    resume_after: int


def available_to_web(source_quantity: int, withheld: int) -> int:
    """Stock the web may sell: the source's quantity less what unposted orders took."""
    return max(0, source_quantity - max(0, withheld))


def target_quantity(row: StockRow, withheld: int, *, zero_inactive: bool = False) -> int | None:
    """The quantity the web store should show for ``row``; None when the hub must not push
    (the web store owns the row's stock, or the hub has no figure for it).

    An assigned (``hub_managed``) product shows the hub's quantity; any other the back
    office's less ``withheld``, the quantity on web orders not yet reflected in
    ``back_office_qty``. Withholding applies at the default location, where web orders
    take their stock. With ``zero_inactive`` an item the back office made inactive shows
    0 (``domain/web_catalog.py``: the store's ``inactive`` setting); re-activated, its
    figure differs from the 0 last sent and goes out again.
    """
    if not hub_pushes(row.source, row.hub_managed):
        return None
    if zero_inactive and not row.active:
        return 0
    if row.hub_managed:
        return None if row.hub_qty is None else max(0, row.hub_qty)
    if row.back_office_qty is None:
        return None
    return available_to_web(
        row.back_office_qty, withheld if row.location == DEFAULT_LOCATION else 0
    )


class PlannedPush(NamedTuple):
    """One stock change inventory-out decided: the row as the hub holds it, the quantity
    withheld from it (default location only), and the update to send."""

    row: StockRow
    withheld: int
    update: StockUpdate


def plan_push_rows(
    rows: Iterable[StockRow], withheld: Mapping[str, int], *, zero_inactive: bool = False
) -> Iterator[PlannedPush]:
    """Each row whose target differs from what the web last received, with why (the one
    decision inventory-out and its dry run both take). Lazy: memory stays flat. A row the
    web store does not have (``ABSENT_REF``: not created, refused, or its creation not
    confirmed) is not planned: nothing would be sent, and recording it as sent would keep
    its stock from the product once it is created or found."""
    for row in rows:
        if row.partner_ref == ABSENT_REF:
            continue
        held = withheld.get(row.sku, 0) if row.location == DEFAULT_LOCATION else 0
        target = target_quantity(row, held, zero_inactive=zero_inactive)
        if target is not None and target != row.last_sent:
            yield PlannedPush(
                row, held, StockUpdate(row.sku, target, row.location, row.partner_ref)
            )


def plan_push(
    rows: Iterable[StockRow], withheld: Mapping[str, int], *, zero_inactive: bool = False
) -> Iterator[tuple[int, StockUpdate]]:
    """Yield (stock id, update) for each row whose target differs from what the web last
    received. Lazy: memory stays flat whatever the catalog size.
    """
    for planned in plan_push_rows(rows, withheld, zero_inactive=zero_inactive):
        yield planned.row.stock_id, planned.update


#: Why a stock change is pushed, as the preview and the drift report name it.
PUSH_REASONS = ("hub-managed", "withheld orders", "back-office change", "inactive item")


def push_reason(row: StockRow, withheld: int) -> str:
    """Why the web is sent a new quantity for ``row``: the hub's own quantity of an
    assigned product, web orders the back office has not accounted for, an item made
    inactive in the back office, or else a change of the back office's figure (or a web
    figure that moved away from it)."""
    if row.hub_managed:
        return PUSH_REASONS[0]
    if not row.active:
        return PUSH_REASONS[3]
    if withheld > 0:
        return PUSH_REASONS[1]
    return PUSH_REASONS[2]
