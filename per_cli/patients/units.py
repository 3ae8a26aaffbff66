"""Care units (vårdenheter): the unit a patient and a care giver belong to decides proxy access."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from per_cli.db.models import CareUnit, Patient
from per_cli.errors import Conflict, NotFound
from per_cli.identity.text import NAME_MAX, required_text
from per_cli.patients.fields import validate_unit_code

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


def create_unit(session: Session, code: str, name: str) -> CareUnit:
    code = validate_unit_code(code)
    name = required_text(name, "name", NAME_MAX)
    if session.execute(select(CareUnit.id).where(CareUnit.code == code)).first():
        raise Conflict(f"care unit {code} already exists", field="unit")
    unit = CareUnit(code=code, name=name)
    session.add(unit)
    session.flush()
    return unit


def get_unit(session: Session, code: str, *, field: str = "unit") -> CareUnit:
    unit = session.execute(select(CareUnit).where(CareUnit.code == code.strip().upper())).scalar_one_or_none()
    if unit is None:
        raise NotFound(f"no care unit {code.strip().upper()!s}; see `per unit list`", field=field)
    return unit


def unit_choices(session: Session, prefix: str, *, limit: int = 200) -> list[tuple[str, str]]:
    """Codes starting with ``prefix`` (any case) and their names, by code: what TAB offers after ``--unit``."""
    start = prefix.strip().upper()
    query = select(CareUnit.code, CareUnit.name).order_by(CareUnit.code).limit(limit)
    if start:
        query = query.where(CareUnit.code.startswith(start, autoescape=True))
    return [(code, name) for code, name in session.execute(query).tuples()]


# --- use cases ---


def add_unit(uow: UnitOfWork, code: str, *, name: str) -> dict[str, Any]:
    """Add a care unit; returns it as printed."""
    with uow.transaction() as session:
        unit = create_unit(session, code, name)
        return {"code": unit.code, "name": unit.name, "created_at": unit.created_at}


def list_units(uow: UnitOfWork) -> list[dict[str, object]]:
    """Every care unit with its number of patients, by code."""
    with uow.transaction() as session:
        counts = dict(session.execute(select(Patient.unit_id, func.count()).group_by(Patient.unit_id)).tuples().all())
        return [
            {"code": u.code, "name": u.name, "patients": counts.get(u.id, 0), "created_at": u.created_at}
            for u in session.execute(select(CareUnit).order_by(CareUnit.code)).scalars()
        ]
