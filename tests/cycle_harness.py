"""The sync cycle driven by the runner over one of three storages: the in-memory unit of
work (no database), SQLite or PostgreSQL. Step tests take the ``cycle`` fixture
(``tests/conftest.py``) and run on all three; the memory one needs no SQLite at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from stockbridge import ports
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.domain.model import DEFAULT_LOCATION, SYNC_ALL, InventorySource, Step, Trigger
from stockbridge.domain.orders import OrderState
from stockbridge.retry import RetryPolicy
from stockbridge.sync.context import Partners
from stockbridge.sync.runner import RunReport, SyncRunner
from tests.memory_uow import MemoryDatabase

if TYPE_CHECKING:
    from tests.conftest import Harness

__all__ = ["Cycle", "DbCycle", "MemoryCycle"]

#: (back-office, web, hub) quantities of one stock row.
Levels = list[tuple[int | None, int | None, int | None]]


class Cycle(Protocol):
    """What a step test needs of a hub: stores wired to partners, runs, and a look in."""

    @property
    def uow(self) -> Callable[[], ports.UnitOfWork]: ...

    @property
    def partners(self) -> Mapping[int, Partners]:
        """Each store's partners and connection ids, by store id."""
        ...

    def add_store(
        self,
        *,
        source: InventorySource = InventorySource.BACK_OFFICE,
        web: WebStore | None = None,
        back_office: BackOffice | None = None,
    ) -> int: ...

    def runner(self) -> SyncRunner: ...

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> None: ...

    def order_state(self, store_id: int, web_id: str) -> OrderState | None: ...

    def levels(self, store_id: int, sku: str) -> Levels: ...

    def sync(self, steps: tuple[Step, ...] = SYNC_ALL) -> RunReport: ...


class _Sync:
    last_store: int

    def runner(self) -> SyncRunner:
        raise NotImplementedError

    def sync(self, steps: tuple[Step, ...] = SYNC_ALL) -> RunReport:
        """Run ``steps`` for the store added last, now, as a manual run."""
        runner = self.runner()
        run_id, _merged = runner.request(self.last_store, steps, Trigger.MANUAL)
        return runner.execute(run_id)


class MemoryCycle(_Sync):
    def __init__(self, retry: RetryPolicy) -> None:
        self.db = MemoryDatabase()
        self.uow = self.db.uow
        self.partners: dict[int, Partners] = {}
        self.retry = retry

    def add_store(
        self,
        *,
        source: InventorySource = InventorySource.BACK_OFFICE,
        web: WebStore | None = None,
        back_office: BackOffice | None = None,
    ) -> int:
        store_id = self.db.add_store(source=source)
        web_id = None if web is None else self.db.connect(store_id, "web", "fake-web")
        bo_id = None if back_office is None else self.db.connect(store_id, "back_office", "fake-bo")
        self.partners[store_id] = Partners(web, web_id, back_office, bo_id)
        self.last_store = store_id
        return store_id

    def runner(self) -> SyncRunner:
        return SyncRunner(
            uow=self.db.uow,
            partners_for=self.partners.__getitem__,
            retry=self.retry,
            lease_seconds=30,
        )

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> None:
        with self.db.uow() as uow:
            uow.catalog.set_hub_managed(store_id, sku, quantity)
            uow.commit()

    def order_state(self, store_id: int, web_id: str) -> OrderState | None:
        with self.db.uow() as uow:
            return uow.orders.state(store_id, web_id)

    def levels(self, store_id: int, sku: str) -> Levels:
        state = self.db.state
        variant_id = state.variant_ids[(store_id, sku)]
        found = sorted(
            (level for level in state.levels.values() if level.variant_id == variant_id),
            key=lambda level: (level.location != DEFAULT_LOCATION, level.location),
        )
        return [(lv.back_office_qty, lv.web_qty, lv.hub_qty) for lv in found]


class DbCycle(_Sync):
    """Over the SQL hub of ``tests/conftest.py``'s ``Harness``."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.uow = harness.hub.uow

    @property
    def partners(self) -> Mapping[int, Partners]:
        return self.harness.partners

    def add_store(
        self,
        *,
        source: InventorySource = InventorySource.BACK_OFFICE,
        web: WebStore | None = None,
        back_office: BackOffice | None = None,
    ) -> int:
        self.last_store = self.harness.add_store(source=source, web=web, back_office=back_office)
        return self.last_store

    def runner(self) -> SyncRunner:
        return self.harness.hub.runner()

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> None:
        with self.harness.hub.uow() as uow:
            uow.catalog.set_hub_managed(store_id, sku, quantity)
            uow.commit()

    def order_state(self, store_id: int, web_id: str) -> OrderState | None:
        with self.harness.hub.uow() as uow:
            return uow.orders.state(store_id, web_id)

    def levels(self, store_id: int, sku: str) -> Levels:
        with self.harness.hub.uow() as uow:
            variant = uow.catalog.variant(store_id, sku)
            assert variant is not None
            found = sorted(
                uow.catalog.stock(variant.id),
                key=lambda level: (level.location != DEFAULT_LOCATION, level.location),
            )
            return [(lv.back_office_qty, lv.web_qty, lv.hub_qty) for lv in found]
