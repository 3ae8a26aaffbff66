"""Driver faults turned into one-line errors a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc
from sqlalchemy.orm import exc as orm_exc

from per_cli.errors import Contention, Forbidden, PerError


@contextmanager
def translate_db_errors() -> Iterator[None]:
    try:
        yield
    except exc.OperationalError as error:
        if getattr(error.orig, "sqlstate", None) in ("40P01", "40001"):  # deadlock, serialization failure
            raise Contention(
                "another change to the same rows got in the way; nothing was changed, try again", field="database"
            ) from None
        text = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if "locked" in text or "busy" in text:
            raise PerError(
                "database is locked by another writer; nothing was changed, try again", field="database"
            ) from None
        raise PerError(f"cannot use the database: {text}", field="database") from None
    except exc.ProgrammingError as error:
        if getattr(error.orig, "sqlstate", None) != "42501":  # insufficient_privilege, a row-level security check
            raise
        text = str(error.orig).strip().splitlines()[0]
        raise Forbidden(
            f"{text}: this login's staff role may not do this (see `per staff list`)", field="database"
        ) from None
    except exc.IntegrityError as error:
        if not _foreign_key_violation(error):
            raise
        # e.g. a registration started for a patient erased while it was being written (README, "Patients' rights")
        raise PerError(_REMOVED, field="database") from None
    except orm_exc.StaleDataError:
        # an update of a row deleted meanwhile, e.g. a profile edited while the patient was erased
        raise PerError(_REMOVED, field="database") from None


_REMOVED = "what this refers to was removed meanwhile (was the patient erased?); nothing was changed"


def _foreign_key_violation(error: exc.IntegrityError) -> bool:
    return getattr(error.orig, "sqlstate", None) == "23503" or "FOREIGN KEY constraint failed" in str(error.orig)
