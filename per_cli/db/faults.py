"""Driver faults turned into one-line errors a person can act on, never holding the statement's values.

The engines are made with ``hide_parameters`` (``per_cli.db.engine``), so SQLAlchemy's own texts carry no
values either; here every driver error becomes one line from its SQLSTATE and the names the driver reports
(column, constraint) -- never the driver's message body, whose ``DETAIL`` quotes the row (a personnummer).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc
from sqlalchemy.orm import exc as orm_exc

from per_cli.errors import Conflict, Contention, Forbidden, PerError

_REMOVED = "what this refers to was removed meanwhile (was the patient erased?); nothing was changed"
_LOST = "the connection to the database was lost; nothing was changed, try again"

#: SQLSTATE classes and codes of values the database refuses (PostgreSQL), in words without the value
_DATA_ERRORS = {
    "22001": "a text is longer than its column allows",
    "22003": "a number is out of range",
    "22007": "a date or time is not valid",
    "22008": "a date or time is out of range",
    "22021": "a text holds a character the database refuses (a NUL byte?)",
    "22P05": "a text holds a character the database refuses (a NUL byte?)",
}


@contextmanager
def translate_db_errors(url: str | None = None, origin: str = "--database") -> Iterator[None]:
    """Driver faults inside the block become one line; ``url`` and its ``origin`` let a SQLite fault name the
    file and where to name another."""
    try:
        yield
    except exc.OperationalError as error:
        raise _operational(error, url, origin) from None
    except exc.IntegrityError as error:
        raise _integrity(error) from None
    except exc.DataError as error:
        raise PerError(f"{describe_refusal(error)}; nothing was changed", field="database") from None
    except orm_exc.StaleDataError:
        # an update of a row deleted meanwhile, e.g. a profile edited while the patient was erased
        raise PerError(_REMOVED, field="database") from None
    except exc.ProgrammingError as error:
        if _sqlstate(error) != "42501":  # insufficient_privilege, a row-level security check
            raise PerError(
                f"the database failed ({_name(error)}{_state(error)}); nothing was changed", field="database"
            ) from None
        raise Forbidden(
            f"{_first_line(error)}: this login's staff role may not do this (see `per staff list`)", field="database"
        ) from None
    except exc.DBAPIError as error:  # InterfaceError, InternalError, …
        if error.connection_invalidated:
            raise PerError(_LOST, field="database") from None
        raise PerError(
            f"the database failed ({_name(error)}{_state(error)}); nothing was changed", field="database"
        ) from None


def describe_refusal(error: exc.DBAPIError) -> str:
    """One line, without the values, for a statement the database refused (``DataError``, ``IntegrityError``)."""
    state = _sqlstate(error)
    column = _diag(error, "column_name")
    where = f" ({column})" if column else ""
    if state in _DATA_ERRORS:
        return f"the database refused a value: {_DATA_ERRORS[state]}{where}"
    if isinstance(error, exc.IntegrityError):
        constraint = _diag(error, "constraint_name")
        kind = "a unique key" if is_unique(error) else "a rule"
        named = f" {constraint}" if constraint else ""
        return f"the database refused the row: it breaks {kind}{named}{where}"
    return f"the database refused a value ({_name(error)}{_state(error)}){where}"


def _operational(error: exc.OperationalError, url: str | None = None, origin: str = "--database") -> PerError:
    state = _sqlstate(error)
    if state in ("40P01", "40001"):  # deadlock, serialization failure
        return Contention(
            "another change to the same rows got in the way; nothing was changed, try again", field="database"
        )
    if error.connection_invalidated or (state or "").startswith("08") or state in ("57P01", "57P02", "57P03"):
        return PerError(_LOST, field="database")
    text = _first_line(error)
    if state == "55P03":  # lock_not_available: per_audit_tail() waits a few seconds for the chain's lock at most
        what = "access log busy: another session holds its lock" if "access log busy" in text else "lock wait timed out"
        return Contention(f"{what}; nothing was changed; try again", field="database")
    if "locked" in text or "busy" in text:
        return PerError("database is locked by another writer; nothing was changed, try again", field="database")
    file = _sqlite_file(url)
    if file is not None and "readonly database" in text:
        return PerError(
            f"{file} cannot be written ({text}); nothing was changed: give your user write access to the file and "
            f"its folder ({_elsewhere(origin)})",
            field="database",
        )
    if file is not None and "unable to open database file" in text:
        return PerError(
            f"cannot open {file} ({text}): check that its folder exists and you may read and write both "
            f"({_elsewhere(origin)})",
            field="database",
        )
    return PerError(f"cannot use the database: {text}", field="database")


def _sqlite_file(url: str | None) -> str | None:
    """The file a SQLite URL names, a ``file:`` URI's too (its query left out); None for anything else."""
    from urllib.parse import unquote

    scheme, sep, rest = (url or "").partition(":///")
    if not sep or not scheme.startswith("sqlite"):
        return None
    name = unquote(rest.split("?", 1)[0]).removeprefix("file:")
    return name if name and name != ":memory:" else None


def _elsewhere(origin: str) -> str:
    """Where to name another database instead: the place this one's URL came from."""
    if origin == "default":
        return "or name another database with --database or PER_DATABASE_URL"
    if origin.startswith(("PER_", "--")):
        return f"or name another database with {origin}"
    return f"or name another database with --database ({origin} named this one)"


def _integrity(error: exc.IntegrityError) -> PerError:
    if _foreign_key_violation(error):
        # e.g. a registration started for a patient erased while it was being written (README, "Patients' rights")
        return PerError(_REMOVED, field="database")
    if is_unique(error):
        return Conflict(
            "the same row was written meanwhile by another run; nothing was changed, try again", field="database"
        )
    return PerError(f"{describe_refusal(error)}; nothing was changed", field="database")


def _foreign_key_violation(error: exc.DBAPIError) -> bool:
    return _sqlstate(error) == "23503" or "FOREIGN KEY constraint failed" in str(error.orig)


def is_unique(error: exc.DBAPIError) -> bool:
    """True for a unique key violation (the row exists), on either backend."""
    return _sqlstate(error) == "23505" or "UNIQUE constraint failed" in str(error.orig)


def _sqlstate(error: exc.DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _state(error: exc.DBAPIError) -> str:
    state = _sqlstate(error)
    return f" {state}" if state else ""


def _name(error: exc.DBAPIError) -> str:
    return type(error.orig).__name__ if error.orig is not None else type(error).__name__


def _diag(error: exc.DBAPIError, name: str) -> str | None:
    value = getattr(getattr(error.orig, "diag", None), name, None)
    return value if isinstance(value, str) and value.isidentifier() else None


def _first_line(error: exc.DBAPIError) -> str:
    """The driver's first line: the reason (a DETAIL line, which may quote the row, is never shown)."""
    text = str(error.orig).strip() if error.orig is not None else type(error).__name__
    return (text.splitlines() or [type(error).__name__])[0]
