"""Driver faults turned into one-line errors a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from per_cli.errors import PerError


@contextmanager
def translate_db_errors() -> Iterator[None]:
    try:
        yield
    except exc.OperationalError as error:
        text = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if "locked" in text or "busy" in text:
            raise PerError(
                "database is locked by another writer; nothing was changed, try again", field="database"
            ) from None
        raise PerError(f"cannot use the database: {text}", field="database") from None
