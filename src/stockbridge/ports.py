"""The ports through which the sync engine reaches the hub's storage.

sync/ depends on these protocols only: the SQLAlchemy unit of work (``db/uow.py``)
implements them over SQLite or PostgreSQL, and the tests' in-memory one
(``tests/memory_uow.py``) over plain dictionaries. Everything crossing them is a domain
value (``stockbridge.domain``), never a database row.

Contract of a unit of work: ``with uow() as u: ...; u.commit()``. Everything read and
written inside the block is one transaction; leaving the block without ``commit`` rolls
it back. Units of work are never nested in one thread (on SQLite the inner one would
wait for the outer one's write lock). The rules each repository applies are the domain's
(``domain/orders.py``, ``domain/catalog.py``, ``domain/withholding.py``); a repository
loads state, calls them and stores their decision.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from stockbridge.domain.inventory import StockChunk, StockRow
from stockbridge.domain.model import (
    BackOfficeItem,
    InventorySource,
    ItemError,
    RunStatus,
    Step,
    Trigger,
    WebOrder,
    WebVariant,
)
from stockbridge.domain.orders import PendingOrder, PendingReversal, ReversalRecord
from stockbridge.domain.reconcile import HubOrder
from stockbridge.domain.runs import RunRecord
from stockbridge.domain.snapshot import HubRowLike
from stockbridge.domain.store import StoreSettings
from stockbridge.domain.web_catalog import CatalogChunk

__all__ = [
    "CatalogRepository",
    "OrderRepository",
    "RunRepository",
    "SourceRepository",
    "StoreRepository",
    "UnitOfWork",
]


class StoreRepository(Protocol):
    """Stores, their partner connections and the connections' cursors."""

    def settings(self, store_id: int) -> StoreSettings | None:
        """The store's settings; None when there is no such store."""
        ...

    def connection_kind(self, connection_id: int) -> str | None:
        """The connector kind of a connection ("bigcommerce", "qbo", ...); None if gone."""
        ...

    def take_setting(self, connection_id: int, key: str) -> Any:
        """Remove one setting of the connection and return it (None when absent)."""
        ...

    def set_health(self, connection_id: int, health: str, last_error: str | None) -> None:
        """Record a connection's health ("connected", "needs_reconnect") and why."""
        ...

    def cursor(self, connection_id: int, stream: str) -> datetime | None:
        """Where reading ``stream`` from the connection resumes (None: from the start)."""
        ...

    def advance_cursor(self, connection_id: int, stream: str, position: datetime | None) -> None:
        """Move the cursor to ``position`` if that is forward; never backward, and None
        leaves it. Commit it in the unit of work that stores the data it covers."""
        ...


