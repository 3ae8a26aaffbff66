"""audit_chain: on PostgreSQL a staff login appends only events stamped now and chained to the log's real head

Revision ID: i13d
Revises: i13c

``audit_event_chain`` (AFTER INSERT, once per statement, over the rows it added): for a login that is not the
table's owner (nor a superuser), every new event's ``at`` must be the transaction's ``now()`` and its
``prev_hash`` the hash of the event before it (the first one's: the log's head before the statement), under the
chain's lock; else the statement is refused. So a staff login with ``psql`` cannot append a back-dated event, or one
chained to a head of its choosing, that ``per audit verify`` would pass; a wrong ``hash`` breaks the chain where
verify shows it, in the login's own name. The owner and superusers can drop the trigger anyway (signed checkpoints
catch them): the trigger's ``WHEN`` skips them without calling a function. One set-based check per statement
keeps a bulk enrolment's thousands of events cheap. ``per_audit_append`` stamps its events with ``now()`` too.
"""

from __future__ import annotations

from alembic import op

revision = "i13d"
down_revision = "i13c"
branch_labels = None
depends_on = None

LOCK_KEY = 4242002  # per_cli.audit.events._LOCK_KEY

_CHECK = """
CREATE OR REPLACE FUNCTION per_audit_chain_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    first_id bigint;
    head text;
    bad bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({lock});  -- per holds it already (per_audit_tail)
    SELECT min(a.id) INTO first_id FROM added a;
    SELECT e.hash INTO head FROM audit_event e WHERE e.id < first_id ORDER BY e.id DESC LIMIT 1;
    SELECT c.id INTO bad FROM (
        SELECT a.id, a.at, a.prev_hash,
               lag(a.hash, 1, coalesce(head, repeat('0', 64))) OVER (ORDER BY a.id) AS expected
          FROM added a) AS c
     WHERE c.at IS DISTINCT FROM now() OR c.prev_hash IS DISTINCT FROM c.expected
     ORDER BY c.id LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'the access log takes only events stamped now() and chained to its head (event %)', bad
            USING ERRCODE = '42501';
    END IF;
    RETURN NULL;
END
$$
"""

_APPEND = """
CREATE OR REPLACE FUNCTION per_audit_append(action text, patient_id integer, unit_code text, outcome text,
                                            details text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, {schema}, pg_temp AS $$
DECLARE
    prev text := per_audit_tail();
    moment timestamptz := now();
    who text := session_user;
BEGIN
    INSERT INTO audit_event (at, actor, action, patient_id, unit_code, outcome, details, prev_hash, hash)
    VALUES (moment, who, action, patient_id, unit_code, outcome, details, prev,
            per_audit_hash(prev, moment, who, action, patient_id, unit_code, outcome, details));
END
$$
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    name = bind.exec_driver_sql("SELECT current_schema()").scalar()
    schema = '"' + str(name).replace('"', '""') + '"'
    op.execute(_CHECK.format(schema=schema, lock=LOCK_KEY))
    op.execute(_APPEND.format(schema=schema))
    op.execute("REVOKE ALL ON FUNCTION per_audit_chain_check() FROM PUBLIC")
    owner = bind.exec_driver_sql("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'audit_event'::regclass")
    op.execute(
        "CREATE TRIGGER audit_event_chain AFTER INSERT ON audit_event REFERENCING NEW TABLE AS added "
        f"FOR EACH STATEMENT WHEN (NOT pg_has_role(session_user, {_literal(str(owner.scalar()))}, 'MEMBER')) "
        "EXECUTE FUNCTION per_audit_chain_check()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_event_chain ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS per_audit_chain_check()")
