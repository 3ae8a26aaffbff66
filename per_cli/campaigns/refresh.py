"""``per campaign refresh ID``: ask the SMS providers what became of a campaign's messages not yet final.

46elks answers ``GET /a1/sms/{id}`` and Twilio ``GET …/Messages/{sid}.json`` with the message's status; a row
``sent`` (or ``unknown`` with a provider id) becomes ``delivered`` or ``undelivered`` when the provider says so,
each change with its audit event (``password.delivery``). A delivered message makes its pending password the
patient's password (``credentials.pending.promote_delivered``). Transports that cannot tell (SMTP, file) are
counted, not asked. The providers are asked with no transaction open; the changes are written in one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from per_cli.db.models import PasswordDelivery, Patient, utcnow

if TYPE_CHECKING:
    from per_cli.transports import Transport
    from per_cli.unit_of_work import UnitOfWork

ACTION = "password.delivery"
OPEN = ("sent", "unknown")


@dataclass
class RefreshSummary:
    campaign: str
    asked: int = 0
    changed: Counter[str] = field(default_factory=Counter)
    still_open: int = 0
    cannot_tell: int = 0
    errors: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "asked": self.asked,
            "delivered": self.changed["delivered"],
            "undelivered": self.changed["undelivered"],
            "still_open": self.still_open,
            "cannot_tell": self.cannot_tell,
            "errors": len(self.errors),
        }


def refresh(uow: UnitOfWork, campaign_text: str) -> RefreshSummary:
    from per_cli.campaigns.store import get

    with uow.transaction() as session:
        campaign_id = get(session, campaign_text).id
        rows = session.execute(
            select(PasswordDelivery.id, PasswordDelivery.channel, PasswordDelivery.provider_id, PasswordDelivery.status)
            .where(
                PasswordDelivery.batch_id == campaign_id,
                PasswordDelivery.status.in_(OPEN),
                PasswordDelivery.provider_id.is_not(None),
            )
            .order_by(PasswordDelivery.id)
        ).tuples().all()  # fmt: skip
    summary = RefreshSummary(campaign_id)
    transports: dict[str, Transport] = {}
    answers: list[tuple[int, str, str, str | None]] = []  # (row id, old status, new status, error)
    try:
        for row_id, channel, provider_id, status in rows:
            transport = transports.get(channel) or _open(uow, channel, transports)
            answer = transport.delivery_status(str(provider_id))
            if answer is None:
                summary.cannot_tell += 1
                continue
            summary.asked += 1
            if answer.error and answer.state == "pending":
                summary.errors.append(answer.error)
            if answer.state == "pending":
                summary.still_open += 1
                continue
            answers.append((int(row_id), str(status), answer.state, answer.error))
    finally:
        for transport in transports.values():
            transport.close()
    if answers:
        _record(uow, campaign_id, answers, summary)
    return summary


def _open(uow: UnitOfWork, channel: str, opened: dict[str, Transport]) -> Transport:
    from per_cli.transports import open_configured

    opened[channel] = open_configured(channel, uow.config.data, uow.config.environ)
    return opened[channel]


def _record(
    uow: UnitOfWork, campaign_id: str, answers: list[tuple[int, str, str, str | None]], summary: RefreshSummary
) -> None:
    from per_cli.audit.events import Event, record_many
    from per_cli.credentials.pending import promote_delivered
    from per_cli.db.models import CareUnit
    from per_cli.patients.register import lock_enrolled

    now = utcnow()
    with uow.transaction() as session:
        ids = [a[0] for a in answers]
        owners = dict(
            session.execute(
                select(PasswordDelivery.id, PasswordDelivery.patient_id).where(PasswordDelivery.id.in_(ids))
            )
            .tuples()
            .all()
        )
        enrolled = lock_enrolled(session, owners.values())
        units = dict(
            session.execute(
                select(Patient.id, CareUnit.code).join(CareUnit, CareUnit.id == Patient.unit_id).where(
                    Patient.id.in_(list(enrolled))
                )
            ).tuples().all()
        )  # fmt: skip
        events = []
        for row_id, old, new, error in answers:
            patient_id = owners.get(row_id)
            if patient_id not in enrolled:
                continue
            changed = session.execute(
                update(PasswordDelivery)
                .where(PasswordDelivery.id == row_id, PasswordDelivery.status == old)
                .values(status=new, error=error, updated_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if not changed:
                continue
            summary.changed[new] += 1
            promoted = new == "delivered" and promote_delivered(session, patient_id, campaign_id)
            events.append(
                Event(
                    actor=uow.actor,
                    action=ACTION,
                    patient_id=patient_id,
                    unit_code=units.get(patient_id),
                    outcome=new,
                    details={"batch_id": campaign_id, "delivery_id": row_id, "was": old, "promoted": promoted},
                )
            )
        record_many(session, events)
