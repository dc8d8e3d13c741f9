"""OAuth 2 access tokens for QuickBooks Online, with rotating refresh tokens.

Secrets in the connection's vault: ``client_id``, ``client_secret``, ``refresh_token``,
and once refreshed ``access_token`` and ``access_expires_at`` (epoch seconds).

Rules (Intuit: access tokens live an hour; each refresh may return a NEW refresh token
and the old one soon stops working):

* refresh ahead of expiry (``margin`` seconds) and when the API answers 401 (once);
* one refresher at a time across processes, without holding a database lock over the
  network call (on SQLite that lock would stop every other writer, webhooks included):
  a short ``vault.update()`` reads the secrets again and claims a refresh lease stored
  with them; the token endpoint is called outside any transaction; a second short
  ``vault.update()`` saves the result and frees the lease. A process that finds
  another's live lease waits and then uses the token that process saved, so no second
  refresh is made (it would burn the rotation). A lease left by a process that died
  mid-call expires after ``LEASE_SECONDS``;
* the rotated refresh token and the access token are saved together, before the new
  access token is ever used;
* ``invalid_grant`` (refresh token revoked, expired or already rotated away) raises
  ``PartnerAuthError("reconnect QuickBooks: ...")``; the engine then marks the
  connection as needing reconnection.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets as random
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

from stockbridge.connectors.errors import (
    PartnerAuthError,
    PartnerResponseError,
    TransientPartnerError,
)
from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.qbo.mapping import PARTNER, decode
from stockbridge.connectors.registry import CredentialVault

__all__ = ["TokenSource"]

log = logging.getLogger(__name__)

REQUIRED = ("client_id", "client_secret", "refresh_token")
LEASE_KEY = "refresh_lease"  # "<holder> <expires, epoch seconds>" while a refresh is out
#: Longer than one token call may take: connection attempts (10 s each, retried), a 30 s
#: read timeout, and at most two 429 waits.
LEASE_SECONDS = 120.0


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.vault = vault
        self.http = http
        self.token_url = token_url
        self.margin = margin
        self.clock = clock
        self.sleep = sleep
        self.lease_poll_seconds = 0.1
        self.lease_wait_slack = 5.0
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
        holder = f"{os.getpid()}-{random.token_hex(4)}"
        waited_until = time.monotonic() + LEASE_SECONDS + self.lease_wait_slack
        while True:
            claimed: dict[str, str] | None = None
            with self.vault.update() as secrets:
                missing = [k for k in REQUIRED if not secrets.get(k)]
                if missing:
                    raise PartnerAuthError(
                        "reconnect QuickBooks: credentials incomplete "
                        f"({', '.join(missing)} missing)",
                        partner=PARTNER,
                    )
                stored = secrets.get("access_token")
                expires = _float(secrets.get("access_expires_at"))
                if stored and stored != rejected and expires - self.margin > self.clock():
                    self._token, self._expires_at = stored, expires  # someone else refreshed
                    return stored
                other, until = _lease(secrets.get(LEASE_KEY))
                if other is None or until <= self.clock():
                    secrets[LEASE_KEY] = f"{holder} {self.clock() + LEASE_SECONDS!r}"
                    claimed = dict(secrets)
            if claimed is not None:
                break
            # Another process is refreshing right now: wait for its token.
            if time.monotonic() > waited_until:
                raise TransientPartnerError(
                    "another process has been refreshing the QuickBooks token for too long",
                    partner=PARTNER,
                )
            self.sleep(self.lease_poll_seconds)
        try:
            token, expires_at, refresh = self._refresh(claimed)
        except BaseException:
            with self.vault.update() as secrets:
                if _lease(secrets.get(LEASE_KEY))[0] == holder:
                    del secrets[LEASE_KEY]
            raise
        with self.vault.update() as secrets:
            if _lease(secrets.get(LEASE_KEY))[0] != holder:
                # Our lease ran out during the call and another process may have refreshed
                # too. Ours is still a token QuickBooks just issued: save it (the newest
                # save wins) and say so, since a rotation may have been burnt.
                log.warning("QuickBooks token refresh outlived its lease; saving its result")
            secrets["access_token"] = token
            secrets["access_expires_at"] = repr(expires_at)
            secrets["refresh_token"] = refresh
            if _lease(secrets.get(LEASE_KEY))[0] == holder:
                del secrets[LEASE_KEY]
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


def _lease(text: str | None) -> tuple[str | None, float]:
    """The holder and expiry of a refresh lease, or (None, 0) when there is none."""
    holder, _, until = (text or "").partition(" ")
    return (holder or None), _float(until)


def _float(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0
