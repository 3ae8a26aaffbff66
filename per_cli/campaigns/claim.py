"""Claiming queued patients for ``per campaign work``, and giving back what a stopping worker did not store.

A claim locks the next queued rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never claim the same
patient, and none waits for another), plans each patient from the current profile and marks the batch ``claimed``
with a lease in one ``UPDATE``. Core statements, not the ORM's unit of work: a claim is CPU taken from the
threads that hash.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, or_, select

from per_cli.db.models import Campaign, CampaignTarget, CareUnit, Patient, utcnow
from per_cli.errors import InvalidInput

if TYPE_CHECKING:
    from per_cli.campaigns.limits import QuietHours
    from per_cli.passwords.delivery.core import Target
    from per_cli.unit_of_work import UnitOfWork

log = logging.getLogger("per.campaign_work")
#: a claimed patient: the campaign, the line of the list and the planned target
Claimed = tuple[Campaign, int, "Target"]


def claim(uow: UnitOfWork, *, batch: int, lease_seconds: float, quiet: QuietHours | None) -> list[Claimed]:
    """Claim up to ``batch`` queued patients, each planned from the current profile; a patient erased or with
    nothing left to send on is settled, an SMS in the quiet hours waits for their end."""
    from sqlalchemy import bindparam, tuple_

    from per_cli.credentials.contact_hold import HoldSettings
    from per_cli.passwords.delivery.listing import plan_held

    hold = HoldSettings.from_config(uow.config)
    now = utcnow()
    table = cast(Table, CampaignTarget.__table__)
    out: list[Claimed] = []
    ended: list[dict[str, Any]] = []  # erased, or nothing to send on: settled here
    waiting: list[dict[str, Any]] = []  # SMS in the quiet hours
    with uow.transaction() as session:
        conn = session.connection()
        rows = conn.execute(
            select(table.c.campaign_id, table.c.patient_id, table.c.line, table.c.channels, table.c.updated_at)
            .join(Campaign, Campaign.id == table.c.campaign_id)
            .where(
                Campaign.mode == "queue",
                table.c.status == "queued",
                or_(table.c.not_before.is_(None), table.c.not_before <= now),
            )
            .order_by(table.c.campaign_id, table.c.line)
            .limit(batch)
            .with_for_update(skip_locked=True, of=table)
        ).all()  # fmt: skip
        if not rows:
            return out
        campaigns = {c.id: c for c in session.execute(
            select(Campaign).where(Campaign.id.in_({r.campaign_id for r in rows}))).scalars()}  # fmt: skip
        patients = {p.id: p for p in session.execute(
            select(Patient).where(Patient.id.in_([r.patient_id for r in rows]))).scalars()}  # fmt: skip
        units = dict(conn.execute(select(CareUnit.id, CareUnit.code).where(
            CareUnit.id.in_({p.unit_id for p in patients.values()}))).tuples().all())  # fmt: skip
        claimed = []
        for row in rows:
            campaign, patient = campaigns[row.campaign_id], patients.get(row.patient_id)
            key = {"b_campaign": row.campaign_id, "b_patient": row.patient_id}
            if patient is None:
                ended.append({**key, "b_status": "skipped", "b_error": "the patient was erased"})
                continue
            channels = tuple(campaign.channels.split(","))
            try:
                target, _ = plan_held(patient, units.get(patient.unit_id, ""), channels,  # type: ignore[arg-type]
                                      campaign.channel_rule, hold, now, after=row.updated_at,
                                      checked=row.channels.split(","))  # fmt: skip
            except InvalidInput as exc:
                ended.append({**key, "b_status": "failed", "b_error": str(exc)})
                continue
            waiting_until = quiet.until(now) if quiet and "sms" in target.channels else None
            if waiting_until is not None:
                waiting.append({**key, "b_not_before": waiting_until})
                continue
            claimed.append((row.campaign_id, row.patient_id))
            out.append((campaign, row.line, target))
        ours = (table.c.campaign_id == bindparam("b_campaign"), table.c.patient_id == bindparam("b_patient"))
        if claimed:
            lease = now + timedelta(seconds=lease_seconds)
            conn.execute(
                table.update()
                .where(tuple_(table.c.campaign_id, table.c.patient_id).in_(claimed))
                .values(status="claimed", lease_until=lease, updated_at=now)
            )
        if ended:
            conn.execute(table.update().where(*ours).values(
                status=bindparam("b_status"), error=bindparam("b_error"), updated_at=now), ended)  # fmt: skip
        if waiting:
            conn.execute(table.update().where(*ours).values(not_before=bindparam("b_not_before"),
                                                            updated_at=now), waiting)  # fmt: skip
    return out


def release(uow: UnitOfWork, claimed: list[Claimed]) -> None:
    """Give back what this worker claimed and never stored (it stops): the queue has them again at once,
    not when the lease runs out. Nothing of theirs was stored or sent. If the database is what failed, the
    lease still gives them back."""
    from sqlalchemy import tuple_, update

    if not claimed:
        return
    keys = [(campaign.id, target.patient_id) for campaign, _, target in claimed]
    try:
        with uow.transaction() as session:
            session.execute(
                update(CampaignTarget)
                .where(
                    tuple_(CampaignTarget.campaign_id, CampaignTarget.patient_id).in_(keys),
                    CampaignTarget.status == "claimed",
                )
                .values(status="queued", lease_until=None, updated_at=utcnow())
            )
    except Exception as exc:  # the lease is the fallback
        log.warning("claimed patients not given back (%s); their lease returns them", type(exc).__name__)
