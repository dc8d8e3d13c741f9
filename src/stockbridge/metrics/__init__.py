"""Prometheus metrics, prefixed ``stockbridge_``: the counters, which live in the process.
This module imports nothing but prometheus_client, so any layer may count (connectors
count their partner requests here).

Gauges about recorded work (inbox depth, lag since the last successful sync) are read
from the database when scraped: ``stockbridge.metrics.database``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = [
    "PARTNER_CALLS",
    "PARTNER_THROTTLED",
    "REGISTRY",
    "RUNS_FINISHED",
    "RUN_ITEMS",
    "WEBHOOKS",
    "WEBHOOK_EVENTS",
]

REGISTRY = CollectorRegistry()

PARTNER_CALLS = Counter(
    "stockbridge_partner_calls",
    "Requests sent to partners",
    ["partner", "status"],
    registry=REGISTRY,
)
PARTNER_THROTTLED = Counter(
    "stockbridge_partner_429",
    "Answers of 429 (rate limited) from partners",
    ["partner"],
    registry=REGISTRY,
)
RUNS_FINISHED = Counter(
    "stockbridge_runs_finished", "Sync runs finished", ["trigger", "status"], registry=REGISTRY
)
RUN_ITEMS = Counter(
    "stockbridge_run_items",
    "Items moved or refused by sync steps",
    ["step", "outcome"],
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "stockbridge_webhooks_received", "Webhook deliveries", ["source", "outcome"], registry=REGISTRY
)
WEBHOOK_EVENTS = Counter(
    "stockbridge_webhook_events",
    "Inventory webhook events as the inbox pass took them: echo (the hub's own write, "
    "confirmed and dropped), run (started a run), coalesced (merged into a run)",
    ["outcome"],
    registry=REGISTRY,
)
