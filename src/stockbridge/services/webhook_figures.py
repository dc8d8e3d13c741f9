"""What the inbox made of a store's inventory webhooks lately: echoes of the hub's own
writes confirmed (and dropped), events that started a run, events coalesced into one
(``jobs/inbox.py``). The dashboard's store page shows them; /metrics counts them too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stockbridge.bootstrap import Hub
from stockbridge.services.stores import find_store

__all__ = ["FIGURES_HOURS", "WebhookFigures", "webhook_figures"]

#: The figures cover the events processed in the last this many hours.
FIGURES_HOURS = 24


@dataclass(frozen=True)
class WebhookFigures:
    since: datetime
    outcomes: dict[str, int]  # "echo" | "run" | "coalesced" -> events

    @property
    def echoes(self) -> int:
        return self.outcomes.get("echo", 0)

    @property
    def coalesced(self) -> int:
        return self.outcomes.get("coalesced", 0)

    @property
    def runs(self) -> int:
        return self.outcomes.get("run", 0)


def webhook_figures(hub: Hub, store_name: str, now: datetime | None = None) -> WebhookFigures:
    since = (now or datetime.now(UTC)) - timedelta(hours=FIGURES_HOURS)
    with hub.uow() as uow:
        uow.read_only()
        store = find_store(uow, store_name)
        return WebhookFigures(since, uow.inbox.outcomes(store.id, since))
