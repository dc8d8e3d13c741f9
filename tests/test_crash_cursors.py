"""Cursors move forward only, and orders-in's cursor is committed with the page it covers.

The second rule is also what the crash suite's kill between a page and its cursor checks
over real processes (tests/test_crash_kills.py); here the hub "dies" in-process at every
commit of orders-in in turn, which is quick and exhaustive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from stockbridge import services
from stockbridge.db.models import Cursor, Order
from stockbridge.domain.model import Page, Step, WebOrder
from stockbridge.sync.orders_in import ORDERS_STREAM
from tests.conftest import Harness
from tests.fakes import EPOCH, FakeBackOffice, FakeWebStore

ORDERS_IN = (Step.ORDERS_IN,)


class Died(BaseException):
    """The process died here: not an error any code path may catch and record."""


def _cursor(harness: Harness, stream: str = ORDERS_STREAM) -> datetime | None:
    with harness.hub.uow() as uow:
        row = uow.session.query(Cursor).filter_by(stream=stream).one_or_none()
        return row.position if row else None


def test_advance_cursor_never_moves_back(harness: Harness) -> None:
    store_id = harness.add_store(web=FakeWebStore(), back_office=FakeBackOffice())
    later, earlier = EPOCH + timedelta(hours=2), EPOCH + timedelta(hours=1)
    with harness.hub.uow() as uow:
        connection = uow.stores.connection(store_id, "web")
        assert connection is not None
        uow.stores.advance_cursor(connection.id, "orders", later)
        uow.commit()
    with harness.hub.uow() as uow:
        uow.stores.advance_cursor(connection.id, "orders", earlier)
        uow.stores.advance_cursor(connection.id, "orders", None)
        uow.commit()
    with harness.hub.uow() as uow:
        assert uow.stores.cursor(connection.id, "orders") == later


class ReplayingWebStore(FakeWebStore):
    """A partner that, asked for changes since the cursor, answers with its oldest page
    again: that page's cursor lies behind the hub's."""

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        pages = super().iter_orders(None)
        return pages if since is None else iter([next(pages)])


def test_orders_in_never_moves_its_cursor_back(sqlite_harness: Harness) -> None:
    web = ReplayingWebStore(page_size=2)
    web.add_variant("A", 5)
    sqlite_harness.add_store(web=web, back_office=FakeBackOffice())
    for _ in range(3):
        web.place_order([("A", 1)])
    services.sync(sqlite_harness.hub, None, ORDERS_IN)
    newest = _cursor(sqlite_harness)
    assert newest == max(o.modified_at for o in web.orders.values())
    services.sync(sqlite_harness.hub, None, ORDERS_IN)  # an older page again
    assert _cursor(sqlite_harness) == newest


def _orders_in_commits(harness: Harness) -> int:
    counted = 0

    def count(_conn: Any) -> None:
        nonlocal counted
        counted += 1

    event.listen(harness.hub.engine, "commit", count)
    try:
        services.sync(harness.hub, None, ORDERS_IN)
    finally:
        event.remove(harness.hub.engine, "commit", count)
    return counted


def test_orders_in_killed_at_every_commit_loses_no_order(sqlite_harness: Harness) -> None:
    web = FakeWebStore(page_size=2)
    web.add_variant("A", 10_000)
    sqlite_harness.add_store(web=web, back_office=FakeBackOffice())
    hub = sqlite_harness.hub
    for _ in range(5):  # three pages
        web.place_order([("A", 1)])
    commits = _orders_in_commits(sqlite_harness)
    assert commits >= 5  # lease, claim, three pages, progress...
    for dying in range(1, commits + 1):
        for _ in range(5):  # the next round's orders: three pages again
            web.place_order([("A", 1)])
        seen = 0

        def die(_conn: Any, at: int = dying) -> None:
            nonlocal seen
            seen += 1
            if seen == at:
                raise Died(f"commit {at}")

        event.listen(hub.engine, "commit", die)
        try:
            services.sync(hub, None, ORDERS_IN)
        except Died:
            pass
        finally:
            event.remove(hub.engine, "commit", die)
        with hub.uow() as uow:  # the dead process's lease: its pid is gone on a restart
            _run, holder, _expires = uow.runs.lease(1)
            if holder is not None:
                uow.runs.break_lease(1, holder)
            uow.commit()
        services.sync(hub, None, ORDERS_IN)  # restart
        with hub.uow() as uow:
            taken = set(uow.session.scalars(select(Order.web_id)))
        assert taken == set(web.orders), f"killed at commit {dying}: orders lost"
