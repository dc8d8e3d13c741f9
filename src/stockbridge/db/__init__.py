"""The hub database: models, migrations, engine set-up, unit of work and repositories."""
