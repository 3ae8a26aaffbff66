"""The cap on one-time codes sent: SMS and e-mail cost money, and a code flood is an attack on the patient.

At most ``[otp] max_sends`` codes (5) go to one patient in any ``[otp] send_window_minutes`` (15), a sliding
window as Twilio Verify applies it. A send is reserved *before* anything is sent, in one transaction that holds
the patient's credential row (PostgreSQL ``FOR UPDATE``; SQLite runs one writer at a time): count the sends in
the window, refuse at the cap, else record this one. Parallel logins therefore cannot all see room for one more.
A reserved send stays counted even if no channel then delivers (the provider may have charged for it).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from per_cli.db.models import OtpSend, PatientCredential

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from per_cli.credentials.otp import OtpSettings


def reserve_send(session: Session, patient_id: int, settings: OtpSettings, now: datetime) -> int | None:
    """Record one code to be sent; returns the seconds until the next send is allowed when the cap is reached
    (nothing recorded), ``None`` when this send may go ahead."""
    session.execute(
        select(PatientCredential.patient_id).where(PatientCredential.patient_id == patient_id).with_for_update()
    )
    since = now - timedelta(minutes=settings.send_window_minutes)
    session.execute(delete(OtpSend).where(OtpSend.patient_id == patient_id, OtpSend.sent_at <= since))
    recent = session.execute(
        select(func.count(), func.min(OtpSend.sent_at)).where(OtpSend.patient_id == patient_id, OtpSend.sent_at > since)
    ).one()
    count, oldest = int(recent[0]), recent[1]
    if count >= settings.max_sends:
        free_at: datetime = oldest + timedelta(minutes=settings.send_window_minutes)
        return max(1, math.ceil((free_at - now).total_seconds()))
    session.add(OtpSend(patient_id=patient_id, sent_at=now))
    session.flush()
    return None