class CatalogRepository(Protocol):
    """Variants and their stock rows: what partners report, and stock out to the web."""

    def apply_back_office_items(
        self,
        store_id: int,
        items: Sequence[BackOfficeItem],
        *,
        store_source: InventorySource,
    ) -> int:
        """Merge the back office's reports (``domain.catalog.merge_back_office_item``); an
        unknown SKU becomes a new variant, a stale report changes nothing. The hub's
        quantity of an assigned product is set only where the ERP owns it
        (``domain.ownership.erp_sets_hub_quantity``, by the product's mode: its override,
        else ``store_source``). Returns how many items changed the hub."""
        ...

    def apply_web_variants(
        self,
        store_id: int,
        connection_id: int,
        variants_seen: Sequence[WebVariant],
        *,
        store_source: InventorySource,
    ) -> int:
        """Merge the web store's variants (``domain.catalog.merge_web_variant``, the web
        the master of name and price where the product's mode says so), keep each one's
        partner reference for writes, set the hub's quantity of an assigned product the
        web owns (``domain.ownership.web_sets_hub_quantity``), and forget what was last
        sent to the web for a stock row whose web quantity now differs from it. Returns
        how many variants changed the hub."""
        ...

    def iter_back_office_state(self, store_id: int) -> Iterator[HubRowLike]:
        """Every (SKU, location) the store holds as ``HubRow`` tuples, in code-point order
        of (SKU, location); a variant without stock rows comes once, at the default
        location. Streams: memory stays flat in the catalog's size."""
        ...

    def withheld(
        self,
        store_id: int,
        reflected_at: datetime | None,
        store_source: InventorySource | None = None,
    ) -> dict[str, int]:
        """Quantity per SKU the store's web orders withhold: exactly
        ``domain.withholding.withheld`` over the store's orders (with ``store_source``,
        ``pushed_at`` is the back-office modification time of its api-mode SKUs)."""
        ...

    def count_stock_rows(self, store_id: int) -> int:
        """How many stock rows the store has (inventory-out's progress total)."""
        ...

    def stock_rows(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        after: int,
        limit: int,
    ) -> StockChunk:
        """The next keyset page of the store's stock rows, in a stable order, starting
        after position ``after`` (0: from the start), for at most ``limit`` variants
        (every stock row of each). Each row carries what the web connection last received
        for it and the variant's partner reference; ``store_source`` unless the variant
        overrides it. Read each page in its own short unit of work: no transaction stays
        open while the caller talks to a partner, and memory stays flat."""
        ...

    def record_sent(self, connection_id: int, sent: Sequence[tuple[int, int]]) -> None:
        """Remember (stock row id, quantity) as what the web connection last received,
        and as what the web shows now (the stock row's web figure)."""
        ...

    def stock_rows_of(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        skus: Collection[str],
    ) -> list[StockRow]:
        """The stock rows of the store's variants among ``skus`` (unknown SKUs are left
        out), as ``stock_rows`` gives them: a targeted run reads only these."""
        ...

    def assigned_refs(self, store_id: int, web_connection_id: int) -> list[str]:
        """The web connection's partner references of the store's assigned variants: a
        manual sync reads their web stock in full."""
        ...

    def record_echoes(
        self, connection_id: int, changes: Mapping[str, int | None], sent_at: datetime
    ) -> None:
        """Remember, per web product, the change a push just made (None: unknown) and
        when: the webhook reporting it is its echo (``domain/echoes.py``)."""
        ...

    def web_drift(self, store_id: int, connection_id: int, seen: Sequence[WebVariant]) -> int:
        """How many of the variants the web store reported hold a stock figure other
        than what the connection last received (something was sent, and the web moved
        away from it). Ask before ``apply_web_variants``, which forgets what was sent."""
        ...

    def record_drift(
        self, store_id: int, source: str, drifted: int, web_only: int = 0, hub_only: int = 0
    ) -> None:
        """Record a measurement of the store's drift (``domain/drift.py``), now;
        ``source``: report | inventory-in | repair."""

    def catalog_rows(
        self, store_id: int, *, web_connection_id: int, after: int, limit: int
    ) -> CatalogChunk:
        """The next keyset page of the store's variants after variant id ``after``, at
        most ``limit``, by id: name, price, active flag, whether a back office reported
        it, its web reference, and what the web connection last received (price, name),
        whether the hub hid it, whether a creation is started but not recorded
        (``domain.web_catalog.CatalogRow``). One short read a page."""
        ...

    def record_web_refs(self, connection_id: int, refs: Sequence[tuple[int, str]]) -> None:
        """Remember (variant id, partner reference) for the web connection (a product
        just created, or known absent: ``domain.web_catalog.ABSENT_REF``)."""
        ...

    def record_catalog_sent(
        self, connection_id: int, entity: str, sent: Sequence[tuple[int, str | None]]
    ) -> None:
        """Remember (variant id, value) of ``entity`` as the web connection last got it:
        ``price`` and ``name`` (text), ``hidden`` ("1": the hub hid it), ``creating``
        ("1": a creation was started; None: its outcome is recorded)."""
        ...


