"""The whole catalog out to the web store: which back-office items to create there, which
prices (and names) to send, which items to hide or show. Pure functions over what the hub
holds (``CatalogRow``), computed apart from any partner call, so a preview (a dry run)
plans with the same code a run executes.

Per store (``CatalogSettings``, kept in the store's options):

- ``create_new`` (default on): a SKU the back office reports that the web store does not
  have is created there, hidden (``new_visible`` off, the default) so the merchant
  reviews it first, or visible. Only active items with a price are created; an item
  without a price, or with creation off, is marked absent and left out of stock pushes.
- ``price_source``: ``back_office`` (the default in the ``back_office`` inventory mode)
  sends the back office's prices to the web; ``web`` (the default in the other modes)
  leaves prices to the web store. Only in ``back_office`` mode does any of the catalog go
  to the web (``domain/directions.py``): elsewhere no setting makes it.
- ``push_names`` (default off): the back office's names go to the web too.
- ``inactive``: an item made inactive in the back office shows stock 0 on the web
  (``zero``, the default; ``domain.inventory.target_quantity``) or is hidden (``hide``);
  re-activated, its stock is pushed again or it is shown again (only when the hub hid it).

Only what changed moves: the hub records per variant what the web store last showed or
was sent (price, name, visibility; ``web_shows``) and whether the hub hid it, and a row
is planned only when the hub's value differs from that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

from stockbridge.domain.directions import catalog_flows_to_web
from stockbridge.domain.model import InventorySource, WebVariant

__all__ = [
    "ABSENT_REF",
    "CATALOG_OPTION_KEYS",
    "CatalogChunk",
    "CatalogPlan",
    "CatalogRow",
    "CatalogSettings",
    "CatalogUpdate",
    "InactiveAction",
    "InvalidCatalogSetting",
    "NewProduct",
    "PriceSource",
    "catalog_settings",
    "money_text",
    "new_product",
    "on_web",
    "plan_catalog",
    "updated_catalog_options",
    "web_shows",
]

#: The partner reference recorded for a SKU the hub knows the web store does not have
#: (creation off, or no price yet): stock pushes leave it alone; the next web read that
#: finds the SKU replaces it with the real reference.
ABSENT_REF = "none:absent"
#: Longest product name BigCommerce (and so the hub) sends.
MAX_NAME = 250


class InvalidCatalogSetting(ValueError):
    """A catalog setting that cannot be used; the message says what is accepted."""


class PriceSource(StrEnum):
    """Which system's prices the web store shows."""

    BACK_OFFICE = "back_office"
    WEB = "web"


class InactiveAction(StrEnum):
    """What happens on the web to an item made inactive in the back office."""

    ZERO = "zero"  # stock 0 (the default)
    HIDE = "hide"  # hidden from the storefront


@dataclass(frozen=True, slots=True)
class CatalogSettings:
    create_new: bool = True
    new_visible: bool = False
    #: None: by the inventory mode (``price_master``).
    price_source: PriceSource | None = None
    push_names: bool = False
    inactive: InactiveAction = InactiveAction.ZERO

    def price_master(self, mode: InventorySource) -> PriceSource:
        """Whose prices the web shows: the web store wherever the catalog does not flow
        to the web (every mode but ``back_office``, ``domain/directions.py``); else the
        setting, by default the back office."""
        if not catalog_flows_to_web(mode):
            return PriceSource.WEB
        if self.price_source is not None:
            return self.price_source
        if mode is InventorySource.BACK_OFFICE:
            return PriceSource.BACK_OFFICE
        return PriceSource.WEB

    def zero_inactive(self) -> bool:
        return self.inactive is InactiveAction.ZERO


#: The keys of a store's options that hold the catalog settings.
CATALOG_OPTION_KEYS = (
    "catalog_create_new",
    "catalog_new_visible",
    "catalog_price_source",
    "catalog_push_names",
    "catalog_inactive",
)


