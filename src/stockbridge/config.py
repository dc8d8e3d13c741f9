"""Settings, read from the environment (``STOCKBRIDGE_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stockbridge.outbound import OutboundPolicy

__all__ = ["Settings"]


class Settings(BaseSettings):
    """``STOCKBRIDGE_HOME`` holds the SQLite database and the credentials key;
    ``STOCKBRIDGE_DATABASE_URL`` (any SQLAlchemy URL) overrides the database.
    """

    model_config = SettingsConfigDict(env_prefix="STOCKBRIDGE_", extra="ignore")

    home: Path = Field(default=Path("~/.stockbridge"))
    database_url: str | None = None
    #: Attempts per partner call for transient failures (the first try included).
    retry_attempts: int = Field(default=3, ge=1, le=10)
    #: First back-off delay in seconds; doubles each attempt, with jitter.
    retry_base_delay: float = Field(default=0.5, ge=0)
    #: How long a run holds its store's lease without renewing it before others may take over.
    lease_seconds: int = Field(default=300, ge=5)
    #: Outgoing mail for merchant alerts; without a host, email alerts are not sent.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "stockbridge@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: Upgrade the connection with STARTTLS before logging in (port 587 servers expect it).
    smtp_starttls: bool = True
    #: Addresses the hub may call on a store's behalf (alert webhooks, URL feeds) besides
    #: the internet: comma-separated rules (loopback, private, link-local, ...) and/or
    #: networks (10.20.0.0/16). Empty: none (see ``stockbridge.outbound``).
    outbound_allow: str = ""
    #: Dashboard password checks (Argon2, ~150 ms of one core and 64 MiB each) running at
    #: once in this process; a login beyond them is told to retry at once (429).
    login_concurrency: int = Field(default=1, ge=1, le=64)
    #: A bearer token for /metrics (a Prometheus scraper's): with it, per-store gauges
    #: (store names); without any token set, /metrics names no store. Once set, /metrics
    #: without it is 401.
    metrics_token: SecretStr | None = None
    #: Webhook deliveries whose event time (BigCommerce's ``created_at``) is older than this
    #: many seconds are refused as replays (422, kept as rejected input).
    webhook_max_age_seconds: int = Field(default=3600, ge=60)
    #: How long a run started by webhook news waits before it starts, so that the events
    #: of a burst (a bulk edit, an ERP's import) land in it: one run, not one per event.
    webhook_window_seconds: float = Field(default=2.0, ge=0, le=60)
    #: Send Strict-Transport-Security on every response (the hub is only reached over
    #: https, e.g. behind a TLS proxy). Requests that arrive over https get it anyway.
    hsts: bool = False
    #: The BigCommerce app (single-click install by a store's owner), as registered in
    #: BigCommerce's Developer Portal: its client id and secret, and the public https
    #: address of this hub (``APP_URL``: callbacks at /bigcommerce/auth, /load,
    #: /uninstall, /remove_user; webhooks at /webhooks/bigcommerce/...). Without all
    #: three, the app's routes answer 503 naming what is missing.
    bigcommerce_client_id: str | None = None
    bigcommerce_client_secret: SecretStr | None = None
    bigcommerce_app_url: str | None = None
    #: Where the app's install code is exchanged (``{url}/oauth2/token``) and where the
    #: stores' API lives; the sandbox replaces both.
    bigcommerce_login_url: str = "https://login.bigcommerce.com"
    bigcommerce_api_url: str = "https://api.bigcommerce.com"
    #: The origin of a store's control panel, which frames the app (``{store_hash}`` is
    #: replaced): the only page allowed to frame that store's app sessions.
    bigcommerce_control_panel: str = "https://store-{store_hash}.mybigcommerce.com"
    #: The public address of the QuickBooks Web Connector service (e.g.
    #: ``https://hub.example.com/qbwc``): the ``soap:address`` of the WSDL at /qbwc?wsdl.
    #: Never taken from a request's Host header. Unset: https://localhost:8000/qbwc.
    qbwc_url: str | None = None
    #: "Connect to QuickBooks" (OAuth 2 authorization code): the Intuit app's keys, and the
    #: redirect URL registered with the app (None: this service's /oauth/qbo/callback as
    #: the browser reached it). The endpoints default to Intuit's production ones; the
    #: demo points them at the QuickBooks sandbox.
    qbo_client_id: str | None = None
    qbo_client_secret: SecretStr | None = None
    qbo_redirect_url: str | None = None
    qbo_authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    qbo_token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    qbo_revoke_url: str = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    qbo_api_url: str = "https://quickbooks.api.intuit.com"

    #: Scaled mode (``stockbridge worker``): every worker's heartbeat period, and how long
    #: a silent worker is taken for alive before its jobs are retried elsewhere.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    worker_stalled_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: Scaled mode: the scheduler tick's period, a cron with seconds as 6th field.
    scheduler_cron: str = "* * * * * */5"

    @field_validator("outbound_allow")
    @classmethod
    def _known_rules(cls, value: str) -> str:
        OutboundPolicy.parse(value)  # ValueError names the bad entry
        return value

    @property
    def outbound(self) -> OutboundPolicy:
        """The outbound-request policy this hub applies (``outbound_allow``)."""
        return OutboundPolicy.parse(self.outbound_allow)

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'stockbridge.db'}"

    @property
    def key_path(self) -> Path:
        return self.home_dir / "credentials.key"
