"""Where feed files come from: an HTTP(S) URL, a local folder, or an SFTP server.

``fetch()`` yields each file to read as a ``Fetched``: a local path (downloads are
spooled to a temporary file, never held in memory) plus what to do once the file was
applied (remember its ETag / Last-Modified / size and time so an unchanged feed costs
one cheap request) or rejected (a folder moves it to ``rejected/``; a URL remembers the
rejected version, and while the URL still serves it a pull fails at the cost of one 304
instead of downloading and rejecting it again). An unchanged source yields nothing. That
state lives in the connection's vault, so it survives restarts, and it is only written
once the file was applied completely (or rejected whole).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Protocol

import asyncssh
import httpx

from stockbridge.connectors.errors import (
    PartnerAuthError,
    PartnerError,
    PartnerResponseError,
    TransientPartnerError,
)
from stockbridge.connectors.feed import safe_files
from stockbridge.connectors.feed.sftp import SftpEndpoint
from stockbridge.connectors.registry import CredentialVault
from stockbridge.outbound import OutboundRefused
from stockbridge.retry import RetryPolicy

__all__ = ["Fetched", "FolderSource", "HttpSource", "SftpSource", "Source"]

log = logging.getLogger("stockbridge.partner")
PARTNER = "feed"
CHUNK = 1 << 16
#: What one SFTP read asks for (asyncssh splits it into parallel requests).
SFTP_CHUNK = 1 << 20
#: The largest feed file downloaded (setting ``max_file_mb``): a runaway feed must not
#: fill the disk.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: Redirects a URL feed may take before its file.
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _nothing() -> None:
    return None


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


@dataclass
class Fetched:
    """One file to read. ``cleanup`` removes a temporary download (safe twice)."""

    path: Path
    name: str
    produced_at: datetime | None = None
    on_accepted: Callable[[], None] = _nothing
    on_rejected: Callable[[], None] = _nothing
    cleanup: Callable[[], None] = _nothing


class Source(Protocol):
    """A feed's origin. ``fetch`` yields the files to read now, oldest first."""

    label: str

    def check(self) -> str: ...

    def fetch(self) -> Iterator[Fetched]: ...

    def close(self) -> None: ...


def _spool_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="stockbridge-download-"))


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


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


@dataclass
class FolderSource:
    """Files in a folder matching ``pattern``: the newest one (``files`` = newest) or
    each one oldest first (``all``). A handled file moves to ``processed/`` (with older
    ones the newest superseded) or ``rejected/``. Files changed in the last
    ``settle_seconds`` are left for the next pull: a writer may still be at work.
    """

    folder: Path
    pattern: str = "*"
    files: str = "newest"
    settle_seconds: float = 5.0
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = str(self.folder)

    def check(self) -> str:
        if not self.folder.is_dir():
            raise PartnerError(f"{self.folder} is not a folder", partner=PARTNER)
        if not os.access(self.folder, os.R_OK | os.W_OK | os.X_OK):
            raise PartnerError(
                f"{self.folder}: the hub needs to read and move files there", partner=PARTNER
            )
        return self.label

    def _ready(self) -> list[tuple[str, Path]]:
        """Settled files matching the pattern, oldest first: (name in the folder, path to
        read). A symlink counts only when it leads to a file inside the folder (the path
        read is where it leads); one out of the folder, or to a folder, is skipped with a
        warning."""
        self.check()
        home = self.folder.resolve()
        now = time.time()
        found: list[tuple[float, str, Path]] = []
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") or not fnmatch(entry.name, self.pattern):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                path = path.resolve()
                if not path.is_relative_to(home) or not path.is_file():
                    log.warning(
                        "%s: %s is a symbolic link out of the folder (or to a folder); not read",
                        PARTNER,
                        entry.path,
                    )
                    continue
            elif not entry.is_file(follow_symlinks=False):
                continue
            mtime = path.stat().st_mtime
            if now - mtime >= self.settle_seconds:
                found.append((mtime, entry.name, path))
        return [(name, path) for _m, name, path in sorted(found)]

    def fetch(self) -> Iterator[Fetched]:
        ready = self._ready()
        if not ready:
            return
        if self.files == "newest":
            (newest, path), older = ready[-1], ready[:-1]

            def done() -> None:
                for name in [*(n for n, _p in older), newest]:
                    _move(self.folder, name, "processed")

            yield Fetched(
                path,
                newest,
                produced_at=_mtime(path),
                on_accepted=done,
                on_rejected=lambda: _move(self.folder, newest, "rejected"),
            )
            return
        for name, path in ready:
            yield Fetched(
                path,
                name,
                produced_at=_mtime(path),
                on_accepted=lambda n=name: _move(self.folder, n, "processed"),  # type: ignore[misc]
                on_rejected=lambda n=name: _move(self.folder, n, "rejected"),  # type: ignore[misc]
            )

    def close(self) -> None:
        return None


