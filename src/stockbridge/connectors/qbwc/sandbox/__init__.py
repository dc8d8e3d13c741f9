"""The QuickBooks Web Connector and a QuickBooks Desktop company, simulated: the company
answers qbXML strictly (``company``), the Web Connector drives the hub's ``/qbwc`` as
QBWC does (``webconnector``). Imports nothing of the hub's client side."""

from __future__ import annotations

from stockbridge.connectors.qbwc.sandbox.company import DesktopCompany, ParseFailure
from stockbridge.connectors.qbwc.sandbox.pos_company import PosCompany
from stockbridge.connectors.qbwc.sandbox.webconnector import SessionLog, WebConnector

__all__ = ["DesktopCompany", "ParseFailure", "PosCompany", "SessionLog", "WebConnector"]
