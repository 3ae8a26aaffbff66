"""Who may do what on PostgreSQL: group roles, GRANTs and row-level security (README, "Deploying for a registry").

``per db upgrade`` applies this after the migrations, in the same transaction, idempotently: the NOLOGIN group
roles ``{prefix}admin``, ``registry``, ``support``, ``auditor`` and ``service`` (``[database] role_prefix``,
default ``per_``), their privileges on every table of the schema (revoked and granted afresh), and the policies
that keep ``registry`` and ``support`` to the patients of their care units (table ``staff_unit``, kept by ``per
staff grant|revoke``) and ``service`` to the patient whose personnummer the login flow looks up. Staff logins are
members of one group each (``per staff add``); the schema owner and superusers bypass row-level security.

Policies call small STABLE functions written as ``(SELECT f())``, so PostgreSQL evaluates them once per
statement (an initplan), not once per row: bulk enrolment as a ``registry`` user keeps the owner's pace.
SECURITY DEFINER functions read what a role may not read itself (its own units, the audit chain's last id) and
pin their ``search_path``. On SQLite none of this exists: the file's owner is its only user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, text

from per_cli.errors import ConfigError, Forbidden

ROLES = ("admin", "registry", "support", "auditor", "service")
DEFAULT_PREFIX = "per_"
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,29}$")

_ALL = "SELECT, INSERT, UPDATE, DELETE"
_RW = "SELECT, INSERT, UPDATE"
_RO = "SELECT"
_READ_ALL = {"admin": _ALL, "auditor": _RO}
#: the patient's columns that are not the profile: ``UPDATE -(…)`` grants UPDATE on every other column
_NOT_PROFILE = "id, personnummer, unit_id, registered_on, excluded_on, exclusion_reason, created_at"

#: table -> group -> privileges. Tables not named here (added later) get ``_fallback``'s.
GRANTS: Mapping[str, Mapping[str, str]] = {
    "alembic_version": dict.fromkeys(ROLES, _RO),
    "care_unit": {**dict.fromkeys(ROLES, _RO), "admin": _ALL},
    "staff_unit": _READ_ALL,
    # support edits profiles but neither excludes nor moves a patient; service only locks the row (FOR KEY SHARE)
    "patient": {
        **_READ_ALL,
        "registry": _RW,
        "support": f"SELECT, UPDATE -({_NOT_PROFILE})",
        "service": "SELECT, UPDATE (updated_at)",
    },
    # support: a first password whose every message failed is taken back (DELETE), so it never half-exists
    "patient_credential": {**_READ_ALL, "registry": _RO, "support": _ALL, "service": _RW},
    "password_delivery": {**_READ_ALL, "registry": _RO, "support": _RW},
    # service: the proxy login reads the row by user name and counts failures; it never writes a password
    "caregiver": {**_READ_ALL, "support": _RO, "service": "SELECT, UPDATE (failed_logins, locked_until, not_before)"},
    "otp_challenge": {**_READ_ALL, "support": "SELECT, UPDATE", "service": _RW},
    "login_session": {**_READ_ALL, "support": "SELECT, UPDATE", "service": _RW},
    "registration": {**_READ_ALL, "registry": _RW, "support": _RO, "service": _RW},
    "registration_part": {**_READ_ALL, "registry": _RW, "support": _RO, "service": _RW},
    # tombstones: registry and support read their units' (row-level security); whether a number is erased, for
    # an enrolment or a look-up in any unit, is answered by per_erased() for the number asked
    "patient_erasure": {**_READ_ALL, "registry": _RO, "support": _RO},
    # #14 (login limits) and #17 (campaigns): named here so that each role gets what its commands need
    "login_throttle": {**_READ_ALL, "support": _RW, "service": _RW},
    "otp_send": {**_READ_ALL, "support": _RO, "service": _ALL},  # sends older than the window are removed
    "otp_key": {**_READ_ALL, "registry": _RO, "support": "SELECT, INSERT", "service": "SELECT, INSERT"},
    "campaign": {**_READ_ALL, "support": _RW},
    "campaign_target": {**_READ_ALL, "support": _RW},
    "transport_rate": {**_READ_ALL, "support": _RW},
    # append-only for everyone (triggers refuse UPDATE/DELETE, README "The access log"); pruning is a function
    # registry and service only append (chained from per_audit_tail()); they read nothing of it
    "audit_event": {**dict.fromkeys(ROLES, "SELECT, INSERT"), "registry": "INSERT", "service": "INSERT"},
    "audit_anchor": {"admin": _RO, "support": _RO, "auditor": _RO},
}

_EVERYONE = "true"
_MY_UNITS = "unit_id = ANY ((SELECT per_my_units())::integer[])"
_MY_UNIT_CODES = "unit_code = ANY ((SELECT per_my_unit_codes())::text[])"
_LOOKED_UP = "personnummer = ANY ((SELECT per_lookup())::text[])"
_VISIBLE_PATIENT = "EXISTS (SELECT 1 FROM patient p WHERE p.id = {table}.patient_id)"

#: the row filters of the tables with row-level security: table -> group -> USING (and WITH CHECK) expression
_PATIENT_POLICIES: Mapping[str, str] = {
    "admin": _EVERYONE,
    "auditor": _EVERYONE,
    "registry": _MY_UNITS,
    "support": _MY_UNITS,
    # key-only: the patient whose number the login flow looked up, or whose session token or one-time-code
    # challenge it holds (per_cli.staff.scope.open_lookup, open_keys)
    "service": f"{_LOOKED_UP} OR id = ANY ((SELECT per_keyed_patients())::integer[])",
}
_SPECIAL: Mapping[str, Mapping[str, str]] = {
    "patient": _PATIENT_POLICIES,
    "registration_part": {
        **dict.fromkeys(ROLES, "EXISTS (SELECT 1 FROM registration r WHERE r.id = registration_part.registration_id)"),
        "admin": _EVERYONE,
        "auditor": _EVERYONE,
    },
    "patient_erasure": {
        "admin": _EVERYONE,
        "auditor": _EVERYONE,
        "registry": _MY_UNIT_CODES,
        "support": _MY_UNIT_CODES,
    },
    # support: its units' care givers only (their password hashes included); service: any (the login names one)
    "caregiver": {"admin": _EVERYONE, "auditor": _EVERYONE, "support": _MY_UNITS, "service": _EVERYONE},
    "audit_event": {
        "admin": _EVERYONE,
        "auditor": _EVERYONE,
        # their units' events and their own that name no unit (new events chain from per_audit_tail(), which
        # reads the head); not their refusals in other units, which name the unit the patient is in
        "support": f"{_MY_UNIT_CODES} OR (actor = session_user AND unit_code IS NULL)",
    },
}
#: patient-linked tables that ``service`` also reads by their own secret key (a token's digest, a challenge id)
_SERVICE_KEYED = {
    "login_session": "token_hash = current_setting('per.token', true)",
    "otp_challenge": "id = current_setting('per.challenge', true)",
}


def _functions(schema: str, prefix: str) -> list[str]:
    definer = f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp"
    member = " OR ".join(f"pg_has_role(session_user, '{prefix}{r}', 'USAGE')" for r in ("registry", "support"))
    unrestricted = " OR ".join(f"pg_has_role(session_user, '{prefix}{r}', 'USAGE')" for r in ("admin", "auditor"))
    mine = "FROM staff_unit s JOIN care_unit u ON u.id = s.unit_id WHERE s.login = session_user"
    return [
        f"""CREATE OR REPLACE FUNCTION per_my_units() RETURNS integer[] {definer} AS $$
            SELECT coalesce(array_agg(unit_id ORDER BY unit_id), '{{}}') FROM staff_unit WHERE login = session_user
        $$""",
        f"""CREATE OR REPLACE FUNCTION per_my_unit_codes() RETURNS text[] {definer} AS $$
            SELECT coalesce(array_agg(u.code::text ORDER BY u.code), '{{}}') {mine}
        $$""",
        # NULL: not limited to units (admin, auditor, the owner); else the codes of the login's units
        f"""CREATE OR REPLACE FUNCTION per_unit_scope() RETURNS text[] {definer} AS $$
            SELECT CASE WHEN ({unrestricted}) OR NOT ({member}) THEN NULL
                        ELSE (SELECT coalesce(array_agg(u.code::text ORDER BY u.code), '{{}}') {mine}) END
        $$""",
        # one typed personnummer: 12 digits, or the readings of 10 digits (the same 10 digits, another century);
        # anything else, a list of guessed numbers, is refused
        """CREATE OR REPLACE FUNCTION per_lookup() RETURNS text[] LANGUAGE plpgsql STABLE AS $$
            DECLARE
                numbers text[] := string_to_array(nullif(current_setting('per.lookup', true), ''), ',');
            BEGIN
                IF cardinality(numbers) > 3 OR EXISTS (
                    SELECT 1 FROM unnest(numbers) n WHERE n !~ '^[0-9]{12}$' OR right(n, 10) <> right(numbers[1], 10)
                ) THEN
                    RAISE EXCEPTION 'per.lookup names one personnummer (12 digits, or the readings of 10)'
                        USING ERRCODE = '22023';
                END IF;
                RETURN numbers;
            END
        $$""",
        f"""CREATE OR REPLACE FUNCTION per_keyed_patients() RETURNS integer[] {definer} AS $$
            SELECT coalesce(array_agg(patient_id), '{{}}') FROM (
                SELECT patient_id FROM login_session WHERE token_hash = current_setting('per.token', true)
                UNION ALL
                SELECT patient_id FROM otp_challenge WHERE id = current_setting('per.challenge', true)) AS keyed
        $$""",
        f"""CREATE OR REPLACE FUNCTION per_audit_last_id() RETURNS integer {definer} AS $$
            SELECT max(id) FROM audit_event
        $$""",
        # the tombstones of the number asked (is it erased?), whichever unit the patient was in
        f"""CREATE OR REPLACE FUNCTION per_erased(number text)
            RETURNS TABLE (personnummer text, erased_at timestamptz, reason text) {definer} AS $$
            SELECT e.personnummer::text, e.erased_at, e.reason::text FROM patient_erasure e
             WHERE e.personnummer = number ORDER BY e.erased_at, e.patient_id
        $$""",
        # a login limited to units asked for patients it cannot see: each one enrolled in another unit is written
        # to the access log as a denied access (patient and unit, which the caller never learns), and its number
        # returned, so that a bulk enrolment rejects its row; nothing for a login not limited to units
        f"""CREATE OR REPLACE FUNCTION per_refuse_hidden(candidates text[], command text, claimed text)
            RETURNS SETOF text LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
            DECLARE
                hidden record;
                details text;
            BEGIN
                IF per_unit_scope() IS NULL THEN
                    RETURN;
                END IF;
                IF command IS NULL OR command !~ '^[a-z_-]{{1,30}}([.][a-z_-]{{1,30}})?$' THEN
                    command := 'unknown';
                END IF;
                details := '{{' || CASE WHEN claimed IS DISTINCT FROM session_user::text AND claimed IS NOT NULL
                                        THEN '"claimed_actor":' || to_json(left(claimed, 200))::text || ','
                                        ELSE '' END
                    || '"command":' || to_json(command)::text || ',"reason":"care unit not granted to this login"}}';
                FOR hidden IN
                    SELECT p.id, p.personnummer::text AS number, u.code::text AS code
                      FROM patient p JOIN care_unit u ON u.id = p.unit_id
                     WHERE p.personnummer = ANY (candidates) AND NOT p.unit_id = ANY (per_my_units())
                     ORDER BY p.id
                LOOP
                    PERFORM per_audit_append('patient.access', hidden.id, hidden.code, 'denied', details);
                    RETURN NEXT hidden.number;
                END LOOP;
            END
        $$""",
    ]


#: function -> the roles that may call it
_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "per_my_units()": ROLES,
    "per_my_unit_codes()": ROLES,
    "per_unit_scope()": ROLES,
    "per_lookup()": ROLES,
    "per_keyed_patients()": ROLES,
    "per_audit_last_id()": ROLES,
    "per_erased(text)": ROLES,
    "per_refuse_hidden(text[], text, text)": ("registry", "support"),  # the logins limited to units
}
#: functions of earlier versions, dropped
_REPLACED = ("per_live_patients()", "per_hidden_patient(text[])")


#: functions other migrations add (the access log's, #13 pts 3-4), granted when they exist: function -> roles
_OPTIONAL_FUNCTIONS: Mapping[str, tuple[str, ...]] = {
    "per_audit_tail()": ROLES,  # every role appends events, and chains them from the head it returns
    "per_audit_prune(timestamptz)": ("admin",),
}


def may_read(conn: Connection, table: str) -> bool:
    """Whether the connected login may SELECT from ``table``: a view leaves out what the role is not granted.

    Always true on SQLite, whose file owner is its only user.
    """
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT has_table_privilege(:t, 'SELECT')"), {"t": table}).scalar_one())


def role_prefix(configured: str | None) -> str:
    prefix = DEFAULT_PREFIX if configured is None else configured
    if not _PREFIX.match(prefix):
        raise ConfigError(
            "[database] role_prefix: must be 1–30 lower-case letters, digits or '_', starting with a letter",
            field="config",
        )
    return prefix


def group_roles(prefix: str) -> dict[str, str]:
    """Role (``admin`` …) -> the database's group role name (``per_admin`` …)."""
    return {role: f"{prefix}{role}" for role in ROLES}


