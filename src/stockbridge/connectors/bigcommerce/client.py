"""The BigCommerce web-store connector: catalog, orders (v2), inventory (absolute
adjustments), status write-back and webhook upkeep, over the shared partner transport.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from stockbridge.connectors.bigcommerce import books_read, mapping
from stockbridge.connectors.bigcommerce.webhooks import SCOPES, SECRET_HEADER
from stockbridge.connectors.errors import (
    PartnerError,
    PartnerResponseError,
    TransientPartnerError,
)
from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.paging import BoundaryPaginator, PageAnswer, PageNumberPaginator
from stockbridge.connectors.ratelimit import RateLimiter
from stockbridge.connectors.registry import ConnectorEnv
from stockbridge.domain.batching import batched
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BatchResult,
    ItemError,
    Page,
    StockUpdate,
    WebOrder,
    WebVariant,
)
from stockbridge.domain.reconcile import WebPeriod
from stockbridge.domain.web_catalog import ABSENT_REF, CatalogUpdate, NewProduct, money_text

__all__ = ["DEFAULT_API_URL", "BigCommerceStore", "create"]

DEFAULT_API_URL = "https://api.bigcommerce.com"
PRODUCTS_PAGE = 250  # the largest page the catalog API allows
ORDERS_PAGE = 250
#: The order list brings each order's lines in its consignments (shipping, pickup,
#: digital, gift certificates): 250 orders with their lines a call.
ORDERS_INCLUDE = {"include": "consignments.line_items", "consignment_structure": "object"}
#: Orders handed over (and committed by the hub) together, each with its lines. Where the
#: list could not bring them (mapping.included_lines) an order costs a line call: at the
#: Standard quota (150 calls / 30 s) a unit is then about 4 s of calls, which is what a
#: crash can throw away, instead of the ~50 s of a 250-order page.
ORDERS_UNIT = 20
LINES_PAGE = 50  # order products page at most 50
INVENTORY_BATCH = 2000  # absolute adjustments: at most 2,000 items a call
VARIANT_BATCH = 50  # PUT /v3/catalog/variants: at most 50 variants a call
PRODUCT_BATCH = 10  # PUT /v3/catalog/products: at most 10 products a call
LOOKUP_BATCH = 50  # SKUs per look-up (sku:in), keeping the URL short
#: Weight of a product the hub creates (required by BigCommerce; the merchant sets it).
NEW_PRODUCT_WEIGHT = 0
PARTNER = "bigcommerce"

V2 = TypeVar("V2", mapping.V2Order, mapping.V2OrderProduct)


class BigCommerceStore:
    """A BigCommerce store, addressed by its store hash.

    Settings: ``store_hash``, ``api_url`` (replaces https://api.bigcommerce.com),
    ``locations`` (hub location -> BigCommerce location id; "default" is 1),
    ``status_after_post`` (a status id to write back once the back office accepted an
    order; none by default), ``webhook_url`` (where hooks deliver; none: polling only).
    Secrets: ``access_token``, ``webhook_secret``.
    """

    max_inventory_batch = INVENTORY_BATCH
    catalog_batch = VARIANT_BATCH

    def __init__(self, env: ConnectorEnv) -> None:
        settings = env.settings
        self.store_hash = str(settings["store_hash"])
        self.api_url = str(settings.get("api_url") or DEFAULT_API_URL).rstrip("/")
        self.locations: Mapping[str, int] = {DEFAULT_LOCATION: 1, **settings.get("locations", {})}
        status = settings.get("status_after_post")
        self.status_after_post = int(status) if status is not None else None
        self.webhook_url: str | None = settings.get("webhook_url")
        self.vault = env.vault
        token = env.vault.load().get("access_token", "")
        client = env.http_client(
            f"{self.api_url}/stores/{self.store_hash}",
            headers={
                "X-Auth-Token": token,
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
        )
        limiter = env.limiters.get(f"{PARTNER}:{self.store_hash}", RateLimiter)
        self.http = PartnerHttp(
            partner=PARTNER,
            client=client,
            limiter=limiter,
            retry=env.retry,
            read_quota=mapping.read_quota,
            retry_after=mapping.retry_after,
            describe_error=mapping.describe_error,
        )

    # helpers -------------------------------------------------------------------

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 204:
            return None
        if response.status_code >= 400:
            raise PartnerError(
                f"{what}: {response.status_code} {mapping.describe_error(response)}",
                partner=PARTNER,
                code=str(response.status_code),
            )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise PartnerResponseError(
                f"{what}: answer is not JSON ({exc})", partner=PARTNER
            ) from None

    def _v3_data(self, path: str, params: dict[str, Any], what: str) -> tuple[list[Any], Any]:
        body = self._json(self.http.request("GET", path, params=params), what)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise PartnerResponseError(f"{what}: no data list in the answer", partner=PARTNER)
        meta = body.get("meta")
        return body["data"], meta.get("pagination") if isinstance(meta, dict) else None

    def _v3_page(
        self, path: str, params: dict[str, Any], what: str
    ) -> tuple[list[Any], mapping.Pagination]:
        data, pagination = self._v3_data(path, params, what)
        return data, mapping.parse(mapping.Pagination, pagination, f"{what} paging")

    # WebStore ------------------------------------------------------------------

    def close(self) -> None:
        self.http.client.close()

    def check(self) -> str:
        _, pagination = self._v3_page("/v3/catalog/products", {"limit": 1}, "catalog")
        return f"BigCommerce store {self.store_hash} ({pagination.total} products)"

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        params: dict[str, Any] = {
            "include": "variants",
            "limit": PRODUCTS_PAGE,
            "sort": "date_modified",
            "direction": "asc",
        }
        if since is not None:
            params["date_modified:min"] = since.isoformat()
        pages = PageNumberPaginator(PRODUCTS_PAGE, partner=PARTNER, what="catalog products")
        for page in pages:
            data, pagination = self._v3_page(
                "/v3/catalog/products", {**params, "page": page}, "catalog products"
            )
            products = [mapping.parse(mapping.Product, item, "product") for item in data]
            if products:
                # No total: the store counts products, the page holds their variants.
                variants = [v for product in products for v in mapping.to_web_variants(product)]
                yield Page(tuple(variants), cursor=products[-1].date_modified)
            pages.advance(
                PageAnswer(
                    len(products),
                    tuple(product.id for product in products),
                    total_pages=pagination.total_pages,
                    answered=pagination.current_page,
                )
            )

    def product_of(self, partner_ref: str) -> str | None:
        _kind, product_id, _variant_id = mapping.parse_ref(partner_ref)
        return None if product_id is None else str(product_id)

    def read_products(self, product_ids: Sequence[str]) -> list[WebVariant]:
        """``GET /v3/catalog/products?id:in=...&include=variants``, ``PRODUCTS_PAGE``
        products a call (ids that are not numbers are left out)."""
        wanted = sorted({int(p) for p in product_ids if p.isdigit()})
        variants: list[WebVariant] = []
        for chunk in batched(wanted, LOOKUP_BATCH):
            data, _ = self._v3_page(
                "/v3/catalog/products",
                {
                    "id:in": ",".join(str(i) for i in chunk),
                    "include": "variants",
                    "limit": PRODUCTS_PAGE,
                },
                "catalog products",
            )
            for item in data:
                product = mapping.parse(mapping.Product, item, "product")
                variants += mapping.to_web_variants(product)
        return variants

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        """Orders changed at or after ``since``, oldest change first, re-opened at the last
        change seen after each full page (``BoundaryPaginator``: an order modified while we
        page cannot hide another). Orders seen at the boundary are not yielded twice.

        A page brings its orders' lines (``ORDERS_INCLUDE``); an order whose lines it
        could not bring costs line calls, so a page is handed over in units of
        ``ORDERS_UNIT`` orders, each with its lines, for the hub to commit one by one. A
        unit's cursor is the modification time of its last order (in list order, whether
        taken in or not): every order before it in the list is in this unit or an earlier
        one, and every order after it was modified at or after that time, so resuming
        there ("modified at or after") reads again, never skips, those not yet committed,
        including any that share its instant. The paginator (and its loop guard) still
        sees whole pages: it moves on once the last unit of a page was taken.
        """
        pages = BoundaryPaginator(since, ORDERS_PAGE, partner=PARTNER, what="orders")
        for at in pages:
            params: dict[str, Any] = {
                "sort": "date_modified:asc",
                "limit": ORDERS_PAGE,
                "page": at.page,
                **ORDERS_INCLUDE,
            }
            if at.since is not None:
                params["min_date_modified"] = at.since.isoformat()
            orders = self._v2_list("/v2/orders", params, mapping.V2Order, "order", "orders")
            for start in range(0, len(orders), ORDERS_UNIT):
                unit = orders[start : start + ORDERS_UNIT]
                taken = [
                    mapping.to_web_order(
                        order, self._order_lines(order), self._order_refunds(order)
                    )
                    for order in unit
                    if pages.is_new((order.id, order.date_modified))
                    and order.status_id != 0  # incomplete: an abandoned checkout, never taken in
                ]
                yield Page(tuple(taken), cursor=unit[-1].date_modified)
            pages.advance([(order.id, order.date_modified) for order in orders])

    def books_period(self, start: date, end: date) -> WebPeriod:
        """The period's orders and refunds for the month-end check (``books_read``)."""
        return books_read.read_period(self, start, end)

    def _order_lines(self, order: mapping.V2Order) -> list[mapping.V2OrderProduct]:
        """The lines the list brought, else ``GET /v2/orders/{id}/products`` page by page."""
        included = mapping.included_lines(order)
        if included is not None:
            return included
        order_id = order.id
        lines: list[mapping.V2OrderProduct] = []
        path, label = f"/v2/orders/{order_id}/products", f"order {order_id} products"
        pages = PageNumberPaginator(LINES_PAGE, partner=PARTNER, what=label)
        for page in pages:
            params = {"limit": LINES_PAGE, "page": page}
            rows = self._v2_list(path, params, mapping.V2OrderProduct, "order product", label)
            lines.extend(rows)
            pages.advance(PageAnswer(len(rows), tuple(row.id for row in rows)))
        return lines

    def _order_refunds(self, order: mapping.V2Order) -> list[mapping.V3Refund]:
        """The order's refunds, read only when it has some (``refunded_amount`` > 0):
        ``GET /v3/orders/{id}/payment_actions/refunds`` (one call, not paged)."""
        if order.refunded_amount <= 0:
            return []
        label = f"order {order.id} refunds"
        data, _ = self._v3_data(f"/v3/orders/{order.id}/payment_actions/refunds", {}, label)
        return [mapping.parse(mapping.V3Refund, item, "refund") for item in data]

    def _v2_list(
        self, path: str, params: dict[str, Any], model: type[V2], what: str, label: str
    ) -> list[V2]:
        """One page of a v2 list of ``model``; an empty page answers 204 with no body."""
        body = self._json(self.http.request("GET", path, params=params), label)
        if body is None:
            return []
        if not isinstance(body, list):
            raise PartnerResponseError(f"{label}: answer is not a list", partner=PARTNER)
        return [mapping.parse(model, item, what) for item in body]

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        errors: list[ItemError] = []
        items: list[tuple[StockUpdate, dict[str, Any]]] = []
        for update in updates:
            item = self._address(update)
            if isinstance(item, ItemError):
                errors.append(item)
            elif item is not None:
                items.append((update, item))
        for chunk in batched(items, INVENTORY_BATCH):
            errors.extend(self._put_absolute(list(chunk)))
        return BatchResult(tuple(errors))

    def _address(self, update: StockUpdate) -> dict[str, Any] | ItemError | None:
        location = self.locations.get(update.location)
        if location is None:
            if not update.location.isdigit():
                return ItemError(update.sku, f"no BigCommerce location for {update.location!r}")
            location = int(update.location)
        item: dict[str, Any] = {"location_id": location, "quantity": update.quantity}
        kind, product_id, variant_id = mapping.parse_ref(update.partner_ref)
        if kind == "none" or update.partner_ref == ABSENT_REF:
            return None  # stock not tracked on the web (or tracked on its product): leave alone
        if kind == "product" and product_id is not None:
            item["product_id"] = product_id
        elif kind == "variant" and variant_id is not None:
            item["variant_id"] = variant_id
        else:
            item["sku"] = update.sku  # not read from the catalog yet: address by SKU
        return item

    def _put_absolute(self, chunk: list[tuple[StockUpdate, dict[str, Any]]]) -> list[ItemError]:
        """PUT one batch. A 422 applies nothing and names the bad items: drop those (as
        item errors) and send the rest again, until it is accepted or empty.
        """
        errors: list[ItemError] = []
        while chunk:
            response = self.http.request(
                "PUT",
                "/v3/inventory/adjustments/absolute",
                json={"reason": "Stockbridge sync", "items": [item for _, item in chunk]},
            )
            if response.status_code != 422:
                self._json(response, "inventory adjustment")
                return errors
            bad = self._bad_items(response, len(chunk))
            if not bad:
                raise PartnerError(
                    f"inventory adjustment refused: {mapping.describe_error(response)}",
                    partner=PARTNER,
                    code="422",
                )
            for index, message in sorted(bad.items()):
                errors.append(ItemError(chunk[index][0].sku, message, "422"))
            chunk = [pair for i, pair in enumerate(chunk) if i not in bad]
        return errors

    @staticmethod
    def _bad_items(response: httpx.Response, size: int) -> dict[int, str]:
        """Map item index -> message from a 422's ``errors`` (keys like ``items.3`` or
        ``items.3.variant_id``)."""
        try:
            errors = response.json().get("errors", {})
        except (ValueError, AttributeError):
            return {}
        bad: dict[int, str] = {}
        if isinstance(errors, dict):
            for key, message in errors.items():
                parts = str(key).replace("[", ".").replace("]", "").split(".")
                if len(parts) >= 2 and parts[0] == "items" and parts[1].isdigit():
                    index = int(parts[1])
                    if 0 <= index < size:
                        bad[index] = str(message)
        return bad

    # catalog: create, look up, prices, names, visibility ---------------------------

    def find_skus(self, skus: Sequence[str]) -> Mapping[str, str]:
        """``GET /v3/catalog/products?sku:in=...&include=variants`` (product SKUs, which
        are what the hub creates), ``LOOKUP_BATCH`` SKUs a call."""
        found: dict[str, str] = {}
        wanted = set(skus)
        for chunk in batched(sorted(wanted), LOOKUP_BATCH):
            data, _ = self._v3_page(
                "/v3/catalog/products",
                {"sku:in": ",".join(chunk), "include": "variants", "limit": PRODUCTS_PAGE},
                "product look-up",
            )
            for item in data:
                product = mapping.parse(mapping.Product, item, "product")
                for variant in mapping.to_web_variants(product):
                    if variant.sku in wanted:
                        found[variant.sku] = variant.partner_ref
        return found

    def create_product(self, product: NewProduct) -> str | ItemError:
        """``POST /v3/catalog/products``: one physical product tracked by product, stock 0
        (the stock push sets it), hidden unless ``visible``. Not repeated by the
        transport (a lost answer raises); a 409 for a SKU that exists already is an
        earlier creation whose answer was lost: its reference is looked up and kept."""
        body = {
            "name": product.name,
            "type": "physical",
            "sku": product.sku,
            "price": _money(product.price),
            "weight": NEW_PRODUCT_WEIGHT,
            "inventory_tracking": "product",
            "inventory_level": 0,
            "is_visible": product.visible,
        }
        response = self.http.request(
            "POST",
            "/v3/catalog/products",
            params={"include": "variants"},
            json=body,
            idempotent=False,
        )
        if response.status_code in (409, 422):
            if response.status_code == 409:
                existing = self.find_skus([product.sku]).get(product.sku)
                if existing is not None:
                    return existing
            return ItemError(
                product.sku,
                f"BigCommerce refused to create it: {mapping.describe_error(response)}",
                str(response.status_code),
            )
        answer = self._json(response, f"create product {product.sku}")
        data = answer.get("data") if isinstance(answer, dict) else None
        created = mapping.parse(mapping.Product, data, "created product")
        refs = {v.sku: v.partner_ref for v in mapping.to_web_variants(created)}
        ref = refs.get(product.sku)
        if ref is None:
            base = created.base_variant_id
            ref = f"product:{created.id}:{base}" if base is not None else f"product:{created.id}"
        return ref

    def update_catalog(self, updates: Sequence[CatalogUpdate]) -> BatchResult:
        """Prices by variant (``PUT /v3/catalog/variants``, 50 a call) where the reference
        names the variant, else by product; names and visibility by product
        (``PUT /v3/catalog/products``, 10 a call). A 422 names the bad items: they become
        item errors and the rest of the batch is sent again."""
        errors: list[ItemError] = []
        by_variant: list[tuple[str, dict[str, Any]]] = []
        by_product: dict[int, tuple[str, dict[str, Any]]] = {}
        for update in updates:
            _kind, product_id, variant_id = mapping.parse_ref(update.partner_ref)
            product_fields: dict[str, Any] = {}
            if update.price is not None:
                if variant_id is not None:
                    by_variant.append(
                        (update.sku, {"id": variant_id, "price": _money(update.price)})
                    )
                else:
                    product_fields["price"] = _money(update.price)
            if update.name is not None:
                product_fields["name"] = update.name
            if update.visible is not None:
                product_fields["is_visible"] = update.visible
            if not product_fields:
                continue
            if product_id is None:
                errors.append(
                    ItemError(
                        update.sku,
                        "the product id is not known yet (read the web catalog again)",
                        "no-product-id",
                    )
                )
                continue
            sku, fields = by_product.get(product_id, (update.sku, {"id": product_id}))
            by_product[product_id] = (sku, {**fields, **product_fields})
        for chunk in batched(by_variant, VARIANT_BATCH):
            errors.extend(self._put_batch("/v3/catalog/variants", list(chunk), "variants"))
        for chunk in batched(list(by_product.values()), PRODUCT_BATCH):
            errors.extend(self._put_batch("/v3/catalog/products", list(chunk), "products"))
        return BatchResult(tuple(errors))

    def _put_batch(
        self, path: str, chunk: list[tuple[str, dict[str, Any]]], what: str
    ) -> list[ItemError]:
        """PUT one batch; a 422 naming items (``0.price``, ``items.0``...) drops those as
        item errors and sends the rest again."""
        errors: list[ItemError] = []
        while chunk:
            response = self.http.request("PUT", path, json=[item for _, item in chunk])
            if response.status_code != 422:
                self._json(response, f"update {what}")
                return errors
            bad = _bad_indexes(response, len(chunk))
            if not bad:
                raise PartnerError(
                    f"update {what} refused: {mapping.describe_error(response)}",
                    partner=PARTNER,
                    code="422",
                )
            for index, message in sorted(bad.items()):
                errors.append(ItemError(chunk[index][0], message, "422"))
            chunk = [pair for i, pair in enumerate(chunk) if i not in bad]
        return errors

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        if self.status_after_post is None:
            return BatchResult()
        errors: list[ItemError] = []
        for n, web_id in enumerate(web_ids):
            try:
                response = self.http.request(
                    "PUT", f"/v2/orders/{int(web_id)}", json={"status_id": self.status_after_post}
                )
            except TransientPartnerError as exc:
                # The store stopped answering: this order's outcome is unknown and the rest
                # were not tried. Those before it were set; they are not reported.
                errors.extend(
                    ItemError(w, f"not set: {exc.message}", "unavailable") for w in web_ids[n:]
                )
                break
            if response.status_code >= 400:
                errors.append(
                    ItemError(web_id, mapping.describe_error(response), str(response.status_code))
                )
        return BatchResult(tuple(errors))

    def maintain(self) -> list[str]:
        """Re-activate our webhooks that the store deactivated after failed deliveries, and
        register any that are missing."""
        if not self.webhook_url:
            return []
        return self.ensure_webhooks()

    def ensure_webhooks(self) -> list[str]:
        """Make sure every scope the hub follows has an active hook to ``webhook_url`` that
        sends the shared secret. Creates the secret on first use. Returns what changed.
        """
        assert self.webhook_url
        with self.vault.update() as secrets_now:
            if not secrets_now.get("webhook_secret"):
                secrets_now["webhook_secret"] = secrets.token_urlsafe(32)
            secret = secrets_now["webhook_secret"]
        hooks, _ = self._v3_data("/v3/hooks", {}, "webhooks")
        ours = {
            str(h.get("scope")): h
            for h in hooks
            if isinstance(h, dict) and h.get("destination") == self.webhook_url
        }
        notes: list[str] = []
        for scope in SCOPES:
            hook = ours.get(scope)
            if hook is None:
                body = {
                    "scope": scope,
                    "destination": self.webhook_url,
                    "is_active": True,
                    "headers": {SECRET_HEADER: secret},
                }
                self._json(self.http.request("POST", "/v3/hooks", json=body), f"register {scope}")
                notes.append(f"registered webhook {scope}")
            elif (
                not hook.get("is_active")
                or (hook.get("headers") or {}).get(SECRET_HEADER) != secret
            ):
                self._json(
                    self.http.request(
                        "PUT",
                        f"/v3/hooks/{hook['id']}",
                        json={"is_active": True, "headers": {SECRET_HEADER: secret}},
                    ),
                    f"re-activate {scope}",
                )
                notes.append(
                    f"re-activated webhook {scope}"
                    if not hook.get("is_active")
                    else f"updated the secret of webhook {scope}"
                )
        return notes


def _money(price: Decimal) -> Any:
    """A price as a JSON number (BigCommerce takes numbers), two decimals."""
    return json.loads(money_text(price)) if price >= 0 else float(price)


def _bad_indexes(response: httpx.Response, size: int) -> dict[int, str]:
    """Item index -> "field: message" from a batch 422's ``errors`` (keys like
    ``0.price`` or ``items.0.price``)."""
    try:
        errors = response.json().get("errors", {})
    except (ValueError, AttributeError):
        return {}
    bad: dict[int, str] = {}
    if isinstance(errors, dict):
        for key, message in errors.items():
            parts = [p for p in str(key).replace("[", ".").replace("]", "").split(".") if p]
            if parts and parts[0] == "items":
                parts = parts[1:]
            if parts and parts[0].isdigit() and 0 <= int(parts[0]) < size:
                field_name = ".".join(parts[1:]) or "item"
                bad[int(parts[0])] = f"{field_name}: {message}"
    return bad


def create(env: ConnectorEnv) -> BigCommerceStore:
    return BigCommerceStore(env)
