"""What became of a campaign's messages (``per campaign show ID``) and of a patient's (``per password status``).

One record per message (a delivery row): the patient, the channel, the recipient, the status (``pending``,
``sent``, ``failed``, ``unknown``, ``delivered``, ``undelivered``, ``skipped``), the provider's id, the times
and the error. Reading them is audited like other reads of patient data is not: these are staff's own records
of what they sent.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from per_cli.db.models import Campaign, CampaignTarget, PasswordDelivery, Patient, PatientCredential

if TYPE_CHECKING:
    from per_cli.unit_of_work import UnitOfWork


#: the keys of one message, and of a campaign's and a patient's listing (their header row when there are none)
MESSAGE_COLUMNS = ("channel", "recipient", "status", "provider_id", "created_at", "sent_at", "updated_at", "error")
CAMPAIGN_COLUMNS = ("line", "personnummer", "patient_status", *MESSAGE_COLUMNS)
STATUS_COLUMNS = ("campaign", *MESSAGE_COLUMNS)


def _message(row: PasswordDelivery) -> dict[str, Any]:
    return {
        "channel": row.channel,
        "recipient": row.recipient,
        "status": row.status,
        "provider_id": row.provider_id,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
        "updated_at": row.updated_at,
        "error": row.error,
    }


def campaign_header(campaign: Campaign, counts: Counter[str]) -> dict[str, Any]:
    return {
        "campaign": campaign.id,
        "created_at": campaign.created_at,
        "created_by": campaign.created_by,
        "source": campaign.source,
        "file": campaign.file_name,
        "channels": campaign.channels,
        "channel_rule": campaign.channel_rule,
        "mode": campaign.mode,
        "patients": dict(sorted(counts.items())),
    }


def show_campaign(uow: UnitOfWork, campaign_text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The campaign's header (with patients per state) and one record per message, in list order."""
    from per_cli.campaigns.store import get
    from per_cli.patients.register import display_pnr

    with uow.transaction() as session:
        campaign = get(session, campaign_text)
        targets = session.execute(
            select(CampaignTarget, Patient.personnummer)
            .join(Patient, Patient.id == CampaignTarget.patient_id)
            .where(CampaignTarget.campaign_id == campaign.id)
            .order_by(CampaignTarget.line)
        ).tuples().all()  # fmt: skip
        messages: dict[int, list[PasswordDelivery]] = {}
        for row in session.execute(
            select(PasswordDelivery).where(PasswordDelivery.batch_id == campaign.id).order_by(PasswordDelivery.id)
        ).scalars():
            messages.setdefault(row.patient_id, []).append(row)
        counts: Counter[str] = Counter(t.status for t, _ in targets)
        records: list[dict[str, Any]] = []
        for target, pnr in targets:
            base = {"line": target.line, "personnummer": display_pnr(pnr), "patient_status": target.status}
            rows = messages.pop(target.patient_id, [])
            records += [{**base, **_message(m)} for m in rows] or [{**base, "status": target.status}]
        if campaign.source == "single":  # a single send has messages and no list
            for patient_id, rows in messages.items():
                patient = session.get(Patient, patient_id)
                shown = display_pnr(patient.personnummer) if patient else None
                records += [{"line": None, "personnummer": shown, **_message(m)} for m in rows]
                counts[rows[-1].status] += 1
        return campaign_header(campaign, counts), records


def patient_status(uow: UnitOfWork, pnr_text: str, *, limit: int = 20) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The patient's password state and their latest messages, newest first."""
    from per_cli.patients.register import display_pnr, find_patient

    with uow.transaction() as session:
        patient = find_patient(session, pnr_text)
        credential = session.get(PatientCredential, patient.id)
        rows = session.execute(
            select(PasswordDelivery)
            .where(PasswordDelivery.patient_id == patient.id)
            .order_by(PasswordDelivery.id.desc())
            .limit(limit)
        ).scalars().all()  # fmt: skip
        header = {
            "personnummer": display_pnr(patient.personnummer),
            "has_password": credential is not None,
            "pending_since": credential.pending_since if credential else None,
            "pending_campaign": credential.pending_campaign if credential else None,
            "last_sent_at": credential.last_sent_at if credential else None,
            "last_sent_to": credential.last_sent_to if credential else None,
        }
        return header, [{"campaign": r.batch_id, **_message(r)} for r in rows]