class SourceRepository(Protocol):
    """Which supplier claimed which SKU (``domain.sources``: the ownership rule)."""

    def claims(self, store_id: int, skus: Collection[str]) -> dict[str, int]:
        """SKU -> the supplier connection that claimed it, for those of ``skus`` claimed."""
        ...

    def claim(self, store_id: int, connection_id: int, skus: Collection[str]) -> None:
        """Record that the supplier claimed these SKUs (variants the hub holds, e.g.
        just created by ``apply_back_office_items`` in this unit of work). A SKU claimed
        already stays with whoever claimed it first."""
        ...

    def iter_state_with_claims(self, store_id: int) -> Iterator[tuple[Any, ...]]:
        """``CatalogRepository.iter_back_office_state``'s rows, each with one more field:
        the supplier connection that claimed its SKU (None: unclaimed). Same order;
        streams."""
        ...


class OrderRepository(Protocol):
    """Web orders in the hub and their way to the back office (``domain.orders``)."""

    def apply_page(self, store_id: int, orders: Sequence[WebOrder]) -> int:
        """Apply each copy by ``domain.orders.apply_web_order``: store the order and its
        new post state, take or give back hub-managed stock, forget what was last sent
        for SKUs whose web stock moved. Stale copies change nothing. Returns how many
        orders changed the hub."""
        ...

    def count_to_post(self, store_id: int) -> int:
        """How many orders ``next_to_post`` has to go through."""
        ...

    def next_to_post(self, store_id: int, after_row_id: int, limit: int) -> list[PendingOrder]:
        """Orders to post, by row id after ``after_row_id``: pending ones that belong in
        the back office, and every uncertain one (even if cancelled since: it must be
        looked up before anything else happens to it)."""
        ...

    def mark_uncertain(self, row_ids: Sequence[int]) -> None:
        """A post of these orders is about to be attempted (commit this BEFORE calling
        the partner): until an answer is recorded they are looked up before any re-post.
        Counts an attempt."""
        ...

    def mark_posted(self, store_id: int, connection_id: int, documents: dict[str, str]) -> None:
        """Record web order id -> back-office document: posted, never posted again."""
        ...

    def mark_not_postable(self, row_ids: list[int]) -> None:
        """The look-up found no document for these (now not postable) orders: stop."""
        ...

    def mark_refused(self, store_id: int, web_id: str, message: str) -> None:
        """The back office refused the order (nothing was created): pending again, with
        the partner's message."""
        ...

    def to_acknowledge(
        self, store_id: int, max_attempts: int, after_row_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(row id, web id) of posted orders whose status write-back the web has not taken
        (fewer than ``max_attempts`` tries) and that the hub last saw awaiting payment or
        open, by row id after ``after_row_id``."""
        ...

    def mark_acknowledged(
        self, store_id: int, taken: Sequence[str], refused: Sequence[str]
    ) -> None:
        """Record a status write-back: ``taken`` are done; ``refused`` count one more try."""
        ...

    # Reversals of posted orders (``domain.books``): ``apply_page`` records what the web
    # did to an order (refunds, a cancel after posting) as reversals, and ``mark_posted``
    # does for an order found posted after the web cancelled it.

    def refuse_unposted_reversals(self, store_id: int) -> int:
        """Pending reversals of orders that were never posted are refused with the
        reason; returns how many."""
        ...

    def unreported_refusals(self, store_id: int) -> list[tuple[str, str]]:
        """(order number, reason) of refused reversals no run has listed yet; marks them
        listed."""
        ...

    def count_reversals(self, store_id: int) -> int:
        """How many reversals of posted orders wait to be sent (or looked up)."""
        ...

    def next_reversals(
        self, store_id: int, connection_id: int, after_id: int, limit: int
    ) -> list[PendingReversal]:
        """Reversals of posted orders to send, by id after ``after_id``: pending ones and
        uncertain ones (look those up before anything else)."""
        ...

    def mark_reversals_uncertain(self, row_ids: Sequence[int]) -> None:
        """These reversals are about to be sent (commit BEFORE calling the partner)."""
        ...

    def mark_reversals_done(self, documents: dict[int, str]) -> None:
        """Record reversal id -> back-office document: done, never sent again."""
        ...

    def mark_reversal_refused(self, row_id: int, message: str) -> None:
        """The back office refused it (nothing booked): pending again, with its words."""
        ...

    def reversals(self, store_id: int, web_id: str) -> list[ReversalRecord]:
        """The order's reversals, oldest first."""
        ...

    def books_view(self, store_id: int, web_ids: Collection[str]) -> dict[str, HubOrder]:
        """What the hub holds of these web orders for the month-end check: post state,
        last refusal, reversals (with their number on the order) oldest first. Orders
        the hub does not know are absent. Reads only."""
        ...


class RunRepository(Protocol):
    """Sync runs and the per-store lease that keeps two runs of a store apart."""

    def queue(
        self,
        store_id: int,
        steps: Sequence[Step],
        trigger: Trigger,
        targets: Collection[str] | None = None,
    ) -> tuple[int, bool]:
        """A queued run that will do ``steps``: one already queued with the same trigger
        that covers them (merged), or a new one. Returns (run id, merged). ``targets``
        (web product ids) limits the run to those products' stock; it merges only with a
        targeted run (their union), a whole-store request only with a whole-store run."""
        ...

    def record(self, run_id: int) -> RunRecord | None:
        """The run, or None when there is no such run."""
        ...

    def claim(self, run_id: int) -> bool:
        """Mark a queued run running; False otherwise (finished, or left running by a
        process that died: that one is interrupted and resumed, see sync/recovery.py)."""
        ...

    def running(self, store_id: int | None = None) -> list[RunRecord]:
        """Runs marked running (of one store, or of all), oldest first."""
        ...

    def interrupt(self, run_id: int, reason: str) -> bool:
        """Mark a run whose process died ``interrupted`` (finished now, ``reason`` as its
        error); only a run still running changes. True if it did."""
        ...

    def unresumed(self, store_id: int) -> list[RunRecord]:
        """The store's interrupted runs whose remaining steps no run has taken over."""
        ...

    def take_over(self, run_id: int, steps: Sequence[Step], interrupted: Sequence[int]) -> None:
        """Run ``run_id`` now does ``steps`` (its own plus what the ``interrupted`` runs
        left); each of those not resumed yet records ``run_id`` as its successor."""
        ...

    def stores_to_resume(self) -> list[int]:
        """Stores with interrupted runs nobody resumes and no run queued or running."""
        ...

    def lease(self, store_id: int) -> tuple[int | None, str | None, datetime | None]:
        """(run id, holder, expires at) of the store's lease; all None when it is free."""
        ...

    def finish(self, run_id: int, status: RunStatus, error: str | None) -> None:
        """Record the run's outcome."""
        ...

    def set_progress(self, run_id: int, progress: dict[str, Any]) -> None:
        """Replace the run's progress (see ``RunRecord.progress``)."""
        ...

    def add_errors(self, run_id: int, step: Step, errors: Sequence[ItemError]) -> None:
        """Append item errors to the run, in order."""
        ...

    def item_errors(self, run_id: int) -> list[ItemError]:
        """The run's item errors, in the order they were added."""
        ...

    def acquire_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        """Take the store's lease for ``seconds`` if it is free, expired, or already this
        (run, holder)'s. False: another live run holds it."""
        ...

    def lease_holder(self, store_id: int) -> str | None:
        """Who holds the store's lease (None: nobody)."""
        ...

    def break_lease(self, store_id: int, holder: str) -> bool:
        """Free a lease whose holder is known to be dead."""
        ...

    def renew_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        """Extend the lease by ``seconds`` from now; False if this run no longer holds it."""
        ...

    def release_lease(self, store_id: int, run_id: int, holder: str) -> None:
        """Free the lease if this run holds it."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the repositories; rolled back unless committed."""

    @property
    def stores(self) -> StoreRepository: ...

    @property
    def catalog(self) -> CatalogRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def sources(self) -> SourceRepository: ...

    @property
    def runs(self) -> RunRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and end the transaction."""
        ...

    def commit(self) -> None:
        """Make everything done in this unit of work durable, at once."""
        ...

    def read_only(self) -> Self:
        """Declare the transaction a read (call before its first query): it then never
        holds up writers (SQLite takes no write lock for it)."""
        ...
