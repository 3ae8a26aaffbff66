"""After a ``campaign work`` process died: the leases it left run out, and its patients are settled.

A patient still ``claimed`` had nothing sent: queued again. A patient ``sending`` may have had a message leave:
each of its pending messages is looked up with the transport (``Transport.find_sent``, by the delivery row's id
as the message key); found means ``sent``, surely absent means it never left (queued again, a new password), and
a transport that cannot tell leaves it ``unknown``. Each settled patient gets its ``password.send`` event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from per_cli.db.models import CampaignTarget, PasswordDelivery, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.transports import Transport
    from per_cli.unit_of_work import UnitOfWork

#: the transport of a channel, opened on first use
Opener = Callable[[str], "Transport"]


def recover(uow: UnitOfWork, transport_for: Opener) -> tuple[int, int]:
    """Settle the expired leases; returns how many ``claimed`` went back and how many ``sending`` were settled."""
    now = utcnow()
    expired = (CampaignTarget.lease_until.is_not(None), CampaignTarget.lease_until < now)
    with uow.transaction() as session:
        back = session.execute(
            update(CampaignTarget)
            .where(CampaignTarget.status == "claimed", *expired)
            .values(status="queued", lease_until=None, updated_at=now)
        ).rowcount  # type: ignore[attr-defined]
        stuck = session.execute(
            select(CampaignTarget)
            .where(CampaignTarget.status == "sending", *expired)
            .with_for_update(skip_locked=True)
        ).scalars().all()  # fmt: skip
        for target in stuck:
            _settle(session, uow.actor, target, transport_for, now)
    return int(back), len(stuck)


def _settle(session: Session, actor: str, target: CampaignTarget, transport_for: Opener, now: datetime) -> None:
    from per_cli.audit.events import Event, record

    rows = session.execute(
        select(PasswordDelivery).where(
            PasswordDelivery.batch_id == target.campaign_id,
            PasswordDelivery.patient_id == target.patient_id,
            PasswordDelivery.status == "pending",
        )
    ).scalars().all()  # fmt: skip
    found: list[bool | None] = []
    for row in rows:
        answer = transport_for(row.channel).find_sent(f"d{row.id}")
        found.append(answer)
        if answer is True:
            row.status, row.sent_at = "sent", now
        elif answer is False:
            row.status, row.error = "failed", "never left: the worker stopped before sending it"
        else:
            row.status, row.error = (
                "unknown",
                "the worker stopped before recording the outcome; it may have been delivered",
            )
        row.updated_at = now
    if found and all(f is False for f in found):
        target.status, target.error = "queued", None  # nothing left: send again (a new password)
    elif found and all(f is True for f in found):
        target.status, target.error = "sent", None
    else:
        target.status = "partial" if any(f is True for f in found) else "unknown"
    target.lease_until, target.updated_at = None, now
    outcome = {"sent": "ok", "queued": "requeued"}.get(target.status, target.status)
    details = {"batch_id": target.campaign_id, "reason": "worker_stopped"}
    record(session, Event(actor, "password.send", target.patient_id, None, outcome, details))