def _move(folder: Path, name: str, into: str) -> None:
    """Move the entry ``name`` (a file, or a link itself: never what it points at) into
    the subfolder ``into``, never over an earlier file of the same name. A subfolder
    that is a symbolic link is refused (``PartnerError``): the file stays and is read
    again next time."""
    try:
        with (
            safe_files.open_folder(folder) as folder_fd,
            safe_files.subfolder(folder_fd, into, label=f"{folder / into}", mode=0o777) as to,
        ):
            try:
                os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            target = name
            with contextlib.suppress(FileNotFoundError):
                os.stat(target, dir_fd=to, follow_symlinks=False)
                stem, dot, suffix = name.rpartition(".")
                stem, suffix = (stem, dot + suffix) if stem else (name, "")
                stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
                target = f"{stem}.{stamp}.{os.getpid()}{suffix}"
            os.replace(name, target, src_dir_fd=folder_fd, dst_dir_fd=to)
    except safe_files.SymlinkRefused as exc:
        raise PartnerError(f"{folder}: {exc.strerror}", partner=PARTNER) from None


# SFTP ---------------------------------------------------------------------------------


@dataclass
class SftpSource:
    """One file on an SFTP server, downloaded when its size or time changed since the
    last applied one."""

    endpoint: SftpEndpoint
    vault: CredentialVault
    max_bytes: int = DEFAULT_MAX_BYTES
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = self.endpoint.label

    def check(self) -> str:
        return self.endpoint.check(self.vault)

    def fetch(self) -> Iterator[Fetched]:
        directory = _spool_dir()
        target = directory / "feed"
        seen = self.vault.load().get("feed_signature")

        async def download(sftp: asyncssh.SFTPClient) -> tuple[str, int | None] | None:
            attrs = await sftp.stat(self.endpoint.path)
            signature = f"{attrs.size}:{attrs.mtime}"
            if signature == seen:
                return None
            if attrs.size is not None and attrs.size > self.max_bytes:
                raise PartnerError(
                    f"{self.label}: the file is larger than {self.max_bytes // 1024**2} MB "
                    "(max_file_mb); not read",
                    partner=PARTNER,
                )
            await self._download(sftp, target)
            return signature, attrs.mtime

        try:
            found = self.endpoint.run(self.vault, download)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        if found is None:
            shutil.rmtree(directory, ignore_errors=True)
            return
        signature, mtime = found

        def remember() -> None:
            with self.vault.update() as secrets:
                secrets["feed_signature"] = signature

        yield Fetched(
            target,
            self.label,
            produced_at=None if mtime is None else datetime.fromtimestamp(mtime, UTC),
            on_accepted=remember,
            cleanup=lambda: shutil.rmtree(directory, ignore_errors=True),
        )

    async def _download(self, sftp: asyncssh.SFTPClient, target: Path) -> None:
        """Copy the file in chunks, counting: the cap holds while the file downloads (it
        may have grown since the look at its size)."""
        size = 0
        async with sftp.open(self.endpoint.path, "rb") as remote:
            with target.open("wb") as out:
                while chunk := await remote.read(SFTP_CHUNK):
                    assert isinstance(chunk, bytes)  # opened "rb": no encoding
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PartnerError(
                            f"{self.label}: the file is larger than "
                            f"{self.max_bytes // 1024**2} MB (max_file_mb); not read",
                            partner=PARTNER,
                        )
                    out.write(chunk)

    def close(self) -> None:
        return None
