"""Alembic environment: runs on the connection ``per`` hands over, never on an ini file's URL."""

from __future__ import annotations

from alembic import context

from per_cli.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - per always passes its own connection
    raise RuntimeError("per_cli migrations run through `per db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
