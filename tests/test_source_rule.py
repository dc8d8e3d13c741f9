"""The ownership rule of several inventory sources (``domain/sources.py``), pure."""

from __future__ import annotations

import pytest

from stockbridge.domain.model import BackOfficeItem
from stockbridge.domain.sources import (
    CONFLICT_CODE,
    InvalidSource,
    SourceMap,
    Supplier,
    check_pattern,
    patterns_overlap,
)

ACME = Supplier(10, "acme", "ACME-*")
LISTER = Supplier(11, "lister", None)
SOURCES = SourceMap((ACME, LISTER))


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("ACME-*", "ACME-*", True),
        ("ACME-*", "ACME-1*", True),
        ("ACME-1*", "ACME-*", True),
        ("ACME-*", "ACME-1", True),  # the one matches the other's text
        ("ACME-*", "BOLT-*", False),
        ("ACME-*", "*-9", False),  # left to the catalog check
    ],
)
def test_patterns_overlap(a: str, b: str, overlap: bool) -> None:
    assert patterns_overlap(a, b) is overlap


@pytest.mark.parametrize("pattern", ["", "*", "**?", "A B*", "ACME-[1*", "X" * 256])
def test_unusable_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidSource):
        check_pattern(pattern)


def test_each_source_keeps_to_its_own_skus() -> None:
    items = [BackOfficeItem(sku, quantity=1) for sku in ("A", "ACME-1", "L-1")]
    claims = {"L-1": LISTER.connection_id}

    primary = SOURCES.sort_report(None, items, claims)
    assert [i.sku for i in primary.accepted] == ["A"] and primary.skipped == 2

    acme = SOURCES.sort_report(ACME.connection_id, items, claims)
    assert [i.sku for i in acme.accepted] == ["ACME-1"] and acme.claims == ["ACME-1"]
    assert acme.skipped == 2 and acme.conflicts == []

    lister = SOURCES.sort_report(LISTER.connection_id, items, claims)
    assert [i.sku for i in lister.accepted] == ["A", "L-1"]
    assert lister.claims == ["A"]  # L-1 is claimed already
    [conflict] = lister.conflicts
    assert conflict.key == "ACME-1" and conflict.code == CONFLICT_CODE
    assert "'lister'" in conflict.message and "'acme'" in conflict.message


def test_withholding_is_counted_against_each_skus_owner() -> None:
    by_source: dict[int | None, dict[str, int]] = {
        None: {"A": 1, "ACME-1": 5},
        ACME.connection_id: {"ACME-1": 2},
        LISTER.connection_id: {"L-1": 3, "A": 9},
    }
    chosen = SOURCES.choose_withheld(by_source, {"L-1": LISTER.connection_id})
    assert chosen == {"A": 1, "ACME-1": 2, "L-1": 3}
