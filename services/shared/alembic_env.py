"""What every service's `migrations/env.py` runs: online migrations against the URL given by
`migrate.py` (the service's `<SERVICE>_DATABASE_URL`, or its SQLite file)."""

from alembic import context
from sqlalchemy import MetaData

from .db import make_engine


def render_item(type_, obj, autogen_context):
    if type_ == "type" and obj.__class__.__name__ == "UtcDateTime":
        autogen_context.imports.add("from services.shared.db import UtcDateTime")
        return "UtcDateTime()"
    return False


def run_migrations(metadata: MetaData) -> None:
    """Autogenerate compares only the tables the models declare: tables a migration makes by
    hand (the catalog's FTS5 index and its shadow tables) are never offered for dropping."""
    url = context.config.get_main_option("sqlalchemy.url")

    def include_name(name, type_, parent_names):
        return type_ != "table" or name in metadata.tables

    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=url.startswith("sqlite"), render_item=render_item,
                          compare_type=True, include_name=include_name)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
