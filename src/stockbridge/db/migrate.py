"""Bringing a database to the newest schema with the packaged Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SCHEMA_HEAD",
    "alembic_config",
    "ensure_job_schema",
    "head_revision",
    "is_current",
    "job_schema_present",
    "upgrade",
]

_MIGRATIONS = Path(__file__).parent / "migrations"

#: The newest migration's revision. Kept here so everyday commands can check the schema
#: without loading Alembic; a test keeps it equal to the migrations' real head.
SCHEMA_HEAD = "0021"


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied. Safe to run again."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")
    ensure_job_schema(engine)


def job_schema_present(engine: Engine) -> bool:
    """Whether procrastinate's tables (scaled mode's job queue) are in the database."""
    with engine.connect() as connection:
        return bool(inspect(connection).has_table("procrastinate_jobs"))


def ensure_job_schema(engine: Engine) -> bool:
    """On PostgreSQL with the ``scaled`` extra installed, apply procrastinate's schema if
    it is not there yet (migration 0017 does the same; this covers a database migrated
    before the extra was installed). Returns whether it applied it. SQLite: nothing."""
    if engine.dialect.name != "postgresql" or job_schema_present(engine):
        return False
    try:
        from procrastinate.schema import SchemaManager
    except ImportError:
        return False
    with engine.begin() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(SchemaManager.get_schema())
    return True


def head_revision() -> str | None:
    """The newest revision among the packaged migrations (loads Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database exists at the newest schema."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return list(versions) == [SCHEMA_HEAD]