def apply(conn: Connection, prefix: str) -> None:
    """Create the group roles if missing, then grant and write the policies afresh (idempotent)."""
    groups = group_roles(prefix)
    _ensure_groups(conn, groups.values())
    schema = _quote(conn, conn.exec_driver_sql("SELECT current_schema()").scalar_one())
    for statement in _functions(schema, prefix):
        conn.exec_driver_sql(statement)
    everyone = ", ".join(_quote(conn, g) for g in groups.values())
    for function, roles in _FUNCTIONS.items():
        conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        granted = ", ".join(_quote(conn, groups[r]) for r in roles)
        conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {function} TO {granted}")
    for function, roles in _OPTIONAL_FUNCTIONS.items():
        if conn.exec_driver_sql(f"SELECT to_regprocedure('{function}')").scalar() is not None:
            conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
            granted = ", ".join(_quote(conn, groups[r]) for r in roles)
            conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {function} TO {granted}")
    owner = "SELECT pg_has_role(nspowner, 'USAGE') FROM pg_namespace WHERE nspname = current_schema()"
    if conn.exec_driver_sql(owner).scalar():  # else (public, not ours): PUBLIC's USAGE is what there is
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {everyone}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {everyone}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {everyone}")
    writers = ", ".join(_quote(conn, groups[r]) for r in ROLES if r != "auditor")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {writers}")
    auditor = _quote(conn, groups["auditor"])
    conn.exec_driver_sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {auditor}")  # it logs its reads
    drop_policies(conn)
    for function in _REPLACED:
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")
    for table, columns in _tables(conn).items():
        for role, privileges in GRANTS.get(table, _fallback(columns)).items():
            privileges = _columns_but(privileges, columns, conn)
            conn.exec_driver_sql(f"GRANT {privileges} ON {_quote(conn, table)} TO {_quote(conn, groups[role])}")
        policies = _policies(table, columns)
        if policies:
            _write_policies(conn, table, policies, groups)


