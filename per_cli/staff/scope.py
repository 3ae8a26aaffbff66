"""What a staff login's limits mean for the app (PostgreSQL; on SQLite every function here is a no-op).

Row-level security already hides the patients of other care units; these helpers make the app's answers match:
a patient hidden from the login is refused with exactly the unknown-patient answer, and the refusal is written
to the access log (``HiddenPatient``); bulk enrolment rejects the rows of units the login lacks up front
(``unit_scope``); and the ``service`` role's key-only access is opened for the personnummer being looked up
(``open_lookup``, ``open_keys``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.orm import Session

from per_cli.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Engine


class HiddenPatient(NotFound):
    """A patient exists but in a care unit the login may not see: the user is told "not found", the log "denied"."""

    def __init__(self, message: str, *, field: str, patient_id: int, unit_code: str) -> None:
        super().__init__(message, field=field)
        self.patient_id = patient_id
        self.unit_code = unit_code


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


def hidden_patient(session: Session, candidates: Sequence[str]) -> tuple[int, str] | None:
    """(id, unit code) of an enrolled patient with one of these numbers that the login may not see, if any."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(text("SELECT * FROM per_hidden_patient(:c)"), {"c": list(candidates)}).first()
    return None if row is None else (int(row[0]), str(row[1]))


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


def record_refusal(engine: Engine, actor: str, refusal: HiddenPatient) -> None:
    """Write the refusal to the access log in a transaction of its own (the refused one was rolled back)."""
    from per_cli.audit.events import Event, record
    from per_cli.db.engine import session_scope

    event = Event(
        actor=actor,
        action="patient.access",
        patient_id=refusal.patient_id,
        unit_code=refusal.unit_code,
        outcome="denied",
        details={"reason": "care unit not granted to this login"},
    )
    with session_scope(engine) as session:
        record(session, event)
