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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.orm import Session

from per_cli.db.models import REVIEW_ALWAYS_SQL, AuditEvent, Patient, PatientErasure
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
    #: the population is estimated from a probe of the span (a long period), not counted
    estimated: bool = False

    @property
    def always(self) -> int:
        return sum(1 for r in self.records if r["why_selected"] != RANDOM)


#: the events always taken, written as the partial index ``ix_audit_event_review`` is, so that it serves them
_ALWAYS = text(f"({REVIEW_ALWAYS_SQL})")
_NOT_ALWAYS = text(f"NOT ({REVIEW_ALWAYS_SQL})")
_NAMES_PATIENT = text("patient_id IS NOT NULL")  # as the partial index ix_audit_event_patient_ids is written
#: the largest number of candidate ids checked in one query
_BATCH = 5000
#: a span of at most this many ids is counted exactly; a longer one is estimated from ``_PROBE`` random ids of it
#: (counting ~5 M index entries took most of a review's 2.8 s at national scale; the probe takes milliseconds)
EXACT_SPAN = 200_000
_PROBE = 4000


def _period(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since:
        conditions.append(AuditEvent.at >= since)
    if until:
        conditions.append(AuditEvent.at < until)
    return conditions


def positions(seed: int, population: int, size: int) -> list[int]:
    """``size`` distinct positions in ``range(population)``, sorted (the first ``size`` of :func:`shuffled`)."""
    return sorted(islice(shuffled(seed, population), size))


def shuffled(seed: int, population: int) -> Iterator[int]:
    """Every position in ``range(population)`` once, in the random order the seed gives; a sparse Fisher–Yates
    shuffle, lazily (memory grows with what is taken), using only ``Random.random()``, the one part of ``random``
    Python promises to keep the same across versions."""
    rng = random.Random(seed)
    swapped: dict[int, int] = {}
    for i in range(population):
        j = i + int(rng.random() * (population - i))
        yield swapped.get(j, j)
        swapped[j] = swapped.get(i, i)


def _id_range(session: Session, since: datetime | None, until: datetime | None, randoms: Any) -> tuple[int, int] | None:
    """The first and last id of the events ``randoms`` admits in the period: the period's ends are each one look-up
    in the ``(at, id)`` index (ids grow with time: an event is stamped when it is chained), then the nearest
    admitted events within, walking the primary key. Events added later (this review's own) leave it as it is."""
    period = _period(since, until)
    if period:
        first = select(AuditEvent.id).where(*period).order_by(AuditEvent.at, AuditEvent.id).limit(1)
        last = select(AuditEvent.id).where(*period).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)
    else:
        first, last = select(func.min(AuditEvent.id)), select(func.max(AuditEvent.id))
    start, end = session.execute(first).scalar(), session.execute(last).scalar()
    if start is None or end is None:
        return None
    lo = session.execute(
        select(AuditEvent.id).where(AuditEvent.id.between(start, end), randoms).order_by(AuditEvent.id).limit(1)
    ).scalar()
    hi = session.execute(
        select(AuditEvent.id).where(AuditEvent.id.between(start, end), randoms).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    return None if lo is None or hi is None else (int(lo), int(hi))


def _drawn_ids(session: Session, seed: int, span: tuple[int, int], sample: int, randoms: Any) -> list[int]:
    """``sample`` events drawn uniformly from those that ``randoms`` admits between the period's first and last id.

    Ids of the span are taken in the seed's random order and checked in batches by primary key, until ``sample``
    are admitted or the span is exhausted: each admissible event is equally likely, and the database reads a few
    hundred rows, not the log. The same seed over the same events draws the same sample.
    """
    lo, hi = span
    order = shuffled(seed, hi - lo + 1)
    chosen: list[int] = []
    batch = max(64, 2 * sample)
    while len(chosen) < sample:
        candidates = [lo + offset for offset in islice(order, batch)]
        if not candidates:
            break
        query = select(AuditEvent.id).where(AuditEvent.id.in_(candidates), randoms)
        admitted = set(session.execute(query).scalars())
        chosen += [c for c in candidates if c in admitted][: sample - len(chosen)]
        batch = min(2 * batch, _BATCH)
    return chosen


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
    randoms = and_(AuditEvent.patient_id.is_not(None), _NOT_ALWAYS, *period)
    span = _id_range(session, since, until, randoms)
    population, estimated = _population(session, span, seed, randoms)
    chosen = _drawn_ids(session, seed, span, sample, randoms) if span and sample else []
    review = Review(seed=seed, population=population, estimated=estimated)
    review.records.extend(_records(session, and_(_ALWAYS, *period)))
    for start in range(0, len(chosen), _CHUNK):
        review.records.extend(_records(session, AuditEvent.id.in_(sorted(chosen)[start : start + _CHUNK])))
    review.records.sort(key=lambda r: int(r["id"]))
    return review


def _population(session: Session, span: tuple[int, int] | None, seed: int, randoms: Any) -> tuple[int, bool]:
    """How many events the random part is drawn from, and whether that number is an estimate.

    A span of at most ``EXACT_SPAN`` ids is counted: those naming a patient less the ones always taken, both read
    from indexes only (``ix_audit_event_patient_ids``, ``ix_audit_event_review``). A longer one is estimated from
    ``_PROBE`` ids of the span in the order a seed derived from the review's gives (so the same seed gives the same
    figure), checked by primary key: the share admitted times the span. The sample itself never depends on it."""
    if span is None:
        return 0, False
    lo, hi = span
    if hi - lo + 1 <= EXACT_SPAN:
        in_span = AuditEvent.id.between(lo, hi)
        named = select(func.count()).select_from(AuditEvent).where(_NAMES_PATIENT, in_span)
        always = select(func.count(AuditEvent.patient_id)).where(_ALWAYS, in_span)  # counts those naming a patient
        return int(session.execute(named).scalar_one()) - int(session.execute(always).scalar_one()), False
    probe = [lo + offset for offset in islice(shuffled(seed + 1, hi - lo + 1), _PROBE)]
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.id.in_(probe), randoms)
    admitted = session.execute(query).scalar_one()
    return round((hi - lo + 1) * int(admitted) / len(probe)), True


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
    if drawn.estimated:
        details["population_estimated"] = True
    if since:
        details["since"] = since.isoformat()
    if until:
        details["until"] = until.isoformat()
    record(session, Event(actor=actor, action="audit.review", details=details))
    return drawn
