"""Paging through a partner's lists: one small object per paging style.

A paginator holds the token of the next request (a page number, an offset, a cursor);
``get_next(answer)`` works out the token after an answer, None when that answer was the
last page. ``advance(answer)`` calls it and refuses to loop: a token the stream has used
already, or an answer that repeats the one before it, raises ``RepeatedPage`` (a
``PartnerResponseError`` naming the list) instead of reading forever. A read is a loop:

    pages = PageNumberPaginator(250, partner="bigcommerce", what="catalog products")
    for page in pages:                    # the token to ask for: 1, 2, ...
        answer = fetch(page)              # build the request, send it, parse it
        yield ...                         # the caller commits the page here
        pages.advance(PageAnswer(...))    # the next token, or the end

Styles:

* ``PageNumberPaginator``: ``page=1, 2, ...``; the partner's page count ends it (v3 lists)
  or a short page does (v2 lists).
* ``OffsetPaginator``: a start position moved by the page size (QuickBooks
  ``STARTPOSITION``).
* ``CursorPaginator``: a token taken from each answer (QuickBooks CDC's
  ``changedSince``; a ``page_info`` or ``next`` link).
* ``BoundaryPaginator``: a list sorted by modification time, asked for "modified at or
  after X": after each full page it is opened again at the last modification time seen
  (BigCommerce v2 orders), so a record modified while we page cannot make another slide
  out of view.

No retries here: a page request that fails is retried by the transport
(``connectors.http``), once per request, within its bound.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from stockbridge.connectors.errors import PartnerResponseError

__all__ = [
    "Boundary",
    "BoundaryPaginator",
    "CursorPaginator",
    "OffsetPaginator",
    "PageAnswer",
    "PageNumberPaginator",
    "Paginator",
    "RepeatedPage",
    "Stamp",
]

T = TypeVar("T", bound=Hashable)  # a token
R = TypeVar("R")  # what the paginator reads of an answer

#: A record's identity and modification time, as a ``BoundaryPaginator`` reads them.
Stamp = tuple[Hashable, datetime]


class RepeatedPage(PartnerResponseError):
    """The partner repeated a page or handed back a token already used: following it
    would read the same records forever."""


class Paginator(ABC, Generic[T, R]):
    """The token of the next request, advanced answer by answer.

    Before: ``current`` is the token to ask with. After ``advance(answer)``: either
    ``finished`` (the answer was the last page) or ``current`` is a token this stream has
    never used; a repeated token or a repeated answer raises ``RepeatedPage``.
    """

    def __init__(self, start: T, *, partner: str, what: str) -> None:
        self.partner = partner
        self.what = what
        self._current = start
        self._used: set[T] = {start}
        self._finished = False
        self._last_key: Hashable | None = None

    @property
    def current(self) -> T:
        return self._current

    @property
    def finished(self) -> bool:
        return self._finished

    @abstractmethod
    def get_next(self, answer: R) -> T | None:
        """The token after ``answer``, or None when ``answer`` was the last page."""

    def answer_key(self, answer: R) -> Hashable | None:
        """What identifies an answer's records (e.g. their ids, in order): two answers in a
        row with the same key are one page answered twice. None or empty: not checked."""
        return None

    def advance(self, answer: R) -> None:
        if self._finished:
            raise RuntimeError(f"{self.what}: advanced past the last page")
        key = self.answer_key(answer)
        if key and key == self._last_key:
            raise self._repeated(f"the answer for {self._current} repeats the one before it")
        token = self.get_next(answer)
        if token is None:
            self._finished = True
            return
        if token in self._used:
            raise self._repeated(f"the next page would be {token} again")
        self._used.add(token)
        self._current = token
        self._last_key = key

    def __iter__(self) -> Iterator[T]:
        """The token of each page to ask for; ``advance`` after each answer."""
        while not self._finished:
            token = self._current
            yield token
            if not self._finished and self._current == token:
                raise RuntimeError(f"{self.what}: advance() was not called after a page")

    def _repeated(self, why: str) -> RepeatedPage:
        return RepeatedPage(
            f"{self.what}: {why}; the partner is repeating itself, stopped rather than "
            "read the same records forever",
            partner=self.partner,
            code="repeated-page",
        )


@dataclass(frozen=True, slots=True)
class PageAnswer:
    """What a page-number or offset paginator reads of one answer."""

    #: Records in the answer.
    count: int
    #: Its records' identities, in order: two answers in a row with the same ones are one
    #: page answered twice. (Not just the last record's: in a list sorted by modification
    #: time, a record modified while we page can end two pages in a row.)
    keys: tuple[Hashable, ...] = ()
    #: The partner's own page count, where it gives one.
    total_pages: int | None = None
    #: The page (or offset) the partner says it answered, where it says so.
    answered: int | None = None


class _Positional(Paginator[int, PageAnswer]):
    def __init__(self, page_size: int, *, start: int, partner: str, what: str) -> None:
        super().__init__(start, partner=partner, what=what)
        self.page_size = page_size

    def answer_key(self, answer: PageAnswer) -> Hashable | None:
        return answer.keys

    def _check_answered(self, answer: PageAnswer) -> None:
        if answer.answered is not None and answer.answered != self.current:
            raise PartnerResponseError(
                f"{self.what}: asked for {self.current}, the answer is for {answer.answered}",
                partner=self.partner,
            )


class PageNumberPaginator(_Positional):
    """``page=1, 2, ...``. Ends at the partner's page count when it gives one, else at a
    short (or empty) page."""

    def __init__(self, page_size: int, *, start: int = 1, partner: str, what: str) -> None:
        super().__init__(page_size, start=start, partner=partner, what=what)

    def get_next(self, answer: PageAnswer) -> int | None:
        self._check_answered(answer)
        if answer.count == 0:
            return None
        if answer.total_pages is not None:
            return self.current + 1 if self.current < answer.total_pages else None
        return self.current + 1 if answer.count >= self.page_size else None


class OffsetPaginator(_Positional):
    """A start position (0- or 1-based, as the partner counts) moved on by the page size;
    a short page is the last."""

    def get_next(self, answer: PageAnswer) -> int | None:
        self._check_answered(answer)
        return self.current + self.page_size if answer.count >= self.page_size else None


class CursorPaginator(Paginator[T, R]):
    """A token the partner hands out with each answer (``next_token(answer)``; None at the
    end). A token already used means the partner cannot move on: ``RepeatedPage``."""

    def __init__(
        self, start: T, next_token: Callable[[R], T | None], *, partner: str, what: str
    ) -> None:
        super().__init__(start, partner=partner, what=what)
        self._next_token = next_token

    def get_next(self, answer: R) -> T | None:
        return self._next_token(answer)


@dataclass(frozen=True, slots=True)
class Boundary:
    """Ask for the records modified at or after ``since`` (all when None), sorted by
    modification time, page ``page`` of that list."""

    since: datetime | None
    page: int = 1

    def __str__(self) -> str:
        since = "the start" if self.since is None else self.since.isoformat()
        return f"page {self.page} from {since}"


class BoundaryPaginator(Paginator[Boundary, Sequence[Stamp]]):
    """A time-sorted list re-opened at the last modification time after each full page.

    Asking for page N + 1 would skip a record: one modified while we page moves to the
    end of the list and the record after it slides into its place. Re-opening at the last
    time seen (page 1) cannot; the records at that boundary come again and ``is_new``
    tells them apart. Only when a whole page shares one time (partner times may have
    one-second resolution) does it step through that instant page by page (page 2 of the
    list from that instant, which begins with the page just read, then 3, ...).

    A full page that brings nothing new (every record older than the boundary or already
    seen at it) means the partner repeated a page or ignored the filter: ``RepeatedPage``.
    """

    def __init__(self, since: datetime | None, page_size: int, *, partner: str, what: str) -> None:
        super().__init__(Boundary(since), partner=partner, what=what)
        self.page_size = page_size
        self._at_boundary: set[Stamp] = set()

    def is_new(self, stamp: Stamp) -> bool:
        """False for a record the stream already gave at the boundary it re-opened at."""
        return stamp not in self._at_boundary

    def get_next(self, answer: Sequence[Stamp]) -> Boundary | None:
        if len(answer) < self.page_size:
            return None
        since = self.current.since
        last = answer[-1][1]
        if since is not None:
            if last < since:
                raise PartnerResponseError(
                    f"{self.what}: asked for changes from {since.isoformat()}, the answer "
                    f"ends at {last.isoformat()}",
                    partner=self.partner,
                )
            if not any(
                moment > since or (moment == since and (key, moment) not in self._at_boundary)
                for key, moment in answer
            ):
                raise self._repeated(f"a full page with nothing new ({self.current})")
        if answer[0][1] == last:
            # A whole page at one instant: re-opening there would answer this same page, so
            # step through that instant by page. The list from ``last`` begins where this
            # page begins, unless the stream is already stepping through ``last``.
            following = Boundary(last, self.current.page + 1 if last == since else 2)
        else:
            following = Boundary(last)
        if last != since:
            self._at_boundary = set()
        self._at_boundary |= {stamp for stamp in answer if stamp[1] == last}
        return following
