"""The unit of work: one transaction, rolled back unless the caller commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from stockbridge.db.alerts import AlertRepository
from stockbridge.db.catalog import CatalogRepository
from stockbridge.db.echoes import EchoRepository
from stockbridge.db.engine import READ_ONLY
from stockbridge.db.inbox import InboxRepository
from stockbridge.db.oauth import OAuthGrantRepository
from stockbridge.db.orders import OrderRepository
from stockbridge.db.runs import RunRepository
from stockbridge.db.schedules import ScheduleRepository
from stockbridge.db.sources import SourceRepository
from stockbridge.db.stores import StoreRepository
from stockbridge.db.tokens import TokenRepository
from stockbridge.db.users import UserRepository

__all__ = ["UnitOfWork"]


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    session: Session
    stores: StoreRepository
    catalog: CatalogRepository
    orders: OrderRepository
    runs: RunRepository
    inbox: InboxRepository
    echoes: EchoRepository
    tokens: TokenRepository
    schedules: ScheduleRepository
    sources: SourceRepository
    alerts: AlertRepository
    users: UserRepository
    oauth: OAuthGrantRepository

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.stores = StoreRepository(self.session)
        self.catalog = CatalogRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.runs = RunRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.echoes = EchoRepository(self.session)
        self.tokens = TokenRepository(self.session)
        self.schedules = ScheduleRepository(self.session)
        self.sources = SourceRepository(self.session)
        self.alerts = AlertRepository(self.session)
        self.users = UserRepository(self.session)
        self.oauth = OAuthGrantRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def read_only(self) -> UnitOfWork:
        """Make this unit of work's transaction a read (call before its first query): on
        SQLite it then takes no write lock, so writers go on while it reads."""
        self.session.connection(execution_options={READ_ONLY: True})
        return self
