"""Kill the hub in the middle of a run, as ``kill -9`` would, in-process.

A ``KillSwitch`` counts the points a run passes (each commit, before and after it; each
partner call, before it and after the partner applied it; each page asked for) and dies at
the chosen pass of a chosen point by raising ``Killed``, a ``BaseException``: the runner's outermost
``except Exception`` does not record it, nothing is committed after it (a dead switch
refuses every later unit of work, so the run's ``finally`` cannot release its lease or
record an outcome) and whatever the partner applied stays applied. What survives is
exactly the committed state; the test then re-opens the hub from it.

``dead_holder()`` names a process on this machine that does not run: a runner using it
leaves a lease the next runner frees at once, as after a real kill and restart.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from stockbridge import ports
from stockbridge.domain.model import (
    BackOfficeItem,
    BatchResult,
    Page,
    PostOutcome,
    PostRequest,
    StockUpdate,
    WebOrder,
    WebOrderStatus,
    WebVariant,
)
from stockbridge.sync.lease import is_dead_local_process, pid_namespace
from tests.fakes import FakeBackOffice, FakeWebStore

__all__ = [
    "COMMIT_POINTS",
    "PARTNER_POINTS",
    "KillSwitch",
    "KillableBackOffice",
    "KillableUnitOfWork",
    "KillableWebStore",
    "Killed",
    "dead_holder",
    "killable",
]


class Killed(BaseException):
    """The hub's process died here: nothing after this point runs."""


#: The kill points, by name: each commit (before: its work is lost; after: kept, what
#: follows is not) and each partner call or page.
COMMIT_POINTS = ("before a commit", "after a commit")
PARTNER_POINTS = (
    "before an orders page",
    "before a post",
    "after the back office posted",
    "before a look-up",
    "before a status write-back",
    "after the store applied a status write-back",
    "before an items page",
    "before a catalog page",
    "before a stock push",
    "after the store applied a stock push",
)


@dataclass
class KillSwitch:
    """Dies at the ``n``-th pass of the point named ``name`` (``at = (name, n)``) in the
    process it watches; ``at = None``: never."""

    at: tuple[str, int] | None = None
    passed: Counter[str] = field(default_factory=Counter)
    where: str | None = None

    @property
    def dead(self) -> bool:
        return self.where is not None

    def arm(self, at: tuple[str, int] | None) -> None:
        """A fresh process: count points from zero again and die at ``at``."""
        self.at, self.passed, self.where = at, Counter(), None

    def alive(self) -> None:
        """A dead process does nothing more."""
        if self.where is not None:
            raise Killed(f"dead since {self.where}")

    def point(self, name: str) -> None:
        self.alive()
        self.passed[name] += 1
        if self.at is not None and self.at == (name, self.passed[name]):
            self.where = name
            raise Killed(name)


class KillableUnitOfWork:
    """A unit of work whose commits are kill points: before (the work is lost) and after
    (the work is kept, what follows is not)."""

    def __init__(self, inner: ports.UnitOfWork, switch: KillSwitch) -> None:
        self._inner = inner
        self._switch = switch

    @property
    def stores(self) -> ports.StoreRepository:
        return self._inner.stores

    @property
    def catalog(self) -> ports.CatalogRepository:
        return self._inner.catalog

    @property
    def orders(self) -> ports.OrderRepository:
        return self._inner.orders

    @property
    def sources(self) -> ports.SourceRepository:
        return self._inner.sources

    @property
    def runs(self) -> ports.RunRepository:
        return self._inner.runs

    def __enter__(self) -> Self:
        self._switch.alive()
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._switch.point("before a commit")
        self._inner.commit()
        self._switch.point("after a commit")

    def read_only(self) -> Self:
        self._inner.read_only()
        return self


def killable(
    uow: Callable[[], ports.UnitOfWork], switch: KillSwitch
) -> Callable[[], ports.UnitOfWork]:
    """``uow`` with every commit a kill point of ``switch``."""
    return lambda: KillableUnitOfWork(uow(), switch)


class KillableWebStore(FakeWebStore):
    """The in-memory web store with kill points around its calls. ``after_push`` is
    called after every push the store applied, whether or not its answer reaches the hub
    (the oversell sampler)."""

    def __init__(
        self,
        switch: KillSwitch,
        after_push: Callable[[Sequence[StockUpdate]], None],
        *,
        max_inventory_batch: int,
        page_size: int,
    ) -> None:
        super().__init__(max_inventory_batch=max_inventory_batch, page_size=page_size)
        self.taken: dict[str, dict[tuple[str, str], int]] = {}
        self.switch = switch
        self.after_push = after_push

    def place_order(
        self, lines: Sequence[tuple[str, int]], *, status: WebOrderStatus = WebOrderStatus.OPEN
    ) -> WebOrder:
        """As the fake does, and remember what the order took (stock stops at 0)."""
        before = dict(self.stock)
        order = super().place_order(lines, status=status)
        self.taken[order.web_id] = {k: v - self.stock[k] for k, v in before.items()}
        return order

    def set_status(self, web_id: str, status: WebOrderStatus) -> WebOrder:
        """Cancelling gives back what the order took, not its lines' quantities (the
        fake's stock stops at 0, so a line may have taken less)."""
        old = self.orders[web_id]
        new = WebOrder(old.web_id, old.number, status, self.clock.now(), old.lines)
        self.orders[web_id] = new
        if old.status.postable and not status.postable:
            for key, quantity in self.taken.pop(web_id, {}).items():
                self.stock[key] += quantity
        return new

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        for page in super().iter_orders(since):
            self.switch.point("before an orders page")
            yield page

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        for page in super().iter_catalog(since):
            self.switch.point("before a catalog page")
            yield page

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        self.switch.point("before a stock push")
        pushes = len(self.batches)
        try:
            return super().push_inventory(updates)
        finally:
            if len(self.batches) > pushes:  # the store applied it (maybe lost the answer)
                self.after_push(self.batches[-1])
                self.switch.point("after the store applied a stock push")

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        self.switch.point("before a status write-back")
        result = super().acknowledge_orders(web_ids)
        self.switch.point("after the store applied a status write-back")
        return result


class KillableBackOffice(FakeBackOffice):
    """The in-memory back office with kill points around its calls."""

    def __init__(
        self, switch: KillSwitch, *, max_orders_per_call: int, page_size: int, honours_keys: bool
    ) -> None:
        super().__init__(
            max_orders_per_call=max_orders_per_call, page_size=page_size, honours_keys=honours_keys
        )
        self.switch = switch

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        for page in super().iter_items(since):
            self.switch.point("before an items page")
            yield page

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        self.switch.point("before a post")
        documents = len(self.documents)
        try:
            return super().post_orders(requests)
        finally:
            if len(self.documents) > documents:  # in flight: posted, the hub never hears
                self.switch.point("after the back office posted")

    def find_posted(self, requests: Sequence[PostRequest]) -> dict[str, str]:
        self.switch.point("before a look-up")
        return dict(super().find_posted(requests))


@functools.cache
def dead_holder() -> str:
    """A lease holder name of a process on this machine that has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    holder = f"{socket.gethostname()}:{int(child.stdout)}:{pid_namespace()}:killed"
    assert is_dead_local_process(holder)
    return holder
