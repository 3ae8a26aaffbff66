"""Alembic migrations, shipped inside the package and run by ``per db upgrade``."""
