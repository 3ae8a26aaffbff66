"""``per audit review``: the sample for the systematic, recurring log review (Patientdatalagen 4 kap. 3 §).

HSLF-FS 2016:40 4 kap. 9 § asks for "systematiska och återkommande stickprovskontroller" and IMY advises
combining a systematic selection with a random one. So every proxy login and every refused access in the
period is always selected, and a random sample of the remaining patient-data accesses is added. The random
draw depends only on the seed and on the events in the period (positions in id order), so the same seed on the
same database gives the same sample and another reviewer can reproduce it. Drawing a review sample is itself
audited (``audit.review``, no patient).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from per_cli.db.models import AuditEvent, Patient, PatientErasure
from per_cli.patients.register import display_pnr

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork

DEFAULT_SAMPLE = 50
COLUMNS = ("id", "at", "actor", "action", "personnummer", "unit", "outcome", "why_selected", "reviewer_note")
PROXY = "proxy login"
REFUSED = "refused"
RANDOM = "random"
_CHUNK = 500


@dataclass
class Review:
    seed: int
    population: int
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def always(self) -> int:
        return sum(1 for r in self.records if r["why_selected"] != RANDOM)


def _proxy() -> ColumnElement[bool]:
    return or_(AuditEvent.action == "login.proxy", AuditEvent.action.like("login.proxy.%"))


def _always() -> ColumnElement[bool]:
    return or_(_proxy(), AuditEvent.outcome == "denied")


def _period(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since:
        conditions.append(AuditEvent.at >= since)
    if until:
        conditions.append(AuditEvent.at < until)
    return conditions


def positions(seed: int, population: int, size: int) -> list[int]:
    """``size`` distinct positions in ``range(population)``, sorted; a sparse Fisher–Yates shuffle that uses only
    ``Random.random()``, the one part of ``random`` Python promises to keep the same across versions."""
    rng = random.Random(seed)
    swapped: dict[int, int] = {}
    picked = []
    for i in range(min(size, population)):
        j = i + int(rng.random() * (population - i))
        picked.append(swapped.get(j, j))
        swapped[j] = swapped.get(i, i)
    return sorted(picked)


def _why(action: str, outcome: str) -> str:
    reasons = []
    if action == "login.proxy" or action.startswith("login.proxy."):
        reasons.append(PROXY)
    if outcome == "denied":
        reasons.append(REFUSED)
    return ", ".join(reasons) or RANDOM


def _records(session: Session, condition: ColumnElement[bool]) -> Iterable[dict[str, Any]]:
    query = (
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            func.coalesce(Patient.personnummer, PatientErasure.personnummer),  # an erased patient: the tombstone
            AuditEvent.unit_code,
            AuditEvent.outcome,
        )
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        .outerjoin(PatientErasure, PatientErasure.patient_id == AuditEvent.patient_id)
        .where(condition)
        .order_by(AuditEvent.id)
    )
    for event_id, at, actor, action, pnr, unit, outcome in session.execute(query).tuples():
        yield {
            "id": event_id,
            "at": at,
            "actor": actor,
            "action": action,
            "personnummer": display_pnr(pnr) if pnr else None,
            "unit": unit,
            "outcome": outcome,
            "why_selected": _why(action, outcome),
            "reviewer_note": "",
        }


def draw(
    session: Session,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Review:
    """Every proxy login and refusal in the period, plus ``sample`` random other patient-data accesses."""
    seed = secrets.randbelow(1_000_000_000) if seed is None else seed
    period = _period(since, until)
    randoms = and_(AuditEvent.patient_id.is_not(None), not_(_always()), *period)
    population = session.execute(select(func.count()).select_from(AuditEvent).where(randoms)).scalar_one()
    wanted_positions = positions(seed, population, sample)
    chosen: list[int] = []
    if wanted_positions:
        ids = session.execute(
            select(AuditEvent.id).where(randoms).order_by(AuditEvent.id), execution_options={"yield_per": 10_000}
        ).scalars()
        wanted = iter(wanted_positions)
        target = next(wanted)
        for index, event_id in enumerate(ids):
            if index == target:
                chosen.append(event_id)
                target = next(wanted, -1)
                if target < 0:
                    break
        ids.close()
    review = Review(seed=seed, population=population)
    review.records.extend(_records(session, and_(_always(), *period)))
    for start in range(0, len(chosen), _CHUNK):
        review.records.extend(_records(session, AuditEvent.id.in_(chosen[start : start + _CHUNK])))
    review.records.sort(key=lambda r: int(r["id"]))
    return review


def review(
    uow: UnitOfWork,
    *,
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Review:
    """Draw the sample and audit the reading (the reviewer sees many patients' access events)."""
    with uow.transaction() as session:
        return _review(session, uow.actor, sample=sample, seed=seed, since=since, until=until)


def _review(
    session: Session, actor: str, *, sample: int, seed: int | None, since: datetime | None, until: datetime | None
) -> Review:
    from per_cli.audit.events import Event, record

    drawn = draw(session, sample=sample, seed=seed, since=since, until=until)
    details: dict[str, Any] = {
        "seed": drawn.seed,
        "sample": sample,
        "population": drawn.population,
        "selected": len(drawn.records),
        "always": drawn.always,
    }
    if since:
        details["since"] = since.isoformat()
    if until:
        details["until"] = until.isoformat()
    record(session, Event(actor=actor, action="audit.review", details=details))
    return drawn
