"""A connector that does not implement its role's port is an error the run reports, with
the missing members named, never a store silently treated as "not connected"."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.domain.model import BatchResult, Page, Step, StockUpdate, WebOrder, WebVariant
from tests.conftest import NO_WAIT
from tests.fakes import FakeBackOffice, FakeWebStore


class HalfWebStore:
    """Everything a web store had before ``close``, ``maintain`` and ``acknowledge_orders``
    joined the port (the bench's old in-memory store)."""

    max_inventory_batch = 2000

    def __init__(self) -> None:
        self.orders_read = 0

    def check(self) -> str:
        return "half a web store"

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        self.orders_read += 1
        return iter(())

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        return iter(())

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        return BatchResult()


def _hub(tmp_path: Path, web: object, back_office: object) -> Hub:
    registry = default_registry()
    registry.register("odd-web", lambda _env: web)  # type: ignore[arg-type, return-value]
    registry.register("odd-bo", lambda _env: back_office)  # type: ignore[arg-type, return-value]
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'hub.db'}"),
        registry=registry,
        retry=NO_WAIT,
    )
    hub.initialise()
    services.add_store(hub, "shop")
    store_id = services.resolve_store(hub, "shop")
    with hub.uow() as uow:  # saved as an older release (or a plugin) would have saved it
        uow.stores.connect(store_id, role="web", kind="odd-web", settings={}, credentials=None)
        uow.stores.connect(
            store_id, role="back_office", kind="odd-bo", settings={}, credentials=None
        )
        uow.commit()
    return hub


def test_a_web_connector_missing_methods_fails_the_run_naming_them(tmp_path: Path) -> None:
    web = HalfWebStore()
    hub = _hub(tmp_path, web, FakeBackOffice())
    report = services.sync(hub, "shop", (Step.ORDERS_IN, Step.ORDERS_OUT))

    assert report.status.value == "failed"
    assert report.error is not None
    for missing in ("acknowledge_orders", "close", "maintain"):
        assert missing in report.error
    assert "'odd-web'" in report.error and "web connector" in report.error
    assert web.orders_read == 0  # nothing was attempted with it


def test_a_back_office_connector_missing_methods_fails_the_run(tmp_path: Path) -> None:
    hub = _hub(tmp_path, FakeWebStore(), object())
    report = services.sync(hub, "shop", (Step.INVENTORY_IN,))

    assert report.status.value == "failed"
    assert report.error is not None
    assert "back office connector" in report.error
    for missing in ("find_posted", "iter_items", "max_orders_per_call", "post_orders"):
        assert missing in report.error
