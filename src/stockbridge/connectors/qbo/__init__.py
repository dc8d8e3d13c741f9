"""QuickBooks Online: the back-office connector (``connector``), its HTTP client
(``client``, ``auth``), the JSON mapping (``mapping``) and its sandbox (``sandbox``).

``make_back_office(env)`` is the factory registered under the connection kind ``qbo``.
"""

from __future__ import annotations

from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.qbo.auth import TokenSource
from stockbridge.connectors.qbo.client import DEFAULT_API_URL, DEFAULT_TOKEN_URL, QboClient
from stockbridge.connectors.qbo.connector import QboBackOffice
from stockbridge.connectors.ratelimit import RateLimiter
from stockbridge.connectors.registry import ConnectButton, ConnectorEnv

__all__ = ["CONNECT_BUTTON", "KIND", "QboBackOffice", "make_back_office"]

KIND = "qbo"
#: "Connect to QuickBooks" on the store's dashboard page (routes in ``web_routes``).
CONNECT_BUTTON = ConnectButton(
    kind=KIND,
    role="back_office",
    label="Connect to QuickBooks",
    start_path="/oauth/qbo/start",
    disconnect_path="/oauth/qbo/disconnect",
)


def make_back_office(env: ConnectorEnv) -> QboBackOffice:
    """Build the connector for one QuickBooks company from a connection's settings."""
    settings = env.settings
    realm_id = str(settings.get("realm_id") or "")
    if not realm_id:
        raise ValueError("a QuickBooks connection needs its realm_id")
    api_url = str(settings.get("api_url") or DEFAULT_API_URL)
    token_url = str(settings.get("token_url") or DEFAULT_TOKEN_URL)
    http_client = env.http_client(api_url)
    client = QboClient(
        client=http_client,
        api_url=api_url,
        realm_id=realm_id,
        tokens=TokenSource(
            env.vault,
            # The token endpoint is not the realm's API: it has no realm quota to share.
            # Few 429 waits: a refresh must end well inside its lease (auth.LEASE_SECONDS).
            PartnerHttp(
                partner=KIND,
                client=http_client,
                limiter=RateLimiter(),
                retry=env.retry,
                max_429=2,
            ),
            token_url,
        ),
        limiters=env.limiters,
        retry=env.retry,
    )
    return QboBackOffice(client, settings)
