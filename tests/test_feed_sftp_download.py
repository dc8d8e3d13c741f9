"""An SFTP feed's size cap (``max_file_mb``) holds while the file downloads, not only at
the look before it: a file that grows past the cap meanwhile is refused whole and
nothing of it applied (issue 19)."""

from __future__ import annotations

from pathlib import Path

from stockbridge.domain.model import RunStatus
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    SftpServer,
    connect,
    make_hub,
    seed_web,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
    sync_stock,
)


def test_a_file_that_grows_past_the_cap_while_downloading_is_refused(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 4})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,5\n")  # small at the look
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        secrets={"password": sftp_server.password},
        max_file_mb=1,
    )
    sftp_server.grow_after_stat = (b"Z" * 100_000 + b",1\n") * 12  # 1.2 MB more, after the look

    report = sync_stock(hub)

    assert report.status is RunStatus.FAILED
    assert "larger than 1 MB" in str(report.steps["inventory-in"]["message"])
    assert bc_store.stock() == {"A": 4}
    hub.engine.dispose()


def test_a_file_within_the_cap_is_downloaded_whole(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 4, "B": 0})
    rows = "".join(f"S{i},{i % 7},{'n' * 1000}\n" for i in range(1500))  # 1.5 MB: 2 chunks
    (sftp_server.root / "stock.csv").write_text(f"sku,quantity,name\nA,5,a\n{rows}B,3,b\n")
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        secrets={"password": sftp_server.password},
        max_file_mb=2,
    )

    report = sync_stock(hub)

    assert report.steps["inventory-in"]["status"] == "succeeded", report
    assert bc_store.stock() == {"A": 5, "B": 3}  # the last row too
    hub.engine.dispose()
