"""What the catalog part of inventory-out records after the web store answered (issue 26):
only what the store took is recorded as sent, and a creation whose answer was lost stays
marked so that the next run looks the SKU up instead of creating it again. Against the
BigCommerce sandbox over real HTTP; the refusal and the lost answer are the sandbox's own
(a name another product holds; a connection dropped after the product was created)."""

from __future__ import annotations

from stockbridge import services
from stockbridge.domain.model import RunStatus, Step
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice
from tests.test_catalog_out import calls, catalog, sync, wire

CREATE = "POST /v3/catalog/products"


def test_a_refused_catalog_update_is_not_recorded_as_sent_and_goes_again(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    """Rule: a catalog update the web store refused is not recorded as sent, so the next
    run sends it again (the hub never believes the web shows what it refused)."""
    bc_store.seed(
        [
            {"name": "Kettle", "sku": "A", "tracking": "product", "price": "5.00"},
            {"name": "Teapot", "sku": "B", "tracking": "product", "price": "5.00"},
        ]
    )
    bo = FakeBackOffice()
    # The back office swaps the names: A's new name is B's old one. In the batch, A's
    # rename is refused (B still holds "Teapot" when the store checks it) and B's lands.
    bo.set_item("A", 1, name="Teapot", price="5.00")
    bo.set_item("B", 1, name="Big Teapot", price="5.00")
    wire(sqlite_harness, bc_store, bo)
    services.update_store(sqlite_harness.hub, "shop", catalog_push_names=True)

    first = sync(sqlite_harness)

    assert first.status is RunStatus.PARTIAL, first
    assert {e.key for e in first.errors} == {"A"}
    web = catalog(bc_store)
    assert (web["A"]["name"], web["B"]["name"]) == ("Kettle", "Big Teapot")

    # inventory-out alone (as a webhook's run): the web catalog is not re-read first, so
    # only what the hub recorded as sent decides whether A's rename goes again
    second = services.sync(sqlite_harness.hub, None, (Step.INVENTORY_OUT,))

    assert second.status is RunStatus.SUCCEEDED, second
    assert catalog(bc_store)["A"]["name"] == "Teapot"


def test_a_creation_whose_answer_was_lost_stays_marked_and_is_looked_up_not_made_again(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    """Rule: a creation with an unknown outcome (the store created the product, its answer
    never arrived) keeps its ``creating`` mark; the next run looks the SKU up and adopts
    the product: one POST in all."""
    bo = FakeBackOffice()
    bo.set_item("NEW-1", 2, name="Kettle", price="9.99")
    wire(sqlite_harness, bc_store, bo)
    hub = sqlite_harness.hub
    assert services.sync(hub, None, (Step.INVENTORY_IN,)).status is RunStatus.SUCCEEDED

    # every request is applied by the store and its answer dropped
    bc_store.faults(rate=1.0, kinds=["drop_after"])
    lost = services.sync(hub, None, (Step.INVENTORY_OUT,))
    bc_store.faults(rate=0.0)

    assert lost.status is not RunStatus.SUCCEEDED
    assert any(e.key == "NEW-1" and e.code == "unknown-outcome" for e in lost.errors), lost
    assert calls(bc_store)[CREATE] == 1
    assert "NEW-1" in catalog(bc_store)  # the store has it; the hub does not know

    again = services.sync(hub, None, (Step.INVENTORY_OUT,))

    assert again.status is RunStatus.SUCCEEDED, again
    assert calls(bc_store)[CREATE] == 1  # looked up and adopted, never posted again
    message = str(again.steps["inventory-out"]["message"])
    assert "found 1 product(s) created before" in message, message
    assert bc_store.stock()["NEW-1"] == 2
