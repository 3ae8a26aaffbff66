"""``per audit prune``: remove access-log events older than the retention period, and nothing younger.

On PostgreSQL the removal itself is ``per_audit_prune`` (a SECURITY DEFINER function, migration i13b), which
enforces the five-year floor in SQL and is the only way past the log's append-only trigger.

HSLF-FS 2016:40 4 kap. 9 § requires the logs to be kept at least five years, so the cut-off may be no later
than today minus five years (a 29 February becomes 28 February: the earlier day, never a day too young).
Only a prefix of the chain is removed (every event before the first one at or after the cut-off), after the
whole chain has been verified: a prune must not erase the evidence of tampering. An ``audit_anchor`` row
records the hash the first kept event chains from, and the prune itself is an audited event naming that hash,
so ``per audit verify`` still passes afterwards and an anchor no prune wrote is not trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from per_cli.db.models import AuditAnchor, AuditEvent, utcnow
from per_cli.errors import AuthDenied, Conflict, InvalidInput

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

RETENTION_YEARS = 5


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)


def latest_cutoff(today: date | None = None) -> date:
    """The latest lawful cut-off: every event strictly before it is at least five years old."""
    return years_before(today or date.today(), RETENTION_YEARS)


def check_cutoff(before: date, today: date | None = None) -> None:
    latest = latest_cutoff(today)
    if before > latest:
        raise InvalidInput(
            f"{before.isoformat()} would remove events younger than {RETENTION_YEARS} years "
            f"(HSLF-FS 2016:40 4 kap. 9 §); the latest allowed cut-off today is {latest.isoformat()}",
            field="before",
        )


@dataclass(frozen=True)
class PruneResult:
    before: date
    removed: int
    first_id: int | None
    last_id: int | None
    dry_run: bool

    def record(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "removed": self.removed,
            "first_removed_id": self.first_id,
            "last_removed_id": self.last_id,
            "dry_run": self.dry_run,
        }

    def line(self) -> str:
        span = f" (events {self.first_id}–{self.last_id})" if self.removed else ""
        if self.dry_run:
            return f"would remove {self.removed} events before {self.before.isoformat()}{span}; nothing changed"
        return f"removed {self.removed} events before {self.before.isoformat()}{span}"


def prune(uow: UnitOfWork, before: date, *, dry_run: bool = False, today: date | None = None) -> PruneResult:
    """Remove the events before ``before`` (local midnight) if the law allows and the chain is intact."""
    check_cutoff(before, today)
    with uow.transaction() as session:
        return _prune(session, uow.actor, before, dry_run)


def _prune(session: Session, actor: str, before: date, dry_run: bool) -> PruneResult:
    from per_cli.audit.events import Event, chain_tail, record
    from per_cli.audit.verify import verify_session

    cutoff = datetime.combine(before, time()).astimezone()
    _may_prune(session)
    tail = chain_tail(session)  # takes the chain's writer lock (PostgreSQL): nothing is appended meanwhile
    first_kept = session.execute(select(func.min(AuditEvent.id)).where(AuditEvent.at >= cutoff)).scalar()
    doomed = select(func.count(), func.min(AuditEvent.id), func.max(AuditEvent.id))
    if first_kept is not None:
        doomed = doomed.where(AuditEvent.id < first_kept)
    removed, first_id, last_id = session.execute(doomed).one()
    result = PruneResult(before, int(removed), first_id, last_id, dry_run)
    if dry_run or not removed:
        return result
    verified = verify_session(session)
    if not verified.intact:
        raise Conflict(
            f"the chain is broken at event {verified.broken_at} ({verified.reason}); "
            "investigate before pruning, nothing was removed",
            field="audit",
        )
    if first_kept is None:
        chain_from = tail
    else:
        chain_from = session.execute(select(AuditEvent.prev_hash).where(AuditEvent.id == first_kept)).scalar_one()
    # the prune event goes first, at the tail: it survives the deletion and names the anchor it justifies
    record(
        session,
        Event(
            actor=actor,
            action="audit.prune",
            details={
                "before": before.isoformat(),
                "removed": removed,
                "first_removed_id": first_id,
                "last_removed_id": last_id,
                "chain_from": chain_from,
            },
        ),
    )
    if session.connection().dialect.name == "postgresql":
        _remove_postgresql(session, cutoff, result)
    else:
        _remove_sqlite(session, actor, cutoff, result, chain_from)
    return result


def _may_prune(session: Session) -> None:
    """On PostgreSQL only a login granted ``per_audit_prune`` (the admin role) may prune, or even count for it."""
    from sqlalchemy import text

    if session.connection().dialect.name != "postgresql":
        return
    allowed = session.execute(
        text("SELECT has_function_privilege('per_audit_prune(timestamptz)', 'EXECUTE')")
    ).scalar_one()
    if not allowed:
        raise AuthDenied("only an administrator may prune the access log", field="audit")


def _remove_postgresql(session: Session, cutoff: datetime, expected: PruneResult) -> None:
    """``per_audit_prune`` (SECURITY DEFINER, migration i13b) removes the prefix and writes the anchor: only it may."""
    from sqlalchemy import exc, text

    try:
        removed, first_id, last_id, _ = session.execute(
            text("SELECT * FROM per_audit_prune(:cutoff)"), {"cutoff": cutoff}
        ).one()
    except exc.DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == "22023":
            raise InvalidInput(
                "the database refuses a cut-off younger than five years (HSLF-FS 2016:40 4 kap. 9 §); "
                "check the database server's clock and time zone",
                field="before",
            ) from None
        if getattr(error.orig, "sqlstate", None) == "42501":
            raise AuthDenied("only an administrator may prune the access log", field="audit") from None
        raise
    if (removed, first_id, last_id) != (expected.removed, expected.first_id, expected.last_id):  # pragma: no cover
        raise Conflict("the database and per disagree on what the prune removes; nothing was removed", field="audit")


def _remove_sqlite(session: Session, actor: str, cutoff: datetime, result: PruneResult, chain_from: str) -> None:
    """The file's owner is trusted: lift the delete guard inside this transaction only, then restore it."""
    conn = session.connection()
    guard = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_event_no_delete'"
    ).scalar()
    if guard:
        conn.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
    session.execute(
        delete(AuditEvent).where(AuditEvent.id <= result.last_id).execution_options(synchronize_session=False)
    )
    if guard:
        conn.exec_driver_sql(str(guard))
    session.execute(
        insert(AuditAnchor).values(
            at=utcnow(),
            actor=actor,
            cutoff=cutoff,
            removed=result.removed,
            last_removed_id=result.last_id,
            chain_from=chain_from,
        )
    )
