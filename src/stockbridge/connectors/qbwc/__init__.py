"""QuickBooks Desktop and Point of Sale through the QuickBooks Web Connector (kind ``qbwc``).

``connector`` is the back office a run sees (always waiting: the Web Connector calls the
hub) and the partner's side of the mailbox (``QbwcSetup``: each request and the reading
of its answer); ``qbxml`` / ``qbposxml`` build and read the documents; ``soap`` is the
SOAP 1.1 layer of the ``/qbwc`` endpoint (``web_routes``), whose calls the mailbox use
cases answer (``services/qbwc_mailbox.py``); ``qwc`` writes the .qwc file; ``sandbox``
simulates the Web Connector and a QuickBooks company.
"""

from __future__ import annotations

from stockbridge.connectors.qbwc.connector import QbwcBackOffice
from stockbridge.connectors.registry import ConnectorEnv

__all__ = ["KIND", "QbwcBackOffice", "make_back_office"]

KIND = "qbwc"


def make_back_office(env: ConnectorEnv) -> QbwcBackOffice:
    return QbwcBackOffice(env.settings)
