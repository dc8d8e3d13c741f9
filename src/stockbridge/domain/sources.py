"""Which inventory source owns a SKU, when a store has several. Pure: no I/O.

A store has one primary back office (QuickBooks, a feed: orders post there) and any
number of suppliers (a drop-ship supplier's feed). The rule:

- A supplier given a pattern (``--owns ACME-*``, a case-sensitive glob) owns every SKU
  the pattern matches, listed or not; rows it lists outside its pattern are skipped.
- A supplier without a pattern owns the SKUs it lists: the first listing claims the SKU
  (the claim is stored), and it stays the supplier's until the supplier is disconnected.
- Every other SKU belongs to the primary back office. The primary reporting a supplier's
  SKU is no conflict (drop-ship items are kept in the books so that orders post there):
  its report of that SKU is skipped.
- Two suppliers never own one SKU. At connect time a pattern is refused when it overlaps
  another supplier's (identical, one prefix inside the other, or both matching a SKU the
  hub knows) or matches a SKU another supplier claimed. At read time a SKU a supplier
  lists but another owns is kept from its owner and reported as an item error naming
  both.
- A supplier's pattern outranks a claim by listing: the pattern was the merchant's word.

Everything a source reports about a SKU it owns (quantity, name, price) is taken; nothing
from a source that does not own it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from stockbridge.domain.model import BackOfficeItem, ItemError

__all__ = [
    "CONFLICT_CODE",
    "MAX_PATTERN",
    "MAX_SUPPLIER_NAME",
    "InvalidSource",
    "ReportSorting",
    "SourceMap",
    "Supplier",
    "check_pattern",
    "check_supplier_name",
    "overlapping_supplier",
    "patterns_overlap",
]

MAX_SUPPLIER_NAME = 100
MAX_PATTERN = 255
#: The item error code of a SKU two sources claim.
CONFLICT_CODE = "source_conflict"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*")
_WILDCARDS = "*?["


class InvalidSource(ValueError):
    """A supplier setting that cannot be used; the message says why."""


def check_supplier_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_SUPPLIER_NAME or not _NAME.fullmatch(name):
        raise InvalidSource(
            f"supplier name {name!r}: 1-{MAX_SUPPLIER_NAME} letters, digits, spaces, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_pattern(pattern: str) -> str:
    """A SKU glob: ``*`` any run, ``?`` one character, ``[...]`` a set. It must name
    something: a pattern of wildcards only would own the whole catalog."""
    pattern = pattern.strip()
    if not pattern or len(pattern) > MAX_PATTERN or any(c.isspace() for c in pattern):
        raise InvalidSource(
            f"SKU pattern {pattern!r}: 1-{MAX_PATTERN} characters without spaces, e.g. ACME-*"
        )
    if all(c in "*?" for c in pattern):
        raise InvalidSource(
            f"SKU pattern {pattern!r} matches every SKU: a supplier owns part of the "
            "catalog (give a prefix such as ACME-*)"
        )
    if pattern.count("[") != pattern.count("]"):
        raise InvalidSource(f"SKU pattern {pattern!r} has an unclosed [")
    return pattern


def _literal_prefix(pattern: str) -> str:
    for index, char in enumerate(pattern):
        if char in _WILDCARDS:
            return pattern[:index]
    return pattern


def patterns_overlap(a: str, b: str) -> bool:
    """Whether two patterns can match one SKU, as far as the hub decides without the
    catalog: identical, one matching the other's text, or literal prefixes of which one
    starts the other while both go on with ``*`` (``ACME-*`` and ``ACME-1*``). The
    catalog check (a known SKU matching both) comes on top."""
    if a == b or fnmatchcase(a, b) or fnmatchcase(b, a):
        return True
    pa, pb = _literal_prefix(a), _literal_prefix(b)
    prefix_only = a == pa + "*" and b == pb + "*"
    return prefix_only and (pa.startswith(pb) or pb.startswith(pa))


@dataclass(frozen=True, slots=True)
class Supplier:
    """A supplier connection as the ownership rule sees it."""

    connection_id: int
    name: str
    owns: str | None = None

    def matches(self, sku: str) -> bool:
        return self.owns is not None and fnmatchcase(sku, self.owns)


@dataclass(frozen=True)
class ReportSorting:
    """What to do with one page a source reported: apply ``accepted`` (and record
    ``claims`` for the reporting supplier), report ``conflicts``; ``skipped`` counts rows
    that were someone else's without being a conflict."""

    accepted: list[BackOfficeItem] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    conflicts: list[ItemError] = field(default_factory=list)
    skipped: int = 0


