"""Intuit's OAuth 2 authorization-code flow ("Connect to QuickBooks"), with authlib.

Facts and their sources: docs/facts-qbo-oauth.md. In short: the merchant is sent to the
authorization endpoint with ``client_id``, ``response_type=code``,
``scope=com.intuit.quickbooks.accounting``, ``redirect_uri`` and ``state``; Intuit sends
the browser back with ``code``, ``state`` and ``realmId`` (or ``error=access_denied``);
the code is exchanged at the token endpoint (``grant_type=authorization_code``, the app's
keys as HTTP Basic) for an access token (an hour) and a refresh token (100 days, rolling);
revoking posts ``{"token": ...}`` as JSON with the same Basic credentials.

authlib's httpx ``OAuth2Client`` builds the authorization URL, makes the code exchange
(client_secret_basic, error answers raised as ``OAuthError``) and authenticates the
revoke call; the revoke body is sent as JSON through the same client, as Intuit documents
it (authlib's ``revoke_token`` sends RFC 7009's form body).
"""

from __future__ import annotations

import functools
import ssl
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # authlib 1.9 prefers httpx2 and warns once when it falls back to httpx, which the
    # hub uses everywhere (shared transports, TLS context); the fallback is kept in 1.9.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

__all__ = ["SCOPE", "ConsentFailed", "Grant", "QboApp", "authorization_url", "exchange", "revoke"]

SCOPE = "com.intuit.quickbooks.accounting"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ConsentFailed(Exception):
    """The token or revoke endpoint refused, or could not be reached."""


@dataclass(frozen=True)
class QboApp:
    """The Intuit app this hub connects as, and Intuit's endpoints (or the sandbox's)."""

    client_id: str
    client_secret: str
    redirect_url: str
    authorize_url: str
    token_url: str
    revoke_url: str
    api_url: str

    def client(self, transport: httpx.BaseTransport | None = None) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_basic",
            scope=SCOPE,
            redirect_uri=self.redirect_url,
            timeout=TIMEOUT,
            transport=transport,
            verify=_tls_context(),
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for these clients (building one loads the CA bundle: ~30 ms)."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class Grant:
    """What the code exchange returned."""

    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds


def authorization_url(app: QboApp, state: str) -> str:
    """Where to send the merchant's browser to consent."""
    with app.client() as client:
        url, _state = client.create_authorization_url(app.authorize_url, state=state)
    return str(url)


def exchange(app: QboApp, code: str, transport: httpx.BaseTransport | None = None) -> Grant:
    """Exchange an authorization code for tokens; ``ConsentFailed`` says why not."""
    started = time.time()
    try:
        with app.client(transport) as client:
            token: dict[str, Any] = client.fetch_token(
                app.token_url,
                grant_type="authorization_code",
                code=code,
                redirect_uri=app.redirect_url,
            )
    except OAuthError as exc:
        error = str(getattr(exc, "error", "") or "error")
        if error == "invalid_grant":
            raise ConsentFailed(
                "QuickBooks refused the authorization code (invalid_grant: used already, "
                "or expired): start connecting again"
            ) from None
        raise ConsentFailed(f"QuickBooks' token endpoint refused the code ({error})") from None
    except httpx.HTTPStatusError as exc:
        raise ConsentFailed(
            f"QuickBooks' token endpoint answered {exc.response.status_code}: try again"
        ) from None
    except (httpx.HTTPError, ValueError) as exc:
        raise ConsentFailed(f"could not reach QuickBooks' token endpoint ({exc!r})") from None
    access, refresh, lifetime = (
        token.get("access_token"),
        token.get("refresh_token"),
        token.get("expires_in"),
    )
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise ConsentFailed("QuickBooks' token answer lacks access_token or refresh_token")
    if not isinstance(lifetime, int) or lifetime <= 0:
        raise ConsentFailed("QuickBooks' token answer lacks a valid expires_in")
    return Grant(access, refresh, started + lifetime)


def revoke(app: QboApp, token: str, transport: httpx.BaseTransport | None = None) -> bool:
    """Revoke a refresh (or access) token at Intuit. True if revoked now, False if Intuit
    no longer knew it (revoked or expired already); ``ConsentFailed`` if the call failed
    (nothing may be assumed revoked then)."""
    try:
        with app.client(transport) as client:
            answer = client.post(
                app.revoke_url,
                json={"token": token},
                headers={"Accept": "application/json"},
                auth=client.client_auth("client_secret_basic"),
            )
    except httpx.HTTPError as exc:
        raise ConsentFailed(f"could not reach QuickBooks' revoke endpoint ({exc!r})") from None
    if answer.status_code == 200:
        return True
    if answer.status_code == 400:
        return False
    raise ConsentFailed(f"QuickBooks' revoke endpoint answered {answer.status_code}")
