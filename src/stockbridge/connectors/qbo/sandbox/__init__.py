"""A QuickBooks Online simulator (ASGI, Starlette) for tests, the demo and benchmarks.

Serves what a real integration calls, with Intuit's documented shapes and limits:

* ``/connect/oauth2`` — the authorization endpoint: a consent page (Connect / Cancel)
  sending the browser back with ``code``, ``state`` and ``realmId``, or
  ``error=access_denied`` (``consent``);
* ``POST /oauth2/v1/tokens/bearer`` — authorization_code grant (a code works once, for
  the redirect_uri it was issued to; again: ``invalid_grant``) and refresh_token grant,
  client id/secret as HTTP Basic;
  short-lived access tokens (``access_lifetime``), a new refresh token on every refresh,
  ``400 {"error": "invalid_grant"}`` for a rotated-away or revoked one; the OpenID
  discovery document at ``/.well-known/openid_configuration`` and the revoke endpoint;
* under ``/v3/company/{realm}/``: ``companyinfo/{realm}``, ``query`` (GET, or POST with an
  ``application/text`` body), ``cdc``, ``salesreceipt``, ``invoice``, ``customer`` and
  ``batch`` (at most ``max_batch`` = 30 items; lower it to play a stricter company).
  Every call needs ``minorversion`` (>= 75), ``Accept: application/json`` (else XML, as
  QuickBooks does) and a live bearer token (else 401 AuthenticationFault).
  ``requestid`` (at most 50 characters; 36 on ``batch``) makes a repeated create answer
  the first response without booking anything — unless replay is turned off or has
  expired (``request_id_replay``, ``request_id_ttl``);
* rate limits per realm: 10 a second, 500 a minute, 10 in flight, 40 batches a minute;
  over them, 429 (``Retry-After`` only when configured — Intuit sends none);
* fault injection per endpoint: ``error`` (503, nothing applied), ``latency``, ``drop``
  (connection closed, nothing applied), ``applied_drop`` (applied, then the connection
  closed before the answer), ``bad_json`` and ``empty_object`` (malformed 200s),
  ``expire_tokens`` (every access token expires just before this call);
* ``/admin/...`` (no auth; loopback only; see ``admin``): seed items and customers,
  change items, set the fault plan and the configuration, move the clock, issue / revoke /
  expire tokens, and read counters (calls per endpoint, 429s, receipts per DocNumber).

Modules: ``app`` (ASGI, OAuth, limits, faults), ``company`` (the company API),
``books`` (the company's state), ``query`` (the query language), ``admin``, ``wire``
(answer shapes). It imports nothing from the QuickBooks client it simulates.
"""

from stockbridge.connectors.qbo.sandbox.admin import FaultRule, Limits, Replay
from stockbridge.connectors.qbo.sandbox.app import QboSandbox
from stockbridge.connectors.qbo.sandbox.books import Books
from stockbridge.connectors.qbo.sandbox.wire import QboFault

__all__ = ["Books", "FaultRule", "Limits", "QboFault", "QboSandbox", "Replay"]
