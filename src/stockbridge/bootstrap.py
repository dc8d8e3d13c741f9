"""Wiring: settings -> engine, unit of work, credentials cipher, connectors and runner.

The one place real (or, in tests, fake) dependencies are put together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from stockbridge.config import Settings
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, ConnectorRegistry, require_port
from stockbridge.credentials import CredentialCipher
from stockbridge.db.engine import create_hub_engine, exclusive, session_factory
from stockbridge.db.migrate import is_current, upgrade
from stockbridge.db.quota import PostgresQuotaLedger
from stockbridge.db.sources import SUPPLIER_ROLE
from stockbridge.db.uow import UnitOfWork
from stockbridge.db.vault import DbCredentialVault
from stockbridge.domain.sources import Supplier
from stockbridge.home import make_private
from stockbridge.retry import RetryPolicy
from stockbridge.sync.context import Partners, SupplierPartner

if TYPE_CHECKING:
    # What only some entry points use (the service, the workers) is imported where it
    # is used: a command that reaches no partner and sends no alert starts without them.
    import httpx
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from stockbridge.alerts import Alerter
    from stockbridge.jobs.scheduler import Scheduler
    from stockbridge.sync.runner import SyncRunner

__all__ = ["Hub", "NotInitialised", "bootstrap", "default_registry"]


class NotInitialised(RuntimeError):
    """The hub database does not exist or is not at the newest schema."""


def default_registry() -> ConnectorRegistry:
    """Every connector this installation ships. Partner packages add themselves here."""
    from stockbridge.connectors import feed, qbo, qbwc
    from stockbridge.connectors.bigcommerce import client as bigcommerce
    from stockbridge.connectors.bigcommerce import webhooks as bigcommerce_webhooks

    registry = ConnectorRegistry()
    # commands: the module of the connector's `stockbridge connect`/`sandbox` commands
    registry.register(
        "bigcommerce",
        bigcommerce.create,
        commands="stockbridge.connectors.bigcommerce.cli",
        webhooks=bigcommerce_webhooks.ADAPTER,
        # the single-click app's install, load, uninstall and remove_user callbacks
        web_routes="stockbridge.connectors.bigcommerce.web_routes",
        title="BigCommerce",
    )
    registry.register(
        qbo.KIND,
        qbo.make_back_office,
        commands="stockbridge.connectors.qbo.cli",
        web_routes="stockbridge.connectors.qbo.web_routes",  # Connect to QuickBooks (OAuth)
        connect_button=qbo.CONNECT_BUTTON,
        title="QuickBooks Online",
    )
    registry.register(
        feed.KIND,
        feed.make_back_office,
        commands="stockbridge.connectors.feed.cli",
        title="ERP feed",
    )
    registry.register(
        qbwc.KIND,
        qbwc.make_back_office,
        commands="stockbridge.connectors.qbwc.cli",
        web_routes="stockbridge.connectors.qbwc.web_routes",
        title="QuickBooks Desktop / Point of Sale",
    )
    return registry


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: CredentialCipher
    retry: RetryPolicy
    #: One rate limiter per partner account, shared by every run in this process.
    limiters: LimiterRegistry = field(default_factory=LimiterRegistry)
    #: Overrides connector construction (tests wire in-memory partners here).
    partners_override: Callable[[int], Partners] | None = field(default=None)
    #: The connectors; None: every connector installed (``default_registry``), built when
    #: first asked for, so a command that reaches no partner imports none of them.
    connectors: ConnectorRegistry | None = None

    @cached_property
    def registry(self) -> ConnectorRegistry:
        return self.connectors if self.connectors is not None else default_registry()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions)

    def partners_for(self, store_id: int) -> Partners:
        """Build the store's connectors from its connection rows."""
        if self.partners_override is not None:
            return self.partners_override(store_id)
        web: WebStore | None = None
        back_office: BackOffice | None = None
        web_id = bo_id = None
        suppliers: list[SupplierPartner] = []
        with self.uow() as uow:
            # Read inside the unit of work: it rolls back on exit, which expires the rows.
            connections = [
                (c.id, c.role, c.kind, dict(c.settings or {}), c.name, c.owns)
                for c in uow.stores.connections(store_id)
            ]
        for connection_id, role, kind, settings, name, owns in connections:
            env = ConnectorEnv(
                settings=settings,
                vault=DbCredentialVault(self.sessions, self.cipher, connection_id),
                limiters=self.limiters,
                retry=self.retry,
                connection_id=connection_id,
                outbound=self.settings.outbound,
            )
            connector = self.registry.create(kind, env)
            require_port(connector, role, kind)  # a misfit fails the run, named
            if role == "web" and isinstance(connector, WebStore):
                web, web_id = connector, connection_id
            elif role == "back_office" and isinstance(connector, BackOffice):
                back_office, bo_id = connector, connection_id
            elif role == SUPPLIER_ROLE and isinstance(connector, BackOffice):
                supplier = Supplier(connection_id, name, owns)
                suppliers.append(SupplierPartner(supplier, connector))
        return Partners(web, web_id, back_office, bo_id, tuple(suppliers))

    def runner(self) -> SyncRunner:
        from stockbridge.sync.runner import SyncRunner

        return SyncRunner(
            uow=self.uow,
            partners_for=self.partners_for,
            retry=self.retry,
            lease_seconds=self.settings.lease_seconds,
            release_partners=self.release_partners,
        )

    def release_partners(self, partners: Partners) -> None:
        """Close the connectors ``partners_for`` built (not ones a test handed in)."""
        if self.partners_override is not None:
            return
        suppliers = [s.back_office for s in partners.suppliers]
        for connector in (partners.web, partners.back_office, *suppliers):
            if connector is not None:
                connector.close()

    def scheduler(self) -> Scheduler:
        """Queues scheduled runs; call ``tick(now)`` every few seconds. A slot is claimed
        in the transaction that queues its run."""
        from stockbridge.jobs.scheduler import Scheduler

        return Scheduler(self.uow)

    def alerter(self, client: httpx.Client) -> Alerter:
        """Merchant alerts by email (SMTP settings) and webhook (through ``client``, which
        should be ``outbound_client()``); call ``check(now)`` every minute or so; one
        process at a time does the work."""
        from stockbridge.alerts import Alerter, default_notifiers

        return Alerter(
            self.uow,
            default_notifiers(self.settings, client),
            exclusive=lambda: exclusive(self.engine, "stockbridge-alerts"),
        )

    def outbound_client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for URLs a user chose (alert webhooks): it connects only where
        the hub's outbound policy (``STOCKBRIDGE_OUTBOUND_ALLOW``) allows."""
        import httpx

        from stockbridge.outbound import guarded_transport

        return httpx.Client(transport=guarded_transport(self.settings.outbound), **kwargs)

    def initialise(self) -> None:
        """Create or upgrade the database schema."""
        upgrade(self.engine)

    def require_initialised(self) -> None:
        if not is_current(self.engine):
            raise NotInitialised("the hub is not initialised: run `stockbridge init` first")


def bootstrap(
    settings: Settings | None = None,
    *,
    registry: ConnectorRegistry | None = None,
    retry: RetryPolicy | None = None,
    partners_override: Callable[[int], Partners] | None = None,
) -> Hub:
    settings = settings or Settings()
    make_private(settings)  # the home 0700, the database and key 0600 (fixes old installs)
    engine = create_hub_engine(settings.resolved_database_url)
    # On PostgreSQL several processes (scaled mode's workers) may call one partner
    # account: its quota is paced in the database, for all of them together.
    limiters = LimiterRegistry(
        ledger=PostgresQuotaLedger(engine) if engine.dialect.name == "postgresql" else None
    )
    return Hub(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        cipher=CredentialCipher.from_key_file(settings.key_path),
        retry=retry
        or RetryPolicy(attempts=settings.retry_attempts, base_delay=settings.retry_base_delay),
        partners_override=partners_override,
        limiters=limiters,
        connectors=registry,
    )