def _columns_but(privileges: str, columns: set[str], conn: Connection) -> str:
    """``UPDATE -(a, b)`` -> ``UPDATE (every other column)``: columns added later are covered too."""
    head, marker, rest = privileges.partition(" -(")
    if not marker:
        return privileges
    kind = head.rsplit(" ", 1)[-1]
    excluded = {c.strip() for c in rest.rstrip(")").split(",")}
    kept = ", ".join(_quote(conn, c) for c in sorted(columns - excluded))
    return f"{head[: -len(kind)]}{kind} ({kept})"


def _fallback(columns: set[str]) -> Mapping[str, str]:
    """A table this version does not name: the admin writes, the auditor reads; a patient-linked one (it has
    ``patient_id``) is also open to the roles that work with patients, within their patients (row-level security)."""
    if "patient_id" in columns:
        return {**_READ_ALL, "registry": _RW, "support": _RW, "service": _RW}
    return {**_READ_ALL, "registry": _RO, "support": _RO, "service": _RO}


def _policies(table: str, columns: set[str]) -> Mapping[str, str]:
    if table in _SPECIAL:
        return _SPECIAL[table]
    if "patient_id" not in columns:
        return {}
    visible = _VISIBLE_PATIENT.format(table=table)
    limited = dict.fromkeys(("registry", "support", "service"), visible)
    if table in _SERVICE_KEYED:
        limited["service"] = f"{_SERVICE_KEYED[table]} OR {visible}"
    return {"admin": _EVERYONE, "auditor": _EVERYONE, **limited}


