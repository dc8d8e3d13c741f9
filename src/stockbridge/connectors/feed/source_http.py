"""A feed at an HTTP(S) URL: conditional GETs (ETag / Last-Modified), redirects followed
by hand under the outbound policy, credentials only on the configured origin, downloads
capped while streaming."""

from __future__ import annotations

import base64
import email.utils
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from stockbridge.connectors.errors import (
    PartnerAuthError,
    PartnerError,
    PartnerResponseError,
    TransientPartnerError,
)
from stockbridge.connectors.feed.source_base import (
    CHUNK,
    DEFAULT_MAX_BYTES,
    PARTNER,
    Fetched,
    _spool_dir,
    log,
)
from stockbridge.connectors.registry import CredentialVault
from stockbridge.outbound import OutboundRefused
from stockbridge.retry import RetryPolicy

__all__ = ["MAX_REDIRECTS", "HttpSource"]

#: Redirects a URL feed may take before its file.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: What the vault remembers of a URL feed's last file: applied (``feed_``) or rejected
#: (``feed_rejected_``, with when).
_VERSION_KEYS = (
    "feed_etag",
    "feed_last_modified",
    "feed_rejected_etag",
    "feed_rejected_last_modified",
    "feed_rejected_at",
)


def _rejected_version(secrets: dict[str, str]) -> str | None:
    """When the URL's current file was rejected, if that is what the vault remembers."""
    if secrets.get("feed_rejected_etag") or secrets.get("feed_rejected_last_modified"):
        return secrets.get("feed_rejected_at") or "an earlier pull"
    return None


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# HTTP ------------------------------------------------------------------------------


def _refused(label: str, exc: OutboundRefused) -> PartnerError:
    """The hub's outbound policy refused the URL or a redirect's target: not retried."""
    return PartnerError(f"GET {label}: refused: {exc}", partner=PARTNER, code="outbound")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


