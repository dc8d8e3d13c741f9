"""/qbwc as a SOAP service: a real SOAP client (zeep) driven from our WSDL, and the bad
input the Web Connector (or anyone) may send, each answered as QBWC expects with nothing
queued changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import zeep
from sqlalchemy import func, select
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.cli.app import build_app
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, WebConnector
from stockbridge.connectors.qbwc.web_routes import MAX_BODY
from stockbridge.db.models import Variant
from stockbridge.services import qbwc as qbwc_service
from stockbridge.services import qbwc_mailbox as mailbox
from tests.dashboard_helpers import log_in
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)


def _runs(shop: Shop) -> int:
    return len(services.run_history(shop.running.hub, "shop", limit=50))


def test_zeep_from_our_wsdl_runs_a_whole_session_and_a_wrong_password_gets_nvu(
    shop: Shop,
) -> None:
    client = zeep.Client(f"{shop.url}?wsdl")  # type: ignore[no-untyped-call]
    service = client.service
    assert service.serverVersion()
    assert service.clientVersion("2.3.0.215") == "" or service.clientVersion("2.3.0.215") is None

    before = _runs(shop)
    wrong = service.authenticate(shop.user_name, "not the password at all")
    assert wrong[1] == "nvu"
    unknown = service.authenticate("nobody", shop.password)
    assert unknown[1] == "nvu"
    assert _runs(shop) == before  # nothing queued for a refused sign-in

    ticket, company_file = service.authenticate(shop.user_name, shop.password)[:2]
    assert company_file in ("", None)
    rounds = 0
    while True:
        request = service.sendRequestXML(ticket, "", "", "US", 13, 0)
        assert request, service.getLastError(ticket)
        percent = service.receiveResponseXML(ticket, shop.company.handle(request), "", "")
        rounds += 1
        assert 0 < percent <= 100 and rounds < 50
        if percent == 100:
            break
    assert service.closeConnection(ticket) == "OK"
    shop.settle()
    assert shop.web_stock() == {"A": 20, "B": 21, "C": 22}


def test_bad_input_is_answered_as_the_web_connector_expects(shop: Shop) -> None:
    client = zeep.Client(f"{shop.url}?wsdl")  # type: ignore[no-untyped-call]
    service = client.service
    # An unknown ticket: no request, a negative percent, an explanation, nothing applied.
    assert service.sendRequestXML("no-such-ticket", "", "", "US", 13, 0) in ("", None)
    assert service.receiveResponseXML("no-such-ticket", "<QBXML/>", "", "") == -1
    assert "unknown" in service.getLastError("no-such-ticket")
    assert service.connectionError("no-such-ticket", "0x1", "x") == "done"

    with httpx.Client(base_url=shop.running.server.url, timeout=10) as http:
        for body in (
            b"not xml",
            b"<a/>",
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<dropTables xmlns="http://developer.intuit.com/"/></s:Body></s:Envelope>',
            b'<!DOCTYPE x [<!ENTITY a "aaaa">]><s:Envelope '
            b'xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<sendRequestXML xmlns="http://developer.intuit.com/"><ticket>t</ticket>'
            b"<qbXMLMajorVers>thirteen</qbXMLMajorVers></sendRequestXML></s:Body></s:Envelope>",
        ):
            answer = http.post("/qbwc", content=body, headers={"Content-Type": "text/xml"})
            assert answer.status_code == 500, body
            assert b"soap:Client" in answer.content and b"faultstring" in answer.content
        big = b"<x>" + b"a" * (MAX_BODY + 1) + b"</x>"
        answer = http.post("/qbwc", content=big, headers={"Content-Type": "text/xml"})
        assert answer.status_code == 500 and b"soap:Client" in answer.content
        assert b"larger than" in answer.content

        def chunks() -> Iterator[bytes]:  # no Content-Length: read as a stream, refused
            for _ in range(MAX_BODY // 1_000_000 + 2):
                yield b"a" * 1_000_000

        answer = http.post("/qbwc", content=chunks(), headers={"Content-Type": "text/xml"})
        assert answer.status_code == 500 and b"larger than" in answer.content

    # A document QuickBooks could not parse: -1, the reason from getLastError, and the
    # order that was in it is looked up (not sent blind) by the next session.
    wc = shop.connector()
    order = str(shop.web.order([("A", 1)])["id"])
    ticket = wc.call("authenticate", strUserName=shop.user_name, strPassword=shop.password)[0]
    request = wc.call(
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert isinstance(request, str) and request
    assert (
        int(
            str(
                wc.call(
                    "receiveResponseXML",
                    ticket=ticket,
                    response="",
                    hresult="0x80040400",
                    message="parse error",
                )
            )
        )
        == -1
    )
    assert "0x80040400" in str(wc.call("getLastError", ticket=ticket))
    wc.call("closeConnection", ticket=ticket)
    shop.settle()
    assert shop.company.receipts_by_ref() == {}
    wc.session()
    shop.settle()
    assert shop.company.receipts_by_ref() == {order: 1}


def test_the_dashboard_shows_the_last_call_and_offers_the_qwc_file(shop: Shop) -> None:
    hub = shop.running.hub
    services.add_store(hub, "other")
    accounts.add_user(hub, "clerk", "a long password", stores=["shop"])
    with httpx.Client(base_url=shop.running.server.url, timeout=10) as http:
        assert http.get("/stores/shop/qbwc.qwc").status_code in (303, 307, 401)
        log_in(http, "clerk", "a long password")
        overview = http.get("/stores/shop").text  # the store's page links both
        assert 'href="/stores/shop/qbwc"' in overview
        assert 'href="/stores/shop/qbwc.qwc"' in overview
        page = http.get("/stores/shop/qbwc")
        assert page.status_code == 200 and "Last called</th><td>never" in page.text
        shop.web.order([("A", 1)])
        shop.sync()
        assert "Orders waiting to post</th><td>1" in http.get("/stores/shop/qbwc").text
        shop.connector().session()
        shop.settle()
        page = http.get("/stores/shop/qbwc")
        assert "never" not in page.text and "session complete" in page.text
        assert "Orders waiting to post</th><td>0" in page.text
        qwc = http.get("/stores/shop/qbwc.qwc")
        assert qwc.status_code == 200 and b"<QBType>QBFS</QBType>" in qwc.content
        assert b"stockbridge-shop" in qwc.content
        assert http.get("/stores/other/qbwc.qwc").status_code == 404  # not granted


def test_the_sandbox_command_runs_an_update_against_the_service(shop: Shop) -> None:
    hub = shop.running.hub
    args = ["sandbox", "qbwc", "--url", shop.url, "--user", shop.user_name, "--items", "3"]
    done = CliRunner().invoke(build_app(lambda: hub), args, input=shop.password + "\n")
    assert done.exit_code == 0, done.output
    assert "update: signed in;" in done.output and "closed" in done.output
    wrong = CliRunner().invoke(build_app(lambda: hub), args, input="wrong password\n")
    assert "update: nvu" in wrong.output


def test_an_item_page_over_a_megabyte_is_taken_and_applied(shop: Shop) -> None:
    """QuickBooks' answer with 4,000 items (about 1.5 MB: over the app's 1 MB limit for
    JSON bodies, well under the Web Connector's 32 MB) is read and every item applied
    in the call that brought it (a store of its own, without a web store)."""
    hub = shop.running.hub
    services.add_store(hub, "bulk")
    connected = qbwc_service.connect_qbwc(hub, "bulk", flavour="desktop", app_url=shop.url)
    assert connected.password is not None
    company = DesktopCompany()
    for n in range(4000):
        company.add_item(f"BULK-{n:05d}", n % 50)
    wc = WebConnector(shop.url, connected.user_name, connected.password, company)
    ticket = wc.call(
        "authenticate", strUserName=connected.user_name, strPassword=connected.password
    )[0]
    request = wc.call(
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert isinstance(request, str) and "ItemInventoryQueryRq" in request
    whole = request.replace("<MaxReturned>500</MaxReturned>", "<MaxReturned>5000</MaxReturned>")
    answer = company.handle(whole)
    assert len(answer.encode()) > 1_000_000
    percent = wc.call("receiveResponseXML", ticket=ticket, response=answer, hresult="", message="")
    assert int(str(percent)) == 100
    with hub.uow() as uow:
        bulk = uow.session.scalar(
            select(func.count()).select_from(Variant).where(Variant.sku.like("BULK-%"))
        )
    assert bulk == 4000
    assert wc.call("closeConnection", ticket=ticket) == "OK"


def test_a_quiet_session_expires_and_its_ticket_is_refused(shop: Shop) -> None:
    """A session quiet past the expiry is over: its ticket gets no request, -1 and the
    reason; the next session does the work (the order handed over before is looked up,
    not added again)."""
    hub = shop.running.hub
    wc = shop.connector()
    wc.session()
    shop.settle()
    order = str(shop.web.order([("A", 1)])["id"])
    shop.sync()
    assert wc.session(drop_on="SalesReceiptAddRq").dropped  # applied, answer lost
    ticket = wc.call("authenticate", strUserName=shop.user_name, strPassword=shop.password)[0]
    assert isinstance(ticket, str)
    assert mailbox.send_request(hub, ticket, expiry=timedelta(0)) == ""
    assert "expired" in mailbox.last_error(hub, ticket)
    assert mailbox.receive_response(hub, ticket, "<QBXML/>", "", "").percent == -1
    assert wc.session().percents[-1] == 100
    shop.settle()
    assert shop.company.receipts_by_ref() == {order: 1}


def test_an_answer_that_cannot_be_read_applies_nothing_and_ends_the_session(shop: Shop) -> None:
    wc = shop.connector()
    wc.session()
    shop.settle()
    order = str(shop.web.order([("A", 1)])["id"])
    shop.sync()
    ticket = wc.call("authenticate", strUserName=shop.user_name, strPassword=shop.password)[0]
    request = wc.call(
        "sendRequestXML",
        ticket=ticket,
        strHCPResponse="",
        strCompanyFileName="",
        qbXMLCountry="US",
        qbXMLMajorVers=13,
        qbXMLMinorVers=0,
    )
    assert isinstance(request, str) and "SalesReceiptAddRq" in request
    shop.company.handle(request)  # QuickBooks applied it; its answer arrives mangled
    percent = wc.call(
        "receiveResponseXML", ticket=ticket, response="<QBXML>", hresult="", message=""
    )
    assert int(str(percent)) == -1
    assert "could not be read" in str(wc.call("getLastError", ticket=ticket))
    assert wc.session().percents[-1] == 100  # the order is looked up, not added again
    shop.settle()
    assert shop.company.receipts_by_ref() == {order: 1}
