"""Alembic environment: runs against the engine handed over in ``config.attributes``.

On SQLite a batch migration that changes a constraint recreates the table (copy, drop,
rename). With foreign keys on, dropping the old table would first delete its rows and
cascade that to every row referring to them (a store's connections, cursors, ...), so
foreign keys are off while migrations run (the pragma only takes effect outside a
transaction), and the result is checked before it is committed.
"""

from alembic import context
from sqlalchemy import text

from stockbridge.db.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    driver = connection.connection.driver_connection
    if sqlite:
        driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
            )
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).first()
                if broken is not None:
                    raise RuntimeError(f"the migration broke a foreign key: {tuple(broken)}")
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")
