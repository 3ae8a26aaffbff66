"""access_review: tombstones know their care unit, the database chains its own events, the chain's lock times out

Revision ID: i13c
Revises: i19a

- ``patient_erasure.unit_code``: the unit the patient was in when erased (backfilled from the ``patient.erase``
  event), so row-level security keeps registry and support to their units' tombstones (``per_cli.db.roles``).

PostgreSQL (README, "The access log"):

- ``per_audit_hash(…)``: ``per_cli.audit.events.event_hash`` in SQL, byte for byte (the JSON array of the
  previous hash and the event, SHA-256), so a SECURITY DEFINER function can append a refusal it alone may see.
- ``per_audit_append(…)``: appends one event by ``session_user`` to the chain; for the owner's functions only.
- ``per_audit_tail()`` and ``per_audit_prune()``: any login may take the chain's advisory lock
  (``pg_advisory_lock`` needs no privilege), so waiting for it gives up after a few seconds (``lock_timeout``)
  with ``access log busy``, instead of stalling every audited write for as long as the holder likes.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "i13c"
down_revision = "i19a"
branch_labels = None
depends_on = None

LOCK_KEY = 4242002  # per_cli.audit.events._LOCK_KEY
LOCK_TIMEOUT = "3s"
BUSY = "access log busy: another session holds its lock"  # per_cli.db.faults matches this text

_HASH = """
CREATE OR REPLACE FUNCTION per_audit_hash(prev text, at timestamptz, actor text, action text, patient_id integer,
                                          unit_code text, outcome text, details text)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT encode(sha256(convert_to(
        '[' || to_json(prev)::text
        || ',' || to_json(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))::text
        || ',' || to_json(actor)::text || ',' || to_json(action)::text
        || ',' || coalesce(patient_id::text, 'null') || ',' || coalesce(to_json(unit_code)::text, 'null')
        || ',' || to_json(outcome)::text || ',' || to_json(details)::text || ']', 'UTF8')), 'hex')
$$
"""

_LOCK = """
    BEGIN
        PERFORM pg_advisory_xact_lock({lock});
    EXCEPTION WHEN lock_not_available THEN
        RAISE EXCEPTION '{busy}' USING ERRCODE = 'lock_not_available';
    END;
"""

_TAIL = """
CREATE OR REPLACE FUNCTION per_audit_tail() RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp SET lock_timeout = '{timeout}' AS $$
DECLARE
    head text;
BEGIN
    {lock}
    SELECT e.hash INTO head FROM audit_event e ORDER BY e.id DESC LIMIT 1;
    RETURN coalesce(head, repeat('0', 64));
END
$$
"""

_APPEND = """
CREATE OR REPLACE FUNCTION per_audit_append(action text, patient_id integer, unit_code text, outcome text,
                                            details text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    prev text := per_audit_tail();
    moment timestamptz := clock_timestamp();
    who text := session_user;
BEGIN
    INSERT INTO audit_event (at, actor, action, patient_id, unit_code, outcome, details, prev_hash, hash)
    VALUES (moment, who, action, patient_id, unit_code, outcome, details, prev,
            per_audit_hash(prev, moment, who, action, patient_id, unit_code, outcome, details));
END
$$
"""

_PRUNE = """
CREATE OR REPLACE FUNCTION per_audit_prune(cutoff timestamptz)
RETURNS TABLE (n_removed bigint, first_id bigint, last_id bigint, chain_from_hash text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp SET lock_timeout = '{timeout}' AS $$
DECLARE
    first_kept bigint;
BEGIN
    IF cutoff IS NULL OR cutoff > now() - interval '5 years' THEN
        RAISE EXCEPTION 'the cut-off % would remove events younger than five years (HSLF-FS 2016:40 4 kap. 9 §)',
            cutoff USING ERRCODE = '22023';
    END IF;
    {lock}
    SELECT min(e.id) INTO first_kept FROM audit_event e WHERE e.at >= cutoff;
    SELECT count(*), min(e.id), max(e.id) INTO n_removed, first_id, last_id
        FROM audit_event e WHERE first_kept IS NULL OR e.id < first_kept;
    IF n_removed = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF first_kept IS NULL THEN
        SELECT e.hash INTO chain_from_hash FROM audit_event e ORDER BY e.id DESC LIMIT 1;
    ELSE
        SELECT e.prev_hash INTO chain_from_hash FROM audit_event e WHERE e.id = first_kept;
    END IF;
    DELETE FROM audit_event e WHERE e.id <= last_id;
    INSERT INTO audit_anchor (at, actor, cutoff, removed, last_removed_id, chain_from)
        VALUES (now(), session_user, cutoff, n_removed, last_id, chain_from_hash);
    RETURN NEXT;
END
$$
"""


def _quoted_schema() -> str:
    name = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    return '"' + str(name).replace('"', '""') + '"'


def upgrade() -> None:
    op.add_column("patient_erasure", sa.Column("unit_code", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE patient_erasure SET unit_code = (SELECT a.unit_code FROM audit_event a "
        "WHERE a.patient_id = patient_erasure.patient_id AND a.action = 'patient.erase' ORDER BY a.id DESC LIMIT 1)"
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _quoted_schema()
    lock = _LOCK.format(lock=LOCK_KEY, busy=BUSY)
    op.execute(_HASH)
    for statement in (_TAIL, _PRUNE, _APPEND):
        op.execute(statement.format(schema=schema, timeout=LOCK_TIMEOUT, lock=lock))
    for function in ("per_audit_hash(text, timestamptz, text, text, integer, text, text, text)",
                     "per_audit_append(text, integer, text, text, text)"):  # fmt: skip
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS per_audit_append(text, integer, text, text, text)")
        op.execute("DROP FUNCTION IF EXISTS per_audit_hash(text, timestamptz, text, text, integer, text, text, text)")
        guards = importlib.import_module("per_cli.migrations.versions.i13b_audit_guards")
        schema = _quoted_schema()
        op.execute(guards._TAIL.format(schema=schema, lock=LOCK_KEY))
        op.execute(guards._PRUNE.format(schema=schema, lock=LOCK_KEY))
        for (policy,) in op.get_bind().exec_driver_sql(  # they read unit_code; db upgrade writes them afresh
            "SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = 'patient_erasure'"
        ):
            op.execute(f'DROP POLICY "{policy}" ON patient_erasure')
    op.drop_column("patient_erasure", "unit_code")
