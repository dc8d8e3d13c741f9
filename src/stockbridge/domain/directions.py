"""Which data flows where in each inventory-source mode, as BackOrder writes them.

Stock follows ``domain/ownership.py``. Everything else of the catalog (new products,
prices, names, visibility) flows from the back office to the web store only in
``back_office`` mode. In the other modes it flows the other way, from BigCommerce to the
hub, and never back ("not vice versa"):

=============  ========================================================================
mode           to the web store
=============  ========================================================================
back_office    stock; new products, prices, names and visibility as the store's catalog
               settings say
web            the stock of assigned products only; no product created, no price, name
               or visibility
erp_via_web    nothing
api            the ERP's stock (assigned products: the hub's quantity); no product
               created, no price, name or visibility
=============  ========================================================================

The catalog planner (``domain/web_catalog.plan_catalog``) asks ``catalog_flows_to_web``
first: a store's catalog settings choose within what the mode allows, never beyond it.
"""

from __future__ import annotations

from stockbridge.domain.model import InventorySource

__all__ = ["catalog_flows_to_web"]


def catalog_flows_to_web(mode: InventorySource) -> bool:
    """Whether the hub may write the back office's catalog (new products, prices, names,
    visibility) to the web store of a store in ``mode``: only in ``back_office`` mode."""
    return mode is InventorySource.BACK_OFFICE
