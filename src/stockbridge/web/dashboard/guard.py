"""Who is asking, and whether a form post is theirs: session cookies, CSRF tokens, forms.

- The session cookie carries a random id (HttpOnly, SameSite=Lax, Secure over https);
  the database keeps only its hash (``accounts``).
- Every POST carries the session's CSRF token, as the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header htmx sends; the login form, before any session exists, uses a
  double-submit token (a cookie and the same value in the form).
- Each user sees only the stores granted to them (operators: every store); the routes
  answer 404 for any other store, as for one that does not exist (``Viewer.may_see``).
- Failures raise ``LoginRequired`` (pages redirect to the login page) or ``Refused``
  (an HTML error with its status).
- Framing: every page refuses to be framed (CSP ``frame-ancestors 'none'``, set in
  ``web/app.py``) except the pages of a session a partner's app load opened inside the
  partner's control panel: ``viewer`` lets exactly that session's recorded origins frame
  them (``allow_framing``). The login page and sessions opened by a login stay unframable.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Path, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from stockbridge import accounts
from stockbridge.bootstrap import Hub

__all__ = [
    "FRAME_ANCESTORS",
    "LOGIN_CSRF_COOKIE",
    "MAX_ROW_ID",
    "SESSION_COOKIE",
    "LoginRequired",
    "Refused",
    "RunId",
    "Viewer",
    "allow_framing",
    "check_csrf",
    "read_form",
    "set_cookie",
    "viewer",
]

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 64_000
MAX_FIELDS = 50
#: Row ids are 64-bit signed integers on both databases; a larger one in a path would
#: overflow the driver (a 500), so it is refused as invalid input (422) first.
MAX_ROW_ID = 2**63 - 1
RunId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: The request-state key the security headers read: origins allowed to frame the answer.
FRAME_ANCESTORS = "frame_ancestors"
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class LoginRequired(Exception):
    """No live session: pages send the visitor to the login page."""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a request and the stores they may see (an operator: all)."""

    user: str
    csrf_token: str
    session_id: str
    operator: bool = False
    stores: frozenset[str] = frozenset()

    def may_see(self, store: str) -> bool:
        return self.operator or store in self.stores


async def viewer(request: Request) -> Viewer:
    """The logged-in user of this request, or ``LoginRequired``."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    hub: Hub = request.app.state.hub
    info = await run_in_threadpool(accounts.session_info, hub, session_id) if session_id else None
    if info is None:
        raise LoginRequired
    if info.frame_ancestors:
        allow_framing(request, info.frame_ancestors)
    return Viewer(info.user, info.csrf_token, session_id, info.operator, info.stores)


def allow_framing(request: Request, origins: str) -> None:
    """Let ``origins`` (space-separated ``https://host[:port]``, a leading ``*.`` allowed)
    frame this request's answer instead of nobody. Anything else in ``origins`` (quotes,
    semicolons, paths: a policy injection) leaves the answer unframable."""
    parts = origins.split()
    if parts and all(_ORIGIN.fullmatch(p) for p in parts):
        setattr(request.state, FRAME_ANCESTORS, " ".join(parts))


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body as a dict; a repeated field keeps its last value. Bodies
    that are not forms, too large, not UTF-8 or with too many fields are refused."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body and not kind:
        return {}
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "send the form as application/x-www-form-urlencoded")
    if len(body) > MAX_FORM_BYTES:
        raise Refused(413, f"form over {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "the form is not valid UTF-8 or has too many fields") from None
    return dict(pairs)


def check_csrf(request: Request, form: dict[str, str], expected: str) -> None:
    given = request.headers.get(CSRF_HEADER) or form.get("csrf_token", "")
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(
            403, "this form is missing its security token or it is stale: reload the page"
        )


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