@dataclass(frozen=True)
class SourceMap:
    """The store's suppliers (in connection order) and the names of its sources."""

    suppliers: tuple[Supplier, ...] = ()
    primary_name: str = "the back office"

    def supplier(self, connection_id: int) -> Supplier | None:
        return next((s for s in self.suppliers if s.connection_id == connection_id), None)

    def pattern_owner(self, sku: str) -> Supplier | None:
        return next((s for s in self.suppliers if s.matches(sku)), None)

    def owner_of(self, sku: str, claimed_by: int | None) -> int | None:
        """The supplier connection that owns ``sku`` (None: the primary back office).
        ``claimed_by`` is the supplier whose listing claimed it, if any."""
        by_pattern = self.pattern_owner(sku)
        if by_pattern is not None:
            return by_pattern.connection_id
        if claimed_by is not None and self.supplier(claimed_by) is not None:
            return claimed_by
        return None

    def describe(self, owner: int | None) -> str:
        supplier = None if owner is None else self.supplier(owner)
        return self.primary_name if supplier is None else f"supplier {supplier.name!r}"

    def in_scope(self, source: int | None, sku: str, claimed_by: int | None) -> bool:
        """Whether ``sku`` is the business of ``source`` (None: the primary): a hub row
        a snapshot of that source is diffed against (and may zero when missing)."""
        return self.owner_of(sku, claimed_by) == source

    def sort_report(
        self,
        source: int | None,
        items: Sequence[BackOfficeItem],
        claims: Mapping[str, int],
    ) -> ReportSorting:
        """Sort one page ``source`` reported (None: the primary) by the rule above.
        ``claims`` maps SKUs of the page to the supplier that claimed them."""
        accepted: list[BackOfficeItem] = []
        claimed: list[str] = []
        conflicts: list[ItemError] = []
        skipped = 0
        supplier = None if source is None else self.supplier(source)
        for item in items:
            owner = self.owner_of(item.sku, claims.get(item.sku))
            if source is None:  # the primary: what no supplier owns
                if owner is None:
                    accepted.append(item)
                else:
                    skipped += 1
                continue
            assert supplier is not None, f"connection {source} is not a supplier"
            if supplier.owns is not None and not supplier.matches(item.sku):
                skipped += 1
            elif owner is None or owner == source:
                accepted.append(item)
                if item.sku not in claims:
                    claimed.append(item.sku)
            else:
                conflicts.append(
                    ItemError(
                        key=item.sku,
                        message=(
                            f"SKU {item.sku} is listed by {self.describe(source)} and by "
                            f"{self.describe(owner)}, which owns it: kept from "
                            f"{self.describe(owner)}"
                        ),
                        code=CONFLICT_CODE,
                    )
                )
        return ReportSorting(accepted, sorted(set(claimed)), conflicts, skipped)

    def choose_withheld(
        self,
        by_source: Mapping[int | None, Mapping[str, int]],
        claims: Mapping[str, int],
    ) -> dict[str, int]:
        """Per SKU, what the web orders withhold as counted against the SKU's owner (each
        source has its own "last complete read" mark, ``domain.withholding``)."""
        skus: set[str] = set()
        for withheld in by_source.values():
            skus.update(withheld)
        result: dict[str, int] = {}
        for sku in skus:
            owner = self.owner_of(sku, claims.get(sku))
            quantity = by_source.get(owner, {}).get(sku, 0)
            if quantity:
                result[sku] = quantity
        return result


def overlapping_supplier(
    suppliers: Iterable[Supplier], pattern: str, *, name: str
) -> Supplier | None:
    """Another supplier (not ``name``) whose pattern overlaps ``pattern``."""
    return next(
        (
            s
            for s in suppliers
            if s.name != name and s.owns is not None and patterns_overlap(s.owns, pattern)
        ),
        None,
    )
