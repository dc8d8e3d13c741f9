"""OAuth 2 access tokens for QuickBooks Online, with rotating refresh tokens.

Secrets in the connection's vault: ``client_id``, ``client_secret``, ``refresh_token``,
and once refreshed ``access_token`` and ``access_expires_at`` (epoch seconds).

Rules (Intuit: access tokens live an hour; each refresh may return a NEW refresh token
and the old one soon stops working):

* refresh ahead of expiry (``margin`` seconds) and when the API answers 401 (once);
* every refresh runs inside ``vault.update()`` — an exclusive lock across processes.
  Inside it the secrets are read again: when another process has refreshed meanwhile,
  its access token is used and no second refresh is made (it would burn the rotation);
* the rotated refresh token and the access token are written to the vault's dict in
  the same block, so they are saved before the new access token is ever used;
* ``invalid_grant`` (refresh token revoked, expired or already rotated away) raises
  ``PartnerAuthError("reconnect QuickBooks: ...")``; the engine then marks the
  connection as needing reconnection.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

from stockbridge.connectors.errors import PartnerAuthError, PartnerResponseError
from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.qbo.mapping import PARTNER, decode
from stockbridge.connectors.registry import CredentialVault

__all__ = ["TokenSource"]

REQUIRED = ("client_id", "client_secret", "refresh_token")


class TokenSource:
    """Hands out a valid access token; refreshes through ``http`` at ``token_url``."""

    def __init__(
        self,
        vault: CredentialVault,
        http: PartnerHttp,
        token_url: str,
        *,
        margin: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vault = vault
        self.http = http
        self.token_url = token_url
        self.margin = margin
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.refreshes = 0

    def current(self) -> str:
        """A token valid for at least ``margin`` more seconds."""
        with self._lock:
            if self._token is not None and self._expires_at - self.margin > self.clock():
                return self._token
            return self._renew(rejected=None)

    def after_rejection(self, rejected: str) -> str:
        """The API refused ``rejected`` (401): a new token, refreshed unless another
        process already replaced it."""
        with self._lock:
            return self._renew(rejected=rejected)

    def _renew(self, rejected: str | None) -> str:
        with self.vault.update() as secrets:
            missing = [k for k in REQUIRED if not secrets.get(k)]
            if missing:
                raise PartnerAuthError(
                    f"reconnect QuickBooks: credentials incomplete ({', '.join(missing)} missing)",
                    partner=PARTNER,
                )
            stored = secrets.get("access_token")
            expires = _float(secrets.get("access_expires_at"))
            if stored and stored != rejected and expires - self.margin > self.clock():
                self._token, self._expires_at = stored, expires  # someone else refreshed
                return stored
            token, expires_at, refresh = self._refresh(secrets)
            secrets["access_token"] = token
            secrets["access_expires_at"] = repr(expires_at)
            secrets["refresh_token"] = refresh
        # Saved and committed by now; only then is the token used.
        self._token, self._expires_at = token, expires_at
        self.refreshes += 1
        return token

    def _refresh(self, secrets: dict[str, str]) -> tuple[str, float, str]:
        basic = base64.b64encode(
            f"{secrets['client_id']}:{secrets['client_secret']}".encode()
        ).decode()
        started = self.clock()
        try:
            response = self.http.request(
                "POST",
                self.token_url,
                content=urlencode(
                    {"grant_type": "refresh_token", "refresh_token": secrets["refresh_token"]}
                ).encode(),
                headers={
                    "Authorization": f"Basic {basic}",
                    "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                idempotent=False,
            )
        except PartnerAuthError as exc:
            raise PartnerAuthError(
                "reconnect QuickBooks: the app's client id or secret was refused",
                partner=PARTNER,
                code="invalid_client",
            ) from exc
        body = decode(response.content, "token answer")
        if response.status_code != 200:
            error = str(body.get("error", response.status_code))
            if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
                raise PartnerAuthError(
                    f"reconnect QuickBooks: the authorisation was refused ({error})",
                    partner=PARTNER,
                    code=error,
                )
            raise PartnerResponseError(
                f"token endpoint answered {response.status_code}: {error}", partner=PARTNER
            )
        token, refresh, lifetime = (
            body.get("access_token"),
            body.get("refresh_token"),
            body.get("expires_in"),
        )
        if not isinstance(token, str) or not isinstance(lifetime, int) or lifetime <= 0:
            raise PartnerResponseError(
                "token answer without access_token / expires_in", partner=PARTNER
            )
        if not isinstance(refresh, str) or not refresh:
            refresh = secrets["refresh_token"]  # not rotated this time
        return token, started + lifetime, refresh


def _float(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0
