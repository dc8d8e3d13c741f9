"""A simulated QuickBooks Web Connector: drives a SOAP service as QBWC does (QBWC
Programmer's Guide): serverVersion, clientVersion, authenticate; then, unless told
"nvu" or "none", sendRequestXML / receiveResponseXML until the percent done reaches 100
or goes negative (then getLastError), and closeConnection. QuickBooks' answers come from
a ``DesktopCompany``. Faults: QuickBooks busy (connectionError instead of a request),
a session dropped after QuickBooks applied a request (the answer never goes back), and
a document QuickBooks cannot parse (reported with its HRESULT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from stockbridge.connectors.qbwc.sandbox.company import ParseFailure

__all__ = ["SessionLog", "WebConnector"]

NS = "http://developer.intuit.com/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CLIENT_VERSION = "2.3.0.215"
BUSY_HRESULT = "0x80040408"
BUSY_MESSAGE = "Could not start QuickBooks."
#: A session never runs longer than this many request/response rounds.
MAX_ROUNDS = 10_000


@dataclass
class SessionLog:
    """What one session did: the calls in order, and how it ended."""

    calls: list[str] = field(default_factory=list)
    auth: str = ""
    requests: int = 0
    last_error: str = ""
    percents: list[int] = field(default_factory=list)
    dropped: bool = False
    ended: str = ""


class Company(Protocol):
    """A simulated QuickBooks company: it answers a request document (or raises
    ParseFailure)."""

    qbxml_major: int

    def handle(self, document: str) -> str: ...


class WebConnector:
    def __init__(
        self,
        url: str,
        user_name: str,
        password: str,
        company: Company,
        *,
        client: httpx.Client | None = None,
        also: Sequence[str] = (),
    ) -> None:
        #: The service's addresses, taken in turn call by call (``also``: more processes
        #: behind a round-robin load balancer, each answering calls of the same session).
        self.urls = [url, *also]
        self._turn = 0
        self.url = url
        self.user_name = user_name
        self.password = password
        self.company = company
        self.client = client or httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0))

    def call(self, operation: str, **params: str | int) -> str | list[str]:
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in params.items())
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ENV}">'
            f'<soap:Body><{operation} xmlns="{NS}">{fields}</{operation}></soap:Body>'
            "</soap:Envelope>"
        )
        url = self.urls[self._turn % len(self.urls)]
        self._turn += 1
        answer = self.client.post(
            url,
            content=body.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}{operation}"'},
        )
        answer.raise_for_status()
        root = etree.fromstring(
            answer.content, etree.XMLParser(resolve_entities=False, no_network=True)
        )
        result = root.find(f".//{{{NS}}}{operation}Result")
        if result is None:
            raise RuntimeError(f"{operation} answered without a result: {answer.text[:200]}")
        if operation == "authenticate":
            return [s.text or "" for s in result.iterfind(f"{{{NS}}}string")]
        return result.text or ""

    def session(
        self, *, busy: bool = False, drop_after: int | None = None, drop_on: str | None = None
    ) -> SessionLog:
        """One update, as QBWC runs it. ``drop_after``: after QuickBooks applied that many
        requests (``drop_on``: the first request naming that element), the Web Connector
        goes away without sending the last answer back."""
        log = SessionLog()

        def call(operation: str, **params: str | int) -> str | list[str]:
            log.calls.append(operation)
            return self.call(operation, **params)

        call("serverVersion")
        call("clientVersion", strVersion=CLIENT_VERSION)
        answer = call("authenticate", strUserName=self.user_name, strPassword=self.password)
        assert isinstance(answer, list) and len(answer) >= 2, answer
        ticket, log.auth = answer[0], answer[1]
        if log.auth == "nvu":
            log.ended = "not a valid user"
            return log
        if log.auth == "none":
            call("closeConnection", ticket=ticket)
            log.ended = "nothing to do"
            return log
        if busy:
            call("connectionError", ticket=ticket, hresult=BUSY_HRESULT, message=BUSY_MESSAGE)
            call("closeConnection", ticket=ticket)
            log.ended = "QuickBooks busy"
            return log
        first = True
        for _round in range(MAX_ROUNDS):
            request = call(
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse="<QBXML><QBXMLMsgsRs/></QBXML>" if first else "",
                strCompanyFileName="C:\\Company\\Sandbox.QBW",
                qbXMLCountry="US",
                qbXMLMajorVers=self.company.qbxml_major,
                qbXMLMinorVers=0,
            )
            first = False
            assert isinstance(request, str)
            if request == "":
                error = call("getLastError", ticket=ticket)
                log.last_error = str(error)
                break
            log.requests += 1
            try:
                response, hresult, message = self.company.handle(request), "", ""
            except ParseFailure as failure:
                response, hresult, message = "", failure.hresult, failure.message
            dropping = drop_after is not None and log.requests >= drop_after
            if dropping or (drop_on is not None and f"<{drop_on}" in request):
                log.dropped = True
                log.ended = "dropped"
                return log
            percent = int(
                call(
                    "receiveResponseXML",
                    ticket=ticket,
                    response=response,
                    hresult=hresult,
                    message=message,
                )  # type: ignore[arg-type]
            )
            log.percents.append(percent)
            if percent < 0:
                error = call("getLastError", ticket=ticket)
                log.last_error = str(error)
                break
            if percent >= 100:
                break
        call("closeConnection", ticket=ticket)
        log.ended = log.ended or "closed"
        return log
