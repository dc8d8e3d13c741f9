"""How the BigCommerce connector names what it writes to: the reference each variant
gets from a catalog read (``to_web_variants``) and how a reference is read back
(``parse_ref``). Survivors of the mutation tool on connectors/bigcommerce/mapping.py
(issue 26); the products start from BigCommerce's documented example answer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stockbridge.connectors.bigcommerce.mapping import (
    Product,
    parse_ref,
    parse_time,
    read_quota,
    to_web_variants,
)
from tests.test_partner_shapes import documented


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("product:5:9", ("product", 5, 9)),
        ("product:5", ("product", 5, None)),
        ("variant:9:5", ("variant", 5, 9)),
        ("none:9:5", ("none", 5, 9)),
        ("none:absent", ("", None, None)),
        ("sku:5", ("", None, None)),
        (None, ("", None, None)),
    ],
)
def test_a_reference_reads_back_as_kind_product_and_variant(
    ref: str | None, parsed: tuple[str, int | None, int | None]
) -> None:
    assert parse_ref(ref) == parsed


def product(tracking: str, variants: list[dict[str, Any]], **fields: Any) -> Product:
    """BigCommerce's documented product with ``variants`` (each the documented variant
    with the given fields)."""
    base = {**documented("product"), "inventory_tracking": tracking, **fields}
    shaped = [{**documented("variant"), "product_id": base["id"], **v} for v in variants]
    return Product.model_validate({**base, "variants": shaped})


def test_tracked_by_product_only_the_base_variant_or_the_products_sku_carries_stock() -> None:
    made = product(
        "product",
        [
            {"id": 1, "sku": "", "price": 1},  # no SKU: the hub cannot address it
            {"id": 2, "sku": "BASE", "price": None},  # the base variant: product's price
            {"id": 3, "sku": "MAIN", "price": 4},  # the product's own SKU
            {"id": 4, "sku": "OTHER", "price": 6},
        ],
        id=10,
        sku="MAIN",
        base_variant_id=2,
        price=7.95,
        inventory_level=12,
    )
    got = {v.sku: (v.partner_ref, v.price, v.quantity) for v in to_web_variants(made)}
    assert got == {
        "BASE": ("product:10:2", Decimal("7.95"), 12),
        "MAIN": ("product:10:3", Decimal("4"), 12),
        "OTHER": ("none:4:10", Decimal("6"), None),
    }


def test_tracked_by_variant_each_variant_carries_its_own_stock() -> None:
    made = product(
        "variant",
        [{"id": 5, "sku": "V-1", "inventory_level": 3}, {"id": 6, "sku": "V-2"}],
        id=11,
        base_variant_id=5,
    )
    got = {v.sku: (v.partner_ref, v.quantity) for v in to_web_variants(made)}
    assert got == {"V-1": ("variant:5:11", 3), "V-2": ("variant:6:11", 0)}


@pytest.mark.parametrize(
    "text",
    [
        "2018-09-05T20:42:07+00:00",  # v3, as the documented product's date_modified
        "2018-09-05T20:42:07Z",
        "2018-09-05T16:42:07-04:00",
        "2018-09-05T20:42:07",  # no zone: UTC
        "Wed, 05 Sep 2018 20:42:07 +0000",  # v2 (RFC 2822)
    ],
)
def test_partner_times_become_aware_utc(text: str) -> None:
    """Newest-wins compares these: every form BigCommerce writes is one aware UTC time."""
    moment = parse_time(text)
    assert moment == datetime(2018, 9, 5, 20, 42, 7, tzinfo=UTC)
    assert moment.tzinfo is UTC


def test_the_quota_headers_are_read_as_bigcommerce_names_them() -> None:
    """The limiter paces by X-Rate-Limit-Requests-Left / -Quota / -Time-Reset-Ms."""
    headers = {
        "X-Rate-Limit-Requests-Left": "7",
        "X-Rate-Limit-Requests-Quota": "150",
        "X-Rate-Limit-Time-Reset-Ms": "2500",
    }
    report = read_quota(httpx.Response(200, headers=headers))
    assert (report.left, report.quota, report.reset_seconds) == (7, 150, 2.5)
