"""The hub's private files (the SQLite database with its WAL and SHM files, the
credentials key) are readable by its own user only, in a home only that user may enter;
an install made before that is fixed when the hub opens, with one log line (issue 19)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings

FILES = ("stockbridge.db", "stockbridge.db-wal", "stockbridge.db-shm", "credentials.key")


def modes(home: Path) -> dict[str, int]:
    """Every entry of the home with its permission bits, the home itself as ``.``."""
    found = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir()}
    return {".": stat.S_IMODE(home.stat().st_mode), **found}


def open_and_write(home: Path, store: str) -> dict[str, int]:
    """Open the hub and write (the WAL and SHM files appear); the modes while it is open."""
    hub = bootstrap(Settings(home=home))
    hub.initialise()
    services.add_store(hub, store)
    try:
        assert {"stockbridge.db-wal", "stockbridge.db-shm"} <= set(os.listdir(home))
        return modes(home)
    finally:
        hub.engine.dispose()


@pytest.fixture(autouse=True)
def usual_umask() -> object:
    previous = os.umask(0o022)  # what most systems run services with
    yield
    os.umask(previous)


def test_a_new_home_is_private_and_so_are_the_files_sqlite_creates_later(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"

    assert open_and_write(home, "shop") == {".": 0o700, **dict.fromkeys(FILES, 0o600)}


def test_an_existing_install_is_fixed_when_the_hub_opens_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    open_and_write(home, "shop")
    home.chmod(0o755)
    for name in FILES:  # WAL and SHM files left by a hub that died, say
        (home / name).touch()
        (home / name).chmod(0o644)
    other = home / "notes.txt"  # not the hub's: left alone
    other.write_text("the merchant's own file\n")
    other.chmod(0o644)

    with caplog.at_level(logging.INFO, logger="stockbridge"):
        found = open_and_write(home, "shop-2")

    assert found == {
        ".": 0o700,
        **dict.fromkeys(FILES, 0o600),
        "notes.txt": 0o644,
    }
    fixed = [r.getMessage() for r in caplog.records if "permissions" in r.getMessage()]
    assert len(fixed) == 1, fixed
    assert "stockbridge.db 0644 -> 0600" in fixed[0] and "credentials.key" in fixed[0]
    assert f"{home} 0755 -> 0700" in fixed[0]

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="stockbridge"):
        open_and_write(home, "shop-3")

    assert not [r for r in caplog.records if "permissions" in r.getMessage()]  # nothing to fix


def test_a_database_outside_the_home_is_made_private_too(tmp_path: Path) -> None:
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=f"sqlite:///{elsewhere / 'hub.db'}")
    )
    hub.initialise()
    services.add_store(hub, "shop")

    found = modes(elsewhere)
    hub.engine.dispose()

    assert found == {".": 0o755, "hub.db": 0o600, "hub.db-wal": 0o600, "hub.db-shm": 0o600}
