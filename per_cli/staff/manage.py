"""``per staff``: add, list, grant and revoke units, disable and enable staff logins (PostgreSQL only).

A staff member is a login role that is a member of exactly one group role (``per_registry`` …). Every change
runs in one transaction under a lock only an admin can take (role DDL is transactional in PostgreSQL), so a
check such as "not the last admin" and the change it allows are atomic, and writes its audit event in that
transaction.
Names are always quoted as identifiers (psycopg ``sql.Identifier``), never formatted into SQL; a password
travels only as the SCRAM-SHA-256 verifier libpq computes on this machine, so the plain text never reaches the
server or its logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from per_cli.db.roles import group_roles, role_prefix
from per_cli.errors import Conflict, Forbidden, InvalidInput, NotFound, PerError
from per_cli.staff.names import validate_login, validate_password, validate_role

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

#: how long a staff change waits for another to finish before it gives up with one line
_LOCK_WAIT = "10s"
#: the roles whose patients are those of their units; the others see every unit (or none: service)
UNIT_ROLES = ("registry", "support")


class _Staff:
    """The open transaction of a staff change: the session, the group role names and the raw connection."""

    def __init__(self, uow: UnitOfWork, session: Session, *, manage: bool) -> None:
        if session.get_bind().dialect.name != "postgresql":
            raise PerError(
                "staff logins exist on PostgreSQL only; an SQLite file has one user, its owner", field="database"
            )
        self.uow = uow
        self.session = session
        self.groups = group_roles(role_prefix(uow.config.get_str("database", "role_prefix")))
        if manage:
            self._may_manage()
            _lock_staff_changes(session)

    def _may_manage(self) -> None:
        allowed = self.session.execute(
            text("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if not allowed:
            raise Forbidden(
                "managing staff needs a login with CREATEROLE (an admin or the DBA); this login has none",
                field="staff",
            )

    def execute(self, statement: Any, params: Sequence[Any] = ()) -> None:
        raw = self.session.connection().connection.driver_connection
        assert raw is not None
        raw.execute(statement, params)

    def role_of(self, name: str) -> str | None:
        """The staff role (``registry`` …) of an existing login, None if it is no staff member."""
        by_group = {g: r for r, g in self.groups.items()}
        found = self.session.execute(
            text(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :n AND g.rolname = ANY (:g) ORDER BY 1"
            ),
            {"n": name, "g": list(by_group)},
        ).scalars()
        roles = [by_group[g] for g in found]
        return roles[0] if roles else None

    def member(self, name: str) -> str:
        role = self.role_of(name)
        if role is None:
            raise NotFound(f"no staff login {name}; see `per staff list`", field="name")
        return role

    def exists(self, name: str) -> bool:
        query = text("SELECT 1 FROM pg_roles WHERE rolname = :n")
        return self.session.execute(query, {"n": name}).first() is not None

    def unit_ids(self, codes: Sequence[str]) -> dict[str, int]:
        from per_cli.patients.fields import validate_unit_code
        from per_cli.patients.units import get_unit

        return {code: get_unit(self.session, code).id for code in (validate_unit_code(c) for c in codes)}

    def audit(self, action: str, details: dict[str, Any]) -> None:
        from per_cli.audit.events import Event, record

        record(self.session, Event(actor=self.uow.actor, action=action, details=details))


def _units_only_for(role: str, name: str) -> None:
    if role not in UNIT_ROLES:
        raise InvalidInput(
            f"{name} is {'an' if role[0] in 'aeiou' else 'a'} {role}; care units limit only registry and support "
            "staff (admin and auditor see every unit, service none)",
            field="unit",
        )


#: PostgreSQL before 16: CREATEROLE may grant any non-superuser role, the schema owner's included
ADMIN_BEFORE_16 = (
    "on PostgreSQL before 16 an admin's CREATEROLE lets it grant itself the schema owner's role "
    '(README, "Threat model"): keep admins few, or let the DBA manage staff'
)


def add_staff(
    uow: UnitOfWork, name: str, *, role: str, units: Sequence[str] = (), password: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Create the login role NAME in the group of ``role`` with ``units``; an admin may also manage staff.

    Returns the login as printed and the warnings (an admin on PostgreSQL before 16).
    """
    from psycopg import sql

    role = validate_role(role)
    if password is not None:
        password = validate_password(password)
    with uow.transaction() as session:
        staff = _Staff(uow, session, manage=True)
        name = validate_login(name, role_prefix(uow.config.get_str("database", "role_prefix")))
        if units:
            _units_only_for(role, name)
        unit_ids = staff.unit_ids(units)
        if staff.exists(name):
            raise Conflict(f"a database role {name} already exists", field="name")
        options = sql.SQL(" CREATEROLE") if role == "admin" else sql.SQL("")
        statement = sql.SQL("CREATE ROLE {} LOGIN{} IN ROLE {}").format(
            sql.Identifier(name), options, sql.Identifier(staff.groups[role])
        )
        staff.execute(statement)
        if password is not None:
            raw = session.connection().connection.driver_connection
            assert raw is not None
            verifier = raw.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
            staff.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(verifier.decode()))
            )
        for unit_id in unit_ids.values():
            session.execute(text("INSERT INTO staff_unit (login, unit_id) VALUES (:n, :u)"), {"n": name, "u": unit_id})
        staff.audit("staff.add", {"login": name, "role": role, "units": sorted(unit_ids)})
        version = session.connection().dialect.server_version_info or (0,)
    warnings = [ADMIN_BEFORE_16] if role == "admin" and version < (16,) else []
    record = {
        "name": name,
        "role": role,
        "units": sorted(unit_ids),
        "can_login": True,
        "password": password is not None,
    }
    return record, warnings


