"""What a staff login's limits mean for the app (PostgreSQL; on SQLite every function here is a no-op).

Row-level security already hides the patients of other care units; these helpers make the app's answers match:
a patient hidden from the login is refused with exactly the unknown-patient answer, and the database writes the
refusal to the access log (``HiddenPatient``, ``refuse_hidden``) without telling the login where the patient is;
bulk enrolment rejects the rows of units the login lacks (``unit_scope``) and of patients enrolled in them; and
the ``service`` role's key-only access is opened for the personnummer being looked up (``open_lookup``,
``open_keys``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from per_cli.errors import Conflict, Forbidden, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine


class HiddenPatient(NotFound):
    """No patient found, by a login limited to units: the user is told "not found", and the database writes a
    denied access for each of ``candidates`` enrolled in a unit the login lacks (``record_refusal``)."""

    def __init__(self, message: str, *, field: str, candidates: Sequence[str]) -> None:
        super().__init__(message, field=field)
        self.candidates = tuple(candidates)


class HiddenEnrolled(Conflict):
    """An enrolment refused because the number is enrolled already, by a login limited to units: if in a unit the
    login lacks, the attempt is a denied access (``record_refusal``); the user is told "already enrolled"."""

    def __init__(self, message: str, *, field: str, candidates: Sequence[str]) -> None:
        super().__init__(message, field=field)
        self.candidates = tuple(candidates)


#: the refusals ``record_refusal`` writes to the access log once the refused transaction is rolled back
HIDDEN = (HiddenPatient, HiddenEnrolled)


def open_lookup(session: Session, candidates: Sequence[str]) -> None:
    """Let this connection see the patient with one of these personnummer, if the login's only access is by key
    (``service``: row-level security shows it the patient whose number it names, and no other).

    The setting lasts the connection, not only the transaction: a login flow finds the patient by number, then
    writes its rows in later transactions by the patient's id. The next look-up replaces it.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT set_config('per.lookup', :v, false)"), {"v": ",".join(candidates)})


def open_keys(session: Session, *, token_hash: str | None = None, challenge_id: str | None = None) -> None:
    """Let this connection see the session whose token digest, or the one-time-code challenge whose id, it holds,
    and that session's or challenge's patient, if the login's only access is by key (``service``)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    for name, value in (("per.token", token_hash), ("per.challenge", challenge_id)):
        if value is not None:
            conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})


def refuse_hidden(session: Session, candidates: Sequence[str], *, command: str, claimed: str | None) -> set[str]:
    """The numbers among ``candidates`` enrolled in a unit the login lacks, each written to the access log as a
    denied access by the database (``per_refuse_hidden``: the caller never learns the patient or the unit).

    Empty on SQLite and for a login not limited to units. ``claimed``: the actor the user claimed (``--actor``).
    """
    from per_cli.audit.events import forget_tail

    conn = session.connection()
    if conn.dialect.name != "postgresql" or not candidates or unit_scope(session) is None:
        return set()
    found = conn.execute(
        text("SELECT per_refuse_hidden(:c, :command, :claimed)"),
        {"c": list(candidates), "command": command, "claimed": claimed},
    )
    hidden = {str(number) for number in found.scalars()}
    forget_tail(session)  # the database appended to the chain
    return hidden


def limited_to_units(session: Session) -> bool:
    """Whether the login sees only its units' patients (PostgreSQL registry and support)."""
    return session.connection().dialect.name == "postgresql" and unit_scope(session) is not None


def not_found(session: Session, message: str, fld: str, candidates: Sequence[str]) -> NotFound:
    """The unknown-patient answer; for a login limited to units, one that has the database audit the refusal if
    the patient is enrolled in a unit the login lacks (App, ``record_refusal``)."""
    if limited_to_units(session):
        return HiddenPatient(message, field=fld, candidates=candidates)
    return NotFound(message, field=fld)


def unit_scope(session: Session) -> frozenset[str] | None:
    """The codes of the care units the login may enrol and edit in; None when it is not limited to units."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    codes = conn.exec_driver_sql("SELECT per_unit_scope()").scalar()
    return None if codes is None else frozenset(codes)


def check_unit(session: Session, code: str) -> None:
    """Refuse (exit 4) a change in a care unit the login may not act for, before the database would."""
    scope = unit_scope(session)
    if scope is not None and code not in scope:
        raise Forbidden(f"care unit {code} is not granted to you; an admin can (`per staff grant`)", field="unit")


def record_refusal(
    engine: Engine, refusal: HiddenPatient | HiddenEnrolled, *, command: str, claimed: str | None
) -> None:
    """Write the refusal to the access log in a transaction of its own (the refused one was rolled back)."""
    from per_cli.db.engine import session_scope

    with session_scope(engine) as session:
        refuse_hidden(session, refusal.candidates, command=command, claimed=claimed)