def catalog_settings(options: Mapping[str, Any] | None) -> CatalogSettings:
    """The catalog settings kept in a store's ``options`` (defaults for anything missing
    or unreadable: options are written only through ``updated_catalog_options``)."""
    options = options or {}

    def flag(key: str, default: bool) -> bool:
        value = options.get(key)
        return value if isinstance(value, bool) else default

    price = str(options.get("catalog_price_source"))
    inactive = str(options.get("catalog_inactive"))
    return CatalogSettings(
        create_new=flag("catalog_create_new", True),
        new_visible=flag("catalog_new_visible", False),
        price_source=PriceSource(price) if price in PriceSource._value2member_map_ else None,
        push_names=flag("catalog_push_names", False),
        inactive=(
            InactiveAction(inactive)
            if inactive in InactiveAction._value2member_map_
            else InactiveAction.ZERO
        ),
    )


def updated_catalog_options(
    options: Mapping[str, Any] | None,
    *,
    create_new: bool | None = None,
    new_visible: bool | None = None,
    price_source: str | None = None,
    push_names: bool | None = None,
    inactive: str | None = None,
) -> dict[str, Any]:
    """A new ``options`` dict with the given catalog settings (None: unchanged;
    ``price_source`` "auto": by the inventory mode). Raises ``InvalidCatalogSetting``
    before anything changes."""
    result = dict(options or {})
    if price_source not in (None, "auto", *PriceSource._value2member_map_):
        raise InvalidCatalogSetting(
            f"price source must be back_office, web or auto, not {str(price_source)[:40]!r}"
        )
    if inactive is not None and inactive not in InactiveAction._value2member_map_:
        raise InvalidCatalogSetting(
            f"inactive items must be zero or hide, not {str(inactive)[:40]!r}"
        )
    for key, value in (
        ("catalog_create_new", create_new),
        ("catalog_new_visible", new_visible),
        ("catalog_push_names", push_names),
    ):
        if value is not None:
            if not isinstance(value, bool):
                raise InvalidCatalogSetting(f"{key} must be true or false")
            result[key] = value
    if price_source == "auto":
        result.pop("catalog_price_source", None)
    elif price_source is not None:
        result["catalog_price_source"] = price_source
    if inactive is not None:
        result["catalog_inactive"] = inactive
    return result


class CatalogRow(NamedTuple):
    """One variant as the catalog step sees it, with what the web connection last got.

    ``from_back_office``: a back office reported it (not only the web store).
    ``partner_ref``: its web reference (None: not seen on the web; ``ABSENT_REF``: known
    absent). ``sent_price`` / ``sent_name``: what the hub last sent (text). ``hidden``:
    the hub hid it (inactive, ``hide``; only a product shoppers could see is hidden, and
    only what the hub hid is shown again, so a product created hidden for review stays
    hidden). ``creating``: a creation was started and its
    outcome is not recorded: look the SKU up before creating it again.
    """

    variant_id: int
    sku: str
    name: str | None
    price: Decimal | None
    active: bool
    from_back_office: bool
    partner_ref: str | None = None
    sent_price: str | None = None
    sent_name: str | None = None
    hidden: bool = False
    creating: bool = False
    #: Whether the web store last showed it (None: not known).
    web_visible: bool | None = None


