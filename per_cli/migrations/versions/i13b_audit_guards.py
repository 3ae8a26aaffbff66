"""audit_guards: the database names the actor, the access log is append-only, prune and tail run as the owner

Revision ID: i13b
Revises: i17a

PostgreSQL (README, "The access log"):

- ``audit_event_actor``/``audit_anchor_actor``: a row whose actor is not ``session_user`` (the login role) is
  refused, so neither ``per --actor`` nor ``psql`` can write another name as the actor.
- ``audit_event_append_only``/``audit_anchor_append_only``: ``UPDATE``, ``DELETE`` and ``TRUNCATE`` are refused
  for everyone, the owner included, except a ``DELETE`` run by the owner inside ``per_audit_prune`` (the trigger
  reads the call stack, so no setting a caller can change unlocks it). A superuser or the owner can still drop
  the triggers: signed checkpoints (``per audit checkpoint``) are what catches them.
- ``per_audit_prune(cutoff)``: SECURITY DEFINER; refuses a cut-off later than five years ago (HSLF-FS 2016:40
  4 kap. 9 §) in SQL, removes the prefix of the chain before it and writes the anchor, under the chain's lock.
- ``per_audit_tail()``: SECURITY DEFINER; takes the chain's writer lock and returns the head hash, so a role that
  may append events need not read them.

SQLite: triggers that abort ``UPDATE`` and ``DELETE`` on both tables; ``per audit prune`` lifts the delete trigger
inside its own transaction (the owner of a SQLite file is trusted; checkpoints cover them).
"""

from __future__ import annotations

from alembic import op

revision = "i13b"
down_revision = "i17a"
branch_labels = None
depends_on = None

TABLES = ("audit_event", "audit_anchor")
LOCK_KEY = 4242002  # per_cli.audit.events._LOCK_KEY

_ACTOR_CHECK = """
CREATE OR REPLACE FUNCTION per_audit_actor_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.actor IS DISTINCT FROM session_user::text THEN
        RAISE EXCEPTION 'the actor of % must be the login role of the session (%)', TG_TABLE_NAME, session_user
            USING ERRCODE = '42501';
    END IF;
    RETURN NEW;
END
$$
"""

_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION per_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stack text;
    owner text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        GET DIAGNOSTICS stack = PG_CONTEXT;
        SELECT pg_get_userbyid(relowner) INTO owner FROM pg_class WHERE oid = TG_RELID;
        IF current_user::text = owner AND stack ~ '(^|\\n)PL/pgSQL function ([^ ]*\\.)?per_audit_prune\\(' THEN
            RETURN NULL;
        END IF;
    END IF;
    RAISE EXCEPTION 'the access log is append-only: % on % is refused (only per audit prune removes events)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';
END
$$
"""

_PRUNE = """
CREATE OR REPLACE FUNCTION per_audit_prune(cutoff timestamptz)
RETURNS TABLE (n_removed bigint, first_id bigint, last_id bigint, chain_from_hash text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    first_kept bigint;
BEGIN
    IF cutoff IS NULL OR cutoff > now() - interval '5 years' THEN
        RAISE EXCEPTION 'the cut-off % would remove events younger than five years (HSLF-FS 2016:40 4 kap. 9 §)',
            cutoff USING ERRCODE = '22023';
    END IF;
    PERFORM pg_advisory_xact_lock({lock});
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

_TAIL = """
CREATE OR REPLACE FUNCTION per_audit_tail() RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    head text;
BEGIN
    PERFORM pg_advisory_xact_lock({lock});
    SELECT e.hash INTO head FROM audit_event e ORDER BY e.id DESC LIMIT 1;
    RETURN coalesce(head, repeat('0', 64));
END
$$
"""

_SQLITE_GUARD = (
    "CREATE TRIGGER {table}_no_{verb} BEFORE {op} ON {table} BEGIN "
    "SELECT RAISE(ABORT, 'the access log is append-only: {op} on {table} is refused "
    "(only per audit prune removes events)'); END"
)


def _quoted_schema() -> str:
    name = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar()
    return '"' + str(name).replace('"', '""') + '"'


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for verb, op_name in (("update", "UPDATE"), ("delete", "DELETE")):
                op.execute(_SQLITE_GUARD.format(table=table, verb=verb, op=op_name))
        return
    schema = _quoted_schema()
    op.execute(_ACTOR_CHECK)
    op.execute(_APPEND_ONLY)
    op.execute(_PRUNE.format(schema=schema, lock=LOCK_KEY))
    op.execute(_TAIL.format(schema=schema, lock=LOCK_KEY))
    op.execute("REVOKE ALL ON FUNCTION per_audit_prune(timestamptz) FROM PUBLIC")
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_actor BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION per_audit_actor_check()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION per_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_actor ON {table}")
    op.execute("DROP FUNCTION IF EXISTS per_audit_tail()")
    op.execute("DROP FUNCTION IF EXISTS per_audit_prune(timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS per_audit_append_only()")
    op.execute("DROP FUNCTION IF EXISTS per_audit_actor_check()")
