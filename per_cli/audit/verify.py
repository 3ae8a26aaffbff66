"""``per audit verify``: recompute the hash chain of the access log and name the first broken event.

The chain begins at ``GENESIS`` or, after a lawful prune, at the hash recorded in the newest ``audit_anchor``;
that anchor only counts when an ``audit.prune`` event inside the verified chain names the same hash, so a row
in ``audit_anchor`` cannot hide deleted events by itself.

Speed matters (one million events must verify in seconds, see ``bench/audit.py``), so this module reads through
the driver's own cursor in batches, never builds ORM objects, has the database format ``at`` as the ISO text
``event_hash`` uses, and encodes the hashed JSON array with the C string encoder directly. Any event whose fast
hash does not match is re-read and re-hashed with ``per_cli.audit.events.event_hash`` itself before it is reported, so
the fast path can never turn a formatting difference into a false alarm. On SQLite the read is a deferred
(WAL snapshot) transaction, so writers are not blocked while a large log is verified; on PostgreSQL it is a
read-only repeatable-read snapshot over a server-side cursor, so memory stays flat.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from per_cli.audit.events import GENESIS, event_hash

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from per_cli.unit_of_work import UnitOfWork

try:  # the C accelerator json itself uses; the pure-Python fallback gives the same text
    from _json import encode_basestring as _quote
except ImportError:  # pragma: no cover - CPython always has _json
    _quote = encode_basestring

CONTENT_CHANGED = "content changed"
LINK_BROKEN = "previous event missing or reordered"
ANCHOR_UNCONFIRMED = "the prune anchor the chain starts from is not confirmed by an audit.prune event"
BATCH = 10_000

_COLUMNS = "id, {at}, actor, action, patient_id, unit_code, outcome, details, prev_hash, hash"
#: ``at`` as ``datetime.isoformat(timespec="microseconds")`` of the UTC value, formatted by the database
_AT_ISO = {
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, see UTCDateTime)
    "sqlite": "replace(at, ' ', 'T') || '+00:00'",
    "postgresql": "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verification; ``broken_at`` is the id of the first event that fails."""

    events: int
    starts_from: str
    head: str
    last_id: int | None = None
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def line(self) -> str:
        if self.intact:
            return f"ok: {self.events} events, chain intact"
        return f"broken at event {self.broken_at}: {self.reason}"

    def record(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events": self.events,
            "broken_at": self.broken_at,
            "reason": self.reason,
            "starts_from": self.starts_from,
            "head": self.head,
            "last_id": self.last_id,
        }


def _param(dialect: str) -> str:
    return "?" if dialect == "sqlite" else "%s"


def latest_anchor(cursor: Any) -> tuple[str, int] | None:
    """``(chain_from, last_removed_id)`` of the newest prune anchor, if any prune removed events."""
    cursor.execute("SELECT chain_from, last_removed_id FROM audit_anchor ORDER BY id DESC LIMIT 1")
    row = cursor.fetchone()
    return (str(row[0]), int(row[1])) if row else None


def _slow_hash(cursor: Any, dialect: str, event_id: int) -> str:
    """The event's hash recomputed through ``event_hash`` from the row as stored (no fast formatting)."""
    cursor.execute(
        "SELECT prev_hash, at, actor, action, patient_id, unit_code, outcome, details FROM audit_event "
        f"WHERE id = {_param(dialect)}",
        (event_id,),
    )
    prev, at, actor, action, patient_id, unit_code, outcome, details = cursor.fetchone()
    if isinstance(at, str):  # SQLite: naive UTC text
        at = datetime.fromisoformat(at)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return event_hash(prev, at, actor, action, patient_id, unit_code, outcome, details)


def _confirms(details: str, chain_from: str) -> bool:
    try:
        return bool(json.loads(details).get("chain_from") == chain_from)
    except (ValueError, AttributeError):
        return False


def verify_connection(dbapi_conn: Any, dialect: str) -> VerifyResult:
    """Verify the chain on a driver connection that is already inside the transaction the caller wants."""
    anchor = latest_anchor(dbapi_conn.cursor())
    start = anchor[0] if anchor else GENESIS
    confirmed = anchor is None
    sql = f"SELECT {_COLUMNS.format(at=_AT_ISO[dialect])} FROM audit_event ORDER BY id"
    if dialect == "postgresql":
        cursor = dbapi_conn.cursor(name="per_audit_verify")
        cursor.itersize = BATCH
    else:
        cursor = dbapi_conn.cursor()
    sha256 = hashlib.sha256
    quote = _quote
    prev = start
    count = 0
    first_id: int | None = None
    last_id: int | None = None
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(BATCH):
            for event_id, at, actor, action, patient_id, unit_code, outcome, details, prev_hash, digest in rows:
                if prev_hash != prev:
                    return VerifyResult(count, start, prev, last_id, event_id, LINK_BROKEN)
                # exactly json.dumps([...], ensure_ascii=False, separators=(",", ":")) of event_hash
                payload = (
                    f'["{prev_hash}","{at}",{quote(actor)},{quote(action)},'
                    f"{'null' if patient_id is None else patient_id},"
                    f"{'null' if unit_code is None else quote(unit_code)},{quote(outcome)},{quote(details)}]"
                )
                if (
                    sha256(payload.encode()).hexdigest() != digest
                    and _slow_hash(dbapi_conn.cursor(), dialect, event_id) != digest
                ):
                    return VerifyResult(count, start, prev, last_id, event_id, CONTENT_CHANGED)
                if not confirmed and action == "audit.prune" and anchor and _confirms(details, anchor[0]):
                    confirmed = True
                prev = digest
                if first_id is None:
                    first_id = event_id
                last_id = event_id
                count += 1
    finally:
        cursor.close()
    if not confirmed:
        first = first_id if first_id is not None else anchor[1] + 1 if anchor else None
        return VerifyResult(count, start, prev, last_id, first, ANCHOR_UNCONFIRMED)
    return VerifyResult(count, start, prev, last_id)


def verify(uow: UnitOfWork) -> VerifyResult:
    """Verify the whole log in one read-only snapshot that does not block writers."""
    with uow.transaction(read_only=True) as session:
        return verify_session(session)


def verify_chain(engine: Engine) -> VerifyResult:
    """:func:`verify` on an engine of one's own (benchmarks, tests)."""
    from per_cli.db.engine import session_scope

    with session_scope(engine, read_only=True) as session:
        return verify_session(session)


def verify_session(session: Session) -> VerifyResult:
    """Verify the chain inside ``session``'s transaction, through its driver connection."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None, "a checked-out connection always has a driver connection"
    return verify_connection(driver, connection.dialect.name)
