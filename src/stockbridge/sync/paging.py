"""Reading a partner stream page by page, resuming from the last committed page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.domain.model import Page
from stockbridge.retry import RetryPolicy

__all__ = ["resumable_pages"]

T = TypeVar("T")


def resumable_pages(
    open_stream: Callable[[datetime | None], Iterator[Page[T]]],
    start: datetime | None,
    retry: RetryPolicy,
) -> Iterator[Page[T]]:
    """Yield pages of ``open_stream(position)``. On a transient failure the stream is opened
    again from the cursor of the last page the caller took (it has committed it by then),
    at most ``retry.attempts`` times in a row; the last failure is raised.
    """
    position = start
    failures = 0
    while True:
        try:
            for page in open_stream(position):
                failures = 0
                yield page
                if page.cursor is not None and (position is None or page.cursor > position):
                    position = page.cursor
            return
        except TransientPartnerError:
            failures += 1
            if failures >= retry.attempts:
                raise
            retry.sleep(retry.delay(failures))
