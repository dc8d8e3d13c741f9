"""The .qwc file the merchant opens in the Web Connector to add the hub (QBWC
Programmer's Guide, "The QWC file"): who to call, as which user, how often, for which
QuickBooks product."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

__all__ = ["QB_TYPES", "QwcFile", "check_app_url"]

#: flavour -> QBType: QBFS is QuickBooks Desktop (financial), QBPOS Point of Sale.
QB_TYPES = {"desktop": "QBFS", "pos": "QBPOS"}


def check_app_url(url: str) -> str:
    """The Web Connector calls only HTTPS URLs, except on the PC itself (localhost)."""
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValueError("the app URL must be https:// (plain http only for localhost)")
    if not parts.hostname:
        raise ValueError("the app URL needs a host")
    return url


@dataclass(frozen=True)
class QwcFile:
    app_name: str
    app_url: str
    user_name: str
    owner_id: str
    file_id: str
    flavour: str
    every_minutes: int

    @property
    def app_id(self) -> str:
        return ""  # QBWC's own sample leaves it empty; QuickBooks identifies us by OwnerID

    @property
    def support_url(self) -> str:
        return self.app_url.rstrip("/") + "/support"

    def render(self) -> str:
        fields = [
            ("AppName", self.app_name),
            ("AppID", self.app_id),
            ("AppURL", self.app_url),
            ("AppDescription", "Stockbridge: web orders in, stock and prices out"),
            ("AppSupport", self.support_url),
            ("UserName", self.user_name),
            ("OwnerID", "{" + self.owner_id + "}"),
            ("FileID", "{" + self.file_id + "}"),
            ("QBType", QB_TYPES[self.flavour]),
        ]
        body = "".join(f"  <{tag}>{escape(value)}</{tag}>\n" for tag, value in fields)
        return (
            '<?xml version="1.0"?>\n<QBWCXML>\n'
            + body
            + "  <Scheduler>\n"
            + f"    <RunEveryNMinutes>{self.every_minutes}</RunEveryNMinutes>\n"
            + "  </Scheduler>\n  <IsReadOnly>false</IsReadOnly>\n</QBWCXML>\n"
        )
