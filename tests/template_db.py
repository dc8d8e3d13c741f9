"""One migrated hub database per test session (per pytest-xdist worker), copied for each
test instead of running every migration again.

- SQLite: the template is a file migrated once (``Hub.initialise``); a test's database is
  a byte copy of it (its WAL mode is in the file's header), which the test's own
  ``initialise`` then finds at head.
- PostgreSQL: the template is a schema migrated once; a test's schema is made from its
  ``pg_dump --schema-only`` (plus the ``alembic_version`` row) with the schema's name
  replaced, one statement batch instead of the migrations. Without ``pg_dump`` on the
  PATH the test's schema is migrated as before.

Tests of the migrations themselves (``tests/test_database.py``) start from empty
databases and do not use this.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import create_engine, text

from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings

__all__ = ["postgres_schema_sql", "sqlite_copy"]

_made: dict[str, object] = {}


def _scratch() -> Path:
    if "dir" not in _made:
        directory = Path(tempfile.mkdtemp(prefix="sb-template-"))
        atexit.register(shutil.rmtree, directory, True)
        _made["dir"] = directory
    return _made["dir"]  # type: ignore[return-value]


def _migrate(database_url: str, home: Path) -> None:
    hub = bootstrap(Settings(home=home, database_url=database_url))
    try:
        hub.initialise()
    finally:
        hub.engine.dispose()


def sqlite_copy(path: Path) -> str:
    """A SQLite URL for ``path``, the file a copy of the session's migrated template."""
    template = _scratch() / "template.db"
    if not template.exists():
        building = template.with_name(f"building-{uuid.uuid4().hex}.db")
        _migrate(f"sqlite:///{building}", _scratch() / "home")
        building.replace(template)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
    return f"sqlite:///{path}"


_PLACEHOLDER = "sb_template_schema_name"


def postgres_schema_sql(admin_url: str) -> str | None:
    """The SQL that makes a migrated hub schema named ``sb_template_schema_name`` (replace
    it with the test's schema name), from a schema migrated once per session; None when
    ``pg_dump`` is not available (the caller migrates instead)."""
    if "sql" in _made:
        return _made["sql"]  # type: ignore[return-value]
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        _made["sql"] = None
        return None
    schema = f"sb_tpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        _migrate(f"{admin_url}?options={quote(f'-csearch_path={schema}')}", _scratch() / "pg")
        with admin.connect() as connection:
            version = connection.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))
        parts = urlsplit(admin_url.replace("+psycopg", ""))
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
        dump = subprocess.run(
            [
                pg_dump,
                "--schema-only",
                "--no-owner",
                "--no-privileges",
                f"--schema={schema}",
                f"--dbname={parts._replace(query='').geturl()}",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if dump.returncode != 0:
            _made["sql"] = None
            return None
        body = "\n".join(
            line
            for line in dump.stdout.splitlines()
            # the schema itself and psql's meta-commands (\\restrict); pg_dump's session
            # settings stay (function bodies are not checked until they run)
            if not line.startswith(("CREATE SCHEMA", "\\"))
        )
        body = re.sub(rf"\b{schema}\b", _PLACEHOLDER, body)
        body += (
            f"\nINSERT INTO {_PLACEHOLDER}.alembic_version (version_num) VALUES ('{version}');\n"
        )
        _made["sql"] = body
        return body
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def placeholder() -> str:
    return _PLACEHOLDER
