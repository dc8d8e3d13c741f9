"""An order's consignments as ``GET /v2/orders`` and ``/v2/orders/{id}`` include them.

BigCommerce's Orders v2 reference (reference/orders.v2.oas2.yml in
https://github.com/bigcommerce/docs, schema ``orderConsignment_Get``): with
``include=consignments&consignment_structure=object`` an order carries
``consignments: {"pickups": [...], "shipping": [...], "downloads": [...], "email":
{"gift_certificates": [...]}}`` whose ``line_items`` are links (``url``, ``resource``);
with ``include=consignments.line_items`` they are the order products themselves (what
``/v2/orders/{id}/products`` answers). Without ``include`` the order names the
sub-resources only (``products`` and ``consignments`` as ``url`` + ``resource``).

A consignment includes at most 50 line items; past that it carries ``__warning__`` and
the rest must be read from ``/v2/orders/{id}/products`` (an undocumented limit reported
in https://github.com/bigcommerce/docs/issues/960, with the warning's text).
The default (legacy) array structure is not documented field by field; this sandbox
answers it as a list holding the object structure (unconfirmed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.sandbox.state import SOrder

__all__ = ["FULFILMENTS", "INCLUDED_LINES", "consignments_json", "resource_links"]

#: How an order is fulfilled, as the admin API takes it (one consignment per order).
FULFILMENTS = ("shipping", "pickup", "digital")
#: Line items a consignment includes at most (issue 960 above).
INCLUDED_LINES = 50
WARNING = (
    "Not all line items of this consignment are returned with this response, only 50 are "
    "included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line "
    "items."
)


def resource_links(base: str, order_id: int) -> dict[str, Any]:
    """The sub-resource links every order carries (``products``, ``consignments``...)."""

    def link(tail: str) -> dict[str, str]:
        return {
            "url": f"{base}/v2/orders/{order_id}/{tail}",
            "resource": f"/orders/{order_id}/{tail}",
        }

    return {
        "products": link("products"),
        "shipping_addresses": link("shippingaddresses"),
        "coupons": link("coupons"),
    }


def consignments_json(
    order: SOrder, base: str, *, with_lines: bool, as_object: bool
) -> dict[str, Any] | list[dict[str, Any]]:
    """The order's consignments: line items as links, or (``with_lines``) as the order
    products, at most ``INCLUDED_LINES`` a consignment with ``__warning__`` past that."""
    lines: list[dict[str, Any]]
    if with_lines:
        lines = [dict(line) for line in order.lines[:INCLUDED_LINES]]
    else:
        lines = [
            {
                "url": f"{base}/v2/orders/{order.id}/products/{line['id']}",
                "resource": f"/orders/{order.id}/products/{line['id']}",
            }
            for line in order.lines
        ]
    consignment: dict[str, Any]
    if order.fulfilment == "pickup":
        consignment = {
            "id": order.id,
            "pickup_method_id": 1,
            "pickup_method_display_name": "Pick Up",
            "collection_instructions": "Bring your ID",
            "collection_time_description": "9am - 6pm",
            "location": {"id": 1, "name": "Location 1", "code": "LOCATION-1"},
            "line_items": lines,
        }
    elif order.fulfilment == "digital":
        consignment = {"recipient_email": order.email or "", "line_items": lines}
    else:
        consignment = {
            "id": order.id,
            "first_name": order.first_name,
            "last_name": order.last_name,
            "email": order.email,
            "shipping_method": "Free Shipping",
            "line_items": lines,
            "items_total": sum(int(line["quantity"]) for line in order.lines),
            "items_shipped": 0,
            "cost_ex_tax": float(order.shipping),
        }
    if with_lines and len(order.lines) > INCLUDED_LINES:
        consignment["__warning__"] = {"message": WARNING}
    kinds = {"shipping": "shipping", "pickup": "pickups", "digital": "downloads"}
    body: dict[str, Any] = {
        "pickups": [],
        "shipping": [],
        "downloads": [],
        "email": {"gift_certificates": []},
    }
    body[kinds[order.fulfilment]] = [consignment]
    return body if as_object else [body]
