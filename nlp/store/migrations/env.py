"""Alembic's entry point: migrations run on the connection :mod:`nlp.store.store` passes in
``config.attributes["connection"]`` (there is no alembic.ini: the store's URL is the only
setting)."""

from __future__ import annotations

from alembic import context

from nlp.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
