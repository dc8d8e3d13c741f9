"""The catalog plan (``domain/web_catalog.py``) as a property: whatever the hub holds and
whatever the settings, carrying the plan out once (as ``sync/catalog_out.py`` records it)
leaves nothing to do, and the web then shows what the settings say."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.domain.model import InventorySource
from stockbridge.domain.web_catalog import (
    ABSENT_REF,
    CatalogRow,
    CatalogSettings,
    InactiveAction,
    PriceSource,
    catalog_settings,
    money_text,
    on_web,
    plan_catalog,
    updated_catalog_options,
)

prices = st.one_of(st.none(), st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False))
names = st.one_of(st.none(), st.text("abc ", max_size=4))


@st.composite
def rows(draw: st.DrawFn) -> list[CatalogRow]:
    count = draw(st.integers(0, 12))
    out: list[CatalogRow] = []
    for n in range(count):
        sent = draw(st.one_of(st.none(), prices.map(lambda p: None if p is None else str(p))))
        hidden = draw(st.booleans())  # the hub hid it: the web then shows it hidden
        out.append(
            CatalogRow(
                variant_id=n + 1,
                sku=f"S{n}",
                name=draw(names),
                price=draw(prices),
                active=draw(st.booleans()),
                from_back_office=draw(st.booleans()),
                partner_ref=draw(st.sampled_from([None, ABSENT_REF, f"product:{n}:{n + 100}"])),
                sent_price=sent,
                sent_name=draw(names),
                hidden=hidden,
                creating=draw(st.booleans()),
                web_visible=False if hidden else draw(st.one_of(st.none(), st.booleans())),
            )
        )
    return out


catalog_choices = st.builds(
    CatalogSettings,
    create_new=st.booleans(),
    new_visible=st.booleans(),
    price_source=st.one_of(st.none(), st.sampled_from(list(PriceSource))),
    push_names=st.booleans(),
    inactive=st.sampled_from(list(InactiveAction)),
)


def carry_out(
    held: list[CatalogRow], chosen: CatalogSettings, mode: InventorySource
) -> list[CatalogRow]:
    """The hub's rows after the plan ran against a web store that takes everything and
    does not have any SKU being looked up (the step then creates it)."""
    plan = plan_catalog(held, chosen, mode)
    by_id = {r.variant_id: r for r in held}
    for row in plan.look_up:
        by_id[row.variant_id] = row._replace(creating=False)
        again = plan_catalog([by_id[row.variant_id]], chosen, mode)
        if not again.create:  # not found and not to create: known absent
            by_id[row.variant_id] = by_id[row.variant_id]._replace(partner_ref=ABSENT_REF)
        for product in again.create:
            by_id[row.variant_id] = by_id[row.variant_id]._replace(
                partner_ref=f"product:{row.variant_id}:1",
                sent_price=money_text(product.price),
                sent_name=product.name,
                web_visible=product.visible,
                hidden=False,
            )
    for product in plan.create:
        by_id[product.variant_id] = by_id[product.variant_id]._replace(
            partner_ref=f"product:{product.variant_id}:1",
            sent_price=money_text(product.price),
            sent_name=product.name,
            web_visible=product.visible,
            creating=False,
            hidden=False,
        )
    for row in plan.absent:
        by_id[row.variant_id] = by_id[row.variant_id]._replace(partner_ref=ABSENT_REF)
    for update in plan.update:
        row = by_id[update.variant_id]
        if update.price is not None:
            row = row._replace(sent_price=money_text(update.price))
        if update.name is not None:
            row = row._replace(sent_name=update.name)
        if update.visible is not None:
            row = row._replace(hidden=not update.visible, web_visible=update.visible)
        by_id[update.variant_id] = row
    return [by_id[r.variant_id] for r in held]


@settings(max_examples=200, deadline=None)
@given(rows(), catalog_choices, st.sampled_from(list(InventorySource)))
def test_one_pass_converges_and_the_web_shows_what_the_settings_say(
    held: list[CatalogRow], chosen: CatalogSettings, mode: InventorySource
) -> None:
    after = carry_out(held, chosen, mode)
    assert plan_catalog(after, chosen, mode).empty  # nothing left: only changes move
    if mode is not InventorySource.BACK_OFFICE:  # the catalog flows web -> hub only
        for before, row in zip(held, after, strict=True):  # at most marked absent
            # (a creation started earlier is looked up, read only, and ends absent)
            assert row.partner_ref in (before.partner_ref, ABSENT_REF)
            written = ("sent_price", "sent_name", "hidden", "web_visible")
            assert [getattr(row, f) for f in written] == [getattr(before, f) for f in written]
        return
    push_prices = chosen.price_master(mode) is PriceSource.BACK_OFFICE
    for before, row in zip(held, after, strict=True):
        if on_web(row) and push_prices and row.price is not None and row.from_back_office:
            assert Decimal(str(row.sent_price)) == row.price
        if on_web(row) and chosen.push_names and row.name and row.from_back_office:
            assert row.sent_name == (row.name.strip() or row.sku)
        if on_web(row) and not row.active and chosen.inactive is InactiveAction.HIDE:
            assert row.web_visible is False  # hidden, by the hub or already
        if row.active and before.hidden and on_web(before):
            assert not row.hidden and row.web_visible is True  # restored
        newly = not on_web(before) and on_web(row)
        if newly:  # created only from an active back-office item with a price
            assert mode is InventorySource.BACK_OFFICE  # "not vice versa" in the others
            assert chosen.create_new and row.active and row.from_back_office
            assert row.price is not None and row.web_visible is chosen.new_visible


@given(catalog_choices)
def test_settings_survive_the_store_options(chosen: CatalogSettings) -> None:
    options = updated_catalog_options(
        {"alert_email": "a@b.co"},
        create_new=chosen.create_new,
        new_visible=chosen.new_visible,
        price_source="auto" if chosen.price_source is None else chosen.price_source.value,
        push_names=chosen.push_names,
        inactive=chosen.inactive.value,
    )
    assert catalog_settings(options) == chosen
    assert options["alert_email"] == "a@b.co"


def test_the_default_price_master_follows_the_inventory_mode() -> None:
    defaults = CatalogSettings()
    assert defaults.price_master(InventorySource.BACK_OFFICE) is PriceSource.BACK_OFFICE
    assert defaults.price_master(InventorySource.API) is PriceSource.WEB
    assert defaults.price_master(InventorySource.WEB) is PriceSource.WEB
    assert defaults.price_master(InventorySource.ERP_VIA_WEB) is PriceSource.WEB
    assert catalog_settings({"catalog_inactive": "explode", "catalog_create_new": "yes"}) == (
        defaults
    )