@dataclass(frozen=True, slots=True)
class CatalogChunk:
    """One keyset page of catalog rows; ``resume_after`` is where the next starts."""

    rows: list[CatalogRow]
    resume_after: int


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A product to create on the web store (one SKU, tracked by product)."""

    variant_id: int
    sku: str
    name: str
    price: Decimal
    visible: bool


@dataclass(frozen=True, slots=True)
class CatalogUpdate:
    """A change to a product the web store has: a price, a name, visibility (None:
    unchanged). ``partner_ref`` addresses it (``WebVariant.partner_ref``)."""

    variant_id: int
    sku: str
    partner_ref: str
    price: Decimal | None = None
    name: str | None = None
    visible: bool | None = None


@dataclass(frozen=True)
class CatalogPlan:
    """What one page of the catalog needs on the web store."""

    #: SKUs whose creation was started but not recorded: look them up first.
    look_up: list[CatalogRow] = field(default_factory=list)
    create: list[NewProduct] = field(default_factory=list)
    update: list[CatalogUpdate] = field(default_factory=list)
    #: Variants to mark absent from the web (not created: creation off, no price, inactive).
    absent: list[CatalogRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.look_up or self.create or self.update or self.absent)


def money_text(price: Decimal) -> str:
    """A price as the hub records it was sent: two decimals, so 9.9 and 9.90 compare."""
    return str(price.quantize(Decimal("0.01")))


def web_shows(seen: WebVariant) -> list[tuple[str, str]]:
    """What a web read tells the catalog step about a variant, as (entity, value) to
    record beside what the hub sent: its price and name (so a value the web already
    shows is not sent again) and whether shoppers see it."""
    shown: list[tuple[str, str]] = []
    if seen.price is not None:
        shown.append(("price", money_text(seen.price)))
    if seen.name is not None:
        shown.append(("name", seen.name))
    if seen.visible is not None:
        shown.append(("visible", "1" if seen.visible else "0"))
    return shown


def _same_money(sent: str | None, price: Decimal) -> bool:
    if sent is None:
        return False
    try:
        return Decimal(sent) == price
    except InvalidOperation:
        return False


def on_web(row: CatalogRow) -> bool:
    """Whether the web store has the row's SKU (as far as the hub knows)."""
    return row.partner_ref is not None and row.partner_ref != ABSENT_REF


def new_product(row: CatalogRow, settings: CatalogSettings) -> NewProduct | None:
    """What to create for a row the web store lacks; None when it is not to be created
    (creation off, not from the back office, inactive, or no price yet). A negative price
    is sent as it is: the web store refuses it naming the field, and the merchant sees
    which SKU to fix."""
    if not (settings.create_new and row.from_back_office and row.active):
        return None
    if row.price is None:
        return None
    price = row.price.quantize(Decimal("0.01")) if row.price >= 0 else row.price
    return NewProduct(row.variant_id, row.sku, _name(row), price, settings.new_visible)


def _name(row: CatalogRow) -> str:
    name = (row.name or "").strip() or row.sku
    return name[:MAX_NAME]


def plan_catalog(
    rows: Iterable[CatalogRow], settings: CatalogSettings, mode: InventorySource
) -> CatalogPlan:
    """What the web store needs for ``rows`` under ``settings`` (``mode``: the store's
    inventory mode, for the default price source). Pure: the same rows and settings
    always give the same plan, and a row whose web copy is what the hub last sent gives
    nothing. In a mode where the catalog does not flow to the web
    (``domain/directions.py``) nothing is created or updated whatever the settings say;
    a back-office SKU the web lacks is only marked absent (left out of stock pushes)."""
    plan = CatalogPlan()
    flows = catalog_flows_to_web(mode)
    push_prices = settings.price_master(mode) is PriceSource.BACK_OFFICE
    for row in rows:
        if not on_web(row):
            if row.creating:
                plan.look_up.append(row)
                continue
            wanted = new_product(row, settings) if flows else None
            if wanted is not None:
                plan.create.append(wanted)
            elif row.partner_ref is None and row.from_back_office:
                plan.absent.append(row)
            continue
        assert row.partner_ref is not None
        if not flows:
            continue
        price = (
            row.price
            if push_prices
            and row.price is not None
            and row.from_back_office
            and not _same_money(row.sent_price, row.price)
            else None
        )
        name = (
            _name(row)
            if settings.push_names
            and row.from_back_office
            and row.name
            and row.sent_name != _name(row)
            else None
        )
        hide = not row.active and settings.inactive is InactiveAction.HIDE
        visible: bool | None = None
        if hide and not row.hidden and row.web_visible is not False:
            visible = False
        elif row.hidden and not hide:
            visible = True
        if price is not None or name is not None or visible is not None:
            plan.update.append(
                CatalogUpdate(row.variant_id, row.sku, row.partner_ref, price, name, visible)
            )
    return plan
