"""What a step needs: the store, its partners, units of work (the storage port) and the
run's tracker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.domain.model import ItemError, Step, Trigger
from stockbridge.domain.sources import SourceMap, Supplier
from stockbridge.domain.store import StoreSettings
from stockbridge.ports import UnitOfWork
from stockbridge.retry import RetryPolicy

__all__ = [
    "Partners",
    "ProgressListener",
    "StepContext",
    "StepOutcome",
    "SupplierPartner",
    "Tracker",
]


@dataclass(frozen=True)
class SupplierPartner:
    """A supplementary stock source (a supplier's feed) and what it owns."""

    supplier: Supplier
    back_office: BackOffice


@dataclass(frozen=True)
class Partners:
    """The store's connected partners; either side may be missing. ``back_office`` is
    the primary (orders post there); ``suppliers`` are supplementary stock sources."""

    web: WebStore | None = None
    web_connection_id: int | None = None
    back_office: BackOffice | None = None
    back_office_connection_id: int | None = None
    suppliers: tuple[SupplierPartner, ...] = ()

    @property
    def sources(self) -> SourceMap:
        """Who owns which SKU (``domain.sources``)."""
        return SourceMap(tuple(s.supplier for s in self.suppliers))


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended. status: succeeded | partial | failed | skipped."""

    status: str
    done: int = 0  # changed: items whose value differs from what the hub had
    failed: int = 0
    message: str | None = None
    read: int | None = None  # items read from partners (None: not counted)
    written: int | None = None  # items sent to a partner (None: not counted)


class ProgressListener(Protocol):
    """Told about progress as a run goes (a terminal progress bar, a dashboard)."""

    def step_started(self, step: Step, total: int | None) -> None: ...

    def step_advanced(self, step: Step, done: int, total: int | None) -> None: ...

    def step_finished(self, step: Step, outcome: StepOutcome) -> None: ...


class Tracker(Protocol):
    """The step's view of its run: progress, item errors, and periodic checkpoints."""

    def set_total(self, total: int | None) -> None: ...

    def advance(self, count: int) -> None: ...

    def item_failed(self, errors: list[ItemError]) -> None: ...

    def checkpoint(self) -> None: ...


@dataclass(frozen=True)
class StepContext:
    store: StoreSettings
    partners: Partners
    #: A new unit of work (the storage port) each call.
    uow: Callable[[], UnitOfWork]
    retry: RetryPolicy
    tracker: Tracker
    #: What started the run (a webhook-triggered run skips the web store's upkeep).
    trigger: Trigger = Trigger.MANUAL
    #: The web products a targeted run reads (webhook news); None: the whole store.
    targets: tuple[str, ...] | None = None
    #: The run's progress by step (what an earlier step of the run left for a later one).
    progress: dict[str, Any] = field(default_factory=dict)
