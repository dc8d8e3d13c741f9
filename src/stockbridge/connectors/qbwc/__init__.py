"""QuickBooks Desktop through the QuickBooks Web Connector (kind ``qbwc``).

``connector`` is the back office a run uses (live while a Web Connector session of the
store is open, waiting otherwise), ``conversation`` joins the Web Connector's pulls to
the run's calls, ``qbxml`` builds and reads qbXML, ``soap`` is the SOAP 1.1 layer of the
``/qbwc`` endpoint (``web_routes``), ``qwc`` writes the .qwc file, ``sandbox`` simulates
the Web Connector and a QuickBooks company.
"""

from __future__ import annotations

from stockbridge.connectors.qbwc.connector import QbwcBackOffice
from stockbridge.connectors.qbwc.conversation import BROKER
from stockbridge.connectors.registry import ConnectorEnv

__all__ = ["KIND", "QbwcBackOffice", "make_back_office"]

KIND = "qbwc"


def make_back_office(env: ConnectorEnv) -> QbwcBackOffice:
    """The connector of one store's QuickBooks: through the open Web Connector session of
    its connection, if there is one now."""
    conversation = None if env.connection_id is None else BROKER.live(env.connection_id)
    return QbwcBackOffice(env.settings, conversation)
