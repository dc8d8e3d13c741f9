"""BigCommerce's single-click app, the partner side: the install code exchanged for the
store's permanent token, and the ``signed_payload_jwt`` of the load, uninstall and
remove_user callbacks verified. No storage here (``web_routes`` calls the use cases).

Facts with sources: docs/facts-bigcommerce-app.md. In short:

- ``GET /auth?code&scope&context=stores/{hash}[&account_uuid]`` (the installing user's
  browser); the app POSTs JSON ``{client_id, client_secret, code, context, scope,
  grant_type: "authorization_code", redirect_uri}`` to
  ``https://login.bigcommerce.com/oauth2/token`` and gets ``{access_token, scope, user:
  {id, username, email}, owner: {...}, context, account_uuid}``.
- ``signed_payload_jwt``: HS256 with the app's client secret; ``aud`` the client id,
  ``iss`` "bc", ``sub`` "stores/{hash}", ``iat`` = ``nbf``, ``exp`` 24 hours later,
  ``user`` {id, email, locale}, ``owner`` {id, email}, ``url``, ``channel_id``.

JWTs are checked by PyJWT (the algorithm pinned to HS256, every registered claim
required, a minute of clock leeway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jwt

__all__ = [
    "CONTEXT",
    "LEEWAY_SECONDS",
    "MAX_JWT",
    "AppConfig",
    "AppUserClaim",
    "BadPayload",
    "CodeRefused",
    "Grant",
    "Payload",
    "TokenEndpointError",
    "exchange_code",
    "store_hash_of",
    "verify_payload",
    "webhook_url",
]

#: ``stores/{hash}``: how BigCommerce names a store in ``context`` and ``sub``.
CONTEXT = re.compile(r"stores/([A-Za-z0-9]{1,64})")
LEEWAY_SECONDS = 60
MAX_JWT = 8192
_REQUIRED = ["aud", "iss", "iat", "nbf", "exp", "sub", "jti"]


class BadPayload(ValueError):
    """A ``signed_payload_jwt`` that is malformed, forged, expired or not for this app."""


class CodeRefused(ValueError):
    """BigCommerce refused the install code (used already, expired, not this app's)."""


class TokenEndpointError(RuntimeError):
    """BigCommerce's token endpoint could not be reached or answered nonsense."""


@dataclass(frozen=True)
class AppConfig:
    """The app as registered in the Developer Portal, and where BigCommerce is."""

    client_id: str
    client_secret: str
    app_url: str  # the hub's public base URL
    login_url: str = "https://login.bigcommerce.com"

    @property
    def redirect_uri(self) -> str:
        return f"{self.app_url.rstrip('/')}/bigcommerce/auth"


@dataclass(frozen=True)
class AppUserClaim:
    id: str
    email: str


@dataclass(frozen=True)
class Grant:
    """The token endpoint's answer."""

    access_token: str
    scope: str
    store_hash: str
    user: AppUserClaim
    owner: AppUserClaim | None
    account_uuid: str | None


@dataclass(frozen=True)
class Payload:
    """A verified ``signed_payload_jwt``."""

    store_hash: str
    user: AppUserClaim
    owner: AppUserClaim | None
    url: str | None
    #: The JWT's id (``jti``), when it was issued (``iat``) and until when it is valid
    #: (``exp``), in seconds since the epoch: a callback acts once per ``jti``.
    jti: str = ""
    issued_at: int = 0
    expires_at: int = 0


def store_hash_of(context: str) -> str | None:
    match = CONTEXT.fullmatch(context)
    return match.group(1) if match else None


def webhook_url(base: str, store_name: str) -> str:
    """Where a store's BigCommerce webhooks deliver on a hub reached at ``base``."""
    return f"{base.rstrip('/')}/webhooks/bigcommerce/{quote(store_name, safe='')}"


def exchange_code(
    config: AppConfig, *, code: str, scope: str, context: str, client: httpx.Client
) -> Grant:
    """Trade the install ``code`` for the store's permanent token. A 4xx from BigCommerce
    raises ``CodeRefused``; no answer, a 5xx or an answer that is not the documented JSON
    (or names another store) raises ``TokenEndpointError``."""
    body = {
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "code": code,
        "context": context,
        "scope": scope,
        "grant_type": "authorization_code",
        "redirect_uri": config.redirect_uri,
    }
    url = f"{config.login_url.rstrip('/')}/oauth2/token"
    try:
        response = client.post(url, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TokenEndpointError(f"BigCommerce's token endpoint did not answer: {exc}") from None
    if 400 <= response.status_code < 500:
        raise CodeRefused(
            f"BigCommerce refused the install code ({response.status_code} "
            f"{_error_text(response)}): it may have been used already or have expired; "
            "start the install again from the store's control panel"
        )
    if response.status_code != 200:
        raise TokenEndpointError(f"BigCommerce's token endpoint answered {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise TokenEndpointError("BigCommerce's token endpoint answered something not JSON")
    token = data.get("access_token")
    store_hash = store_hash_of(str(data.get("context", "")))
    user = _user(data.get("user"))
    if not isinstance(token, str) or not token or store_hash is None or user is None:
        raise TokenEndpointError("BigCommerce's token answer lacks access_token, context or user")
    if data.get("context") != context:
        raise TokenEndpointError(
            f"BigCommerce's token answer is for {data.get('context')!r}, not {context!r}"
        )
    uuid = data.get("account_uuid")
    return Grant(
        access_token=token,
        scope=str(data.get("scope") or scope),
        store_hash=store_hash,
        user=user,
        owner=_user(data.get("owner")),
        account_uuid=str(uuid) if uuid else None,
    )


def verify_payload(config: AppConfig, token: str) -> Payload:
    """Check a ``signed_payload_jwt`` (signature with the client secret, HS256 only;
    ``aud`` the client id, ``iss`` "bc", ``exp``/``nbf``/``iat`` with a minute's leeway,
    ``sub`` a store, a ``jti``) and return who and which store it names, and the JWT's
    id and times (the caller uses each ``jti`` once). ``BadPayload`` says why
    not."""
    if not token or len(token) > MAX_JWT:
        raise BadPayload(f"signed_payload_jwt is missing or over {MAX_JWT} characters")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            config.client_secret,
            algorithms=["HS256"],
            audience=config.client_id,
            issuer="bc",
            leeway=LEEWAY_SECONDS,
            options={"require": _REQUIRED, "verify_signature": True},
        )
    except jwt.ExpiredSignatureError:
        raise BadPayload("the signed payload has expired: open the app again") from None
    except jwt.ImmatureSignatureError:
        raise BadPayload("the signed payload is not valid yet (check the clock)") from None
    except jwt.InvalidAudienceError:
        raise BadPayload("the signed payload is for another app (audience)") from None
    except jwt.InvalidIssuerError:
        raise BadPayload("the signed payload was not issued by BigCommerce") from None
    except jwt.InvalidSignatureError:
        raise BadPayload("the signed payload's signature does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise BadPayload(f"the signed payload lacks the {exc.claim} claim") from None
    except jwt.InvalidTokenError as exc:
        raise BadPayload(f"the signed payload is malformed ({type(exc).__name__})") from None
    store_hash = store_hash_of(str(claims.get("sub", "")))
    user = _user(claims.get("user"))
    if store_hash is None:
        raise BadPayload("the signed payload's subject is not a store (stores/{hash})")
    if user is None:
        raise BadPayload("the signed payload names no user (id and email)")
    url = claims.get("url")
    jti, iat, exp = claims.get("jti"), claims.get("iat"), claims.get("exp")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 200 or not jti.isprintable():
        raise BadPayload("the signed payload's jti is not an id of 1-200 characters")
    if not isinstance(iat, int | float) or not isinstance(exp, int | float):
        raise BadPayload("the signed payload's iat and exp are not times")
    return Payload(
        store_hash,
        user,
        _user(claims.get("owner")),
        url if isinstance(url, str) else None,
        jti,
        int(iat),
        int(exp),
    )


def _user(value: object) -> AppUserClaim | None:
    if not isinstance(value, dict):
        return None
    ident, email = value.get("id"), value.get("email")
    if isinstance(ident, bool) or not isinstance(ident, int | str) or not str(ident).isdigit():
        return None
    if not isinstance(email, str) or not 3 <= len(email) <= 255 or not email.isprintable():
        return None
    return AppUserClaim(str(ident), email.strip())


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("error_description", "error", "title", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])[:200]
    return ""
