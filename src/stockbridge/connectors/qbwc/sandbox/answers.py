"""What the simulated Desktop company writes into its answers, shared by its request
handlers (``company``, ``credit_memos``): a response's status, and the transactions a
query found."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lxml import etree

__all__ = ["NOT_FOUND", "answer_found", "set_status"]

NOT_FOUND = "A query request did not find a matching object in QuickBooks"


class Found(Protocol):
    txn_id: str
    ref_number: str
    memo: str


def set_status(rs: etree._Element, code: str, severity: str, message: str) -> None:
    rs.set("statusCode", code)
    rs.set("statusSeverity", severity)
    rs.set("statusMessage", message)


def answer_found(rs: etree._Element, found: Sequence[Found], ret_tag: str) -> None:
    """A query's answer: status 1 (Info) when nothing matched, else each transaction's
    TxnID, RefNumber and Memo (when it has one) in a ``ret_tag`` element."""
    if not found:
        set_status(rs, "1", "Info", NOT_FOUND)
        return
    set_status(rs, "0", "Info", "Status OK")
    for txn in found:
        ret = etree.SubElement(rs, ret_tag)
        etree.SubElement(ret, "TxnID").text = txn.txn_id
        etree.SubElement(ret, "RefNumber").text = txn.ref_number
        if txn.memo:
            etree.SubElement(ret, "Memo").text = txn.memo
