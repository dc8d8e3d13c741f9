"""The QuickBooks sandbox driven by python-quickbooks and intuit-oauth, Intuit's own
Python clients, for the calls a real integration makes: refresh a token, items by SKU,
counts, paging, sales receipts created with a request id, batch, CDC.

Pointing them at the sandbox uses their supported settings: intuit-oauth's
``AuthClient`` takes a discovery-document URL as its ``environment`` (the sandbox serves
one naming its own token and revoke endpoints); python-quickbooks builds every URL from
its ``api_url_v3`` setting, set here to the sandbox's ``/v3``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks import QuickBooks
from quickbooks.batch import BatchManager, batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.base import Ref
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.item import Item
from quickbooks.objects.salesreceipt import SalesReceipt

from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.sandbox_server import ServerThread
from tests.partner_clients import Tls, loopback_certificate, trusting

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"


@dataclass
class World:
    sandbox: QboSandbox
    url: str
    admin: httpx.Client
    qb: QuickBooks
    auth: AuthClient

    def counters(self) -> dict[str, Any]:
        data: dict[str, Any] = self.admin.get("/admin/counters").json()
        return data

    def receipts(self) -> dict[str, int]:
        return dict(self.counters()["receipts_per_doc_number"])

    def quantity(self, sku: str) -> int:
        for item in self.admin.get("/admin/items").json():
            if item.get("Sku") == sku:
                return int(item["QtyOnHand"])
        raise KeyError(sku)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return loopback_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def world(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert))
    sandbox = QboSandbox()
    sandbox.limits.enabled = False
    with (
        ServerThread(sandbox, certfile=str(tls.cert), keyfile=str(tls.key)) as server,
        httpx.Client(base_url=server.url, verify=trusting(tls)) as admin,
    ):
        admin.post(
            "/admin/items",
            json=[
                {"sku": f"SKU-{n}", "name": f"Lantern {n}", "qty": 50, "price": "9.99"}
                for n in range(1, 6)
            ],
        ).raise_for_status()
        refresh_token = admin.post("/admin/tokens/issue").json()["refresh_token"]
        auth = AuthClient(
            CLIENT_ID,
            CLIENT_SECRET,
            "https://127.0.0.1/callback",
            environment=f"{server.url}/.well-known/openid_configuration",
            refresh_token=refresh_token,
        )
        qb = QuickBooks(
            auth_client=auth,
            refresh_token=refresh_token,
            company_id=sandbox.books.realm_id,
            minorversion=75,
        )
        qb.api_url_v3 = f"{server.url}/v3"
        yield World(sandbox, server.url, admin, qb, auth)
        qb.session.close()  # no keep-alive connection left for the server to wait out
        auth.close()


def receipt(world: World, number: str, sku: str, qty: int, customer_id: str) -> SalesReceipt:
    (item,) = Item.filter(Sku=sku, qb=world.qb)
    detail = SalesItemLineDetail()
    detail.ItemRef = item.to_ref()
    detail.Qty = qty
    detail.UnitPrice = 9.99
    line = SalesItemLine()
    line.SalesItemLineDetail = detail
    line.Amount = round(qty * 9.99, 2)
    sale = SalesReceipt()
    sale.DocNumber = number
    sale.Line = [line]
    ref = Ref()
    ref.value = customer_id
    sale.CustomerRef = ref
    return sale


def web_customer(world: World) -> str:
    customer = Customer()
    customer.DisplayName = "Web Store"
    return str(customer.save(qb=world.qb).Id)


def test_the_token_refresh_and_revoke_go_through_intuit_oauth(world: World) -> None:
    assert world.auth.access_token  # refreshed through the discovery document's endpoint
    rotated = world.auth.refresh_token
    assert world.sandbox.books.refreshes == 1
    world.auth.revoke(token=rotated)
    with pytest.raises(AuthClientError):
        world.auth.refresh(refresh_token=rotated)


def test_items_by_sku_count_and_pages(world: World) -> None:
    (item,) = Item.filter(Sku="SKU-3", qb=world.qb)
    assert (item.Name, item.Sku, item.QtyOnHand) == ("Lantern 3", "SKU-3", 50)
    assert Item.filter(Sku="NO-SUCH", qb=world.qb) == []
    assert Item.count(qb=world.qb) == 5
    assert Item.count("Sku IN ('SKU-1', 'SKU-2', 'GHOST')", qb=world.qb) == 2
    pages = [Item.all(start_position=s, max_results=2, qb=world.qb) for s in (1, 3, 5)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i.Sku for page in pages for i in page) == [f"SKU-{n}" for n in range(1, 6)]
    ordered = Item.where("", order_by="Name DESC", max_results=5, qb=world.qb)
    assert [i.Name for i in ordered] == [f"Lantern {n}" for n in range(5, 0, -1)]
    assert world.counters()["calls"]["query"] >= 8  # all of them POST /query


def test_a_receipt_with_a_request_id_is_booked_once(world: World) -> None:
    customer_id = web_customer(world)
    first = receipt(world, "WEB-1001", "SKU-1", 3, customer_id).save(
        qb=world.qb, request_id="order-1001-a"
    )
    again = receipt(world, "WEB-1001", "SKU-1", 3, customer_id).save(
        qb=world.qb, request_id="order-1001-a"
    )
    assert again.Id == first.Id
    assert world.receipts() == {"WEB-1001": 1}
    assert world.quantity("SKU-1") == 47


def test_with_replay_off_a_repeated_request_id_books_again(world: World) -> None:
    world.admin.post("/admin/config", json={"request_id_replay": False}).raise_for_status()
    customer_id = web_customer(world)
    for _ in range(2):
        receipt(world, "WEB-1002", "SKU-2", 1, customer_id).save(qb=world.qb, request_id="r-1002")
    assert world.receipts() == {"WEB-1002": 2}


def test_a_request_id_expires_after_its_window(world: World) -> None:
    world.admin.post("/admin/config", json={"request_id_ttl": 600}).raise_for_status()
    customer_id = web_customer(world)
    receipt(world, "WEB-1003", "SKU-2", 1, customer_id).save(qb=world.qb, request_id="r-1003")
    receipt(world, "WEB-1003", "SKU-2", 1, customer_id).save(qb=world.qb, request_id="r-1003")
    assert world.receipts() == {"WEB-1003": 1}
    world.admin.post("/admin/clock", json={"advance": 601}).raise_for_status()
    receipt(world, "WEB-1003", "SKU-2", 1, customer_id).save(qb=world.qb, request_id="r-1003")
    assert world.receipts() == {"WEB-1003": 2}


def test_batch_create_answers_each_item_on_its_own(world: World) -> None:
    customer_id = web_customer(world)
    good = [receipt(world, f"WEB-20{n}", "SKU-4", 1, customer_id) for n in range(3)]
    bad = receipt(world, "WEB-2099", "SKU-4", 1, customer_id)
    bad.Line[0].SalesItemLineDetail.ItemRef.value = "999999"  # no such item
    result = batch_create([*good, bad], qb=world.qb)
    assert sorted(s.DocNumber for s in result.successes) == ["WEB-200", "WEB-201", "WEB-202"]
    assert [f.Error[0].code for f in result.faults] == ["2500"]
    assert world.quantity("SKU-4") == 47
    assert world.counters()["batch_sizes"] == [4]


def test_a_batch_with_a_request_id_takes_bids_of_at_most_10_characters(world: World) -> None:
    customer_id = web_customer(world)
    sale = json.loads(receipt(world, "WEB-3001", "SKU-5", 1, customer_id).to_json())
    url = f"{world.url}/v3/company/{world.sandbox.books.realm_id}/batch"

    def send(bid: str, request_id: str) -> Any:
        body = {"BatchItemRequest": [{"bId": bid, "operation": "create", "SalesReceipt": sale}]}
        return world.qb.post(url, json.dumps(body), request_id=request_id)

    refused = send("0f8fad5b-d9cb-469f-a165-70867728950e", "batch-1")  # a uuid, as BatchManager
    assert refused["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2010"
    taken = send("b1", "batch-2")
    assert taken["BatchItemResponse"][0]["SalesReceipt"]["DocNumber"] == "WEB-3001"
    assert send("b1", "batch-2") == taken  # the same request id: the first answer
    assert world.receipts() == {"WEB-3001": 1}


def test_a_company_limited_below_30_refuses_a_bigger_batch(world: World) -> None:
    world.admin.post("/admin/config", json={"max_batch": 10}).raise_for_status()
    customer_id = web_customer(world)
    sales = [receipt(world, f"WEB-4{n:03d}", "SKU-5", 1, customer_id) for n in range(12)]
    with pytest.raises(QuickbooksException, match="maximum of 10"):
        BatchManager("create").save(list(sales), qb=world.qb)  # python-quickbooks sends 30
    assert world.receipts() == {}
    result = BatchManager("create", max_request_items=10).save(list(sales), qb=world.qb)
    assert len(result.successes) == 12
    assert world.counters()["batch_sizes"] == [10, 2]


def test_change_data_capture_through_the_client(world: World) -> None:
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    world.admin.patch("/admin/items/SKU-2", json={"qty": 7}).raise_for_status()
    customer_id = web_customer(world)
    receipt(world, "WEB-5001", "SKU-3", 2, customer_id).save(qb=world.qb, request_id="r-5001")
    changes = change_data_capture([Item, SalesReceipt], since, qb=world.qb)
    items = {i.Sku: i.QtyOnHand for i in changes.Item}
    assert items["SKU-2"] == 7 and items["SKU-3"] == 48
    assert [r.DocNumber for r in changes.SalesReceipt] == ["WEB-5001"]
    with pytest.raises(QuickbooksException):  # CDC looks back 30 days at most
        change_data_capture([Item], since - timedelta(days=31), qb=world.qb)


def test_the_sandbox_is_served_over_tls_only_to_who_trusts_it(world: World) -> None:
    assert world.url.startswith("https://127.0.0.1:")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{world.url}/.well-known/openid_configuration")  # default trust store