def _write_policies(conn: Connection, table: str, policies: Mapping[str, str], groups: Mapping[str, str]) -> None:
    name = _quote(conn, table)
    conn.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    if table == "audit_event":  # anyone appends (the actor is checked by a trigger); reading is filtered
        everyone = ", ".join(_quote(conn, g) for g in groups.values())
        conn.exec_driver_sql(f"CREATE POLICY per_append ON {name} FOR INSERT TO {everyone} WITH CHECK (true)")
        for role, condition in policies.items():
            conn.exec_driver_sql(
                f"CREATE POLICY per_{role} ON {name} FOR SELECT TO {_quote(conn, groups[role])} USING ({condition})"
            )
        return
    for role, condition in policies.items():
        conn.exec_driver_sql(
            f"CREATE POLICY per_{role} ON {name} TO {_quote(conn, groups[role])} "
            f"USING ({condition}) WITH CHECK ({condition})"
        )


def drop_policies(conn: Connection) -> None:
    """Remove every policy this module wrote (their names start with ``per_``) in the current schema."""
    rows = conn.exec_driver_sql(
        "SELECT tablename, policyname FROM pg_policies "
        "WHERE schemaname = current_schema() AND left(policyname, 4) = 'per_'"
    ).all()
    for table, policy in rows:
        conn.exec_driver_sql(f"DROP POLICY {_quote(conn, policy)} ON {_quote(conn, table)}")


def _tables(conn: Connection) -> dict[str, set[str]]:
    rows = conn.exec_driver_sql(
        "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped"
    ).all()
    tables: dict[str, set[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), set()).add(str(column))
    return tables


def _ensure_groups(conn: Connection, names: Iterable[str]) -> None:
    wanted = list(names)
    existing = set(conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY (:n)"), {"n": wanted}).scalars())
    missing = [n for n in wanted if n not in existing]
    if not missing:
        return
    may_create = conn.exec_driver_sql(
        "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user"
    ).scalar()
    if not may_create:
        create = "; ".join(f"CREATE ROLE {n} NOLOGIN" for n in missing)
        raise Forbidden(
            f"the group roles {', '.join(missing)} do not exist and this login may not create them; "
            f"a DBA runs: {create}",
            field="database",
        )
    for role in missing:  # another database of the cluster may create it at the same moment
        conn.exec_driver_sql(
            f"DO $$ BEGIN CREATE ROLE {_quote(conn, role)} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )


def _quote(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(name))
