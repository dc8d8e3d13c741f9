"""Webhooks that only report the hub's own writes (echoes), told apart from news.

The web store fires an inventory webhook for every stock write, the hub's own included.
When the hub pushes stock it records, per web product, the change it expects the store to
report (``SentStock``: the sum over the product's rows of what was sent less what the web
showed before, and when it was sent). An inventory event (``StockEvent``) is an echo when
it names a product the hub wrote and still awaits, reports exactly the change the hub made,
and happened within ``ECHO_WINDOW`` of the write: it is recorded as confirmation (the write
landed) and dropped. Anything else is news: someone changed the web behind the hub's back,
and a run reads that product's stock now. An event the hub cannot compare (no change in
it, or a write whose change the hub did not know) is news too: a wrong "news" costs one
small run; a wrong "echo" would lose a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "CLOCK_SKEW",
    "ECHO_WINDOW",
    "SentStock",
    "StockEvent",
    "expected_changes",
    "is_echo",
    "sort_events",
]

#: How long after the hub's write its webhook may still be taken for its echo (the
#: event's own time, which re-deliveries keep: a retried echo is still recognised).
ECHO_WINDOW = timedelta(minutes=5)
#: The partner stamps events in whole seconds, on its own clock.
CLOCK_SKEW = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class SentStock:
    """What the hub last wrote to one web product's stock and is waiting to hear back."""

    product: str  # the web store's product id
    change: int | None  # the change the write makes (None: unknown, cannot compare)
    sent_at: datetime
    awaiting: bool = True  # False once its echo came back (or a later read settled it)


@dataclass(frozen=True, slots=True)
class StockEvent:
    """One inventory webhook, reduced to what the comparison needs."""

    event_id: int
    product: str | None  # None: the event names no product the hub can look up
    change: int | None  # the change the store reports (None: not reported)
    occurred_at: datetime


def is_echo(sent: SentStock | None, event: StockEvent) -> bool:
    """Whether ``event`` only reports the hub's own write ``sent`` (see the module)."""
    return (
        sent is not None
        and sent.awaiting
        and event.product == sent.product
        and sent.change is not None
        and event.change is not None
        and event.change == sent.change
        and sent.sent_at - CLOCK_SKEW <= event.occurred_at <= sent.sent_at + ECHO_WINDOW
    )


def sort_events(
    events: Iterable[StockEvent], sent: Mapping[str, SentStock]
) -> tuple[list[StockEvent], list[StockEvent]]:
    """Split events into (echoes, news). Each write has one echo: a second event matching
    the same write is news (someone repeated the change on the web)."""
    echoes: list[StockEvent] = []
    news: list[StockEvent] = []
    confirmed: set[str] = set()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        write = sent.get(event.product) if event.product is not None else None
        if event.product not in confirmed and is_echo(write, event):
            echoes.append(event)
            confirmed.add(str(event.product))
        else:
            news.append(event)
    return echoes, news


def expected_changes(
    pushed: Sequence[tuple[str | None, int, int | None]],
) -> dict[str, int | None]:
    """The change each web product's stock makes under one push: ``pushed`` holds (web
    product id, quantity sent, what the web showed before or None). A product with any
    row whose previous figure is unknown gets None (its echo cannot be recognised)."""
    changes: dict[str, int | None] = {}
    for product, quantity, before in pushed:
        if product is None:
            continue
        known = changes.get(product, 0)
        changes[product] = None if known is None or before is None else known + quantity - before
    return changes
