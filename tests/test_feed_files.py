"""Bad feed files through the whole inventory-in step (folder source, in-memory web
store): bad rows quarantined with their line numbers, or the file rejected whole with
nothing applied; encodings; files too broken to read."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stockbridge import services
from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.feed import make_back_office
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.domain.model import RunStatus, Step
from tests.conftest import NO_WAIT, Harness
from tests.fakes import FakeWebStore
from tests.feed_support import back_office_qty

STEPS = (Step.INVENTORY_IN, Step.INVENTORY_OUT)


class Shop:
    """A store whose back office is a feed folder and whose web store is in memory."""

    def __init__(self, harness: Harness, folder: Path, skus: dict[str, int], **settings: Any):
        self.harness = harness
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.web = FakeWebStore()
        for sku, qty in skus.items():
            self.web.add_variant(sku, qty)
        env = ConnectorEnv(
            settings={"source": str(folder), "settle_seconds": 0, **settings},
            vault=MemoryVault({}),
            limiters=LimiterRegistry(),
            retry=NO_WAIT,
        )
        self.store_id = harness.add_store(web=self.web, back_office=make_back_office(env))

    def drop(self, name: str, content: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(content)
        past = time.time() - 60
        os.utime(path, (past, past))
        return path

    def sync(self) -> services.RunReport:
        return services.sync(self.harness.hub, None, STEPS)

    def hub_stock(self) -> dict[str, int | None]:
        return back_office_qty(self.harness.hub, self.store_id)

    def web_stock(self) -> dict[str, int]:
        return {sku: qty for (sku, _loc), qty in self.web.stock.items()}


@pytest.fixture
def shop(sqlite_harness: Harness, tmp_path: Path) -> Shop:
    return Shop(sqlite_harness, tmp_path / "inbox", {f"S{i}": 1 for i in range(40)})


def errors_by_line(report: services.RunReport) -> dict[str, str]:
    return {e.key: e.message for e in report.errors if e.key.startswith("line ")}


def good_rows(n: int, qty: int = 5) -> str:
    return "".join(f"S{i},{qty}\n" for i in range(n))


def test_bad_rows_are_quarantined_with_their_line_numbers_and_the_rest_applied(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(
        sqlite_harness, tmp_path / "inbox", {f"S{i}": 1 for i in range(40)}, max_bad_share=0.5
    )
    shop.drop(
        "stock.csv",
        (
            "sku,quantity,price\n"  # line 1
            + good_rows(30)  # lines 2-31
            + ",4,\n"  # 32 missing SKU
            + "S30,many,\n"  # 33 non-numeric
            + "S31,-2,\n"  # 34 negative
            + "S32,3,\n"  # 35 first of a conflicting pair
            + "S32,4,\n"  # 36 conflict
            + "S33,2.5,\n"  # 37 not a whole number
            + "S34,1,abc\n"  # 38 bad price
            + "S35,99999999999,\n"  # 39 too large
            + "S36,7,1.00\n"  # 40 good
            + "S36,7,1.00\n"  # 41 same again: harmless
            + '"S37","8","2.50"\n'  # 42 quoted, good
        ).encode(),
    )

    report = shop.sync()

    assert report.status is RunStatus.PARTIAL, (report.steps, report.error)
    bad = errors_by_line(report)
    assert set(bad) == {f"line {n}" for n in (32, 33, 34, 36, 37, 38, 39)}
    assert bad["line 32"] == "missing SKU"
    assert "'many'" in bad["line 33"] and "S30" in bad["line 33"]
    assert "negative" in bad["line 34"]
    assert "given twice" in bad["line 36"] and "line 35" in bad["line 36"]
    assert "too large" in bad["line 39"]
    hub = shop.hub_stock()
    assert all(hub[f"S{i}"] == 5 for i in range(30))
    assert hub["S36"] == 7 and hub["S37"] == 8
    for untouched in ("S30", "S31", "S32", "S33", "S34", "S35"):
        assert hub[untouched] is None  # the hub keeps what it had: nothing from the feed
    assert shop.web_stock()["S32"] == 1 and shop.web_stock()["S36"] == 7
    assert (shop.folder / "processed" / "stock.csv").exists()


def test_above_the_bad_share_the_file_is_rejected_whole_and_nothing_applied(
    shop: Shop,
) -> None:
    # 3 bad rows of 40 is 7.5%, above the default 5%.
    content = "sku,quantity\n" + good_rows(37) + "S37,x\nS38,-1\n,3\n"
    shop.drop("stock.csv", content.encode())

    report = shop.sync()

    assert report.status is RunStatus.FAILED
    message = str(report.steps["inventory-in"]["message"])
    assert "rejected" in message and "3 of 40 rows" in message and "nothing applied" in message
    assert set(errors_by_line(report)) == {"line 39", "line 40", "line 41"}
    assert all(qty is None for qty in shop.hub_stock().values())
    assert all(qty == 1 for qty in shop.web_stock().values())
    assert (shop.folder / "rejected" / "stock.csv").exists()
    assert not (shop.folder / "processed").exists()


def test_at_the_bad_share_the_file_is_applied(shop: Shop) -> None:
    content = "sku,quantity\n" + good_rows(38) + "S38,x\nS39,-1\n"  # 2 of 40 = 5%
    shop.drop("stock.csv", content.encode())

    report = shop.sync()

    assert report.status is RunStatus.PARTIAL
    assert shop.web_stock()["S0"] == 5


def test_with_missing_zero_a_bad_row_leaves_its_sku_as_it_is(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    """A bad row still names its SKU: that SKU is present and unchanged, never taken for
    missing and zeroed. Only a row with no SKU at all protects nothing."""
    shop = Shop(
        sqlite_harness, tmp_path / "inbox", {f"S{i:03}": 1 for i in range(100)}, missing="zero"
    )
    shop.drop("first.csv", ("sku,quantity,price\n" + good_rows3(100, 7)).encode())
    assert shop.sync().status is RunStatus.SUCCEEDED
    assert set(shop.web_stock().values()) == {7}
    rows = {i: f"S{i:03},9,\n" for i in range(100)}
    rows[4] = "S004,12.5,\n"  # line 6: not a whole number
    rows[5] = "S005,N/A,\n"  # line 7: not a number
    rows[6] = "S006,9,abc\n"  # line 8: a bad price
    rows[7] = "S007\n"  # line 9: too few fields, the SKU is still there
    rows[8] = ",9,\n"  # line 10: no SKU, so S008 is absent from the file
    shop.drop("second.csv", ("sku,quantity,price\n" + "".join(rows.values())).encode())

    report = shop.sync()

    assert report.status is RunStatus.PARTIAL, (report.steps, report.error)
    bad = errors_by_line(report)
    assert set(bad) == {"line 6", "line 7", "line 8", "line 9", "line 10"}
    assert "S004" in bad["line 6"] and "S005" in bad["line 7"] and "S006" in bad["line 8"]
    assert bad["line 10"] == "missing SKU"
    hub, web = shop.hub_stock(), shop.web_stock()
    for kept in ("S004", "S005", "S006", "S007"):
        assert (hub[kept], web[kept]) == (7, 7), kept
    assert (hub["S008"], web["S008"]) == (0, 0)  # nothing in the file names it
    assert all(hub[f"S{i:03}"] == 9 == web[f"S{i:03}"] for i in range(9, 100))
    assert (hub["S000"], web["S003"]) == (9, 9)


def good_rows3(n: int, qty: int) -> str:
    return "".join(f"S{i:03},{qty},\n" for i in range(n))


def test_a_bad_row_after_a_good_row_of_the_same_sku_keeps_it_unchanged(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(
        sqlite_harness, tmp_path / "inbox", {"A": 1, "B": 1}, missing="zero", max_bad_share=0.5
    )
    shop.drop("first.csv", b"sku,quantity\nA,3\nB,3\n")
    shop.sync()
    shop.drop("second.csv", b"sku,quantity\nA,5\nA,five\nB,5\n")

    report = shop.sync()

    assert set(errors_by_line(report)) == {"line 3"}
    assert shop.hub_stock() == {"A": 3, "B": 5}
    assert shop.web_stock() == {"A": 3, "B": 5}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            ("sku,quantity\n" + good_rows(39) + "S39").encode(),
            "truncated",
            id="cut-mid-row",
        ),
        pytest.param(
            ("sku,quantity\n" + good_rows(10) + '"S10,4\n' + good_rows(5)).encode(),
            "unexpected end of data",
            id="unterminated-quote",
        ),
        pytest.param(b"sku,qty\nS1,4\n", "no 'quantity' column", id="no-quantity-column"),
        pytest.param(b"", "empty", id="empty-file"),
        pytest.param(b"sku,quantity\n", "no rows", id="header-only"),
        pytest.param(b"\x1f\x8b\x08\x00\xff\xfe binary", "no 'sku' column", id="binary"),
        pytest.param(
            b"sku,quantity,name\nS1,4," + b"x" * 200_000 + b"\n",
            "field larger than field limit",
            id="oversized-field",
        ),
    ],
)
def test_an_unreadable_file_is_rejected_whole(shop: Shop, content: bytes, reason: str) -> None:
    shop.drop("stock.csv", content)

    report = shop.sync()

    assert report.status is RunStatus.FAILED
    message = str(report.steps["inventory-in"]["message"])
    assert reason in message and "nothing applied" in message, message
    assert all(qty is None for qty in shop.hub_stock().values())
    assert all(qty == 1 for qty in shop.web_stock().values())
    assert (shop.folder / "rejected" / "stock.csv").exists()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'[{"sku": "S1", "quantity": 4}, {"sku": "S2", "quan', id="truncated"),
        pytest.param(b'{"items": [1, 2', id="truncated-object"),
        pytest.param(b"<html>not json</html>", id="not-json"),
        pytest.param(b'{"sku": "S1"}', id="no-array"),
    ],
)
def test_a_broken_json_file_is_rejected_whole(
    sqlite_harness: Harness, tmp_path: Path, content: bytes
) -> None:
    shop = Shop(sqlite_harness, tmp_path / "inbox", {"S1": 1, "S2": 1}, format="json")
    shop.drop("stock.json", content)

    report = shop.sync()

    assert report.status is RunStatus.FAILED
    assert "nothing applied" in str(report.steps["inventory-in"]["message"])
    assert shop.web_stock() == {"S1": 1, "S2": 1}


def test_json_records_of_the_wrong_type_are_bad_rows_by_position(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(
        sqlite_harness,
        tmp_path / "inbox",
        {"S1": 1, "S2": 1, "S3": 1},
        format="json",
        max_bad_share=0.9,
    )
    shop.drop(
        "stock.json",
        b'[{"sku": "S1", "quantity": 4}, "S2", {"sku": "S3", "quantity": true},'
        b' {"sku": ["S2"], "quantity": 1}, {"sku": "S2", "quantity": 3.0}]',
    )

    report = shop.sync()

    assert report.status is RunStatus.PARTIAL
    assert set(errors_by_line(report)) == {"line 2", "line 3", "line 4"}
    assert shop.web_stock() == {"S1": 4, "S2": 3, "S3": 1}


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        pytest.param("\ufeffsku,quantity,name\nS1,2,Café crème\n".encode(), "auto", id="utf8-bom"),
        pytest.param("sku,quantity,name\nS1,2,Café crème\n".encode(), "auto", id="utf8"),
        pytest.param("sku,quantity,name\nS1,2,Café crème\n".encode("latin-1"), "auto", id="latin1"),
        pytest.param(
            "sku,quantity,name\nS1,2,Café crème\n".encode("latin-1"), "latin-1", id="latin1-set"
        ),
    ],
)
def test_encodings(sqlite_harness: Harness, tmp_path: Path, encoded: bytes, encoding: str) -> None:
    shop = Shop(sqlite_harness, tmp_path / "inbox", {"S1": 0}, encoding=encoding)
    shop.drop("stock.csv", encoded)

    report = shop.sync()

    assert report.status is RunStatus.SUCCEEDED, report
    product = services.product_detail(shop.harness.hub, shop.store_id, "S1")
    assert product is not None and product.name == "Café crème"
    assert shop.web_stock() == {"S1": 2}


def test_invalid_utf8_when_utf8_is_required_is_rejected(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(sqlite_harness, tmp_path / "inbox", {"S1": 0}, encoding="utf-8")
    shop.drop("stock.csv", "sku,quantity,name\nS1,2,Café\n".encode("latin-1"))

    report = shop.sync()

    assert report.status is RunStatus.FAILED
    assert "not utf-8 text" in str(report.steps["inventory-in"]["message"])


def test_files_all_applies_each_file_in_order_and_a_rejected_one_applies_nothing(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(sqlite_harness, tmp_path / "inbox", {"A": 0, "B": 0}, files="all")
    for n, content in enumerate(
        [b"sku,quantity\nA,1\nB,1\n", b"sku,quantity\nA,x\nB,9\n", b"sku,quantity\nA,3\n"]
    ):
        path = shop.drop(f"f{n}.csv", content)
        os.utime(path, (time.time() - 100 + n, time.time() - 100 + n))

    report = shop.sync()

    assert report.status is RunStatus.FAILED  # the middle file was rejected
    assert shop.web_stock() == {"A": 3, "B": 1}  # f0 then f2; nothing of f1 (B stays 1)
    assert sorted(p.name for p in (shop.folder / "processed").iterdir()) == ["f0.csv", "f2.csv"]
    assert [p.name for p in (shop.folder / "rejected").iterdir()] == ["f1.csv"]


def test_without_a_header_columns_are_positions(sqlite_harness: Harness, tmp_path: Path) -> None:
    shop = Shop(
        sqlite_harness,
        tmp_path / "inbox",
        {"A": 0},
        header=False,
        sku_field="2",
        quantity_field="3",
        location_field="",
        price_field="",
        name_field="1",
        delimiter="\t",
    )
    shop.drop("stock.tsv", b"Alpha\tA\t6\n")

    report = shop.sync()

    assert report.status is RunStatus.SUCCEEDED, report
    assert shop.web_stock() == {"A": 6}


def test_many_bad_rows_report_the_first_hundred_and_a_count(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    shop = Shop(sqlite_harness, tmp_path / "inbox", {"S0": 0}, max_bad_share=0.99)
    rows = "S0,4\n" + "".join(f"N{i},1\n" for i in range(60)) + "X,-1\n" * 150
    shop.drop("stock.csv", ("sku,quantity\n" + rows).encode())

    report = shop.sync()

    assert len(errors_by_line(report)) == 100
    assert any("50 more bad rows" in e.message for e in report.errors)
    assert shop.web_stock() == {"S0": 4}


def test_the_diff_follows_code_point_order_on_sqlite_and_postgresql(
    harness: Harness, tmp_path: Path
) -> None:
    """SKUs whose order differs between collations (case, accents, digits, punctuation):
    the hub's rows and the feed's must come in the same order or the merge would stop
    (or zero the wrong SKUs)."""
    skus = ["a", "B", "é", "Z", "_x", "10", "9", "a-1", "A1", "ß", "Ω", "z"]
    shop = Shop(harness, tmp_path / "inbox", {s: 1 for s in skus}, missing="zero")
    shop.drop("one.csv", ("sku,quantity\n" + "".join(f"{s},2\n" for s in skus)).encode())
    assert shop.sync().status is RunStatus.SUCCEEDED
    kept = skus[::2]
    shop.drop("two.csv", ("sku,quantity\n" + "".join(f"{s},3\n" for s in kept)).encode())

    report = shop.sync()

    assert report.status is RunStatus.SUCCEEDED, (report.steps, report.error)
    assert shop.web_stock() == {s: 3 if s in kept else 0 for s in skus}
    assert report.steps["inventory-in"]["total"] == len(skus)  # every row changed once


def test_iter_items_gives_a_whole_accepted_file_and_refuses_a_rejected_one(
    tmp_path: Path,
) -> None:
    """The plain BackOffice read (for callers that do not diff snapshots)."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    env = ConnectorEnv(
        settings={"source": str(folder), "settle_seconds": 0, "files": "all"},
        vault=MemoryVault({}),
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
    )
    feed = make_back_office(env)
    (folder / "a.csv").write_text("sku,quantity,price\nB,2,1.50\nA,1,\nB,2,1.50\n")
    os.utime(folder / "a.csv", (time.time() - 60, time.time() - 60))

    pages = list(feed.iter_items(None))

    assert [(i.sku, i.quantity, i.price) for p in pages for i in p.items] == [
        ("A", 1, None),
        ("B", 2, Decimal("1.50")),
    ]
    assert (folder / "processed" / "a.csv").exists()
    (folder / "b.csv").write_text("sku,quantity\nA,x\n")
    os.utime(folder / "b.csv", (time.time() - 60, time.time() - 60))
    with pytest.raises(PartnerResponseError, match="rejected"):
        list(feed.iter_items(None))
    assert (folder / "rejected" / "b.csv").exists()