@dataclass
class HttpSource:
    """GET a URL with optional auth; conditional on the last applied ETag/Last-Modified.

    Settings: ``auth`` none | bearer (secret ``token``) | basic (``username``,
    ``password``) | header (setting ``auth_header`` names it, secret ``header_value``).

    Redirects are followed here, not by httpx (whose client must not follow them): at
    most ``MAX_REDIRECTS``; the credentials go only to the configured URL's origin
    (scheme, host, port) and never again once a redirect has left it; an https URL is
    never followed to plain http. ``client`` enforces the hub's outbound policy on every
    connection (``ConnectorEnv.user_http_client``), so each hop is checked where it
    connects; a refusal fails the pull with the rule's name and is not retried.
    """

    url: str
    client: httpx.Client
    vault: CredentialVault
    retry: RetryPolicy
    auth: str = "none"
    auth_header: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    label: str = field(init=False)

    def __post_init__(self) -> None:
        # What messages and logs show: no credentials, no query string (it may hold a key).
        url = httpx.URL(self.url)
        port = f":{url.port}" if url.port else ""
        self.label = f"{url.scheme}://{url.host}{port}{url.path}"

    def _headers(self, conditional: bool, *, credentials: bool = True) -> dict[str, str]:
        """Request headers; ``credentials`` off (a redirect left the URL's origin): none of
        the auth settings' headers."""
        secrets = self.vault.load()
        headers: dict[str, str] = {}
        if credentials and self.auth == "bearer":
            headers["Authorization"] = f"Bearer {secrets.get('token', '')}"
        elif credentials and self.auth == "basic":
            pair = f"{secrets.get('username', '')}:{secrets.get('password', '')}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        elif credentials and self.auth == "header" and self.auth_header:
            headers[self.auth_header] = secrets.get("header_value", "")
        if conditional:
            # After a rejected file: ask whether it is still that file (a 304 says so at
            # the cost of one request); otherwise whether it is still the applied one.
            prefix = "feed_rejected_" if _rejected_version(secrets) else "feed_"
            if secrets.get(prefix + "etag"):
                headers["If-None-Match"] = secrets[prefix + "etag"]
            if secrets.get(prefix + "last_modified"):
                headers["If-Modified-Since"] = secrets[prefix + "last_modified"]
        return headers

    def check(self) -> str:
        try:
            with self._open(conditional=False) as response:
                self._raise_for(response)
        except httpx.TransportError as exc:
            raise TransientPartnerError(
                f"GET {self.label}: {type(exc).__name__}: {exc}", partner=PARTNER
            ) from exc
        except OutboundRefused as exc:
            raise _refused(self.label, exc) from None
        return self.label

    def fetch(self) -> Iterator[Fetched]:
        failures = 0
        while True:
            directory = _spool_dir()
            try:
                fetched = self._download(directory)
            except TransientPartnerError:
                shutil.rmtree(directory, ignore_errors=True)
                failures += 1
                if failures >= self.retry.attempts:
                    raise
                self.retry.sleep(self.retry.delay(failures))
                continue
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            if fetched is not None:
                yield fetched
            return

    @contextmanager
    def _open(self, *, conditional: bool) -> Iterator[httpx.Response]:
        """GET the URL, following redirects (see the class): the final response."""
        url = httpx.URL(self.url)
        home = _origin(url)
        credentials = True
        for hop in range(MAX_REDIRECTS + 1):
            credentials = credentials and _origin(url) == home
            request = self.client.build_request(
                "GET", url, headers=self._headers(conditional, credentials=credentials)
            )
            response = self.client.send(request, stream=True)
            if not (response.is_redirect and "location" in response.headers):
                break
            response.close()
            if hop == MAX_REDIRECTS:
                raise PartnerError(
                    f"GET {self.label}: more than {MAX_REDIRECTS} redirects", partner=PARTNER
                )
            try:
                target = url.join(response.headers["location"])
            except httpx.InvalidURL as exc:
                raise PartnerError(
                    f"GET {self.label}: redirected to a bad URL ({exc})", partner=PARTNER
                ) from None
            if target.scheme not in ("http", "https"):
                raise PartnerError(
                    f"GET {self.label}: redirected to a {target.scheme or 'relative'} URL; "
                    "not followed",
                    partner=PARTNER,
                )
            if url.scheme == "https" and target.scheme == "http":
                raise PartnerError(
                    f"GET {self.label}: redirected from https to plain http "
                    f"({target.host}); not followed",
                    partner=PARTNER,
                )
            url = target
        try:
            yield response
        finally:
            response.close()

    def _download(self, directory: Path) -> Fetched | None:
        target = directory / "feed"
        started = time.perf_counter()
        status: object = "error"
        try:
            with self._open(conditional=True) as response:
                status = response.status_code
                if response.status_code == 304:
                    shutil.rmtree(directory, ignore_errors=True)
                    rejected_at = _rejected_version(self.vault.load())
                    if rejected_at:
                        raise PartnerResponseError(
                            f"GET {self.label}: still the file rejected at {rejected_at} "
                            "(not downloaded again); the next changed file is read",
                            partner=PARTNER,
                            code="rejected",
                        )
                    return None
                self._raise_for(response)
                size = 0
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        size += len(chunk)
                        if size > self.max_bytes:
                            raise PartnerError(
                                f"GET {self.label}: the file is larger than "
                                f"{self.max_bytes // 1024**2} MB (max_file_mb); not read",
                                partner=PARTNER,
                            )
                        out.write(chunk)
                etag = response.headers.get("etag")
                modified = response.headers.get("last-modified")
        except httpx.TransportError as exc:
            raise TransientPartnerError(
                f"GET {self.label}: {type(exc).__name__}: {exc}", partner=PARTNER
            ) from exc
        except OutboundRefused as exc:
            raise _refused(self.label, exc) from None
        finally:
            log.info(
                "%s GET %s %s %.0fms",
                PARTNER,
                httpx.URL(self.url).path,
                status,
                (time.perf_counter() - started) * 1000,
            )

        def remember(prefix: str) -> None:
            with self.vault.update() as secrets:
                for key in _VERSION_KEYS:
                    secrets.pop(key, None)
                if etag:
                    secrets[prefix + "etag"] = etag
                if modified:
                    secrets[prefix + "last_modified"] = modified
                if prefix == "feed_rejected_" and (etag or modified):
                    secrets["feed_rejected_at"] = datetime.now(UTC).isoformat(timespec="seconds")

        return Fetched(
            target,
            self.label,
            produced_at=_http_date(modified),
            on_accepted=lambda: remember("feed_"),
            on_rejected=lambda: remember("feed_rejected_"),
            cleanup=lambda: shutil.rmtree(directory, ignore_errors=True),
        )

    def _raise_for(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            raise PartnerAuthError(f"GET {self.label}: {status}", partner=PARTNER, code=str(status))
        if status == 429 or status >= 500:
            raise TransientPartnerError(
                f"GET {self.label}: {status}", partner=PARTNER, code=str(status)
            )
        if status != 200:
            raise PartnerError(f"GET {self.label}: {status}", partner=PARTNER, code=str(status))

    def close(self) -> None:
        self.client.close()


# a local folder --------------------------------------------------------------------
