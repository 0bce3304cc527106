"""Alembic environment: run by ``hub db upgrade`` (and ``hub init`` / ``hub serve``)."""

from alembic import context
from sqlalchemy import create_engine

from hub.core.exceptions import ConfigError
from hub.store.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise ConfigError("no database to migrate: give a connection or sqlalchemy.url")
        engine = create_engine(url)
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _render_item(type_, obj, autogen_context):
    # Migrations must not import the models' Python-side types: render the
    # database type they stand for, so old migrations survive model changes.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