def list_staff(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every staff login with its role, units and whether it may log in, by name."""
    with uow.transaction() as session:
        staff = _Staff(uow, session, manage=False)
        by_group = {g: r for r, g in staff.groups.items()}
        rows = session.execute(
            text(
                "SELECT u.rolname, g.rolname, u.rolcanlogin FROM pg_roles u "
                "JOIN pg_auth_members m ON m.member = u.oid JOIN pg_roles g ON g.oid = m.roleid "
                "WHERE g.rolname = ANY (:g) "
                "ORDER BY u.rolname, g.rolname"
            ),
            {"g": list(by_group)},
        ).all()
        units: dict[str, list[str]] = {}
        for login, code in session.execute(
            text("SELECT s.login, c.code FROM staff_unit s JOIN care_unit c ON c.id = s.unit_id ORDER BY c.code")
        ).tuples():
            units.setdefault(login, []).append(code)
        return [
            {"name": login, "role": by_group[group], "units": units.get(login, []), "can_login": bool(can_login)}
            for login, group, can_login in rows
        ]


def grant_units(uow: UnitOfWork, name: str, units: Sequence[str]) -> dict[str, Any]:
    """Let a registry or support login act for the patients of ``units`` too; returns its units now."""
    return _change_units(uow, name, units, grant=True)


def revoke_units(uow: UnitOfWork, name: str, units: Sequence[str]) -> dict[str, Any]:
    """Take ``units`` from a registry or support login; returns its units now."""
    return _change_units(uow, name, units, grant=False)


def _change_units(uow: UnitOfWork, name: str, units: Sequence[str], *, grant: bool) -> dict[str, Any]:
    if not units:
        raise InvalidInput("name at least one care unit", field="unit")
    with uow.transaction() as session:
        staff = _Staff(uow, session, manage=True)
        role = staff.member(name)
        _units_only_for(role, name)
        wanted = staff.unit_ids(units)
        held = set(
            session.execute(text("SELECT unit_id FROM staff_unit WHERE login = :n"), {"n": name}).scalars().all()
        )
        codes = {i: c for c, i in wanted.items()}
        if grant:
            new = [i for i in wanted.values() if i not in held]
            for unit_id in new:
                session.execute(
                    text("INSERT INTO staff_unit (login, unit_id) VALUES (:n, :u)"), {"n": name, "u": unit_id}
                )
            changed = sorted(codes[i] for i in new)
        else:
            missing = sorted(c for c, i in wanted.items() if i not in held)
            if missing:
                raise InvalidInput(f"{name} has no care unit {', '.join(missing)}", field="unit")
            session.execute(
                text("DELETE FROM staff_unit WHERE login = :n AND unit_id = ANY (:u)"), {"n": name, "u": list(codes)}
            )
            changed = sorted(wanted)
        if changed:
            staff.audit("staff.grant" if grant else "staff.revoke", {"login": name, "units": changed})
        now = session.execute(
            text("SELECT c.code FROM staff_unit s JOIN care_unit c ON c.id = s.unit_id WHERE s.login = :n ORDER BY 1"),
            {"n": name},
        ).scalars()
        return {"name": name, "role": role, "units": list(now), "changed": changed}


def set_login(uow: UnitOfWork, name: str, *, enabled: bool) -> dict[str, Any]:
    """``staff enable|disable``: allow or refuse the login (its grants and units stay)."""
    from psycopg import sql

    with uow.transaction() as session:
        staff = _Staff(uow, session, manage=True)
        role = staff.member(name)
        if not enabled and role == "admin" and not _other_admins(session, staff.groups["admin"], name):
            raise Conflict(
                f"{name} is the last admin who can log in; add another admin first (`per staff add … --role admin`)",
                field="name",
            )
        staff.execute(
            sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(name), sql.SQL("LOGIN" if enabled else "NOLOGIN"))
        )
        staff.audit("staff.enable" if enabled else "staff.disable", {"login": name})
    if enabled:
        return {"name": name, "role": role, "can_login": enabled}
    return {"name": name, "role": role, "can_login": enabled, "connections_ended": _end_connections(uow, name)}


def _end_connections(uow: UnitOfWork, name: str) -> int | None:
    """End the open connections of a login just disabled (NOLOGIN refuses only new ones); how many, or None when
    this login may not signal them (neither superuser, nor member of that role or of ``pg_signal_backend``)."""
    from sqlalchemy.exc import ProgrammingError

    with uow.transaction() as session:
        version = session.connection().dialect.server_version_info or (0,)
        wait = ", 5000" if version >= (14,) else ""  # until each has ended
        try:
            with session.begin_nested():
                return int(
                    session.execute(
                        text(
                            f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid{wait})) FROM pg_stat_activity "
                            "WHERE usename = :n AND pid <> pg_backend_pid()"
                        ),
                        {"n": name},
                    ).scalar_one()
                )
        except ProgrammingError as error:
            if getattr(error.orig, "sqlstate", None) != "42501":
                raise
            return None


def _other_admins(session: Session, group: str, name: str) -> int:
    query = text(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = :g AND u.rolcanlogin AND u.rolname <> :n"
    )
    return int(session.execute(query, {"g": group, "n": name}).scalar_one())


def _lock_staff_changes(session: Session) -> None:
    """One staff change at a time, until the transaction ends (so "not the last admin" holds when it commits).

    ``staff_unit`` in SHARE ROW EXCLUSIVE mode, not an advisory lock: only a login that may change that table (an
    admin, the schema owner) can take it, so no other login can stall staff changes, and readers of the table
    (every policy's ``per_my_units()``) do not wait. The wait gives up after ``_LOCK_WAIT``."""
    conn = session.connection()
    old = conn.execute(text("SELECT current_setting('lock_timeout')")).scalar_one()
    conn.execute(text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": _LOCK_WAIT})
    conn.execute(text("LOCK TABLE staff_unit IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(text("SELECT set_config('lock_timeout', :old, true)"), {"old": old})
