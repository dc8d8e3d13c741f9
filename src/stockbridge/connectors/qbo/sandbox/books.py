"""The QuickBooks sandbox's books: items, customers, documents and tokens, with no HTTP
in sight. ``app`` serves it; ``query`` reads its query language.

As strict as Intuit documents: MAXRESULTS at most 1,000; CDC at most 30 days back and
1,000 objects; DocNumber at most 21 characters; references must exist; inactive items
refuse sales (fault 610); a sale of an Inventory item lowers its QtyOnHand; refresh
tokens rotate on every refresh and the old one answers ``invalid_grant``.

Money (docs/facts-qbo-books.md): the server computes ``TotalAmt`` = item and shipping
lines - discount lines + ``TxnTaxDetail.TotalTax``; lines' ``Amount`` must equal
``Qty * UnitPrice``. The company's tax kind (``tax_mode``) decides what a sale must carry:
``ast`` (US automated sales tax: an explicit ``TotalTax`` is honoured as sent),
``us_codes`` (US without AST: lines ``TAX``/``NON``, a ``TxnTaxCodeRef`` when taxed),
``global`` (non-US: ``GlobalTaxCalculation`` and a ``TaxCodeRef`` on every sales line).
DisplayName is unique across customers, vendors and employees (fault 6240). A
RefundReceipt needs ``DepositToAccountRef`` and puts Inventory quantities back; a void
zeroes a SalesReceipt / Invoice (amounts, quantities back) and keeps it. ``ledger()``
sums the books: sales revenue, shipping income, sales tax payable, money in.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from stockbridge.connectors.qbo.sandbox.query import (
    MAX_RESULTS,
    matches,
    parse_query,
    parser_error,
    sort_rows,
    value_at,
)
from stockbridge.connectors.qbo.sandbox.wire import QboFault, stamp

__all__ = ["Books"]

CDC_DAYS = 30
SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"


# --- the books -------------------------------------------------------------------------


@dataclass
class Books:
    """One company (realm) and its OAuth app. Not thread-safe: served by one event loop."""

    realm_id: str = "9341452000000000"
    company_name: str = "Sandbox Company_US_1"
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    access_lifetime: int = 3600
    max_batch: int = 30
    duplicate_doc_warning: bool = False
    clock_offset: float = 0.0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Vendors and employees: only their DisplayName matters here (it blocks customers').
    other_names: dict[str, str] = field(default_factory=dict)
    documents: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"SalesReceipt": [], "Invoice": [], "RefundReceipt": []}
    )
    tax_mode: str = "ast"  # ast | us_codes | global
    tax_codes: dict[str, str] = field(
        default_factory=lambda: {"TAX": "TAX", "NON": "NON", "2": "California", "3": "GST"}
    )
    accounts: dict[str, str] = field(
        default_factory=lambda: {"35": "Checking", "36": "Savings", "4": "Undeposited Funds"}
    )
    payment_methods: dict[str, str] = field(
        default_factory=lambda: {
            "1": "Cash",
            "2": "Check",
            "3": "Visa",
            "4": "MasterCard",
            "5": "PayPal",
        }
    )
    refreshes: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _access: dict[str, float] = field(default_factory=dict)  # sha256(token) -> expiry
    _refresh: dict[str, str] = field(default_factory=dict)  # sha256(token) -> "live"/"used"
    #: Redirect URIs registered for the app (Intuit sends the browser only to these);
    #: empty: any (the sandbox's default, so the demo need not know its port first).
    redirect_uris: set[str] = field(default_factory=set)
    #: Seconds an authorization code may wait for its exchange.
    code_lifetime: int = 600
    #: sha256(code) -> (redirect_uri, expiry epoch, used)
    _codes: dict[str, list[Any]] = field(default_factory=dict)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    # tokens ---------------------------------------------------------------------------

    def issue_refresh_token(self) -> str:
        token = f"RT1-{secrets.token_urlsafe(24)}"
        self._refresh[_hash(token)] = "live"
        return token

    def client_ok(self, client_id: str, client_secret: str) -> bool:
        return hmac.compare_digest(client_id, self.client_id) & hmac.compare_digest(
            client_secret, self.client_secret
        )

    def refresh(self, refresh_token: str) -> dict[str, Any] | None:
        """A new access token and a NEW refresh token; None (invalid_grant) for an unknown,
        revoked or already rotated refresh token."""
        key = _hash(refresh_token)
        if self._refresh.get(key) != "live":
            return None
        self._refresh[key] = "used"
        self.refreshes += 1
        return self._tokens()

    def _tokens(self) -> dict[str, Any]:
        access = f"AT-{secrets.token_urlsafe(24)}"
        self._access[_hash(access)] = self.now().timestamp() + self.access_lifetime
        return {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": self.access_lifetime,
            "refresh_token": self.issue_refresh_token(),
            "x_refresh_token_expires_in": 8640000,
        }

    def issue_code(self, redirect_uri: str) -> str:
        """An authorization code for the consent just given, bound to ``redirect_uri``."""
        code = f"AB11{secrets.token_urlsafe(32)}"
        expiry = self.now().timestamp() + self.code_lifetime
        self._codes[_hash(code)] = [redirect_uri, expiry, False]
        return code

    def redeem(self, code: str, redirect_uri: str) -> dict[str, Any] | None:
        """Tokens for an authorization code; None (invalid_grant) for an unknown, expired
        or already used code, or another redirect_uri. A code works once."""
        entry = self._codes.get(_hash(code))
        if entry is None or entry[2] or entry[1] <= self.now().timestamp():
            return None
        entry[2] = True
        if entry[0] != redirect_uri:
            return None
        return self._tokens()

    def access_ok(self, token: str) -> bool:
        expiry = self._access.get(_hash(token))
        return expiry is not None and expiry > self.now().timestamp()

    def expire_access_tokens(self) -> None:
        self._access.clear()

    def revoke(self, token: str) -> bool:
        """Revoke one refresh or access token (Intuit's revoke endpoint); False if unknown."""
        key = _hash(token)
        if key in self._refresh:
            self._refresh[key] = "revoked"
            return True
        return self._access.pop(key, None) is not None

    def revoke_refresh_tokens(self) -> None:
        self._refresh = {k: "revoked" for k in self._refresh}

    # seeding --------------------------------------------------------------------------

    def add_item(self, spec: dict[str, Any]) -> dict[str, Any]:
        kind = str(spec.get("type", "Inventory"))
        item: dict[str, Any] = {
            "Id": str(next(self._ids)),
            "Name": str(spec.get("name") or spec.get("sku") or "item"),
            "Type": kind,
            "Active": bool(spec.get("active", True)),
            "UnitPrice": Decimal(str(spec.get("price", "9.99"))),
            "SyncToken": "0",
            "MetaData": {"CreateTime": stamp(self.now()), "LastUpdatedTime": stamp(self.now())},
        }
        if spec.get("sku"):
            item["Sku"] = str(spec["sku"])
        if kind == "Inventory":
            item["QtyOnHand"] = int(spec.get("qty", 0))
            item["TrackQtyOnHand"] = True
        self.items[item["Id"]] = item
        return item

    def change_item(self, sku: str, changes: dict[str, Any]) -> dict[str, Any]:
        item = self.item_by_sku(sku)
        if item is None:
            raise QboFault("610", "Object Not Found", detail=f"no item with Sku {sku}", status=404)
        if "qty" in changes:
            item["QtyOnHand"] = int(changes["qty"])
        if "price" in changes:
            item["UnitPrice"] = Decimal(str(changes["price"]))
        if "active" in changes:
            item["Active"] = bool(changes["active"])
        if "name" in changes:
            item["Name"] = str(changes["name"])
        self._touch(item)
        return item

    def item_by_sku(self, sku: str) -> dict[str, Any] | None:
        return next((i for i in self.items.values() if i.get("Sku") == sku), None)

    def _name_taken(self, name: str) -> bool:
        wanted = name.strip().casefold()
        names = [c["DisplayName"] for c in self.customers.values()]
        names.extend(self.other_names.values())
        return any(n.strip().casefold() == wanted for n in names)

    def add_customer(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if self._name_taken(name):
            raise QboFault(
                "6240",
                "Duplicate Name Exists Error",
                detail="The name supplied already exists. : Another customer, vendor or "
                "employee is already using this name. Please use a different name.",
                element="DisplayName",
            )
        customer: dict[str, Any] = {"Id": str(next(self._ids)), "DisplayName": name}
        for key in ("GivenName", "FamilyName", "PrimaryEmailAddr"):
            if body is not None and key in body:
                customer[key] = body[key]
        customer["SyncToken"] = "0"
        self.customers[customer["Id"]] = customer
        return customer

    def add_other_name(self, kind: str, name: str) -> str:
        """A vendor or employee, whose DisplayName no customer may take."""
        if self._name_taken(name):
            raise QboFault("6240", "Duplicate Name Exists Error", element="DisplayName")
        ident = str(next(self._ids))
        self.other_names[ident] = name
        return f"{kind} {ident}"

    def _touch(self, item: dict[str, Any]) -> None:
        item["SyncToken"] = str(int(item["SyncToken"]) + 1)
        item["MetaData"]["LastUpdatedTime"] = stamp(self.now())

    # reading --------------------------------------------------------------------------

    def _table(self, entity: str) -> list[dict[str, Any]]:
        tables = {
            "item": list(self.items.values()),
            "customer": list(self.customers.values()),
            "salesreceipt": self.documents["SalesReceipt"],
            "invoice": self.documents["Invoice"],
            "refundreceipt": self.documents["RefundReceipt"],
        }
        try:
            return tables[entity.lower()]
        except KeyError:
            raise parser_error(f"unknown entity {entity}") from None

    def query(self, text: str) -> dict[str, Any]:
        query = parse_query(text)
        rows = [
            row
            for row in self._table(query.entity)
            if all(matches(row, f, op, values) for f, op, values in query.conditions)
        ]
        rows = sort_rows(rows, query)
        if query.count:
            return {"QueryResponse": {"totalCount": len(rows)}, "time": stamp(self.now())}
        page = rows[query.start - 1 : query.start - 1 + query.max_results]
        response: dict[str, Any] = {}
        if page:
            name = {"salesreceipt": "SalesReceipt", "refundreceipt": "RefundReceipt"}.get(
                query.entity.lower(), query.entity
            )
            name = name[0].upper() + name[1:]
            response = {name: page, "startPosition": query.start, "maxResults": len(page)}
        return {"QueryResponse": response, "time": stamp(self.now())}

    def cdc(self, entities: str, changed_since: str) -> dict[str, Any]:
        try:
            since = datetime.fromisoformat(changed_since)
        except ValueError:
            raise QboFault("4001", "Invalid query", detail="changedSince is not a date") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if since < self.now() - timedelta(days=CDC_DAYS):
            raise QboFault(
                "4001",
                "Invalid query",
                detail=f"changedSince may be at most {CDC_DAYS} days in the past",
                element="changedSince",
            )
        answers = []
        for entity in filter(None, (e.strip() for e in entities.split(","))):
            rows = [
                r
                for r in self._table(entity)
                if datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) >= since
            ]
            rows.sort(key=lambda r: datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]))
            rows = rows[:MAX_RESULTS]
            answers.append({entity: rows, "startPosition": 1, "maxResults": len(rows)})
        return {"CDCResponse": [{"QueryResponse": answers}], "time": stamp(self.now())}

    # writing --------------------------------------------------------------------------

    def create(self, entity: str, body: Any) -> dict[str, Any]:
        """Validate and book one SalesReceipt / Invoice / RefundReceipt; raises QboFault
        (nothing booked)."""
        if not isinstance(body, dict):
            raise QboFault("2020", "Required param missing", detail=f"{entity} body")
        number = body.get("DocNumber")
        if number is not None and (not isinstance(number, str) or len(number) > 21):
            raise QboFault(
                "6000",
                "A business validation error has occurred while processing your request",
                detail="DocNumber: String length is longer than supported. Max:21",
                element="DocNumber",
            )
        customer = value_at(body, "CustomerRef.value")
        if str(customer) not in self.customers:
            raise QboFault(
                "2500", "Invalid Reference Id", detail="Customer not found", element="CustomerRef"
            )
        if self.duplicate_doc_warning and any(
            d.get("DocNumber") == number for d in self.documents[entity]
        ):
            raise QboFault(
                "6140", "Duplicate Document Number Error", detail=str(number), element="DocNumber"
            )
        self._check_refs(entity, body)
        lines = body.get("Line")
        if not isinstance(lines, list) or not lines:
            raise QboFault("2020", "Required param missing", detail="Line", element="Line")
        moved: list[tuple[dict[str, Any], int]] = []
        sales = shipping = discount = Decimal(0)
        for index, line in enumerate(lines):
            kind, item_qty, amount = self._line(index, line)
            if kind == "discount":
                discount += amount
            elif kind == "shipping":
                shipping += amount
            else:
                sales += amount
            if item_qty is not None:
                moved.append(item_qty)
        tax = self._tax(body, lines)
        sign = 1 if entity == "RefundReceipt" else -1  # a refund puts stock back
        for item, qty in moved:
            if item["Type"] == "Inventory":
                item["QtyOnHand"] += sign * qty
                self._touch(item)
        now = stamp(self.now())
        document = {
            **body,
            "Id": str(next(self._ids)),
            "SyncToken": "0",
            "TotalAmt": sales + shipping - discount + tax,
            "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
        }
        document.setdefault("TxnDate", self.now().date().isoformat())  # the server's date
        if "TxnTaxDetail" in body or tax:
            document["TxnTaxDetail"] = {**(body.get("TxnTaxDetail") or {}), "TotalTax": tax}
        self.documents[entity].append(document)
        return document

    def _check_refs(self, entity: str, body: dict[str, Any]) -> None:
        account = value_at(body, "DepositToAccountRef.value")
        if account is None and entity == "RefundReceipt":
            raise QboFault(
                "2020",
                "Required param missing, need to supply the required value for the API",
                detail="Required parameter DepositToAccountRef is missing in the request",
                element="DepositToAccountRef",
            )
        if account is not None and str(account) not in self.accounts:
            raise QboFault(
                "2500",
                "Invalid Reference Id",
                detail=f"Account {account} not found",
                element="DepositToAccountRef",
            )
        method = value_at(body, "PaymentMethodRef.value")
        if method is not None and str(method) not in self.payment_methods:
            raise QboFault(
                "2500",
                "Invalid Reference Id",
                detail=f"PaymentMethod {method} not found",
                element="PaymentMethodRef",
            )

    def _tax(self, body: dict[str, Any], lines: list[Any]) -> Decimal:
        """The document's tax as its company's tax kind requires it to be carried."""
        detail = body.get("TxnTaxDetail")
        total = value_at(body, "TxnTaxDetail.TotalTax")
        if total is not None and (not isinstance(total, int | Decimal) or total < 0):
            raise QboFault(
                "2010", "Request has invalid or unsupported property", element="TotalTax"
            )
        tax = Decimal(total or 0)
        sales_lines = [line for line in lines if line.get("DetailType") == "SalesItemLineDetail"]
        codes = [value_at(line, "SalesItemLineDetail.TaxCodeRef.value") for line in sales_lines]
        if self.tax_mode == "global":
            if body.get("GlobalTaxCalculation") not in (
                "TaxExcluded",
                "TaxInclusive",
                "NotApplicable",
            ):
                raise QboFault(
                    "6000",
                    "A business validation error has occurred while processing your request",
                    detail="GlobalTaxCalculation is required (TaxExcluded, TaxInclusive or "
                    "NotApplicable)",
                    element="GlobalTaxCalculation",
                )
            if any(code is None or str(code) not in self.tax_codes for code in codes):
                raise QboFault(
                    "6000",
                    "A business validation error has occurred while processing your request",
                    detail="Make sure all your transactions have a GST/VAT rate before saving",
                    element="TaxCodeRef",
                )
        elif self.tax_mode == "us_codes":
            if any(code is not None and str(code) not in ("TAX", "NON") for code in codes):
                raise QboFault("2500", "Invalid Reference Id", element="TaxCodeRef")
            txn_code = value_at(body, "TxnTaxDetail.TxnTaxCodeRef.value")
            if tax and (txn_code is None or str(txn_code) not in self.tax_codes):
                raise QboFault(
                    "2500",
                    "Invalid Reference Id",
                    detail="a taxed sale needs TxnTaxDetail.TxnTaxCodeRef",
                    element="TxnTaxCodeRef",
                )
        elif detail is not None and not isinstance(detail, dict):
            raise QboFault("2010", "Request has invalid or unsupported property")
        return tax

    def _line(
        self, index: int, line: Any
    ) -> tuple[str, tuple[dict[str, Any], int] | None, Decimal]:
        """(kind: item | shipping | discount, (item, qty) moved, amount) of one line."""
        element = f"Line[{index}]"
        if not isinstance(line, dict):
            raise QboFault("2020", "Required param missing", element=element)
        amount = line.get("Amount")
        if not isinstance(amount, int | Decimal) or amount < 0:
            raise QboFault("2020", "Required param missing", detail="Amount", element=element)
        kind = line.get("DetailType")
        if kind == "DiscountLineDetail":
            return "discount", None, Decimal(amount)
        if kind != "SalesItemLineDetail":
            raise QboFault("2010", "Request has invalid or unsupported property", element=element)
        ref = str(value_at(line, "SalesItemLineDetail.ItemRef.value"))
        if ref == SHIPPING_ITEM_ID:
            return "shipping", None, Decimal(amount)
        item = self.items.get(ref)
        if item is None:
            raise QboFault(
                "2500",
                "Invalid Reference Id",
                detail=f"Item {ref} not found",
                element=f"{element}.ItemRef",
            )
        if not item["Active"]:
            raise QboFault(
                "610",
                "Object Not Found",
                detail=f"Something you're trying to use has been made inactive: {item['Name']}",
                element=f"{element}.ItemRef",
            )
        qty = value_at(line, "SalesItemLineDetail.Qty")
        price = value_at(line, "SalesItemLineDetail.UnitPrice")
        priced = isinstance(qty, int | Decimal) and isinstance(price, int | Decimal)
        if priced and Decimal(qty) * Decimal(price) != Decimal(amount):
            raise QboFault(
                "6000",
                "A business validation error has occurred while processing your request",
                detail="Amount is not equal to UnitPrice * Qty",
                element=element,
            )
        moved = int(qty) if isinstance(qty, int | Decimal) else 1
        return "item", (item, moved), Decimal(amount)

    def read(self, entity: str, ident: str) -> dict[str, Any]:
        for document in self.documents.get(entity, []):
            if document["Id"] == ident:
                return document
        raise QboFault("610", "Object Not Found", detail=f"{entity} {ident} not found", status=400)

    def void(self, entity: str, body: Any) -> dict[str, Any]:
        """``POST /{entity}?operation=void`` with ``Id`` and the current ``SyncToken``:
        amounts and quantities to zero (stock back), the document kept, marked voided."""
        if not isinstance(body, dict) or not body.get("Id") or body.get("SyncToken") is None:
            raise QboFault("2020", "Required param missing", detail="Id and SyncToken")
        document = self.read(entity, str(body["Id"]))
        if str(body["SyncToken"]) != document["SyncToken"]:
            raise QboFault(
                "5010",
                "Stale Object Error",
                detail=f"You and another user were working on the same thing. "
                f"SyncToken {body['SyncToken']} is not the current {document['SyncToken']}",
            )
        if document.get("Voided"):
            return document
        for line in document["Line"]:
            if line.get("DetailType") != "SalesItemLineDetail":
                line["Amount"] = Decimal(0)
                continue
            item = self.items.get(str(value_at(line, "SalesItemLineDetail.ItemRef.value")))
            qty = value_at(line, "SalesItemLineDetail.Qty")
            if item is not None and item["Type"] == "Inventory" and qty is not None:
                item["QtyOnHand"] += int(qty)
                self._touch(item)
            line["Amount"] = Decimal(0)
            if "Qty" in line["SalesItemLineDetail"]:
                line["SalesItemLineDetail"]["Qty"] = 0
        document["TotalAmt"] = Decimal(0)
        if "TxnTaxDetail" in document:
            document["TxnTaxDetail"] = {**document["TxnTaxDetail"], "TotalTax": Decimal(0)}
        document["PrivateNote"] = f"Voided - {document.get('PrivateNote', '')}".strip()
        document["Voided"] = True
        document["SyncToken"] = str(int(document["SyncToken"]) + 1)
        document["MetaData"]["LastUpdatedTime"] = stamp(self.now())
        return document

    def ledger(self) -> dict[str, Decimal]:
        """The books' totals: sales revenue (item lines - discounts), shipping income,
        sales tax payable and money in (receipts - refunds), voided documents at zero."""
        totals = {k: Decimal(0) for k in ("revenue", "shipping", "tax", "money_in")}
        for entity, sign in (("SalesReceipt", 1), ("Invoice", 1), ("RefundReceipt", -1)):
            for document in self.documents[entity]:
                for line in document["Line"]:
                    amount = Decimal(line.get("Amount") or 0)
                    ref = value_at(line, "SalesItemLineDetail.ItemRef.value")
                    if line.get("DetailType") == "DiscountLineDetail":
                        totals["revenue"] -= sign * amount
                    elif str(ref) == SHIPPING_ITEM_ID:
                        totals["shipping"] += sign * amount
                    else:
                        totals["revenue"] += sign * amount
                totals["tax"] += sign * Decimal(value_at(document, "TxnTaxDetail.TotalTax") or 0)
                totals["money_in"] += sign * Decimal(document["TotalAmt"])
        return totals

    def receipts_per_doc_number(self) -> Counter[str]:
        return Counter(str(d.get("DocNumber")) for docs in self.documents.values() for d in docs)


def _hash(token: str) -> str:
    """Tokens are kept and looked up hashed: no timing leak, nothing to print."""
    return hashlib.sha256(token.encode()).hexdigest()
