"""The withholding rule order by order (``domain/withholding.withholds``): survivors of
the mutation tool on domain/withholding.py (issue 26), each a case of the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stockbridge.domain.model import OrderLine, WebOrderStatus
from stockbridge.domain.orders import OrderState, PostState
from stockbridge.domain.withholding import withheld, withholds

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def order(
    state: PostState, status: WebOrderStatus, posted_at: datetime | None = None
) -> OrderState:
    return OrderState(status, state, T0, posted_at, (OrderLine("A", 2, Decimal("1.00")),))


def test_a_posted_order_is_withheld_until_a_complete_read_began_after_its_post() -> None:
    """No complete back-office read yet: every posted order is withheld (the back office
    took its stock; the hub's quantities cannot show it)."""
    posted = order(PostState.POSTED, WebOrderStatus.OPEN, posted_at=T0)
    assert withholds(posted, None) is True
    assert withheld([posted], None) == {"A": 2}
    assert withholds(posted, T0 - timedelta(seconds=1)) is True  # read began before
    assert withholds(posted, T0 + timedelta(seconds=1)) is False  # read began after


def test_only_a_pending_order_that_holds_web_stock_is_withheld_before_posting() -> None:
    """Before any post: withheld when pending AND its web status holds stock; an order
    cancelled on the web while pending, or one never to be posted, withholds nothing."""
    assert withholds(order(PostState.PENDING, WebOrderStatus.OPEN), None) is True
    assert withholds(order(PostState.PENDING, WebOrderStatus.CANCELLED), None) is False
    assert withholds(order(PostState.NOT_POSTABLE, WebOrderStatus.OPEN), None) is False
    assert withholds(order(PostState.NOT_POSTABLE, WebOrderStatus.CANCELLED), None) is False


def test_in_api_mode_a_posted_order_is_reflected_in_the_erps_later_push() -> None:
    """The ERP's pushed quantity is the back-office figure (api mode): a push at or after
    the post shows the order, whatever the last read of the primary back office; a push
    before it does not. A pending order is withheld whatever the push."""
    posted = order(PostState.POSTED, WebOrderStatus.OPEN, posted_at=T0)
    stale_read = T0 - timedelta(hours=1)
    assert withheld([posted], stale_read, {"A": T0}) == {}
    assert withheld([posted], stale_read, {"A": T0 + timedelta(seconds=1)}) == {}
    assert withheld([posted], stale_read, {"A": T0 - timedelta(seconds=1)}) == {"A": 2}
    assert withheld([posted], stale_read, {"B": T0 + timedelta(seconds=1)}) == {"A": 2}
    pending = order(PostState.PENDING, WebOrderStatus.OPEN)
    assert withheld([pending], stale_read, {"A": T0 + timedelta(seconds=1)}) == {"A": 2}
